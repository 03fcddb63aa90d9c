"""Experiment 3: online handwriting recognition. Pen points in, CTC over the characters of each line out.

The networks are bidirectional (models/bidirectional.py) and read right-padded batches with each line's
length, so both directions' clocks start at the line's own ends. The training loss is the CTC negative log
likelihood summed over a batch's lines (not averaged), the convention under which the paper's learning
rates work, as the other tasks sum theirs. Transcriptions are decoded by best path, without a dictionary
or a language model, and scored by the character error rate of cwrnn/tasks/ctc.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..data.handwriting import HandwritingData, HandwritingLine, load_handwriting
from ..models import BidirectionalModel
from .base import member_totals
from .ctc import best_path, character_error_rate, ctc_loss_per_member, emissions

#: Training batches are cut from pools of this many batches, each sorted by line length, so a batch pads
#: little while the lines still meet in a different company every epoch.
POOL_BATCHES = 8
EVAL_SPLITS = ("val", "test")


@dataclass
class LineBatch:
    x: torch.Tensor  # (B, T, inputs) right-padded features, shared by every member
    lengths: torch.Tensor  # (B,) points of each line
    targets: torch.Tensor  # (B, S) labels 1..C-1, padded with 0 past target_lengths
    target_lengths: torch.Tensor  # (B,)

    def to(self, device) -> LineBatch:
        return LineBatch(*(t.to(device) for t in (self.x, self.lengths, self.targets, self.target_lengths)))


def line_batch(lines: Sequence[HandwritingLine], data: HandwritingData) -> LineBatch:
    """Lines padded to the longest one's points and the longest transcription."""
    lengths = [len(line.features) for line in lines]
    labels = [data.encode(line.text) for line in lines]
    x = np.zeros((len(lines), max(lengths), lines[0].features.shape[1]), dtype=np.float32)
    targets = np.zeros((len(lines), max(map(len, labels))), dtype=np.int64)
    for i, (line, label) in enumerate(zip(lines, labels)):
        x[i, : lengths[i]] = line.features
        targets[i, : len(label)] = label
    return LineBatch(
        torch.from_numpy(x),
        torch.tensor(lengths),
        torch.from_numpy(targets),
        torch.tensor([len(label) for label in labels]),
    )


def pooled_batches(lengths: Sequence[int], batch_size: int, epoch: int) -> list[np.ndarray]:
    """One epoch's batches of line indices: a shuffle drawn from the epoch, cut into pools of POOL_BATCHES
    batches, each pool sorted by length and cut into batches, and the batches shuffled again."""
    gen = torch.Generator().manual_seed(int(epoch))
    order = torch.randperm(len(lengths), generator=gen).numpy()
    lengths = np.asarray(lengths)
    batches = []
    pool = POOL_BATCHES * batch_size
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


class HandwritingTask:
    name = "handwriting"
    stop_metric = "val_cer"
    #: stored once per snapshot, not per architecture (train._snapshot reads this)
    shared_snapshot_keys = ("input", "ink", "pen_up")

    def __init__(
        self,
        data: HandwritingData,
        *,
        batch_size: int = 16,
        eval_batch: int = 64,
        snapshot_line: int = 0,
        source: str = "shipped",
    ):
        problems = []
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            problems.append(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(eval_batch, bool) or not isinstance(eval_batch, int) or eval_batch < 1:
            problems.append(f"eval_batch must be a positive integer, got {eval_batch!r}")
        empty = [s for s in ("train", *EVAL_SPLITS) if not getattr(data, s)]
        if empty:
            problems.append(f"every split needs lines; {', '.join(empty)} has none")
        elif not (isinstance(snapshot_line, int) and 0 <= snapshot_line < len(data.val)):
            problems.append(
                f"snapshot_line must be a validation line from 0 to {len(data.val) - 1}, got {snapshot_line!r}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        self.data, self.source = data, source
        self.batch_size, self.eval_batch, self.snapshot_line = batch_size, eval_batch, snapshot_line
        self.input_size = data.train[0].features.shape[1]
        self.output_size = data.n_classes
        self.device = torch.device("cpu")
        self._lengths = [len(line.features) for line in data.train]
        self._chunks = {s: self._eval_chunks(getattr(data, s)) for s in EVAL_SPLITS}

    def _eval_chunks(self, lines: list[HandwritingLine]) -> list[LineBatch]:
        # sorted by length so that a chunk pads little; a CER sums over lines, so their order is free
        order = sorted(range(len(lines)), key=lambda i: len(lines[i].features))
        return [
            line_batch([lines[i] for i in order[s : s + self.eval_batch]], self.data)
            for s in range(0, len(order), self.eval_batch)
        ]

    def replicas(self) -> int:
        return 1

    def to(self, device) -> None:
        self.device = torch.device(device)
        self._chunks = {s: [b.to(device) for b in chunks] for s, chunks in self._chunks.items()}

    def batches(self, epoch: int, member_seeds: Sequence[int]) -> Iterator[LineBatch]:
        """Every training line once, in batches drawn from the epoch (shared by every member)."""
        train = self.data.train
        for idx in pooled_batches(self._lengths, self.batch_size, epoch):
            yield line_batch([train[i] for i in idx], self.data).to(self.device)

    def loss(self, model: BidirectionalModel, batch: LineBatch) -> torch.Tensor:
        """(R,) CTC loss of each member summed over the batch's lines."""
        y, _ = model(batch.x, batch.lengths)
        return ctc_loss_per_member(y, batch.lengths, batch.targets, batch.target_lengths)

    def evaluate(self, model: BidirectionalModel, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(loss per line, character error rate) of each member on "val" or "test", each (R,)."""
        if split not in self._chunks:
            raise ValueError(f"split must be one of {', '.join(EVAL_SPLITS)}, got {split!r}")
        loss = torch.zeros(model.members, device=self.device)
        decoded: list[list] = [[] for _ in range(model.members)]
        references = []
        with torch.no_grad():
            for b in self._chunks[split]:
                y, _ = model(b.x, b.lengths)
                loss += ctc_loss_per_member(y, b.lengths, b.targets, b.target_lengths)
                for member, lines in zip(decoded, best_path(y, b.lengths)):
                    member += lines
                references += [t[:n].tolist() for t, n in zip(b.targets.cpu(), b.target_lengths.tolist())]
        cer = np.array([character_error_rate(lines, references) for lines in decoded])
        return loss.cpu().numpy() / len(references), cer

    def metrics(self, model: BidirectionalModel, train_losses: list[torch.Tensor]) -> dict[str, np.ndarray]:
        loss = member_totals(train_losses) / len(self.data.train)
        val_loss, val_cer = self.evaluate(model, "val")
        return {
            "loss": loss.cpu().numpy(),
            "val_loss": val_loss,
            "val_cer": val_cer,
            "test_cer": self.evaluate(model, "test")[1],
        }

    def snapshot(self, model: BidirectionalModel) -> dict[str, np.ndarray]:
        """The snapshot line as member 0 reads it: its points, both layers' states, the per-step
        probabilities and where best path emits which character."""
        line = self.data.val[self.snapshot_line]
        steps = len(line.features)
        with torch.no_grad():
            y, hidden = model(torch.from_numpy(line.features)[None].to(self.device), torch.tensor([steps]))
        emit_steps, emit_labels = emissions(y[0, 0], steps)
        return {
            "input": line.features,
            "ink": line.ink.astype(np.float32),
            "pen_up": line.pen_up.astype(bool),
            "hidden": hidden[0, 0].cpu().numpy(),
            "probs": torch.softmax(y[0, 0], dim=-1).cpu().numpy(),
            "emit_steps": emit_steps.astype(np.int32),
            "emit_labels": emit_labels.astype(np.int32),
        }

    def describe(self) -> dict:
        d, line = self.data, self.data.val[self.snapshot_line]
        return {
            "name": self.name,
            "source": self.source,
            "alphabet": d.alphabet,
            "ink_input": d.ink_input,
            **{s: len(getattr(d, s)) for s in ("train", *EVAL_SPLITS)},
            "writers": {s: len({x.writer for x in getattr(d, s)}) for s in ("train", *EVAL_SPLITS)},
            "batch_size": self.batch_size,
            "snapshot_line": {
                "text": line.text,
                "writer": line.writer,
                "source": line.source,
                "points": len(line.features),
            },
        }


def handwriting_task(cfg) -> HandwritingTask:
    """The Experiment 3 task for a validated RunConfig: the shipped lines or a UNIPEN folder."""
    source = None if cfg.unipen == "shipped" else os.path.expanduser(cfg.unipen)  # as validated
    data = load_handwriting(source, cfg.ink_input)
    return HandwritingTask(data, batch_size=cfg.batch_size, source=cfg.unipen)
