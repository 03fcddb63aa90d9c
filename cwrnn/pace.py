"""How long a training run has left, from the pace of its recent epochs.

The average pace since the start counts the start-up (the first epoch's allocations, the first snapshot)
and whatever else slowed the machine early on (the app drawing its first page beside the worker), so early
estimates ran about twice the real time. The pace of the last few seconds of epochs follows the machine as
it is now.
"""

from __future__ import annotations

from collections import deque


class Pace:
    """Seconds left after each epoch, from the epochs of the last `window_s` seconds (at least two epochs
    apart from the first, which carries the start-up)."""

    def __init__(self, total_epochs: int, window_s: float = 10.0):
        self.total, self.window_s = total_epochs, window_s
        self.samples: deque[tuple[int, float]] = deque()  # (epoch, elapsed seconds at its end)

    def add(self, epoch: int, elapsed: float) -> None:
        self.samples.append((epoch, elapsed))
        while len(self.samples) > 2 and elapsed - self.samples[1][1] >= self.window_s:
            self.samples.popleft()  # keep one sample at or before the window's start

    def eta(self) -> float | None:
        """Seconds left, or None until an epoch after the first has been timed."""
        if len(self.samples) < 2:
            return None
        (first_epoch, first_s), (epoch, elapsed) = self.samples[0], self.samples[-1]
        if epoch <= first_epoch:
            return None
        return (elapsed - first_s) / (epoch - first_epoch) * max(self.total - epoch, 0)
