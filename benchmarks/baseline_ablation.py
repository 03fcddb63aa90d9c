"""What separates our Experiment 1 baselines from the paper's: one factor changed at a time, each at a few
learning rates, every rate x seed of a variant in one stacked model (see docs/baselines.md).
    python benchmarks/baseline_ablation.py --arch lstm [--rates 3e-5 3e-4] [--seeds 3] [--epochs 1000]
        [--variants paper classical ...] [--clips 0 1 2 3 4]
Writes benchmarks/results/baseline_ablation_{arch}_{epochs}ep_cpu.md.
"""

import argparse
import datetime
import os
import time
from pathlib import Path

from common import machine

from cwrnn import matched_specs, paper
from cwrnn.config import validate
from cwrnn.experiment import build_task
from cwrnn.sweep import format_sweep, sweep_specs
from cwrnn.train import TrainConfig

RESULTS = Path(__file__).parent / "results"
#: name -> (ArchSpec fields, TrainConfig fields) changed from the paper preset (Nesterov momentum 0.95,
#: per-member clipping at 100, N(0, 0.1) weights, peephole LSTM with forget-gate bias 5)
VARIANTS = {
    "paper": ({}, {}),
    "classical": ({}, {"nesterov": False}),
    "no-clip": ({}, {"clip_norm": None}),
    "clip-1": ({}, {"clip_norm": 1.0}),
    "torch-init": ({}, {"init": "torch"}),
    "variance-init": ({}, {"init": "paper-variance"}),
    "momentum-0.9": ({}, {"momentum": 0.9}),
    "momentum-0.99": ({}, {"momentum": 0.99}),
    "no-peepholes": ({"peepholes": False}, {}),
    "forget-bias-1": ({"forget_bias": 1.0}, {}),
    "forget-bias-0": ({"forget_bias": 0.0}, {}),
}
LSTM_ONLY = ("no-peepholes", "forget-bias-1", "forget-bias-0")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="lstm", choices=["lstm", "srn", "cwrnn"])
    p.add_argument("--budget", type=int, default=1000)
    p.add_argument("--rates", type=float, nargs="+", default=[3e-5, 3e-4])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--clips", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--tag", default="", help="suffix for the result file name")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    a = p.parse_args()
    seeds = list(range(a.seeds))
    cfg = validate(
        {
            "task": "generation",
            "budget": a.budget,
            "epochs": a.epochs,
            "clips": a.clips,
            "seeds": len(a.rates) * a.seeds,
            "periods": list(paper.GENERATION_PERIODS),
            "device": "cpu",
        }
    )
    task = build_task(cfg)
    load, blocks, walls = os.getloadavg()[0], [], {}
    for name in a.variants:
        if a.arch != "lstm" and name in LSTM_ONLY:
            continue
        spec_fields, train_fields = VARIANTS[name]
        spec = [
            s
            for s in matched_specs(
                a.budget, 0, 1, periods=paper.GENERATION_PERIODS, baselines=["srn", "lstm"], **spec_fields
            )
            if s.arch == a.arch
        ]
        tc = TrainConfig.preset(
            "paper-generation", epochs=a.epochs, lr_scale={}, snapshot_every=10**9, device="cpu", **train_fields
        )
        start = time.perf_counter()
        rows = sweep_specs(task, spec, [(lr, tc.momentum) for lr in a.rates], seeds, tc, "nmse")
        walls[name] = time.perf_counter() - start
        blocks += [f"{name} ({walls[name]:.0f} s)", format_sweep(rows, "NMSE"), ""]
        print("\n".join(blocks[-3:]), flush=True)
    text = "\n".join(
        [
            f"# Ablation of the Experiment 1 {a.arch} at {a.budget} parameters ({datetime.date.today()})",
            f"`python benchmarks/baseline_ablation.py {' '.join(os.sys.argv[1:])}`",
            f"{machine('cpu')}; load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at the end.",
            f"{a.seeds} seeds x clips {a.clips}, {a.epochs} epochs; one factor changed from the paper preset per block.",
            "",
            "```",
            *blocks,
            "```",
            "",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"baseline_ablation_{a.arch}_{a.epochs}ep_cpu{a.tag}.md").write_text(text)


if __name__ == "__main__":
    main()
