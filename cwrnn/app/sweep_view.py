"""What the pages show of learning-rate sweeps: the sweeps at hand per task and size (stored runs first,
else the shipped ones) and a sweep's table. The sweeps themselves are cwrnn.sweep's."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..runs.jobs import job_kind
from . import viz

#: the sweep of docs/baselines.md, shipped so the Paper page's chart is not empty (see its README)
SHIPPED_SWEEPS = Path(__file__).resolve().parents[2] / "assets" / "paper_results" / "sweeps.json"
#: per task: stored value x scale = the value in the unit
UNITS = {"generation": ("NMSE", 1.0), "words": ("validation error %", 100.0)}


def is_sweep(run: Mapping) -> bool:
    """Whether a stored run is a learning-rate sweep (cwrnn.sweep's job)."""
    return job_kind(run["config"]) == "sweep"


def latest_sweeps(runs: Sequence[Mapping], task: str) -> dict[int, dict]:
    """budget -> {"rows", "source"} for `task`: the newest completed sweep run of each budget (runs as
    RunStore.list_runs gives them, newest first), else the shipped sweep of that budget."""
    shipped = json.loads(SHIPPED_SWEEPS.read_text()).get(task, {})
    found = {
        int(budget): {"rows": entry["rows"], "source": f"shipped: `{entry['command']}` ({entry['date']})"}
        for budget, entry in shipped.items()
    }
    for run in sorted(runs, key=lambda r: r["created_at"]):  # newest last, so it wins
        if is_sweep(run) and run["status"] == "completed" and run["config"]["sweep"] == task:
            found[run["config"]["budget"]] = {"rows": run["summary"]["rows"], "source": f"run {run['id']}"}
    return dict(sorted(found.items()))


def sweep_table(rows: Sequence[Mapping], task: str) -> pd.DataFrame:
    """A sweep's rows as a table in the task's unit, the best rate of each architecture ticked."""
    unit, scale = UNITS[task]

    def scaled(v):
        return None if v is None else v * scale

    return pd.DataFrame(
        [
            {
                "architecture": viz.arch_label(r["arch"]),
                "learning rate": r["lr"],
                "momentum": r["momentum"],
                f"{unit} mean": scaled(r["mean"]),
                "std": scaled(r["std"]),
                "median": scaled(r["median"]),
                "networks": r["n"],
                "diverged": r["diverged"],
                "best": r["best"],
            }
            for r in rows
        ]
    )


def sweep_figure(rows: Sequence[Mapping], task: str, title: str | None = None):
    """The sensitivity chart of a sweep of `task`, in its unit."""
    unit, scale = UNITS[task]
    return viz.sensitivity_figure(rows, metric_label=unit, scale=scale, title=title, uirevision=f"sweep-{task}")
