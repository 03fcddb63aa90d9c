"""Experiment 1: sequence generation. No input, one linear output, squared error on every step.

One network per target sequence (the paper trains one per clip), so with S targets and R seeds a
stacked model holds S * R members; member m learns target m // R.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..models import SequenceModel

REDUCTIONS = ("sum", "mean")


class GenerationTask:
    name = "generation"
    input_size = 0
    output_size = 1
    stop_metric = None
    shared_snapshot_keys = ("target",)

    def __init__(
        self,
        targets: np.ndarray | Sequence[np.ndarray],
        *,
        num_seeds: int,
        reduction: str = "sum",
        labels: Sequence[str] | None = None,
    ):
        """`reduction="sum"` is the classical backprop error 1/2 sum_t (y_t - target_t)^2, the convention
        under which the paper's learning rates work (a per-step mean would need rates 160 times larger)."""
        targets = np.atleast_2d(np.asarray(targets, dtype=np.float32))
        if targets.ndim != 2 or targets.shape[1] < 2:
            raise ValueError(f"targets must be (sequences, steps) with at least 2 steps, got {targets.shape}")
        if not np.all(np.isfinite(targets)):
            raise ValueError("targets contain NaN or infinite values")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
        variance = targets.var(axis=1)
        if np.any(variance == 0):
            raise ValueError("a constant target has zero variance, so its normalised MSE is undefined")
        self.targets_np, self.num_seeds, self.reduction = targets, int(num_seeds), reduction
        self.labels = list(labels) if labels is not None else [f"sequence {i + 1}" for i in range(len(targets))]
        self.steps = targets.shape[1]
        # members are ordered replica-major (see train.member_seeds): member m learns target m // num_seeds
        per_member = np.repeat(targets, self.num_seeds, axis=0)
        self.target = torch.from_numpy(per_member)  # (R, T)
        self.variance = torch.from_numpy(np.repeat(variance, self.num_seeds))

    def replicas(self) -> int:
        return len(self.targets_np)

    def to(self, device) -> None:
        self.target, self.variance = self.target.to(device), self.variance.to(device)

    def batches(self, epoch, member_seeds):
        return (None,)  # the whole sequence is one batch; there is no input and no noise

    def generate(self, model: SequenceModel) -> tuple[torch.Tensor, torch.Tensor]:
        """(outputs (R, T), hidden (R, T, n)) for every member."""
        y, hidden = model(steps=self.steps, batch_size=1)
        return y[:, 0, :, 0], hidden[:, 0]

    def loss(self, model: SequenceModel, batch) -> torch.Tensor:
        y, _ = self.generate(model)
        sq = (y - self.target) ** 2
        return 0.5 * sq.sum(dim=1) if self.reduction == "sum" else sq.mean(dim=1)

    def metrics(self, model, train_losses) -> dict[str, np.ndarray]:
        # The loss was measured before this epoch's update, like every online training curve.
        loss = train_losses[0]
        mse = 2 * loss / self.steps if self.reduction == "sum" else loss
        return {"mse": mse.cpu().numpy(), "nmse": (mse / self.variance).cpu().numpy()}

    def snapshot(self, model: SequenceModel) -> dict[str, np.ndarray]:
        y, hidden = self.generate(model)
        return {"target": self.targets_np[0], "output": y[0].cpu().numpy(), "hidden": hidden[0].cpu().numpy()}

    def member_target(self, member: int) -> int:
        return member // self.num_seeds

    def describe(self) -> dict:
        return {
            "name": self.name,
            "sequences": len(self.targets_np),
            "steps": self.steps,
            "labels": self.labels,
            "reduction": self.reduction,
        }


def generation_task(cfg) -> GenerationTask:
    """The Experiment 1 task for a validated RunConfig: shipped clips, the synthetic tone, or a WAV."""
    from ..data import audio

    if cfg.source == "clips":
        clips = audio.shipped_clips()
        # a shortened clip is rescaled to [-1, 1] like the whole ones
        targets = [
            clips[i] if cfg.steps == len(clips[i]) else audio.scale_to_unit(clips[i][: cfg.steps]) for i in cfg.clips
        ]
        labels = [f"clip {i + 1}" for i in cfg.clips]
    elif cfg.source == "tone":
        targets, labels = [audio.synthetic_tone(cfg.steps)], ["synthetic tone"]
    else:
        targets = [audio.clip_from_wav(cfg.wav_path, cfg.wav_start, cfg.steps)]
        labels = [f"{cfg.wav_path} @ {cfg.wav_start:g} s"]
    return GenerationTask(np.stack(targets), num_seeds=cfg.seeds, labels=labels)
