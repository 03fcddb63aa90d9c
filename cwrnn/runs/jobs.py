"""The job types the background workers run, registered in one place.

The manager starts every queued run with `execute`, which hands it to the job its configuration names:
a training run (cwrnn.runs.worker), one of the Paper page's grids (cwrnn.grid) or a learning-rate sweep
(cwrnn.sweep). Jobs are named as
"module:function" strings and imported when a run needs them, so a worker loads only its own job's code
and the run service imports nothing of the jobs it serves.
"""

from __future__ import annotations

import importlib
import platform

from .store import RunStore

JOBS = {
    "training": "cwrnn.runs.worker:execute",
    "grid": "cwrnn.grid:execute_grid",
    "sweep": "cwrnn.sweep:execute_sweep",
}


def job_kind(config: dict) -> str:
    """The job type of a run, from its stored configuration."""
    return next((kind for kind in ("grid", "sweep") if kind in config), "training")


def _module(kind: str):
    return importlib.import_module(JOBS[kind].partition(":")[0])


def job_function(kind: str):
    """The function that runs jobs of `kind`, imported on first use."""
    return getattr(_module(kind), JOBS[kind].partition(":")[2])


def execute(run_id: int, home: str) -> None:
    """The manager's job: run `run_id` of the store at `home` with the job its configuration names."""
    job_function(job_kind(RunStore(home).get_run(run_id)["config"]))(run_id, home)


def warm_up() -> None:
    """Done ahead by a standby worker: the imports of training, the most common job (torch takes seconds)."""
    _module("training").warm_up()


def versions() -> dict:
    """The versions a run was trained with, stored beside it."""
    import numpy
    import torch

    from .. import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cwrnn": __version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
    }
