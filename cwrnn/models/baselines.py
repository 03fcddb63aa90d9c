"""The paper's baselines: a simple (Elman) RNN and an LSTM, with the same call convention as ClockworkRNN."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .clockwork import ClockworkRNN, _prepare_h0, _prepare_input
from .ensemble import Stacked, initialise, seed_list
from .scan import LSTMScan


class SRN(ClockworkRNN):
    """Elman network h_t = tanh(W_H h_{t-1} + W_I x_t + b).

    It is a Clockwork RNN with a single module of period 1, so the CW-RNN and its baseline run on the
    same code path and timing comparisons measure the clock, nothing else.
    """

    def __init__(self, input_size: int, hidden_size: int, *, batch_first: bool = True,
                 num_seeds: int | None = None, seeds: Sequence[int] | None = None, init: str = "paper"):
        super().__init__(input_size, hidden_size, num_modules=1, periods=[1], batch_first=batch_first,
                         num_seeds=num_seeds, seeds=seeds, init=init)


class LSTM(Stacked):
    """LSTM with optional peephole connections (Gers & Schmidhuber) and a forget-gate bias.

    Gates i, f, o see c_{t-1} (i, f) and c_t (o) through diagonal peephole weights when ``peepholes``.
    The paper sets the forget-gate bias to 5 ("crucial") in Experiments 1 and 2.
    ``out`` holds every step's h; ``h_n`` is the final h (the final cell state is ``self.last_cell``).
    """

    def __init__(self, input_size: int, hidden_size: int, *, peepholes: bool = True, forget_bias: float = 5.0,
                 batch_first: bool = True, num_seeds: int | None = None, seeds: Sequence[int] | None = None,
                 init: str = "paper"):
        super().__init__(num_seeds)
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 0:
            raise ValueError(f"input_size must be a non-negative integer, got {input_size!r}")
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        self.peepholes, self.forget_bias = peepholes, float(forget_bias)
        n = hidden_size
        self.W_H = self.new_param(4 * n, n)  # gate order: input, forget, cell, output
        self.W_I = self.new_param(4 * n, input_size)
        self.b = self.new_param(4 * n)
        if peepholes:
            self.peep = self.new_param(3, n)  # input, forget, output
        self.seeds = seed_list(num_seeds, seeds)
        initialise(self, self.seeds, init)

    def after_init(self) -> None:
        n = self.hidden_size
        with torch.no_grad():
            self.b[..., n:2 * n] = self.forget_bias

    def forward(self, x: torch.Tensor | None = None, h0: torch.Tensor | None = None, *,
                steps: int | None = None, batch_size: int = 1):
        W = self.stack(self.W_H)
        x, steps, B = _prepare_input(self, x, steps, batch_size)
        h = _prepare_h0(self, h0, B, W)
        peep = self.stack(self.peep) if self.peepholes else None
        out, cells = LSTMScan.apply(W, self.stack(self.W_I), self.stack(self.b), peep, x, h, steps)
        self.last_cell, h = self.unstack(cells[:, :, -1]), out[:, :, -1]
        if not self.batch_first:
            out = out.transpose(1, 2)
        return self.unstack(out), self.unstack(h)
