"""The paper's grids: every (budget, architecture) cell trains all its seeds as one model.

One runner serves `cwrnn reproduce` and the Paper page's background job. A grid is a list of independent
`CellSpec`s; `run_cells` runs them on a backend and streams each `Cell` back as it finishes. The
local backend uses processes (one torch thread each: the models are small and per-step overhead, not
arithmetic, dominates, so processes scale where threads do not); `ray_tasks` runs them on a Ray cluster
(cwrnn/grid_ray.py), where each cell may be split into seed batches (cwrnn/seed_batches.py) so that every
CPU has one.

`summarize` is the one summary over seeds everywhere in the project: networks that diverged (NaN) are left
out of the mean and the std, and counted.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from . import paper, seed_batches
from .config import LIMITS, RunConfig, tuned_settings, validate
from .experiment import build_specs, build_task, train_config
from .runs.jobs import versions
from .runs.store import RunStore

# ---- one summary over seeds ------------------------------------------------------------------------


def summarize(values: Iterable[float]) -> dict:
    """Mean, std (population, as the paper's "mean ± std over 100 runs") and median over the `n` members
    that did not diverge (None where none survived), and how many did."""
    values = np.asarray(list(values), dtype=float)
    finite = values[np.isfinite(values)]
    stat = (lambda f: float(f(finite))) if finite.size else (lambda f: None)
    return {
        "mean": stat(np.mean),
        "std": stat(np.std),
        "median": stat(np.median),
        "n": int(finite.size),
        "diverged": int(values.size - finite.size),
    }


# ---- cells and the runner --------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpec:
    """One independent piece of a grid: `arch` trained on a RunConfig (as a dict), scored by `metric`.
    A cell of another kind (a learning-rate sweep's) names its trainer, "module:function" taking the
    CellSpec (imported where it runs, so that this module imports none of them), and its `plan`."""

    config: dict
    arch: str
    metric: str
    trainer: str | None = None
    plan: dict | None = None

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
    if spec.trainer is not None:
        module, _, function = spec.trainer.partition(":")
        return getattr(importlib.import_module(module), function)(spec)
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
        pool.shutdown(wait=True)  # every cell done: reap the workers now, not in a race at interpreter exit
    finally:  # on an error, Ctrl+C or an early stop, do not wait for the remaining cells to train
        pool.shutdown(wait=False, cancel_futures=True)


def ray_tasks(cells: Sequence[CellSpec], workers: int) -> Iterator[tuple[CellSpec, Cell]]:
    """Run cells as Ray tasks on the cluster of the open `grid_ray.ray_session` (`workers` is the cluster's
    business), each reserving a CPU, and a GPU where its config asks for CUDA; yield each with its result as
    it finishes. A cell whose node dies is started again on another."""
    from .grid_ray import as_finished_on_ray

    needs = [{"num_cpus": 1, "num_gpus": int(cell.config.get("device") == "cuda")} for cell in cells]
    for index, result in as_finished_on_ray(run_cell, [(cell,) for cell in cells], needs):
        yield cells[index], result


@contextmanager
def backend_for(address: str | None, cells: int, seeds: int, seed_batch: int | None):
    """While open: (backend, seed batch size, a line about the cluster or None) for `cells` cells of `seeds`
    seeds, on the Ray cluster at `address` or (None) in local processes. The batch size is `seed_batch` or,
    on Ray, the largest that still gives every CPU of the cluster a cell."""
    if not address:
        yield local_processes, seed_batch, None
        return
    from .grid_ray import ray_session

    with ray_session(address) as resources:
        cpus = resources.get("CPU", 1)
        size = seed_batch or seed_batches.size_to_fill(seeds, cells, cpus)
        tasks = cells * len(seed_batches.batches(seeds, size))
        about = f"Ray cluster at {address}: {cpus:g} CPUs, {resources.get('GPU', 0):g} GPUs; "
        yield ray_tasks, size, about + f"{cells} cells in seed batches of {size}: {tasks} tasks"


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
    ray: str | None = None,
    seed_batch: int | None = None,
    progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> list[Cell]:
    """Train every (budget, arch) cell of a grid in local processes or on the Ray cluster at `ray`, each
    cell's seeds in batches of at most `seed_batch` (None: all at once locally, enough batches to fill the
    cluster on Ray); `progress` hears of each batch as it finishes."""
    specs = grid_cells(base, budgets, archs, metric)
    with backend_for(ray, len(specs), base.seeds, seed_batch) as (backend, size, about):
        if about:
            progress(about)
        parts = [(whole, part) for whole in specs for part in seed_batches.split([whole], size)]
        owner = {id(part): whole for whole, part in parts}
        start, done = time.perf_counter(), {id(whole): [] for whole in specs}
        for count, (part, batch) in enumerate(run_cells([part for _, part in parts], workers, backend), 1):
            done[id(owner[id(part)])].append((part, batch))
            first = part.config["seed"] - base.seed
            which = f", seeds {first}-{first + part.config['seeds'] - 1}" if len(parts) > len(specs) else ""
            elapsed = time.perf_counter() - start
            eta = elapsed / count * (len(parts) - count)
            progress(
                f"[{count}/{len(parts)}] {batch.arch} @ {batch.budget} params{which}: {batch.mean:.4g} ± "
                f"{batch.std:.2g} ({batch.outcome}, {batch.seconds:.0f} s); elapsed {elapsed:.0f} s, ETA {eta:.0f} s"
            )
    cells = []
    for whole in specs:
        cell = seed_batches.merge(whole, done[id(whole)])
        cells.append(replace(cell, paper=paper.paper_value(paper_table, paper_budgets, cell.arch, cell.budget)))
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


#: How a grid trains: "paper" (the paper's optimiser, input and clock) or "tuned" (`config.tuned_settings`:
#: each architecture at its tuned rates, on the input and clock they were tuned with)
RECIPES = ("paper", "tuned")


@dataclass(frozen=True)
class Grid:
    budgets: tuple[int, ...]
    seeds: int
    epochs: int
    kind: str = "generation"
    recipe: str = "paper"

    @property
    def experiment(self) -> Experiment:
        return EXPERIMENTS[self.kind]

    def config(self) -> dict:
        """The run config stored for this grid (a paper grid's has no recipe, as grids stored before it)."""
        config = {"grid": self.kind, "budgets": list(self.budgets), "seeds": self.seeds, "epochs": self.epochs}
        return config if self.recipe == "paper" else {**config, "recipe": self.recipe}

    def cells(self) -> list[tuple[int, str]]:
        return [(budget, arch) for budget in self.budgets for arch in GRID_ARCHS]

    def cell_config(self, budget: int) -> dict:
        """The RunConfig of one budget: the recipe's settings, no snapshots (a cell keeps only final scores).
        The epochs of a words or handwriting grid are a cap: early stopping ends each network sooner."""
        return {
            **self.experiment.cell_settings,
            **(tuned_settings(self.kind) if self.recipe == "tuned" else {}),
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
    recipe = raw.get("recipe", "paper")
    if recipe not in RECIPES:
        problems.append(f"recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    if problems:
        raise GridConfigError("; ".join(problems))
    return Grid(tuple(sorted(budgets)), raw["seeds"], raw["epochs"], raw["grid"], recipe)


def is_grid(run: dict) -> bool:
    """Whether a stored run is one of the Paper page's grids."""
    return run["task"] in GRID_TASKS.values()


def execute_grid(run_id: int, home: str) -> None:
    """The grid job: train every cell of grid run `run_id` of the store at `home`, one after another in this
    worker (a grid holds one training slot of the manager) or, when CWRNN_RAY_ADDRESS names a cluster, there,
    in seed batches that fill it; set its final status and summary."""
    from .grid_ray import cluster_from_env
    from .train import pick_device

    store = RunStore(home)
    grid = check_grid(store.get_run(run_id)["config"])
    store.set_versions(run_id, versions())
    address = cluster_from_env()
    device = f"the Ray cluster at {address}" if address else str(pick_device(None))
    wholes = [CellSpec(grid.cell_config(budget), arch, grid.experiment.metric) for budget, arch in grid.cells()]
    start, outcome, count, finished = time.perf_counter(), "completed", 0, {id(whole): [] for whole in wholes}
    with backend_for(address, len(wholes), grid.seeds, None) as (backend, size, _):
        parts = [(whole, part) for whole in wholes for part in seed_batches.split([whole], size)]
        owner = {id(part): whole for whole, part in parts}

        def report(index: int) -> None:
            elapsed = time.perf_counter() - start
            progress = {
                "epoch": index,
                "total_epochs": len(parts),
                "elapsed_s": elapsed,
                "device": device,
                "eta_s": elapsed / index * (len(parts) - index) if index else None,
            }
            if not address and index < len(parts):  # on a cluster all cells are in flight at once
                progress["cell"] = f"{paper.arch_label(parts[index][1].arch)} at {parts[index][1].budget} parameters"
            store.update_progress(run_id, progress)

        report(0)
        if store.cancel_requested(run_id):
            outcome = "cancelled"
        else:
            for part, cell in backend([part for _, part in parts], 1):
                whole = owner[id(part)]
                members = seed_batches.member_ids(whole, part, len(cell.values))
                store.add_metrics(
                    run_id,
                    [
                        (part.arch, member, part.budget, grid.experiment.stored, value)
                        for member, value in zip(members, cell.values)
                    ],
                )
                finished[id(whole)].append((part, cell))
                count += 1
                report(count)
                if count < len(parts) and store.cancel_requested(run_id):
                    outcome = "cancelled"
                    break
    done = []
    for whole in wholes:
        have = finished[id(whole)]
        if sum(part.config["seeds"] for part, _ in have) == grid.seeds:  # every batch back
            cell = seed_batches.merge(whole, have)
            stats = summarize(cell.values)
            done.append(
                {
                    "arch": whole.arch,
                    "budget": whole.budget,
                    "hidden_size": cell.hidden_size,
                    "parameters": cell.parameters,
                    "outcome": cell.outcome,
                    "seconds": cell.seconds,
                    "networks": len(cell.values),
                    "mean": stats["mean"],
                    "std": stats["std"],
                }
            )
    elapsed = time.perf_counter() - start
    store.update_progress(
        run_id, {"epoch": count, "total_epochs": len(parts), "elapsed_s": elapsed, "eta_s": 0.0, "device": device}
    )
    diverged = [f"{paper.arch_label(c['arch'])} at {c['budget']}" for c in done if c["outcome"] == "diverged"]
    error = None
    if outcome == "cancelled":
        error = f"stopped by request after {count} of {len(parts)} cells"
    elif diverged:
        outcome, error = "diverged", f"some networks diverged in: {', '.join(diverged)}"
    summary = {"grid": grid.kind, "cells": done, "elapsed_s": elapsed, **({"seed_batch": size} if size else {})}
    store.set_status(run_id, outcome, error=error, device=device, summary=summary)
