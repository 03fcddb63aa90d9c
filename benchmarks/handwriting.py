"""Experiment 3 on the shipped UNIPEN lines: one epoch's cost per architecture, and the trivial CER floor.

`epoch`: one epoch of the real training loop (every training line once in batches of the default 16, the
paper's SGD, then the epoch's metrics: validation loss and CER, test CER) for each bidirectional network
at 10k parameters alone, seeds stacked, one torch thread (as a grid cell runs). CPU time is reported beside wall time: on a shared
machine the wall time says more about the neighbours than about the code.
`clock`: a CW-RNN clock on the validation writers (how the tuned design was chosen, docs/handwriting.md):
the CW-RNN alone, `tuned-handwriting` on `offsets`, no early stopping, each seed's validation CER per epoch
(the loop scores the test writers too; they are not shown, so nothing is chosen on them).
`baseline`: the test-set CER of always emitting the training set's most frequent character, once per
reference character (the best any single repeated character can do: CER = 1 - its share of the
reference), and of emitting nothing (CER = 1).
    python benchmarks/handwriting.py epoch [--seeds 3] [--archs cwrnn srn lstm gru]
    python benchmarks/handwriting.py clock [--periods 1 2 4 8] [--sizes ...] [--lr-scale 1] [--epochs 25] [--seeds 3]
    python benchmarks/handwriting.py baseline
"""

import argparse
import datetime
import os
import time
from collections import Counter

import torch
from common import machine

from cwrnn import paper
from cwrnn.config import validate
from cwrnn.data.handwriting import load_handwriting
from cwrnn.experiment import build_specs, build_task, train_config
from cwrnn.tasks.ctc import character_error_rate
from cwrnn.train import Callback, train


class EpochClock(Callback):
    """Wall and CPU time from the loop's start to the end of its first epoch (training and metrics)."""

    def on_start(self, info):
        self.start = time.perf_counter(), time.process_time()

    def on_epoch(self, epoch, metrics, elapsed):
        if epoch == 1:
            self.wall, self.cpu = time.perf_counter() - self.start[0], time.process_time() - self.start[1]


def epoch(args) -> None:
    """Each architecture alone through the real loop (cwrnn.train.train) for one epoch; the evaluation
    (validation loss and CER, test CER) is timed again apart."""
    torch.set_num_threads(1)
    cfg = validate(
        {
            "task": "handwriting",
            "budget": 10_000,
            "periods": list(paper.HANDWRITING_PERIODS),
            "baselines": [a for a in args.archs if a != "cwrnn"],
            "preset": "paper-handwriting",
            "seeds": args.seeds,
            "epochs": 1,
        }
    )
    task = build_task(cfg)
    print(
        f"One epoch of {len(task.data.train)} training lines (batch {task.batch_size}) and its metrics "
        f"(validation loss and CER, test CER on {len(task.data.val)} + {len(task.data.test)} lines); "
        f"{args.seeds} stacked seeds; {machine('cpu')}; {datetime.date.today()}; "
        f"load average before: {os.getloadavg()[0]:.1f}\n"
    )
    print("| arch | hidden | params | epoch wall (s) | epoch CPU (s) | of which evaluation, CPU (s) |")
    print("|---|---|---|---|---|---|")
    total = 0.0
    for spec in build_specs(cfg, task.input_size, task.output_size):
        if spec.arch not in args.archs:
            continue
        clock = EpochClock()
        model = train(task, [spec], cfg.seed_list, train_config(cfg), [clock]).models[spec.arch]
        cpu = time.process_time()
        with torch.no_grad():
            task.evaluate(model, "val"), task.evaluate(model, "test")
        evaluation = time.process_time() - cpu
        total += clock.cpu
        print(
            f"| {spec.arch} | {spec.hidden_size} | {spec.parameters(task.input_size, task.output_size)} "
            f"| {clock.wall:.1f} | {clock.cpu:.1f} | {evaluation:.1f} |",
            flush=True,
        )
    print(f"\nAll architectures: {total:.1f} s of CPU per epoch; load average after: {os.getloadavg()[0]:.1f}")


class ValidationPrinter(Callback):
    def on_epoch(self, epoch, metrics, elapsed):
        m = metrics["cwrnn"]
        print(
            f"epoch {epoch} {elapsed:.0f}s loss {m['loss'].mean():.1f} val loss {m['val_loss'].mean():.1f} "
            f"val CER {' / '.join(f'{100 * v:.1f}' for v in m['val_cer'])} %",
            flush=True,
        )


def clock(args) -> None:
    """One CW-RNN design, its seeds stacked, every epoch's validation CER."""
    torch.set_num_threads(1)
    cfg = validate(
        {
            "task": "handwriting",
            "budget": 10_000,
            "periods": args.periods,
            "module_sizes": args.sizes,
            "baselines": [],
            "preset": "tuned-handwriting",
            "ink_input": "offsets",
            "seeds": args.seeds,
            "epochs": args.epochs,
        }
    )
    task = build_task(cfg)
    tc = train_config(cfg)
    tc.lr_scale, tc.patience = {"cwrnn": args.lr_scale}, None
    (spec,) = build_specs(cfg, task.input_size, task.output_size)
    print(
        f"CW-RNN periods {spec.periods}, module sizes {spec.module_sizes}, "
        f"{spec.parameters(task.input_size, task.output_size)} parameters; Adam {tc.lr * args.lr_scale:g}; "
        f"seeds {cfg.seed_list}; {machine('cpu')}; {datetime.date.today()}",
        flush=True,
    )
    train(task, [spec], cfg.seed_list, tc, [ValidationPrinter()])


def baseline(_args) -> None:
    data = load_handwriting()
    common, count = Counter("".join(line.text for line in data.train)).most_common(1)[0]
    references = [line.text for line in data.test]
    repeated = character_error_rate([common * len(r) for r in references], references)
    empty = character_error_rate(["" for _ in references], references)
    print(
        f"Test set: {len(references)} lines, {sum(map(len, references))} characters. Most frequent training "
        f"character {common!r} ({count} of {sum(len(line.text) for line in data.train)}).\n"
        f"CER of emitting it once per reference character: {100 * repeated:.1f} %; of emitting nothing: "
        f"{100 * empty:.1f} %"
    )


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    e = sub.add_parser("epoch")
    e.add_argument("--seeds", type=int, default=3)
    e.add_argument("--archs", nargs="+", default=["cwrnn", "srn", "lstm", "gru"])
    e.set_defaults(run=epoch)
    c = sub.add_parser("clock")
    c.add_argument("--periods", type=int, nargs="+", default=list(paper.HANDWRITING_PERIODS))
    c.add_argument("--sizes", type=int, nargs="+", help="units per module (default: equal, matched to 10k)")
    c.add_argument("--lr-scale", type=float, default=1.0, help="the CW-RNN's rate as a multiple of 1e-2")
    c.add_argument("--epochs", type=int, default=25)
    c.add_argument("--seeds", type=int, default=3)
    c.set_defaults(run=clock)
    sub.add_parser("baseline").set_defaults(run=baseline)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
