"""What `cwrnn train` prints while it trains."""

from __future__ import annotations

import sys
import time

import numpy as np

from .pace import Pace
from .train import Callback


class Progress(Callback):
    """Prints one line every few seconds: epoch, each model's mean metric, ETA."""

    def __init__(self, metric: str, every: float = 2.0):
        self.metric, self.every = metric, every
        self.last, self.total = 0.0, 0

    def on_start(self, info: dict) -> None:
        self.total = info["epochs"]
        self.pace = Pace(self.total)
        models = ", ".join(f"{m['arch']} n={m['hidden_size']} ({m['parameters']} params)" for m in info["models"])
        print(f"training on {info['device']}: {models}; {info['members']} networks each", file=sys.stderr)

    def on_epoch(self, epoch: int, metrics: dict, elapsed: float) -> None:
        self.pace.add(epoch, elapsed)
        if time.monotonic() - self.last >= self.every or epoch == self.total:
            self.last = time.monotonic()
            vals = "  ".join(f"{a} {np.mean(m[self.metric]):.4g}" for a, m in metrics.items() if self.metric in m)
            eta = self.pace.eta()
            left = "ETA estimating" if eta is None else f"ETA {eta:.0f} s"
            print(f"epoch {epoch}/{self.total}  {vals}  ({elapsed:.0f} s, {left})", file=sys.stderr, flush=True)
