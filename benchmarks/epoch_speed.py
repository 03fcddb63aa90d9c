"""Milliseconds per training epoch of Experiment 1's three architectures at 1000 parameters, side by side.

The real loop (`cwrnn.train.train`, one thread as it runs small models): 320 steps, no input, one output,
`--networks` networks per model (seeds x 5 clips, as `reproduce` batches them). Each time is the
difference between a run of 2 + E epochs and one of 2 (setup is not counted), the architectures take
turns, and each is the minimum over the repeats: on a shared machine the fastest run is the one least
disturbed by other work. Every architecture is timed on the compiled kernels and on the torch ops (the
path the kernels replaced, and the one CUDA takes), in the same run.
    python benchmarks/epoch_speed.py [--networks 500 50] [--json benchmarks/results/speed.json]
"""

import argparse
import datetime
import time
from contextlib import nullcontext

from common import machine, update_json

from cwrnn import matched_specs, paper
from cwrnn.data.audio import shipped_clips
from cwrnn.models import kernels
from cwrnn.tasks.generation import GenerationTask
from cwrnn.train import TrainConfig, train

PATHS = {"kernels": nullcontext, "torch ops": kernels.torch_ops}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--networks", type=int, nargs="+", default=[500, 50], help="multiples of 5 (the clips)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="merge the results into this JSON file (key 'epoch')")
    a = p.parse_args()
    specs = matched_specs(1000, 0, 1, periods=paper.GENERATION_PERIODS)
    print(
        f"Experiment 1 epoch, 1000 parameters, 320 steps; {machine('cpu')}, 1 thread in training; "
        f"{datetime.date.today()}\n"
    )
    print("| networks | path | CW-RNN (ms) | SRN (ms) | LSTM (ms) | CW-RNN / SRN | CW-RNN / LSTM |")
    print("|---|---|---|---|---|---|---|")
    table = {}
    for networks in a.networks:
        task = GenerationTask(shipped_clips(), num_seeds=networks // 5)

        def seconds(spec, epochs, path):
            cfg = TrainConfig.preset("paper-generation", epochs=epochs, device="cpu", snapshot_every=10**6)
            with PATHS[path]():
                start = time.perf_counter()
                train(task, [spec], list(range(networks // 5)), cfg)
                return time.perf_counter() - start

        seconds(specs[0], 1, "kernels")  # imports, allocator, the kernels' build
        best = {}
        for _ in range(a.repeats):
            for path in PATHS:
                for spec in specs:
                    setup = seconds(spec, 2, path)
                    per_epoch = (seconds(spec, 2 + a.epochs, path) - setup) / a.epochs
                    key = (path, spec.arch)
                    best[key] = min(best.get(key, float("inf")), per_epoch * 1e3)
        for path in PATHS:
            ms = {s.arch: best[path, s.arch] for s in specs}
            ratios = {"cwrnn/srn": ms["cwrnn"] / ms["srn"], "cwrnn/lstm": ms["cwrnn"] / ms["lstm"]}
            table.setdefault(str(networks), {})[path] = {"ms_per_epoch": ms, "ratios": ratios}
            print(
                f"| {networks} | {path} | {ms['cwrnn']:.1f} | {ms['srn']:.1f} | {ms['lstm']:.1f} | "
                f"{ratios['cwrnn/srn']:.2f}x | {ratios['cwrnn/lstm']:.2f}x |",
                flush=True,
            )
    if a.json:
        update_json(
            a.json,
            "epoch",
            {
                "setting": "Experiment 1: 1000 parameters, 320 steps, no input, 1 output, batch 1 per network",
                "hidden": {s.arch: s.hidden_size for s in specs},
                "epochs_timed": a.epochs,
                "repeats": a.repeats,
                "networks": table,
            },
        )


if __name__ == "__main__":
    main()
