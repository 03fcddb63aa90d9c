"""Seed batches: a cell split so that a cluster's cores are all busy trains the same networks as the whole
cell, and merging lists every network once, where the whole cell has it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

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


def test_importing_cwrnn_makes_batched_matmuls_member_invariant():
    """MKL's batched matmul rounds a small product differently by how many products share the call
    (on this machine these shapes differ in the last bits without MKL_CBWR); cwrnn switches that off
    before torch's first matmul, so a network's products are those it gets in any seed batch."""
    probe = (
        "import cwrnn, torch; torch.set_num_threads(1); g = torch.Generator().manual_seed(0);"
        "a, b = torch.randn(15, 3, 20, generator=g), torch.randn(15, 20, 19, generator=g);"
        "ids = [0, 1, 3, 4, 6, 7, 9, 10, 12, 13];"
        "print(torch.equal(torch.bmm(a, b)[ids], torch.bmm(a[ids], b[ids])))"
    )
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


WORDS = {"task": "words", "dataset": "synthetic", "periods": [1, 2, 4, 8, 16, 32, 64], "preset": "paper-words"}


@pytest.mark.parametrize(
    "task, arch, size",
    [("words", a, 2) for a in ("cwrnn", "srn", "lstm", "gru")]
    + [("generation", a, 3) for a in ("cwrnn", "srn", "lstm", "gru")],  # 3 + 1: a lone network too
)
def test_split_training_gives_the_unsplit_networks_bit_for_bit(task, arch, size):
    """Every network of the batches ends exactly where it ends in the whole cell (a last-bit difference
    anywhere grows over the updates into a visible one). Words: up to 40 epochs of 8 noisy mini-batches, where
    early stopping ends each batch at its own epoch (the whole cell at 35, the second batch at 21 for the
    CW-RNN), and a network's final score does not depend on that. Generation: 60 epochs of 5 clips per seed."""
    settings, epochs, metric = (WORDS, 40, "loss") if task == "words" else ({}, 60, "nmse")
    config = {**settings, "baselines": ["srn", "lstm", "gru"], "budget": 250, "seeds": 4, "seed": 0}
    whole = CellSpec({**config, "epochs": epochs, "snapshot_every": 10_000}, arch, metric)
    merged = sb.merge(whole, [(part, run_cell(part)) for part in sb.split([whole], size)])
    unsplit = run_cell(whole)
    assert len(merged.values) == 4 * (1 if task == "words" else 5)
    assert merged.values == unsplit.values
    assert len(set(unsplit.values)) == len(unsplit.values)  # distinct networks, so a misplaced one would show
