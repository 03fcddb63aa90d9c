"""The Paper page's results: our grid runs beside the paper's numbers, as tables and box plots.

The grids themselves (what a cell trains, the background job that runs them) are cwrnn.grid's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import paper
from ..grid import EXPERIMENTS, GRID_ARCHS, summarize
from ..models.sizing import matched_specs
from . import viz


def grid_kind(run: dict) -> str:
    """ "generation", "words" or "handwriting": the experiment of a stored grid run."""
    return run["config"].get("grid", "generation")


def grid_results(metrics: pd.DataFrame, kind: str = "generation") -> pd.DataFrame:
    """[arch, budget, value] rows, one per trained network, from a grid run's metrics (NaNs dropped),
    the value in the experiment's unit (words: test error in %)."""
    experiment = EXPERIMENTS[kind]
    rows = metrics[metrics["name"] == experiment.stored]
    results = pd.DataFrame({"arch": rows["arch"], "budget": rows["epoch"], "value": rows["value"] * experiment.scale})
    return results.dropna().reset_index(drop=True)


def paper_reference(budgets: Sequence[int], kind: str = "generation") -> pd.DataFrame:
    """[arch, budget, value]: the paper's number for each of `budgets` and each architecture, where it
    gives one."""
    experiment = EXPERIMENTS[kind]
    rows = [
        {"arch": arch, "budget": b, "value": paper.paper_value(experiment.paper_table, experiment.budgets, arch, b)}
        for b in budgets
        for arch in GRID_ARCHS
    ]
    return pd.DataFrame(rows, columns=["arch", "budget", "value"]).dropna().reset_index(drop=True)


def grid_figure(results: pd.DataFrame, budgets: Sequence[int], kind: str = "generation") -> go.Figure:
    """Our networks as boxes per budget and architecture, the paper's numbers as diamonds (its Figures 3, 5)."""
    experiment = EXPERIMENTS[kind]
    return viz.paper_box_figure(
        results, paper_reference(budgets, kind), metric_label=experiment.unit, title=experiment.title
    )


def grid_table(results: pd.DataFrame, budgets: Sequence[int], kind: str = "generation") -> pd.DataFrame:
    """One row per cell: our mean and std of the score over the trained networks, the paper's mean beside it
    (columns named by the experiment's unit: "NMSE (ours)" or "test error % (ours)")."""
    experiment = EXPERIMENTS[kind]
    name = "NMSE" if kind == "generation" else experiment.unit
    cells = {key: group.to_numpy() for key, group in results.groupby(["budget", "arch"])["value"]}
    rows = []
    for budget in sorted(budgets):
        for arch in viz.ARCH_ORDER:
            if arch not in GRID_ARCHS:
                continue
            stats = summarize(cells.get((budget, arch), []))
            rows.append(
                {
                    "parameters": budget,
                    "architecture": viz.arch_label(arch),
                    "networks": len(cells.get((budget, arch), [])) - stats["diverged"],
                    f"{name} (ours)": np.nan if stats["mean"] is None else stats["mean"],
                    "std (ours)": np.nan if stats["std"] is None else stats["std"],
                    f"{name} (paper)": paper.paper_value(experiment.paper_table, experiment.budgets, arch, budget),
                }
            )
    return pd.DataFrame(rows)


#: (periods, input size, output size, the paper's hidden units, bidirectional) of each experiment's networks;
#: the words grid runs on the shipped set: 13 MFCC channels in, 25 words out. Handwriting is sized for the
#: paper's 82 outputs, so the table checks Table 1 (hidden units per direction).
_SIZING = {
    "generation": (paper.GENERATION_PERIODS, 0, 1, paper.GENERATION_HIDDEN, False),
    "words": (paper.WORDS_PERIODS, 13, 25, paper.WORDS_HIDDEN, False),
    "handwriting": (
        paper.HANDWRITING_PERIODS,
        paper.HANDWRITING_INPUTS,
        paper.HANDWRITING_OUTPUTS,
        paper.HANDWRITING_HIDDEN,
        True,
    ),
}


def hidden_size_table(kind: str = "generation") -> pd.DataFrame:
    """The paper's table of sizes beside ours: hidden units each architecture gets for each parameter budget."""
    periods, n_in, n_out, hidden, bidirectional = _SIZING[kind]
    budgets = EXPERIMENTS[kind].budgets
    rows = []
    for budget in budgets:
        specs = {s.arch: s for s in matched_specs(budget, n_in, n_out, periods=periods, bidirectional=bidirectional)}
        for arch in viz.ARCH_ORDER:
            if arch in specs:
                ours = specs[arch]
                rows.append(
                    {
                        "parameters": budget,
                        "architecture": viz.arch_label(arch),
                        "hidden units (paper)": hidden[arch][budgets.index(budget)],
                        "hidden units (ours)": ours.hidden_size,
                        "parameters (ours)": ours.parameters(n_in, n_out),
                    }
                )
    return pd.DataFrame(rows)


#: Our results of the paper's grids as the README gives them, made by `reproduce` (see its README).
SHIPPED_RESULTS = Path(__file__).resolve().parents[2] / "assets" / "paper_results" / "grids.json"


def shipped_results(kind: str = "generation") -> tuple[pd.DataFrame, dict]:
    """The shipped grid results of an experiment as a table in `grid_table`'s columns, and how they were
    made (command, date, versions, machine); an empty table when none are shipped for it."""
    entry = json.loads(SHIPPED_RESULTS.read_text()).get(kind)
    if entry is None:
        return pd.DataFrame(), {}
    experiment = EXPERIMENTS[kind]
    name = "NMSE" if kind == "generation" else experiment.unit
    order = {arch: i for i, arch in enumerate(viz.ARCH_ORDER)}
    cells = sorted(entry["cells"], key=lambda c: (c["budget"], order.get(c["arch"], len(order))))
    rows = [
        {
            "parameters": c["budget"],
            "architecture": viz.arch_label(c["arch"]),
            "networks": c["networks"],
            f"{name} (ours)": c["mean"],
            "std (ours)": c["std"],
            f"{name} (paper)": paper.paper_value(experiment.paper_table, experiment.budgets, c["arch"], c["budget"]),
        }
        for c in cells
    ]
    return pd.DataFrame(rows), {k: v for k, v in entry.items() if k != "cells"}
