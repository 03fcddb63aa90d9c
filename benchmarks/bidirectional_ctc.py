"""Experiment 3's training step on this machine: bidirectional networks at 10k parameters with CTC.

One step = forward of both directions, CTC loss per member, backward. Batch of 32 lines of 250 points,
3 stacked seeds, 4 inputs, 82 outputs, transcriptions of 35 characters (a handwritten text line of
UNIPEN, subsampled by 3, is of that order). Also timed apart: the two recurrent layers alone and CTC
alone. The epoch column projects 2,200 training lines (69 batches) from the step time.
`python benchmarks/bidirectional_ctc.py [--threads 1]`
"""

import argparse
import math

import torch
from common import interleaved, machine

from cwrnn import ArchSpec, build_network, match_hidden_size, paper
from cwrnn.tasks.ctc import ctc_loss_per_member

B, T, S, SEEDS, LINES = 32, 250, 35, 3, 2200


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, paper.HANDWRITING_INPUTS, generator=gen)
    lengths = torch.full((B,), T)
    targets = torch.randint(1, paper.HANDWRITING_OUTPUTS, (B, S), generator=gen)
    target_lengths = torch.full((B,), S)
    scores = torch.randn(SEEDS, B, T, paper.HANDWRITING_OUTPUTS, generator=gen, requires_grad=True)
    fns, sizes = {}, {}
    for arch in ("cwrnn", "srn", "lstm", "gru"):
        # the paper's Table 1 sizes; the GRU, not in the paper, matched to the same budget
        n = (
            paper.HANDWRITING_HIDDEN[arch][0]
            if arch in paper.HANDWRITING_HIDDEN
            else match_hidden_size(
                arch, 10_000, paper.HANDWRITING_INPUTS, paper.HANDWRITING_OUTPUTS, bidirectional=True
            )
        )
        spec = ArchSpec(
            arch, n, periods=paper.HANDWRITING_PERIODS if arch == "cwrnn" else None, forget_bias=0.0, bidirectional=True
        )
        model = build_network(spec, paper.HANDWRITING_INPUTS, paper.HANDWRITING_OUTPUTS, seeds=range(SEEDS))
        sizes[arch] = n

        def step(model=model):
            y, _ = model(x, lengths)
            ctc_loss_per_member(y, lengths, targets, target_lengths).sum().backward()

        def layers(model=model):
            _, hidden = model(x, lengths)
            hidden.sum().backward()

        fns[f"{arch} step"], fns[f"{arch} layers"] = step, layers
    fns["ctc"] = lambda: ctc_loss_per_member(scores, lengths, targets, target_lengths).sum().backward()
    times = {name: min(t) * 1e3 for name, t in interleaved(fns, repeats=5).items()}
    batches = math.ceil(LINES / B)
    print(f"{machine('cpu')}; batch {B} x {T} steps, {SEEDS} seeds, CTC alone {times['ctc']:.0f} ms\n")
    print("| arch | hidden | step (ms) | both layers alone (ms) | epoch of 2,200 lines (s) |")
    print("|---|---|---|---|---|")
    for arch, n in sizes.items():
        step = times[f"{arch} step"]
        print(f"| {arch} | {n} | {step:.0f} | {times[f'{arch} layers']:.0f} | {step * batches / 1e3:.1f} |")


if __name__ == "__main__":
    main()
