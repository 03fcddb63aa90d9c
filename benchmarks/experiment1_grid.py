"""Projected wall time of the full Experiment 1 grid (4 sizes x 3 architectures x 100 seeds x 5 clips).

Times a few epochs of every cell at full width (all seeds and clips batched), scales to 2000 epochs,
and divides the total over the worker processes as `reproduce` schedules them (longest first). The
per-epoch time is the difference between a run of 2 + E epochs and one of 2, so model construction
and the first epochs' one-off costs are not multiplied by 2000.
    python benchmarks/experiment1_grid.py [--runs 100] [--epochs 20] [--workers 2]
"""

import argparse
import datetime
import time

from common import machine

from cwrnn import matched_specs, paper
from cwrnn.data.audio import shipped_clips
from cwrnn.tasks.generation import GenerationTask
from cwrnn.train import TrainConfig, train


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()

    def seconds(spec, epochs):
        cfg = TrainConfig.preset("paper-generation", epochs=epochs, device=a.device, snapshot_every=10**6)
        task = GenerationTask(shipped_clips(), num_seeds=a.runs)
        start = time.perf_counter()
        train(task, [spec], list(range(a.runs)), cfg)
        return time.perf_counter() - start

    print(
        f"Experiment 1 grid projection, {a.runs} seeds x 5 clips per cell, timed over {a.epochs} epochs; "
        f"{machine(a.device)}; {datetime.date.today()}\n"
    )
    print("| budget | arch | networks | s per epoch | projected s for 2000 epochs |")
    print("|---|---|---|---|---|")
    cells = []
    seconds(matched_specs(100, 0, 1, periods=paper.GENERATION_PERIODS)[0], 1)  # imports, allocator, thread pool
    for budget in paper.GENERATION_BUDGETS:
        for spec in matched_specs(budget, 0, 1, periods=paper.GENERATION_PERIODS):
            setup = seconds(spec, 2)
            per_epoch = (seconds(spec, 2 + a.epochs) - setup) / a.epochs
            cells.append(per_epoch * 2000)
            print(f"| {budget} | {spec.arch} | {5 * a.runs} | {per_epoch:.4f} | {per_epoch * 2000:.0f} |", flush=True)
    loads = [0.0] * a.workers
    for c in sorted(cells, reverse=True):
        loads[loads.index(min(loads))] += c
    print(
        f"\nProjected wall time with {a.workers} worker processes: {max(loads) / 60:.1f} min "
        f"(total {sum(cells) / 60:.1f} CPU-min)"
    )


if __name__ == "__main__":
    main()
