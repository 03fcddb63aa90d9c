"""The grid on Ray against local processes, and what a cluster would take for the paper's full grids.

    python benchmarks/ray_grid.py compare [--repeats 3]   # local Ray vs local processes, same grid
    python benchmarks/ray_grid.py project LOG [LOG ...] [--nodes 10 --cores 16 --seeds 100]
    python benchmarks/ray_grid.py split [--epochs 300]     # seed batches against the whole cell

`compare` runs one grid both ways, taking turns (the machine is shared), each time from scratch: the
local backend spawns its processes, the Ray backend connects to a running head (started once here, on
loopback, as `ray start --head` would be), ships the code and starts its workers. Both backends get the
same seed batches, so they train the same networks (checked: the tables must be identical).

`project` reads measured cells from `reproduce` progress logs (lines "[i/n] arch @ budget params: ...
(outcome, S s)") and schedules the full grid on a cluster: each cell split into the seed batches the
Ray backend would choose for that many CPUs, each batch taking the measured time of the logged cell
(an upper bound when the log's cells have at least as many seeds as a batch), longest first.
"""

import argparse
import datetime
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, see tests/test_ray_grid.py

import numpy as np
from common import machine

from cwrnn import paper
from cwrnn.config import validate
from cwrnn.grid import format_table, run_grid
from cwrnn.seed_batches import batches, size_to_fill

CELL = re.compile(r"\] (\w+) @ (\d+) params.*\((\w+), (\d+) s\)")


def compare(a) -> None:
    from ray.cluster_utils import Cluster

    base = validate({"epochs": a.epochs, "seeds": a.seeds, "snapshot_every": 10_000})
    grid = {
        "budgets": a.sizes,
        "archs": list(paper.ARCHS),
        "metric": "nmse",
        "paper_table": paper.GENERATION_NMSE,
        "paper_budgets": paper.GENERATION_BUDGETS,
        "seed_batch": a.seed_batch,
    }
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    )
    tables, times, connect = {}, {"local": [], "ray": []}, []

    def run(name, **backend):
        start = time.perf_counter()

        def progress(line):
            if line.startswith("Ray cluster"):
                connect.append(time.perf_counter() - start)

        tables[name] = format_table(run_grid(base, **grid, **backend, progress=progress), "NMSE")
        times[name].append(time.perf_counter() - start)

    try:
        for i in range(a.repeats):  # taking turns, each going first every other time
            for name in ("local", "ray") if i % 2 == 0 else ("ray", "local"):
                run(name, **({"workers": 2} if name == "local" else {"ray": cluster.address}))
                print(f"{name}: {times[name][-1]:.1f} s", file=sys.stderr, flush=True)
    finally:
        cluster.shutdown()
    assert tables["local"] == tables["ray"], "the backends trained different networks"
    batching = f"in batches of {a.seed_batch}, " if a.seed_batch else ""
    cells = len(a.sizes) * len(paper.ARCHS) * len(batches(a.seeds, a.seed_batch))
    print(
        f"Grid: Experiment 1 at {a.sizes} parameters x {len(paper.ARCHS)} architectures, {a.seeds} seeds "
        f"({batching}{cells} cells), {a.epochs} epochs; 2 CPUs; {machine('cpu')}; {datetime.date.today()}\n"
    )
    print("| run | local processes s | Ray s | Ray / local |\n|---|---|---|---|")
    ratios = [r / loc for loc, r in zip(times["local"], times["ray"])]
    for i, (loc, r) in enumerate(zip(times["local"], times["ray"]), 1):
        print(f"| {i} | {loc:.1f} | {r:.1f} | {r / loc:.3f} |")
    print(
        f"\nMedian ratio {statistics.median(ratios):.3f} (target: at most 1.15). Connecting to the head took "
        f"{statistics.median(connect):.1f} s (median; included above)."
    )


def project(a) -> None:
    cpus = a.nodes * a.cores
    print(
        f"Projection for {a.nodes} nodes x {a.cores} cores ({cpus} CPUs), {a.seeds} seeds per cell; "
        f"{datetime.date.today()}\n"
    )
    print("| log | grid cells | seed batch | tasks | longest task s | CPU-h | projected wall |")
    print("|---|---|---|---|---|---|---|")
    for log in a.logs:
        measured = sorted(
            (float(m[4]) for m in map(CELL.search, Path(log).read_text().splitlines()) if m), reverse=True
        )
        cells = a.cells or len(measured)
        # a grid with more cells than the log: the missing ones take the log's longest times (an upper bound)
        times = (measured * cells)[:cells]
        size = size_to_fill(a.seeds, cells, cpus)
        tasks = sorted([t for t in times for _ in batches(a.seeds, size)], reverse=True)
        loads = [0.0] * cpus
        for t in tasks:  # longest first onto the least loaded CPU, as Ray's queue fills free CPUs
            loads[loads.index(min(loads))] += t
        wall = max(loads) + a.overhead
        print(
            f"| {Path(log).name} | {cells} | {size} | {len(tasks)} | {tasks[0]:.0f} | {sum(tasks) / 3600:.1f} | "
            f"{wall / 60:.1f} min |"
        )


def split(a) -> None:
    """How far a cell trained in seed batches ends from the same cell trained whole."""
    from cwrnn.grid import CellSpec, run_cell
    from cwrnn.seed_batches import merge
    from cwrnn.seed_batches import split as into_batches

    print(
        f"Seed batches of {a.seed_batch} against the whole cell of {a.seeds} seeds, {a.epochs} epochs, "
        f"{a.budget} parameters; {datetime.date.today()}\n"
    )
    print("| task | arch | networks | identical | largest relative difference | mean whole / batched |")
    print("|---|---|---|---|---|---|")
    words = {"task": "words", "dataset": "synthetic", "periods": list(paper.WORDS_PERIODS), "preset": "paper-words"}
    for task, settings, metric in (("generation", {}, "nmse"), ("words", words, "loss")):
        for arch in paper.ARCHS:
            config = {**settings, "budget": a.budget, "seeds": a.seeds, "epochs": a.epochs, "snapshot_every": 10_000}
            whole = CellSpec(config, arch, metric)
            batched = merge(whole, [(part, run_cell(part)) for part in into_batches([whole], a.seed_batch)])
            one, other = np.asarray(run_cell(whole).values), np.asarray(batched.values)
            same = int((one == other).sum())
            print(
                f"| {task} | {arch} | {one.size} | {same} | {np.max(np.abs(one - other) / np.abs(one)):.2g} | "
                f"{one.mean():.4g} / {other.mean():.4g} |",
                flush=True,
            )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--sizes", type=int, nargs="+", default=[250, 1000])
    c.add_argument("--seeds", type=int, default=4)
    c.add_argument("--seed-batch", type=int)
    c.add_argument("--epochs", type=int, default=600)
    c.add_argument("--repeats", type=int, default=3)
    j = sub.add_parser("project")
    j.add_argument("logs", nargs="+")
    j.add_argument("--nodes", type=int, default=10)
    j.add_argument("--cores", type=int, default=16)
    j.add_argument("--seeds", type=int, default=100)
    j.add_argument("--cells", type=int, help="cells in the full grid (default: as many as the log has)")
    j.add_argument(
        "--overhead",
        type=float,
        default=30.0,
        help="seconds to connect, ship the code and start the workers (measured by compare)",
    )
    b = sub.add_parser("split")
    b.add_argument("--budget", type=int, default=1000)
    b.add_argument("--seeds", type=int, default=4)
    b.add_argument("--seed-batch", type=int, default=2)
    b.add_argument("--epochs", type=int, default=300)
    a = p.parse_args()
    {"compare": compare, "project": project, "split": split}[a.what](a)


if __name__ == "__main__":
    sys.exit(main())
