"""Time per seed: R seeds trained as one batched model against R separate trainings.

Experiment 1 setting (no input, 320 steps, 1000 parameters), 20 epochs each.
    python benchmarks/batched_seeds.py [--device cuda] [--seeds 1 10 100]
"""

import argparse
import datetime

from common import machine, timed

from cwrnn import matched_specs, paper
from cwrnn.data.audio import shipped_clips
from cwrnn.tasks.generation import GenerationTask
from cwrnn.train import TrainConfig, train


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--epochs", type=int, default=20)
    a = p.parse_args()
    clip = shipped_clips()[:1]
    cfg = TrainConfig.preset("paper-generation", epochs=a.epochs, device=a.device, snapshot_every=10**6)
    print(f"Batched seeds, {a.epochs} epochs, 1000 parameters; {machine(a.device)}; {datetime.date.today()}\n")
    print("| arch | seeds R | batched: s per seed | one at a time: s per seed | speed-up |")
    print("|---|---|---|---|---|")
    for spec in matched_specs(1000, 0, 1, periods=paper.GENERATION_PERIODS):
        one = timed(lambda: train(GenerationTask(clip, num_seeds=1), [spec], [0], cfg), repeats=3, device=a.device)
        for R in a.seeds:
            batched = timed(
                lambda: train(GenerationTask(clip, num_seeds=R), [spec], list(range(R)), cfg),
                repeats=1,
                device=a.device,
            )
            print(f"| {spec.arch} | {R} | {batched / R:.4f} | {one:.4f} | {one * R / batched:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
