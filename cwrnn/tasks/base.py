"""What the training loop needs from a task. One module per task implements it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from ..models import SequenceModel


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
