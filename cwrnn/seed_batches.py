"""Grid cells split into seed batches, so that every core of a cluster has a cell, and put back together.

A cell's config trains seeds seed .. seed+seeds-1 as one batched model; a batch is the same config with
a smaller range. A member's initial weights and input noise come from its own seed alone
(train.member_seeds, the tasks' noise streams), so a batch trains the same networks as the whole cell,
and the merged batches list every network once, in the whole cell's member order.

A batch ends where the whole cell ends, bit for bit, because a network's arithmetic does not depend on
how many networks share its stacked model: MKL runs in its reproducible mode (set when cwrnn is
imported), the model code sums and multiplies member by member (models/ensemble.py: baddbmm, sigmoid,
step_sums), losses are totalled along each network's own row, and an early-stopped network's final
score is measured on the same noise whenever its run stops. This holds at one thread, as cells train
(BENCHMARKS.md, "Seed batches"), so the batch size changes how a grid is scheduled, not its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any


def batches(seeds: int, size: int | None) -> list[tuple[int, int]]:
    """(offset, count) of each batch of at most `size` seeds; None: one batch of all."""
    size = seeds if size is None else size
    return [(start, min(size, seeds - start)) for start in range(0, seeds, size)]


def size_to_fill(seeds: int, cells: int, cpus: float) -> int:
    """The largest batch size that still gives every CPU a cell (fewer seeds per cell cost more CPU
    per seed, so the batches are no smaller than that)."""
    per_cell = max(1, min(seeds, math.floor(cpus / max(cells, 1))))
    return math.ceil(seeds / per_cell)


def split(cells: Sequence[Any], size: int | None) -> list[Any]:
    """Each cell (a dataclass with a RunConfig dict in .config) as its seed batches."""
    out = []
    for cell in cells:
        first, seeds = cell.config.get("seed", 0), cell.config["seeds"]
        out += [
            replace(cell, config={**cell.config, "seed": first + offset, "seeds": count})
            for offset, count in batches(seeds, size)
        ]
    return out


def member_ids(whole: Any, batch: Any, values: int) -> list[int]:
    """Where each of a batch's `values` members sits in the whole cell's member order (replica-major:
    member j * seeds + s is seed s's network on sequence j)."""
    seeds, count = whole.config["seeds"], batch.config["seeds"]
    offset = batch.config.get("seed", 0) - whole.config.get("seed", 0)
    return [(m // count) * seeds + offset + m % count for m in range(values)]


def merge(whole: Any, parts: Sequence[tuple[Any, Any]]) -> Any:
    """The result of cell `whole` from its batches' (cell, result) pairs, in any order: every member's
    value where the unsplit cell has it; outcome "diverged" only if every batch diverged (as the unsplit
    cell stops only when all its networks have); seconds summed (CPU time)."""
    slots: dict[int, float] = {}
    for cell, result in parts:
        for member, value in zip(member_ids(whole, cell, len(result.values)), result.values):
            if member in slots:
                raise ValueError(f"network {member} of the cell came back twice")
            slots[member] = value
    replicas = len(parts[0][1].values) // parts[0][0].config["seeds"]
    if sorted(slots) != list(range(replicas * whole.config["seeds"])):
        raise ValueError(f"the batches hold {len(slots)} of the cell's {replicas * whole.config['seeds']} networks")
    outcome = "diverged" if all(r.outcome == "diverged" for _, r in parts) else "completed"
    return replace(
        parts[0][1], values=[slots[m] for m in sorted(slots)], outcome=outcome, seconds=sum(r.seconds for _, r in parts)
    )
