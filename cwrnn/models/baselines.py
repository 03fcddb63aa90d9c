"""The paper's baselines: a simple (Elman) RNN and an LSTM, with the same call convention as ClockworkRNN."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import kernels
from .clockwork import ClockworkRNN, ScannedCore, _prepare_h0, _prepare_input, _readout_weights
from .ensemble import StackedLinear, initialise, seed_list
from .gated_scan import GRUScan, LSTMScan
from .kernel_scan import LSTMKernelScan


class SRN(ClockworkRNN):
    """Elman network h_t = tanh(W_H h_{t-1} + W_I x_t + b).

    It is a Clockwork RNN with a single module of period 1, so the CW-RNN and its baseline run on the
    same code path and timing comparisons measure the clock, nothing else.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        batch_first: bool = True,
        num_seeds: int | None = None,
        seeds: Sequence[int] | None = None,
        init: str = "paper",
    ):
        super().__init__(
            input_size,
            hidden_size,
            num_modules=1,
            periods=[1],
            batch_first=batch_first,
            num_seeds=num_seeds,
            seeds=seeds,
            init=init,
        )


class LSTM(ScannedCore):
    """LSTM with optional peephole connections (Gers & Schmidhuber) and a forget-gate bias.

    Gates i, f, o see c_{t-1} (i, f) and c_t (o) through diagonal peephole weights when ``peepholes``.
    The paper sets the forget-gate bias to 5 ("crucial") in Experiments 1 and 2.
    ``out`` holds every step's h; ``h_n`` is the final h. h0 sets the initial h; the cell state always
    starts at zero. The final cell state is kept in ``self.last_cell`` for inspection (no gradient).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        peepholes: bool = True,
        forget_bias: float = 5.0,
        batch_first: bool = True,
        num_seeds: int | None = None,
        seeds: Sequence[int] | None = None,
        init: str = "paper",
    ):
        super().__init__(num_seeds)
        _check_sizes(input_size, hidden_size)
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
            self.b[..., n : 2 * n] = self.forget_bias

    def _scan(self, x, h0, steps, batch_size, readout: StackedLinear | None = None):
        """(time-major states, y) as ClockworkRNN._scan's; keeps the final cell state."""
        W = self.stack(self.W_H)
        x, steps, B = _prepare_input(self, x, steps, batch_size)
        h = _prepare_h0(self, h0, B, W)
        peep = self.stack(self.peep) if self.peepholes else None
        args = (W, self.stack(self.W_I), self.stack(self.b), peep, x, h, steps)
        if kernels.usable(W, self.hidden_size):
            out, cells, y = LSTMKernelScan.apply(*args, *_readout_weights(readout))
        else:
            (out, cells), y = LSTMScan.apply(*args), None
        self.last_cell = self.unstack(cells[-1].clone())  # a copy: a view would keep every step's cells
        return out, y


class GRU(ScannedCore):
    """Gated recurrent unit (Cho et al. 2014) in torch.nn.GRU's form, the reset gate scaling the
    recurrent part of the candidate: m = tanh(W_in x + b_n + r * (W_hn h + b_hn)), h' = (1 - z) m + z h.

    Not in the paper; a modern gated baseline to compare with. Biases: one per gate, plus b_hn (the
    hidden-side bias that the reset gate scales); torch's other hidden-side biases would only add to
    the input-side ones.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        batch_first: bool = True,
        num_seeds: int | None = None,
        seeds: Sequence[int] | None = None,
        init: str = "paper",
    ):
        super().__init__(num_seeds)
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        n = hidden_size
        self.W_H = self.new_param(3 * n, n)  # gate order: reset, update, new
        self.W_I = self.new_param(3 * n, input_size)
        self.b = self.new_param(3 * n)
        self.b_hn = self.new_param(n)
        self.seeds = seed_list(num_seeds, seeds)
        initialise(self, self.seeds, init)

    def _scan(self, x, h0, steps, batch_size, readout: StackedLinear | None = None):
        """(time-major states, None): the GRU has no compiled kernel, so its readout runs after the scan."""
        W = self.stack(self.W_H)
        x, steps, B = _prepare_input(self, x, steps, batch_size)
        h = _prepare_h0(self, h0, B, W)
        return GRUScan.apply(W, self.stack(self.W_I), self.stack(self.b), self.stack(self.b_hn), x, h, steps), None


def _check_sizes(input_size, hidden_size) -> None:
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 0:
        raise ValueError(f"input_size must be a non-negative integer, got {input_size!r}")
    if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
        raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
