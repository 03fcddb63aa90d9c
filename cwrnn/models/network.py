"""A recurrent core plus a linear readout: the unit that every task trains."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .baselines import GRU, LSTM, SRN
from .clockwork import ClockworkRNN
from .ensemble import Stacked, StackedLinear, initialise
from .sizing import ArchSpec


def build_core(spec: ArchSpec, input_size: int, seeds: Sequence[int], init: str = "paper") -> Stacked:
    """The recurrent layer of `spec`, one stacked member per seed."""
    R = len(seeds)
    if spec.arch == "cwrnn":
        return ClockworkRNN(
            input_size,
            module_sizes=spec.module_sizes,
            periods=spec.periods,
            connectivity=spec.connectivity,
            num_seeds=R,
            seeds=seeds,
            init=init,
        )
    if spec.arch == "srn":
        return SRN(input_size, spec.hidden_size, num_seeds=R, seeds=seeds, init=init)
    if spec.arch == "gru":
        return GRU(input_size, spec.hidden_size, num_seeds=R, seeds=seeds, init=init)
    return LSTM(
        input_size,
        spec.hidden_size,
        peepholes=spec.peepholes,
        forget_bias=spec.forget_bias,
        num_seeds=R,
        seeds=seeds,
        init=init,
    )


class SequenceModel(Stacked):
    """R seeds of one architecture: y_t = W_O h_t + b_O read from every step's hidden state."""

    def __init__(self, spec: ArchSpec, input_size: int, output_size: int, seeds: Sequence[int], init: str = "paper"):
        super().__init__(len(seeds))
        self.spec, self.seeds = spec, list(seeds)
        self.core = build_core(spec, input_size, self.seeds, init)
        self.hidden_size = spec.hidden_size
        self.readout = StackedLinear(spec.hidden_size, output_size, num_seeds=len(seeds))
        initialise(self, self.seeds, init)

    def forward(self, x: torch.Tensor | None = None, *, steps: int | None = None, batch_size: int = 1):
        """(y, hidden): y is (R, B, T, output_size), hidden is (R, B, T, n)."""
        return self.core.read(self.readout, x, steps=steps, batch_size=batch_size)

    def member_state(self, r: int) -> dict[str, torch.Tensor]:
        """Seed r's weights alone, loadable into a one-seed model of the same spec (after adding back
        the seed dimension with `v.unsqueeze(0)`). BidirectionalModel shares this method."""
        return {k: v[r].detach().clone() for k, v in self.state_dict().items()}
