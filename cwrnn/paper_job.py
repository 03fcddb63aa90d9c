"""Experiment 1's grid (parameter budgets x architectures x seeds) as one background run, and its results.

A grid run is stored with task GRID_TASK and a config {"grid": "generation", "budgets": [...],
"seeds": N, "epochs": E}. Its job, `execute_grid`, trains the (budget, architecture) cells one after
another with the paper's settings (the cell trainer of `reproduce`), storing each network's final NMSE
as a metric row (arch, seed = network, epoch = budget, name = GRID_METRIC). Cells run in turn, not in
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

GRID_TASK = "generation-grid"
GRID_METRIC = "final_nmse"
GRID_ARCHS = ("cwrnn", "lstm", "srn")  # trained in this order, so the CW-RNN's boxes appear first
#: Experiment 1 trains one network per clip, so every seed gives this many networks per cell.
CLIPS = 5


class GridConfigError(ValueError):
    """A grid configuration that cannot be run; the message lists every problem."""


@dataclass(frozen=True)
class Grid:
    budgets: tuple[int, ...]
    seeds: int
    epochs: int

    def config(self) -> dict:
        """The run config stored for this grid."""
        return {"grid": "generation", "budgets": list(self.budgets), "seeds": self.seeds, "epochs": self.epochs}

    def cells(self) -> list[tuple[int, str]]:
        return [(budget, arch) for budget in self.budgets for arch in GRID_ARCHS]

    def cell_config(self, budget: int) -> dict:
        """The RunConfig of one budget: the paper's defaults, no snapshots (a cell keeps only final scores)."""
        return {"budget": budget, "seeds": self.seeds, "epochs": self.epochs,
                "snapshot_every": LIMITS["snapshot_every"]}


def check_grid(raw: dict) -> Grid:
    """The Grid of a stored or requested config; GridConfigError lists what is wrong and what is allowed."""
    problems = []
    if not isinstance(raw, dict) or raw.get("grid") != "generation":
        raise GridConfigError('a grid config is a dict with "grid": "generation", "budgets", "seeds" and "epochs"')
    budgets = raw.get("budgets")
    allowed = ", ".join(map(str, paper.GENERATION_BUDGETS))
    if (not isinstance(budgets, list) or not budgets or len(set(budgets)) != len(budgets)
            or any(b not in paper.GENERATION_BUDGETS or isinstance(b, bool) for b in budgets)):
        problems.append(f"budgets must be one or more distinct sizes from {allowed}, got {budgets!r}")
    for name, hi in (("seeds", LIMITS["seeds"]), ("epochs", LIMITS["epochs"])):
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            problems.append(f"{name} must be a whole number from 1 to {hi}, got {value!r}")
    if problems:
        raise GridConfigError("; ".join(problems))
    return Grid(tuple(sorted(budgets)), raw["seeds"], raw["epochs"])


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
        cell = _run_cell(grid.cell_config(budget), arch, "nmse")
        store.add_metrics(run_id, [(arch, member, budget, GRID_METRIC, value)
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
                     summary={"grid": "generation", "cells": done, "elapsed_s": elapsed})


# ---- results as the Paper page shows them -----------------------------------------------------------


def grid_results(metrics: pd.DataFrame) -> pd.DataFrame:
    """[arch, budget, value] rows, one per trained network, from a grid run's metrics (NaNs dropped)."""
    rows = metrics[metrics["name"] == GRID_METRIC]
    results = pd.DataFrame({"arch": rows["arch"], "budget": rows["epoch"], "value": rows["value"]})
    return results.dropna().reset_index(drop=True)


def paper_reference(budgets: Sequence[int]) -> pd.DataFrame:
    """[arch, budget, value]: the paper's NMSE for each of `budgets` and each architecture."""
    rows = [{"arch": arch, "budget": b, "value": paper.paper_value(paper.GENERATION_NMSE,
                                                                 paper.GENERATION_BUDGETS, arch, b)}
            for b in budgets for arch in GRID_ARCHS]
    return pd.DataFrame(rows, columns=["arch", "budget", "value"]).dropna().reset_index(drop=True)


def grid_figure(results: pd.DataFrame, budgets: Sequence[int]) -> go.Figure:
    """Our networks as boxes per budget and architecture, the paper's numbers as diamonds (its Figure 3)."""
    return viz.paper_box_figure(results, paper_reference(budgets), metric_label="normalised MSE",
                                title="Experiment 1: error after training (lower is better)")


def grid_table(results: pd.DataFrame, budgets: Sequence[int]) -> pd.DataFrame:
    """One row per cell: our mean and std of the NMSE over the trained networks, the paper's mean beside it."""
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
                         "NMSE (ours)": mean, "std (ours)": std,
                         "NMSE (paper)": paper.paper_value(paper.GENERATION_NMSE, paper.GENERATION_BUDGETS,
                                                           arch, budget)})
    return pd.DataFrame(rows)


def hidden_size_table() -> pd.DataFrame:
    """The paper's Table 1 beside ours: hidden units each architecture gets for each parameter budget."""
    rows = []
    for budget in paper.GENERATION_BUDGETS:
        specs = {s.arch: s for s in matched_specs(budget, 0, 1, periods=paper.GENERATION_PERIODS)}
        for arch in viz.ARCH_ORDER:
            if arch in specs:
                ours = specs[arch]
                rows.append({"parameters": budget, "architecture": viz.arch_label(arch),
                             "hidden units (paper)": paper.GENERATION_HIDDEN[arch][
                                 paper.GENERATION_BUDGETS.index(budget)],
                             "hidden units (ours)": ours.hidden_size, "parameters (ours)": ours.parameters(0, 1)})
    return pd.DataFrame(rows)
