"""The paper's grids: every (budget, architecture) cell trains all its seeds as one model.

One runner serves `cwrnn reproduce` and the Paper page's background job. A grid is a list of independent
`CellSpec`s; `run_cells` runs them on a backend and streams each `Cell` back as it finishes. The
local backend uses processes (one torch thread each: the models are small and per-step overhead, not
arithmetic, dominates, so processes scale where threads do not); another backend (a cluster) is any
function with `local_processes`' signature.

`summarize` is the one summary over seeds everywhere in the project: networks that diverged (NaN) are left
out of the mean and the std, and counted.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace

import numpy as np

from . import paper
from .config import LIMITS, RunConfig, validate
from .experiment import build_specs, build_task, train_config
from .runs.jobs import versions
from .runs.store import RunStore

# ---- one summary over seeds ------------------------------------------------------------------------


def summarize(values: Iterable[float]) -> dict:
    """Mean and std (population, as the paper's "mean ± std over 100 runs") over the members that did not
    diverge, and how many did."""
    values = np.asarray(list(values), dtype=float)
    finite = values[np.isfinite(values)]
    return {
        "mean": float(finite.mean()) if finite.size else None,
        "std": float(finite.std()) if finite.size else None,
        "diverged": int(values.size - finite.size),
    }


# ---- cells and the runner --------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpec:
    """One independent piece of a grid: `arch` trained on a RunConfig (as a dict), scored by `metric`."""

    config: dict
    arch: str
    metric: str

    @property
    def budget(self) -> int:
        return self.config["budget"]


@dataclass
class Cell:
    """A trained cell: each member's final metric (NaN where it diverged), and the paper's number beside it
    where there is one."""

    arch: str
    budget: int
    hidden_size: int
    parameters: int
    values: list[float]  # one per member (seed x sequence)
    paper: float | None
    outcome: str
    seconds: float

    @property
    def finite(self) -> np.ndarray:
        """The values of networks that did not diverge (diverged ones are NaN)."""
        v = np.asarray(self.values, dtype=float)
        return v[np.isfinite(v)]

    @property
    def mean(self) -> float:
        mean = summarize(self.values)["mean"]
        return float("nan") if mean is None else mean

    @property
    def std(self) -> float:
        std = summarize(self.values)["std"]
        return float("nan") if std is None else std


def run_cell(spec: CellSpec) -> Cell:
    """Train one cell in this process."""
    import torch

    from .train import train

    torch.set_num_threads(1)
    cfg = validate(spec.config)
    task = build_task(cfg)
    model = next(s for s in build_specs(cfg, task.input_size, task.output_size) if s.arch == spec.arch)
    result = train(task, [model], cfg.seed_list, train_config(cfg))
    values = result.final.get(spec.arch, {}).get(spec.metric, np.array([]))
    return Cell(
        spec.arch,
        cfg.budget,
        model.hidden_size,
        model.parameters(task.input_size, task.output_size),
        [float(v) for v in values],
        None,
        result.outcome,
        result.elapsed,
    )


Backend = Callable[[Sequence[CellSpec], int], Iterator[tuple[CellSpec, Cell]]]


def local_processes(cells: Sequence[CellSpec], workers: int) -> Iterator[tuple[CellSpec, Cell]]:
    """Run cells on `workers` local processes (one worker: in this process, in order), yielding each with its
    result as it finishes. Closing the iterator early cancels the cells not yet started."""
    if workers <= 1:
        for cell in cells:
            yield cell, run_cell(cell)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        futures = {pool.submit(run_cell, cell): cell for cell in cells}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:  # on an error, Ctrl+C or an early stop, do not wait for the remaining cells to train
        pool.shutdown(wait=False, cancel_futures=True)


def run_cells(
    cells: Sequence[CellSpec], workers: int | None = None, backend: Backend = local_processes
) -> Iterator[tuple[CellSpec, Cell]]:
    """Run independent cells, longest first, streaming (cell, result) pairs back as they finish."""
    workers = workers or max(1, min(os.cpu_count() or 1, len(cells)))
    # Longest first, so that no long cell starts last while the other workers sit idle: cost grows
    # with the budget, and an LSTM step does about twice a CW-RNN's or an SRN's work.
    ordered = sorted(cells, key=lambda c: (c.budget, c.arch == "lstm"), reverse=True)
    return backend(ordered, workers)


# ---- `cwrnn reproduce` ------------------------------------------------------------------------------


def grid_cells(base: RunConfig, budgets: Sequence[int], archs: Sequence[str], metric: str) -> list[CellSpec]:
    """Every (budget, arch) cell of a grid; raises ConfigError for any cell that cannot be sized, before
    anything trains."""
    task = build_task(base)
    cells = []
    for budget in budgets:
        cfg = {**base.to_dict(), "budget": int(budget), "baselines": [a for a in archs if a != "cwrnn"]}
        build_specs(validate(cfg), task.input_size, task.output_size)
        cells += [CellSpec(cfg, arch, metric) for arch in archs]
    return cells


def run_grid(
    base: RunConfig,
    budgets: Sequence[int],
    archs: Sequence[str],
    *,
    metric: str,
    paper_table: dict,
    paper_budgets: tuple,
    workers: int | None = None,
    progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> list[Cell]:
    """Train every (budget, arch) cell of a grid; `progress` hears of each cell as it finishes."""
    specs = grid_cells(base, budgets, archs, metric)
    start, cells = time.perf_counter(), []
    for done, (_, trained) in enumerate(run_cells(specs, workers), 1):
        cell = replace(trained, paper=paper.paper_value(paper_table, paper_budgets, trained.arch, trained.budget))
        cells.append(cell)
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (len(specs) - done)
        progress(
            f"[{done}/{len(specs)}] {cell.arch} @ {cell.budget} params: {cell.mean:.4g} ± {cell.std:.2g} "
            f"({cell.outcome}, {cell.seconds:.0f} s); elapsed {elapsed:.0f} s, ETA {eta:.0f} s"
        )
    order = {a: i for i, a in enumerate(archs)}
    return sorted(cells, key=lambda c: (c.budget, order[c.arch]))


def format_table(cells: Sequence[Cell], metric_label: str, scale: float = 1.0) -> str:
    """The grid in the paper's form: one row per architecture and budget, the paper's value beside ours."""
    head = f"{'arch':<7}{'budget':>8}{'hidden':>8}{'params':>8}  {metric_label + ' (ours)':<22}{'paper':>8}  outcome"
    lines = [head, "-" * len(head)]
    for c in cells:
        ours = f"{c.mean * scale:.4g} ± {c.std * scale:.2g} (n={c.finite.size})"
        if c.finite.size < len(c.values):
            ours += f", {len(c.values) - c.finite.size} diverged"
        ref = "" if c.paper is None else f"{c.paper:g}"
        lines.append(f"{c.arch:<7}{c.budget:>8}{c.hidden_size:>8}{c.parameters:>8}  {ours:<22}{ref:>8}  {c.outcome}")
    return "\n".join(lines)


# ---- the Paper page's grids, as one background run each ----------------------------------------------

GRID_ARCHS = paper.ARCHS  # trained in this order, so the CW-RNN's boxes appear first


@dataclass(frozen=True)
class Experiment:
    """What a grid of one of the paper's experiments trains, stores and is compared with."""

    task: str  # the stored run's task
    metric: str  # the task's final metric a cell reports
    stored: str  # the metric rows' name in a grid run
    budgets: tuple[int, ...]  # the paper's sizes
    paper_table: dict  # the paper's numbers, in `unit`
    scale: float  # stored value x scale = the value in `unit`
    unit: str
    networks_per_seed: int  # Experiment 1 trains one network per clip
    cell_settings: dict  # the paper's RunConfig settings of every cell
    title: str


EXPERIMENTS = {
    "generation": Experiment(
        "generation-grid",
        "nmse",
        "final_nmse",
        paper.GENERATION_BUDGETS,
        paper.GENERATION_NMSE,
        1.0,
        "normalised MSE",
        5,
        {},
        "Experiment 1: error after training (lower is better)",
    ),
    "words": Experiment(
        "words-grid",
        "test_error",
        "final_test_error",
        paper.WORDS_BUDGETS,
        paper.WORDS_ERROR,
        100.0,
        "test error %",
        1,
        {"task": "words", "dataset": "synthetic", "periods": list(paper.WORDS_PERIODS), "preset": "paper-words"},
        "Experiment 2: test error on unseen voices (lower is better)",
    ),
    "handwriting": Experiment(
        "handwriting-grid",
        "test_cer",
        "final_test_cer",
        paper.HANDWRITING_BUDGETS,
        paper.HANDWRITING_CER,
        100.0,
        "character error rate %",
        1,
        {"task": "handwriting", "periods": list(paper.HANDWRITING_PERIODS), "preset": "paper-handwriting"},
        "Experiment 3: character error rate on unseen writers (lower is better)",
    ),
}
GRID_TASKS = {kind: e.task for kind, e in EXPERIMENTS.items()}
GRID_TASK = GRID_TASKS["generation"]
GRID_METRIC = EXPERIMENTS["generation"].stored
#: Experiment 1 trains one network per clip, so every seed gives this many networks per cell.
CLIPS = EXPERIMENTS["generation"].networks_per_seed


class GridConfigError(ValueError):
    """A grid configuration that cannot be run; the message lists every problem."""


@dataclass(frozen=True)
class Grid:
    budgets: tuple[int, ...]
    seeds: int
    epochs: int
    kind: str = "generation"

    @property
    def experiment(self) -> Experiment:
        return EXPERIMENTS[self.kind]

    def config(self) -> dict:
        """The run config stored for this grid."""
        return {"grid": self.kind, "budgets": list(self.budgets), "seeds": self.seeds, "epochs": self.epochs}

    def cells(self) -> list[tuple[int, str]]:
        return [(budget, arch) for budget in self.budgets for arch in GRID_ARCHS]

    def cell_config(self, budget: int) -> dict:
        """The RunConfig of one budget: the paper's settings, no snapshots (a cell keeps only final scores).
        A words grid's epochs are a cap: the paper's optimiser stops each network earlier."""
        return {
            **self.experiment.cell_settings,
            "budget": budget,
            "seeds": self.seeds,
            "epochs": self.epochs,
            "snapshot_every": LIMITS["snapshot_every"],
        }


def check_grid(raw: dict) -> Grid:
    """The Grid of a stored or requested config; GridConfigError lists what is wrong and what is allowed."""
    problems = []
    if not isinstance(raw, dict) or raw.get("grid") not in EXPERIMENTS:
        raise GridConfigError(
            f'a grid config is a dict with "grid" (one of {", ".join(EXPERIMENTS)}), "budgets", "seeds" and "epochs"'
        )
    budgets, paper_budgets = raw.get("budgets"), EXPERIMENTS[raw["grid"]].budgets
    allowed = ", ".join(map(str, paper_budgets))
    if (
        not isinstance(budgets, list)
        or not budgets
        or len(set(budgets)) != len(budgets)
        or any(b not in paper_budgets or isinstance(b, bool) for b in budgets)
    ):
        problems.append(f"budgets must be one or more distinct sizes from {allowed}, got {budgets!r}")
    for name, hi in (("seeds", LIMITS["seeds"]), ("epochs", LIMITS["epochs"])):
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            problems.append(f"{name} must be a whole number from 1 to {hi}, got {value!r}")
    if problems:
        raise GridConfigError("; ".join(problems))
    return Grid(tuple(sorted(budgets)), raw["seeds"], raw["epochs"], raw["grid"])


def is_grid(run: dict) -> bool:
    """Whether a stored run is one of the Paper page's grids."""
    return run["task"] in GRID_TASKS.values()


def execute_grid(run_id: int, home: str) -> None:
    """The grid job: train every cell of grid run `run_id` of the store at `home`, one after another in this
    worker (a grid holds one training slot of the manager); set its final status and summary."""
    from .train import pick_device

    store = RunStore(home)
    grid = check_grid(store.get_run(run_id)["config"])
    store.set_versions(run_id, versions())
    device = str(pick_device(None))
    cells = [CellSpec(grid.cell_config(budget), arch, grid.experiment.metric) for budget, arch in grid.cells()]
    done, start, outcome = [], time.perf_counter(), "completed"

    def report(index: int) -> None:
        elapsed = time.perf_counter() - start
        progress = {
            "epoch": index,
            "total_epochs": len(cells),
            "elapsed_s": elapsed,
            "device": device,
            "eta_s": elapsed / index * (len(cells) - index) if index else None,
        }
        if index < len(cells):
            progress["cell"] = f"{paper.arch_label(cells[index].arch)} at {cells[index].budget} parameters"
        store.update_progress(run_id, progress)

    report(0)
    if store.cancel_requested(run_id):
        outcome = "cancelled"
    else:
        for spec, cell in local_processes(cells, workers=1):
            store.add_metrics(
                run_id,
                [
                    (spec.arch, member, spec.budget, grid.experiment.stored, value)
                    for member, value in enumerate(cell.values)
                ],
            )
            stats = summarize(cell.values)
            done.append(
                {
                    "arch": spec.arch,
                    "budget": spec.budget,
                    "hidden_size": cell.hidden_size,
                    "parameters": cell.parameters,
                    "outcome": cell.outcome,
                    "seconds": cell.seconds,
                    "networks": len(cell.values),
                    "mean": stats["mean"],
                    "std": stats["std"],
                }
            )
            report(len(done))
            if len(done) < len(cells) and store.cancel_requested(run_id):
                outcome = "cancelled"
                break
    elapsed = time.perf_counter() - start
    store.update_progress(
        run_id, {"epoch": len(done), "total_epochs": len(cells), "elapsed_s": elapsed, "eta_s": 0.0, "device": device}
    )
    diverged = [f"{paper.arch_label(c['arch'])} at {c['budget']}" for c in done if c["outcome"] == "diverged"]
    error = None
    if outcome == "cancelled":
        error = f"stopped by request after {len(done)} of {len(cells)} cells"
    elif diverged:
        outcome, error = "diverged", f"some networks diverged in: {', '.join(diverged)}"
    store.set_status(
        run_id, outcome, error=error, device=device, summary={"grid": grid.kind, "cells": done, "elapsed_s": elapsed}
    )
