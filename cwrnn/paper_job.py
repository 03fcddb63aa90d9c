"""The paper's grids (parameter budgets x architectures x seeds) as one background run each, and their results.

A grid run is stored with task GRID_TASKS[kind] and a config {"grid": kind, "budgets": [...], "seeds": N,
"epochs": E}, kind "generation" (Experiment 1) or "words" (Experiment 2, on the shipped synthetic speech).
Its job, `execute_grid`, trains the (budget, architecture) cells one after another with the paper's
settings (the cell trainer of `reproduce`), storing each network's final score as a metric row (arch,
seed = network, epoch = budget, name = the experiment's `stored` metric). Cells run in turn, not in
parallel: a grid is one job, and one job takes one worker slot of the manager.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import paper, viz
from .experiment import LIMITS
from .models import matched_specs
from .reproduce import _run_cell
from .runs.store import RunStore
from .runs.worker import versions
from .train import pick_device

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
    "generation": Experiment("generation-grid", "nmse", "final_nmse", paper.GENERATION_BUDGETS,
                             paper.GENERATION_NMSE, 1.0, "normalised MSE", 5, {},
                             "Experiment 1: error after training (lower is better)"),
    "words": Experiment("words-grid", "test_error", "final_test_error", paper.WORDS_BUDGETS, paper.WORDS_ERROR,
                        100.0, "test error %", 1,
                        {"task": "words", "dataset": "synthetic", "periods": list(paper.WORDS_PERIODS),
                         "preset": "paper-words"},
                        "Experiment 2: test error on unseen voices (lower is better)"),
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
        return {**self.experiment.cell_settings, "budget": budget, "seeds": self.seeds, "epochs": self.epochs,
                "snapshot_every": LIMITS["snapshot_every"]}


def check_grid(raw: dict) -> Grid:
    """The Grid of a stored or requested config; GridConfigError lists what is wrong and what is allowed."""
    problems = []
    if not isinstance(raw, dict) or raw.get("grid") not in EXPERIMENTS:
        raise GridConfigError('a grid config is a dict with "grid" ("generation" or "words"), "budgets", "seeds" '
                              'and "epochs"')
    budgets, paper_budgets = raw.get("budgets"), EXPERIMENTS[raw["grid"]].budgets
    allowed = ", ".join(map(str, paper_budgets))
    if (not isinstance(budgets, list) or not budgets or len(set(budgets)) != len(budgets)
            or any(b not in paper_budgets or isinstance(b, bool) for b in budgets)):
        problems.append(f"budgets must be one or more distinct sizes from {allowed}, got {budgets!r}")
    for name, hi in (("seeds", LIMITS["seeds"]), ("epochs", LIMITS["epochs"])):
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            problems.append(f"{name} must be a whole number from 1 to {hi}, got {value!r}")
    if problems:
        raise GridConfigError("; ".join(problems))
    return Grid(tuple(sorted(budgets)), raw["seeds"], raw["epochs"], raw["grid"])


def execute_grid(run_id: int, home: str) -> None:
    """Train every cell of grid run `run_id` of the store at `home`; set its final status and summary."""
    store = RunStore(home)
    grid = check_grid(store.get_run(run_id)["config"])
    store.set_versions(run_id, versions())
    device = str(pick_device(None))
    cells, done, start = grid.cells(), [], time.perf_counter()
    outcome = "completed"
    for index, (budget, arch) in enumerate(cells):
        elapsed = time.perf_counter() - start
        store.update_progress(run_id, {
            "epoch": index, "total_epochs": len(cells), "elapsed_s": elapsed, "device": device,
            "eta_s": elapsed / index * (len(cells) - index) if index else None,
            "cell": f"{viz.arch_label(arch)} at {budget} parameters"})
        if store.cancel_requested(run_id):
            outcome = "cancelled"
            break
        cell = _run_cell(grid.cell_config(budget), arch, grid.experiment.metric)
        store.add_metrics(run_id, [(arch, member, budget, grid.experiment.stored, value)
                                   for member, value in enumerate(cell["values"])])
        values = np.asarray(cell["values"], dtype=float)
        done.append({"arch": arch, "budget": budget, "hidden_size": cell["hidden_size"],
                     "parameters": cell["parameters"], "outcome": cell["outcome"], "seconds": cell["seconds"],
                     "networks": int(values.size), "mean": float(np.mean(values)), "std": float(np.std(values))})
    elapsed = time.perf_counter() - start
    store.update_progress(run_id, {"epoch": len(done), "total_epochs": len(cells), "elapsed_s": elapsed,
                                   "eta_s": 0.0, "device": device})
    diverged = [f"{viz.arch_label(c['arch'])} at {c['budget']}" for c in done if c["outcome"] == "diverged"]
    error = None
    if outcome == "cancelled":
        error = f"stopped by request after {len(done)} of {len(cells)} cells"
    elif diverged:
        outcome, error = "diverged", f"some networks diverged in: {', '.join(diverged)}"
    store.set_status(run_id, outcome, error=error, device=device,
                     summary={"grid": grid.kind, "cells": done, "elapsed_s": elapsed})


# ---- results as the Paper page shows them -----------------------------------------------------------


def is_grid(run: dict) -> bool:
    """Whether a stored run is one of the Paper page's grids."""
    return run["task"] in GRID_TASKS.values()


def grid_kind(run: dict) -> str:
    """"generation" or "words": the experiment of a stored grid run."""
    return run["config"].get("grid", "generation")


def grid_results(metrics: pd.DataFrame, kind: str = "generation") -> pd.DataFrame:
    """[arch, budget, value] rows, one per trained network, from a grid run's metrics (NaNs dropped),
    the value in the experiment's unit (words: test error in %)."""
    experiment = EXPERIMENTS[kind]
    rows = metrics[metrics["name"] == experiment.stored]
    results = pd.DataFrame({"arch": rows["arch"], "budget": rows["epoch"],
                            "value": rows["value"] * experiment.scale})
    return results.dropna().reset_index(drop=True)


def paper_reference(budgets: Sequence[int], kind: str = "generation") -> pd.DataFrame:
    """[arch, budget, value]: the paper's number for each of `budgets` and each architecture, where it
    gives one."""
    experiment = EXPERIMENTS[kind]
    rows = [{"arch": arch, "budget": b, "value": paper.paper_value(experiment.paper_table, experiment.budgets,
                                                                 arch, b)}
            for b in budgets for arch in GRID_ARCHS]
    return pd.DataFrame(rows, columns=["arch", "budget", "value"]).dropna().reset_index(drop=True)


def grid_figure(results: pd.DataFrame, budgets: Sequence[int], kind: str = "generation") -> go.Figure:
    """Our networks as boxes per budget and architecture, the paper's numbers as diamonds (its Figures 3, 5)."""
    experiment = EXPERIMENTS[kind]
    return viz.paper_box_figure(results, paper_reference(budgets, kind), metric_label=experiment.unit,
                                title=experiment.title)


def grid_table(results: pd.DataFrame, budgets: Sequence[int], kind: str = "generation") -> pd.DataFrame:
    """One row per cell: our mean and std of the score over the trained networks, the paper's mean beside it
    (columns named by the experiment's unit: "NMSE (ours)" or "test error % (ours)")."""
    experiment = EXPERIMENTS[kind]
    name = "NMSE" if kind == "generation" else experiment.unit
    # population std (ddof=0), as the run summaries and the paper's "mean ± std over 100 runs"
    stats = results.groupby(["budget", "arch"])["value"].agg(count="count", mean="mean",
                                                             std=lambda v: v.std(ddof=0))
    rows = []
    for budget in sorted(budgets):
        for arch in viz.ARCH_ORDER:
            if arch not in GRID_ARCHS:
                continue
            have = (budget, arch) in stats.index
            count, mean, std = stats.loc[(budget, arch)] if have else (0, np.nan, np.nan)
            rows.append({"parameters": budget, "architecture": viz.arch_label(arch), "networks": int(count),
                         f"{name} (ours)": mean, "std (ours)": std,
                         f"{name} (paper)": paper.paper_value(experiment.paper_table, experiment.budgets,
                                                              arch, budget)})
    return pd.DataFrame(rows)


#: (periods, input size, output size, the paper's hidden units) of each experiment's networks; the words
#: grid runs on the shipped set: 13 MFCC channels in, 25 words out.
_SIZING = {"generation": (paper.GENERATION_PERIODS, 0, 1, paper.GENERATION_HIDDEN),
           "words": (paper.WORDS_PERIODS, 13, 25, paper.WORDS_HIDDEN)}


def hidden_size_table(kind: str = "generation") -> pd.DataFrame:
    """The paper's table of sizes beside ours: hidden units each architecture gets for each parameter budget."""
    periods, n_in, n_out, hidden = _SIZING[kind]
    budgets = EXPERIMENTS[kind].budgets
    rows = []
    for budget in budgets:
        specs = {s.arch: s for s in matched_specs(budget, n_in, n_out, periods=periods)}
        for arch in viz.ARCH_ORDER:
            if arch in specs:
                ours = specs[arch]
                rows.append({"parameters": budget, "architecture": viz.arch_label(arch),
                             "hidden units (paper)": hidden[arch][budgets.index(budget)],
                             "hidden units (ours)": ours.hidden_size,
                             "parameters (ours)": ours.parameters(n_in, n_out)})
    return pd.DataFrame(rows)
