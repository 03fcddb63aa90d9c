"""Seed batches: a cell split so that a cluster's cores are all busy trains the same networks as the whole
cell, and merging lists every network once, where the whole cell has it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from cwrnn import seed_batches as sb
from cwrnn.config import validate
from cwrnn.experiment import build_specs, build_task
from cwrnn.grid import CellSpec, run_cell
from cwrnn.models import SequenceModel
from cwrnn.train import member_seeds


@dataclass(frozen=True)
class Result:
    values: list
    outcome: str = "completed"
    seconds: float = 1.0


def test_batches_cover_every_seed_once():
    assert sb.batches(10, None) == [(0, 10)]
    assert sb.batches(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert sb.batches(3, 5) == [(0, 3)]


@pytest.mark.parametrize(
    "seeds, cells, cpus, size",
    [
        (100, 12, 160, 8),  # 13 batches per cell: 156 tasks on 160 CPUs
        (100, 12, 2, 100),  # fewer CPUs than cells: no split
        (3, 2, 64, 1),  # never smaller than one seed
        (10, 1, 4, 3),  # 4 batches of 3, 3, 3, 1
    ],
)
def test_batch_size_fills_the_cluster_and_no_more(seeds, cells, cpus, size):
    assert sb.size_to_fill(seeds, cells, cpus) == size
    assert cells * len(sb.batches(seeds, size)) <= max(cpus, cells)


def test_merge_puts_each_network_where_the_whole_cell_has_it():
    # 2 replicas (sequences) x 5 seeds starting at seed 7; a member's value names its (replica, seed)
    whole = CellSpec({"seed": 7, "seeds": 5, "budget": 100}, "cwrnn", "nmse")
    parts = sb.split([whole], 2)
    assert [(p.config["seed"], p.config["seeds"]) for p in parts] == [(7, 2), (9, 2), (11, 1)]
    results = [
        (
            p,
            Result(
                [10 * j + s for j in range(2) for s in range(p.config["seed"], p.config["seed"] + p.config["seeds"])]
            ),
        )
        for p in parts
    ]
    merged = sb.merge(whole, results[::-1])  # batches finish in any order
    assert merged.values == [10 * j + s for j in range(2) for s in range(7, 12)]
    assert merged.seconds == 3.0 and merged.outcome == "completed"


def test_merge_refuses_a_batch_twice_or_missing():
    whole = CellSpec({"seed": 0, "seeds": 4}, "srn", "nmse")
    a, b = sb.split([whole], 2)
    with pytest.raises(ValueError, match="came back twice"):
        sb.merge(whole, [(a, Result([0, 1])), (a, Result([0, 1])), (b, Result([2, 3]))])
    with pytest.raises(ValueError, match="hold 2 of the cell's 4 networks"):
        sb.merge(whole, [(b, Result([2, 3]))])


def test_a_cell_diverges_only_if_every_batch_did():
    whole = CellSpec({"seed": 0, "seeds": 2}, "srn", "nmse")
    a, b = sb.split([whole], 1)
    nan = float("nan")
    assert sb.merge(whole, [(a, Result([nan], "diverged")), (b, Result([1.0]))]).outcome == "completed"
    assert sb.merge(whole, [(a, Result([nan], "diverged")), (b, Result([nan], "diverged"))]).outcome == "diverged"


def test_a_batch_starts_from_the_whole_cells_networks():
    """Exact: every network of a batch has, bit for bit, the initial weights it has in the whole cell."""
    cfg = validate({"budget": 250, "seeds": 5, "seed": 3})
    task = build_task(cfg)
    spec = next(s for s in build_specs(cfg, task.input_size, task.output_size) if s.arch == "cwrnn")

    def weights(first, count):
        model = SequenceModel(
            spec, task.input_size, task.output_size, member_seeds(range(first, first + count), task.replicas())
        )
        return torch.cat([p.detach().flatten(1) for p in model.parameters()], dim=1)

    whole = CellSpec({"seed": 3, "seeds": 5}, "cwrnn", "nmse")
    full = weights(3, 5)
    for part in sb.split([whole], 2):
        ids = sb.member_ids(whole, part, 5 * part.config["seeds"])
        assert torch.equal(weights(part.config["seed"], part.config["seeds"]), full[ids])


@pytest.mark.parametrize("task", ["generation", "words"])
def test_split_training_gives_the_unsplit_networks(task):
    """Trained, batches match the whole cell to float32 rounding: the same networks, trained the same way
    (a member misplaced or seeded by its batch would differ in the first digit). Bit for bit they do not:
    see cwrnn/seed_batches.py."""
    settings = (
        {"task": "words", "dataset": "synthetic", "periods": [1, 2, 4, 8, 16, 32, 64], "preset": "paper-words"}
        if task == "words"
        else {}
    )
    whole = CellSpec(
        {**settings, "budget": 250, "seeds": 3, "seed": 0, "epochs": 3, "snapshot_every": 10_000},
        "cwrnn",
        "nmse" if task == "generation" else "loss",
    )
    merged = sb.merge(whole, [(part, run_cell(part)) for part in sb.split([whole], 2)])
    unsplit = run_cell(whole)
    assert len(merged.values) == len(unsplit.values) == 3 * (5 if task == "generation" else 1)
    np.testing.assert_allclose(merged.values, unsplit.values, rtol=1e-5)
    assert len(set(np.round(unsplit.values, 6))) > 1  # distinct networks, so a misplaced one would show
