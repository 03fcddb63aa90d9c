"""What the training loop needs from a task. One module per task implements it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from ..models import SequenceModel


def member_totals(batch_losses: list[torch.Tensor]) -> torch.Tensor:
    """Each member's (R,) losses summed over the epoch's batches, (R,).

    Summed along each member's own contiguous row: down the columns of a (batches, R) stack, torch
    sums most members a vector register at a time and the last few one by one, in another order, so a
    member's total would round differently in a seed batch than in the whole cell."""
    return torch.stack([loss.detach() for loss in batch_losses], dim=1).sum(dim=1)


class Task(Protocol):
    name: str
    input_size: int
    output_size: int
    #: per-member metric that early stopping watches (lower is better), or None
    stop_metric: str | None
    #: snapshot keys every architecture shares (the data), stored once rather than once per architecture
    shared_snapshot_keys: tuple[str, ...]

    def replicas(self) -> int:
        """Networks per seed: Experiment 1 trains one network per target sequence."""

    def to(self, device: torch.device) -> None:
        """Move the task's tensors to the training device."""

    def batches(self, epoch: int, member_seeds: Sequence[int]) -> Iterable[Any]:
        """The batches of one epoch; their order and noise derive from the epoch and the member seeds."""

    def loss(self, model: SequenceModel, batch: Any) -> torch.Tensor:
        """Per-member training loss, shape (R,); the loop sums it (members share no parameter)."""

    def metrics(self, model: SequenceModel, train_losses: list[torch.Tensor]) -> dict[str, np.ndarray]:
        """Per-member metrics for this epoch, each of shape (R,)."""

    def snapshot(self, model: SequenceModel) -> dict[str, np.ndarray]:
        """The first member's view for the app: generated output, hidden states and so on."""

    def describe(self) -> dict:
        """JSON-able facts about the data (lengths, sources, label names)."""
