"""Experiment 2: spoken-word classification. MFCC frames in, one softmax over the words per sequence.

Words of different lengths are right-padded, so every word starts at t = 0 and the CW-RNN's clock starts
at each word's first frame. The recurrent models are causal, so steps after a word's end never reach its
prediction, which is read at the last valid step ("last") or averaged over the valid steps ("mean").
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.speech_data import WORD_GROUPS, SpeechDataset, SpeechSplit, fsdd, load_folder, pad_batch, shipped_words
from ..models import SequenceModel
from .base import member_totals

READOUTS = ("last", "mean")


@dataclass
class WordBatch:
    x: torch.Tensor  # (R, B, T, I) with per-member noise, or (B, T, I) shared by every member
    lengths: torch.Tensor  # (B,) valid frames of each sequence
    targets: torch.Tensor  # (B,) class indices


def read_out(y: torch.Tensor, lengths: torch.Tensor, readout: str = "last") -> torch.Tensor:
    """One output per sequence, (R, B, C), from per-step outputs (R, B, T, C); steps past a length are ignored."""
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    if readout == "last":
        index = (lengths - 1).view(1, -1, 1, 1).expand(y.shape[0], -1, 1, y.shape[-1])
        return y.gather(2, index).squeeze(2)
    valid = torch.arange(y.shape[2], device=y.device)[None, :] < lengths[:, None]  # (B, T)
    # masked_fill, not a product, so that nothing at a padded step (not even a NaN) can leak in
    total = y.masked_fill(~valid[None, :, :, None], 0.0).sum(dim=2)
    return total / lengths.to(y.dtype).view(1, -1, 1)


def noise_seed(member_seed: int, epoch: int, batch: int) -> int:
    """A well-mixed generator seed for one member's input noise in one batch of one epoch."""
    return int(np.random.SeedSequence([int(member_seed), int(epoch), int(batch)]).generate_state(1, np.uint64)[0])


class WordsTask:
    name = "words"
    stop_metric = "train_error"
    shared_snapshot_keys = ("input",)

    def __init__(
        self,
        data: SpeechDataset,
        *,
        readout: str = "last",
        batch_size: int = 16,
        noise_std: float = 0.6,
        eval_batch: int = 128,
        dataset: str = "custom",
    ):
        """`noise_std` is the paper's Gaussian input noise (training only); the loss sums the cross-entropy
        over a batch's sequences, the convention the paper's learning rate assumes."""
        problems = []
        if readout not in READOUTS:
            problems.append(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
        if not (isinstance(batch_size, int) and batch_size >= 1):
            problems.append(f"batch_size must be a positive integer, got {batch_size!r}")
        if not (isinstance(eval_batch, int) and eval_batch >= 1):
            problems.append(f"eval_batch must be a positive integer, got {eval_batch!r}")
        if not (isinstance(noise_std, (int, float)) and math.isfinite(noise_std) and noise_std >= 0):
            problems.append(f"noise_std must be a finite number >= 0, got {noise_std!r}")
        if len(data.train) == 0 or len(data.test) == 0:
            problems.append(f"both splits need recordings; got {len(data.train)} train and {len(data.test)} test")
        if problems:
            raise ValueError("; ".join(problems))
        self.data, self.dataset = data, dataset
        self.readout, self.batch_size, self.eval_batch = readout, batch_size, eval_batch
        self.noise_std = float(noise_std)
        self.input_size = data.n_channels
        self.output_size = len(data.labels)
        self.device = torch.device("cpu")
        self._train_targets = torch.from_numpy(data.train.targets)
        self._chunks = {"train": self._eval_chunks(data.train), "test": self._eval_chunks(data.test)}

    def _eval_chunks(self, split: SpeechSplit) -> list[tuple[np.ndarray, WordBatch]]:
        # Sorted by length so each chunk pads little; the index maps results back to the split's order.
        order = np.argsort([len(f) for f in split.features], kind="stable")
        chunks = []
        for start in range(0, len(order), self.eval_batch):
            idx = order[start : start + self.eval_batch]
            x, lengths = pad_batch([split.features[i] for i in idx])
            chunks.append(
                (idx, WordBatch(torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(split.targets[idx])))
            )
        return chunks

    def replicas(self) -> int:
        return 1

    def to(self, device) -> None:
        self.device = torch.device(device)
        self._chunks = {
            name: [(idx, WordBatch(b.x.to(device), b.lengths.to(device), b.targets.to(device))) for idx, b in chunks]
            for name, chunks in self._chunks.items()
        }

    def batches(self, epoch: int, member_seeds: Sequence[int]) -> Iterator[WordBatch]:
        """Mini-batches in an order drawn from the epoch (shared by every member), with each member's own
        noise drawn from (member seed, epoch, batch), so a batched run equals training each seed alone."""
        train = self.data.train
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(int(epoch))).numpy()
        for b, start in enumerate(range(0, len(order), self.batch_size)):
            idx = order[start : start + self.batch_size]
            padded, lengths = pad_batch([train.features[i] for i in idx])
            x = torch.from_numpy(padded)
            if self.noise_std:
                noise = torch.stack(
                    [
                        torch.randn(x.shape, generator=torch.Generator().manual_seed(noise_seed(s, epoch, b)))
                        for s in member_seeds
                    ]
                )
                x = x + self.noise_std * noise
            yield WordBatch(
                x.to(self.device), torch.from_numpy(lengths).to(self.device), self._train_targets[idx].to(self.device)
            )

    def logits(self, model: SequenceModel, batch: WordBatch) -> torch.Tensor:
        """Per-sequence class scores (R, B, C)."""
        y, _ = model(batch.x)
        return read_out(y, batch.lengths, self.readout)

    def loss(self, model: SequenceModel, batch: WordBatch) -> torch.Tensor:
        logits = self.logits(model, batch)
        R, B, C = logits.shape
        ce = F.cross_entropy(logits.reshape(R * B, C), batch.targets.repeat(R), reduction="none")
        return ce.view(R, B).sum(dim=1)

    def predictions(self, model: SequenceModel, split: str = "test") -> np.ndarray:
        """Predicted class of every recording of the split ("train" or "test"), noise-free, (R, N)."""
        if split not in self._chunks:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        chunks = self._chunks[split]
        out = np.empty((model.members, sum(len(idx) for idx, _ in chunks)), dtype=np.int64)
        with torch.no_grad():
            for idx, batch in chunks:
                out[:, idx] = self.logits(model, batch).argmax(dim=-1).cpu().numpy()
        return out

    def error(self, model: SequenceModel, split: str) -> np.ndarray:
        """Fraction of the split's recordings each member gets wrong, (R,)."""
        targets = self.data.train.targets if split == "train" else self.data.test.targets
        return (self.predictions(model, split) != targets[None, :]).mean(axis=1)

    def metrics(self, model: SequenceModel, train_losses: list[torch.Tensor]) -> dict[str, np.ndarray]:
        loss = member_totals(train_losses) / len(self.data.train)
        return {
            "loss": loss.cpu().numpy(),
            "train_error": self.error(model, "train"),
            "test_error": self.error(model, "test"),
        }

    def confusion(self, model: SequenceModel, member: int = 0) -> np.ndarray:
        """Test-set confusion matrix of one member: rows are true labels, columns predictions, (C, C) int."""
        counts = np.zeros((self.output_size, self.output_size), dtype=np.int64)
        np.add.at(counts, (self.data.test.targets, self.predictions(model, "test")[member]), 1)
        return counts

    def snapshot(self, model: SequenceModel) -> dict[str, np.ndarray]:
        """The first test word as member 0 hears it: its MFCCs, hidden states and per-step class probabilities."""
        features = self.data.test.features[0]
        with torch.no_grad():
            y, hidden = model(torch.from_numpy(features)[None].to(self.device))
        return {
            "input": features,
            "hidden": hidden[0, 0].cpu().numpy(),
            "output": torch.softmax(y[0, 0], dim=-1).cpu().numpy(),
            "confusion": self.confusion(model),
        }

    def describe(self) -> dict:
        d = self.data
        paper_words = sorted(w for group in WORD_GROUPS for w in group)
        return {
            "name": self.name,
            "dataset": self.dataset,
            "labels": list(d.labels),
            "groups": [list(g) for g in WORD_GROUPS] if list(d.labels) == paper_words else None,
            "train": len(d.train),
            "test": len(d.test),
            "train_speakers": sorted(set(d.train.speakers)),
            "test_speakers": sorted(set(d.test.speakers)),
            "readout": self.readout,
            "batch_size": self.batch_size,
            "noise_std": self.noise_std,
            "snapshot_word": {
                "label": d.labels[int(d.test.targets[0])],
                "speaker": d.test.speakers[0],
                "frames": len(d.test.features[0]),
            },
        }


def words_task(cfg) -> WordsTask:
    """The Experiment 2 task for a validated RunConfig: the shipped words, FSDD, or a folder."""
    if cfg.dataset == "synthetic":
        data, name = shipped_words(), "synthetic"
    elif cfg.dataset == "fsdd":
        data, name = fsdd(), "fsdd"
    else:
        data, name = load_folder(cfg.folder), f"folder {cfg.folder}"
    return WordsTask(data, readout=cfg.readout, batch_size=cfg.batch_size, dataset=name)
