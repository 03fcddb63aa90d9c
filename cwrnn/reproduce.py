"""Reproduce the paper's grids: every (budget, architecture) cell trains all its seeds as one model.

Cells are independent, so they run in parallel worker processes (one torch thread each: the models are
small and per-step overhead, not arithmetic, dominates, so processes scale where threads do not).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from . import paper
from .experiment import RunConfig, build_specs, build_task


@dataclass
class Cell:
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
        return float(self.finite.mean()) if self.finite.size else float("nan")

    @property
    def std(self) -> float:
        return float(self.finite.std()) if self.finite.size else float("nan")


def _run_cell(cfg_dict: dict, arch: str, metric: str) -> dict:
    import torch

    from .experiment import validate
    from .train import train
    torch.set_num_threads(1)
    cfg = validate(cfg_dict)
    task = build_task(cfg)
    spec = next(s for s in build_specs(cfg, task.input_size, task.output_size) if s.arch == arch)
    result = train(task, [spec], cfg.seed_list, cfg.train_config())
    values = result.final.get(arch, {}).get(metric, np.array([]))
    return {"arch": arch, "hidden_size": spec.hidden_size,
            "parameters": spec.parameters(task.input_size, task.output_size),
            "values": [float(v) for v in values], "outcome": result.outcome, "seconds": result.elapsed}


def run_grid(base: RunConfig, budgets: Sequence[int], archs: Sequence[str], *, metric: str,
             paper_table: dict, paper_budgets: tuple, workers: int | None = None,
             progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> list[Cell]:
    """Train every (budget, arch) cell of a grid; `progress` hears of each cell as it finishes."""
    from .experiment import validate
    workers = workers or max(1, min(os.cpu_count() or 1, len(budgets) * len(archs)))
    jobs = []
    task = build_task(base)
    for budget in budgets:
        cfg = {**base.to_dict(), "budget": int(budget), "baselines": [a for a in archs if a != "cwrnn"]}
        build_specs(validate(cfg), task.input_size, task.output_size)  # every cell's errors before any training
        for arch in archs:
            jobs.append((budget, arch, cfg))
    # Longest first, so that no long cell starts last while the other workers sit idle: cost grows
    # with the budget, and an LSTM step does about twice a CW-RNN's or an SRN's work.
    jobs.sort(key=lambda job: (job[0], job[1] == "lstm"), reverse=True)
    start, cells = time.perf_counter(), []
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        futures = {pool.submit(_run_cell, cfg, arch, metric): (budget, arch) for budget, arch, cfg in jobs}
        for done, future in enumerate(as_completed(futures), 1):
            budget, arch = futures[future]
            r = future.result()
            cell = Cell(arch, budget, r["hidden_size"], r["parameters"], r["values"],
                        paper.paper_value(paper_table, paper_budgets, arch, budget), r["outcome"], r["seconds"])
            cells.append(cell)
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (len(jobs) - done)
            progress(f"[{done}/{len(jobs)}] {arch} @ {budget} params: {cell.mean:.4g} ± {cell.std:.2g} "
                     f"({cell.outcome}, {cell.seconds:.0f} s); elapsed {elapsed:.0f} s, ETA {eta:.0f} s")
    finally:  # on an error or Ctrl+C, do not wait for the remaining cells to train
        pool.shutdown(wait=False, cancel_futures=True)
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
