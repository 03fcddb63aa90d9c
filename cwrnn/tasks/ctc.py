"""Connectionist temporal classification (Graves et al. 2006) for stacked seeds, as Experiment 3 uses it.

Labels are integers with the blank at index 0 and characters at 1..C-1. The loss is the negative log
likelihood of each line's transcription, summed over the lines of a batch for each member (the words
task sums its cross-entropy the same way). Decoding is best path, as in the paper: the most probable
label at each step, repeats collapsed, blanks dropped; no dictionary, no language model. The character
error rate is the edit distance summed over lines divided by the summed reference lengths, so a long
line weighs more than a short one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein

BLANK = 0


def ctc_loss_per_member(
    y: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor
) -> torch.Tensor:
    """(R,) CTC loss of each member, summed over the batch's lines.

    y: (R, B, T, C) unnormalised scores (a network's outputs); lengths: (B,) valid steps per line;
    targets: (B, S) label indices padded past `target_lengths` (B,). Members are folded into the batch,
    so one ctc_loss call serves them all. A line whose transcription cannot fit its steps (CTC needs
    a blank between repeated labels) has an infinite loss; the data must not hold such lines.
    """
    R, B, T, C = y.shape
    log_probs = y.log_softmax(-1).permute(2, 0, 1, 3).reshape(T, R * B, C)
    loss = F.ctc_loss(
        log_probs, targets.repeat(R, 1), lengths.repeat(R), target_lengths.repeat(R), blank=BLANK, reduction="none"
    )
    return loss.view(R, B).sum(dim=1)


def _emitting(y: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The best label at each step (..., B, T) and where best path emits it: a valid step whose best label
    is not the blank and differs from the step before."""
    best = y.argmax(dim=-1)
    before = F.pad(best[..., :-1], (1, 0), value=BLANK)
    valid = torch.arange(best.shape[-1], device=best.device) < lengths.to(best.device)[:, None]
    return best, (best != before) & (best != BLANK) & valid


def best_path(y: torch.Tensor, lengths: torch.Tensor) -> list:
    """Best-path transcriptions as lists of labels: [B] for y (B, T, C), [R][B] for y (R, B, T, C)."""
    if y.dim() not in (3, 4):
        raise ValueError(f"y must be (batch, time, labels) or (members, batch, time, labels), got {tuple(y.shape)}")
    best, keep = (t.reshape(-1, y.shape[-2]).cpu() for t in _emitting(y, lengths))
    lines = [labels[k].tolist() for labels, k in zip(best, keep)]
    if y.dim() == 3:
        return lines
    B = y.shape[1]
    return [lines[i : i + B] for i in range(0, len(lines), B)]


def emissions(y_line: torch.Tensor, length: int) -> tuple[np.ndarray, np.ndarray]:
    """For one line's outputs (T, C): the steps where best path emits a label, and those labels."""
    best, keep = _emitting(y_line.unsqueeze(0), torch.tensor([int(length)]))
    steps = torch.nonzero(keep[0]).flatten()
    return steps.cpu().numpy(), best[0, steps].cpu().numpy()


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions and substitutions cost 1) between two label sequences."""
    return Levenshtein.distance(a, b)


def character_error_rate(hypotheses: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Edit distances summed over lines / reference lengths summed over lines."""
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} transcriptions for {len(references)} reference lines")
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("the reference lines hold no characters, so no error rate is defined")
    return sum(edit_distance(h, r) for h, r in zip(hypotheses, references)) / total


def cer_per_member(y: torch.Tensor, lengths: torch.Tensor, references: Sequence[Sequence]) -> np.ndarray:
    """(R,) character error rate of each member's best-path transcriptions of a batch, y (R, B, T, C)."""
    return np.array([character_error_rate(lines, references) for lines in best_path(y, lengths)])
