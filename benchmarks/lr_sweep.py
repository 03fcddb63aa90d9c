"""Learning-rate sweep of the paper's architectures, every rate x seed in one stacked model per architecture.

The issue's target: Experiment 1 at 1000 parameters, 7 rates x 5 seeds x 5 clips x 2000 epochs for
cwrnn, lstm and srn, in at most 10 minutes on the 2-core CPU.
    python benchmarks/lr_sweep.py [--task generation] [--budget 1000] [--epochs 2000] [--seeds 5]
        [--rates 1e-5 3e-5 ...] [--momenta 0.95] [--archs cwrnn lstm srn] [--set key=value ...]
Writes benchmarks/results/lr_sweep_{task}_{budget}_{epochs}ep_{archs}_{device}{tag}.md (table, per-arch wall times,
the metric at intermediate epochs) and a .json of the rows beside it.
"""

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
from common import machine

from cwrnn import paper
from cwrnn.config import validate
from cwrnn.experiment import train_config
from cwrnn.sweep import METRICS, format_sweep, sweep
from cwrnn.train import Callback

RESULTS = Path(__file__).parent / "results"
CHECKPOINTS = (100, 250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000)


class Progress(Callback):
    """Wall time per architecture and each setting's median metric at a few epochs (the training curve)."""

    def __init__(self, settings: int, seeds: int, metric: str):
        self.settings, self.seeds, self.metric = settings, seeds, metric
        self.wall, self.curves, self._start = {}, {}, 0.0

    def on_start(self, info):
        self._start, self.arch = time.perf_counter(), info["models"][0]["arch"]

    def on_epoch(self, epoch, metrics, elapsed):
        if epoch in CHECKPOINTS:
            v = metrics[self.arch][self.metric].reshape(-1, self.settings, self.seeds)
            self.curves.setdefault(self.arch, {})[epoch] = [
                float(np.nanmedian(v[:, i])) if np.isfinite(v[:, i]).any() else float("nan")
                for i in range(self.settings)
            ]

    def on_end(self, result):
        self.wall[self.arch] = time.perf_counter() - self._start


def parse_setting(text: str):
    key, _, value = text.partition("=")
    return key, json.loads(value)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="generation", choices=sorted(METRICS))
    p.add_argument("--budget", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--rates", type=float, nargs="+", default=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    p.add_argument("--momenta", type=float, nargs="+")
    p.add_argument("--archs", nargs="+", default=list(paper.ARCHS))
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        type=parse_setting,
        help="further RunConfig fields as key=JSON, e.g. clip_norm=1 or clips=[0,1]",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--tag", default="", help="suffix for the result file names")
    a = p.parse_args()
    periods = paper.GENERATION_PERIODS if a.task == "generation" else paper.WORDS_PERIODS
    preset = "paper-generation" if a.task == "generation" else "paper-words"
    cfg = validate(
        {
            "task": a.task,
            "budget": a.budget,
            "epochs": a.epochs,
            "periods": list(periods),
            "preset": preset,
            "device": a.device,
            **dict(a.set),
        }
    )
    metric, label = METRICS[a.task]  # the task's metric, the name the rows give it
    momenta = a.momenta or [train_config(cfg).momentum]
    progress = Progress(len(a.rates) * len(momenta), a.seeds, metric)
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    rows = sweep(cfg, a.archs, a.rates, list(range(a.seeds)), a.momenta, callbacks=[progress])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    scale = 100 if a.task == "words" else 1
    name = f"lr_sweep_{a.task}_{a.budget}_{a.epochs}ep_{'-'.join(a.archs)}_{a.device}{a.tag}"
    settings = [f"{lr:g}/{m:g}" for lr in a.rates for m in momenta]
    curve_lines = []
    for arch, curve in progress.curves.items():
        curve_lines.append(f"{arch}: epoch | " + " | ".join(settings))
        curve_lines += [f"  {e} | " + " | ".join(f"{v * scale:.4g}" for v in vals) for e, vals in curve.items()]
    text = "\n".join(
        [
            f"# Learning-rate sweep, {a.task}, {a.budget} parameters ({datetime.date.today()})",
            f"`python benchmarks/lr_sweep.py {' '.join(os.sys.argv[1:])}`",
            f"{machine(a.device)}; load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at the end.",
            f"Settings: {a.seeds} seeds, {a.epochs} epochs, preset {preset}, clip_norm {train_config(cfg).clip_norm}, "
            f"extra fields {dict(a.set)}; metric: {label}" + (" (%)" if scale != 1 else "") + ".",
            f"Wall time: {wall:.0f} s in all ({cpu:.0f} s of CPU time, about the wall time on an idle machine); "
            + ", ".join(f"{k} {v:.0f} s" for k, v in progress.wall.items())
            + ".",
            "",
            "```",
            format_sweep(rows, label, scale),
            "```",
            "",
            "Median over members at intermediate epochs (rate/momentum per column):",
            "```",
            *curve_lines,
            "```",
            "",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "argv": os.sys.argv[1:],
                "wall_s": wall,
                "cpu_s": cpu,
                "wall_per_arch_s": progress.wall,
                "rows": rows,
                "curves": progress.curves,
            },
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
