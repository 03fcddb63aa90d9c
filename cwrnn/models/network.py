"""A recurrent core plus a linear readout: the unit that every task trains."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

from .. import clock
from .baselines import GRU, LSTM, SRN
from .clockwork import ClockworkRNN
from .ensemble import Stacked, StackedLinear, initialise
from .sizing import ARCHS, count_parameters, match_hidden_size, recurrent_macs


@dataclass
class ArchSpec:
    """One architecture of a comparison. The CW-RNN fields are ignored by the baselines. A bidirectional
    spec has a forward and a backward recurrent layer, each `hidden_size` wide (see bidirectional.py)."""
    arch: str
    hidden_size: int
    periods: list[int] | None = None
    module_sizes: list[int] | None = None
    connectivity: str = "slow_to_fast"
    peepholes: bool = True
    forget_bias: float = 5.0
    bidirectional: bool = False

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; allowed: {', '.join(ARCHS)}")
        if self.arch == "cwrnn":
            self.periods = clock.check_periods(self.periods or [1])
            if self.module_sizes is None:
                self.module_sizes = clock.split_units(self.hidden_size, len(self.periods))

    def parameters(self, input_size: int, output_size: int) -> int:
        return count_parameters(self.arch, self.hidden_size, input_size, output_size,
                                module_sizes=self.module_sizes, connectivity=self.connectivity,
                                peepholes=self.peepholes, bidirectional=self.bidirectional)

    def macs(self) -> float:
        one_way = recurrent_macs(self.arch, self.hidden_size, module_sizes=self.module_sizes,
                                 periods=self.periods, connectivity=self.connectivity)
        return one_way * (2 if self.bidirectional else 1)

    def to_dict(self) -> dict:
        return asdict(self)


def matched_specs(budget: int, input_size: int, output_size: int, *, periods: Sequence[int],
                  module_sizes: Sequence[int] | None = None, connectivity: str = "slow_to_fast",
                  baselines: Sequence[str] = ("srn", "lstm"), peepholes: bool = True,
                  forget_bias: float = 5.0, bidirectional: bool = False) -> list[ArchSpec]:
    """The CW-RNN and its baselines, each sized to the same parameter budget.

    Explicit CW-RNN module sizes fix its hidden size, and then its actual parameter count becomes the
    baselines' budget, so the comparison stays fair whatever `budget` says.
    """
    periods = clock.check_periods(periods)
    explicit = module_sizes is not None
    if not explicit:
        n = match_hidden_size("cwrnn", budget, input_size, output_size, num_modules=len(periods),
                              connectivity=connectivity, bidirectional=bidirectional)
        module_sizes = clock.split_units(n, len(periods))
    specs = [ArchSpec("cwrnn", sum(module_sizes), list(periods), list(module_sizes), connectivity,
                      bidirectional=bidirectional)]
    if explicit:
        budget = specs[0].parameters(input_size, output_size)
    for arch in baselines:
        n = match_hidden_size(arch, budget, input_size, output_size, peepholes=peepholes,
                              bidirectional=bidirectional)
        specs.append(ArchSpec(arch, n, peepholes=peepholes, forget_bias=forget_bias, bidirectional=bidirectional))
    return specs


def build_core(spec: ArchSpec, input_size: int, seeds: Sequence[int], init: str = "paper") -> Stacked:
    """The recurrent layer of `spec`, one stacked member per seed."""
    R = len(seeds)
    if spec.arch == "cwrnn":
        return ClockworkRNN(input_size, module_sizes=spec.module_sizes, periods=spec.periods,
                            connectivity=spec.connectivity, num_seeds=R, seeds=seeds, init=init)
    if spec.arch == "srn":
        return SRN(input_size, spec.hidden_size, num_seeds=R, seeds=seeds, init=init)
    if spec.arch == "gru":
        return GRU(input_size, spec.hidden_size, num_seeds=R, seeds=seeds, init=init)
    return LSTM(input_size, spec.hidden_size, peepholes=spec.peepholes, forget_bias=spec.forget_bias,
                num_seeds=R, seeds=seeds, init=init)


class SequenceModel(Stacked):
    """R seeds of one architecture: y_t = W_O h_t + b_O read from every step's hidden state."""

    def __init__(self, spec: ArchSpec, input_size: int, output_size: int, seeds: Sequence[int],
                 init: str = "paper"):
        super().__init__(len(seeds))
        self.spec, self.seeds = spec, list(seeds)
        self.core = build_core(spec, input_size, self.seeds, init)
        self.hidden_size = spec.hidden_size
        self.readout = StackedLinear(spec.hidden_size, output_size, num_seeds=len(seeds))
        initialise(self, self.seeds, init)

    def forward(self, x: torch.Tensor | None = None, *, steps: int | None = None, batch_size: int = 1):
        """(y, hidden): y is (R, B, T, output_size), hidden is (R, B, T, n)."""
        hidden, _ = self.core(x, steps=steps, batch_size=batch_size)
        return self.readout(hidden), hidden

    def member_state(self, r: int) -> dict[str, torch.Tensor]:
        """Seed r's weights alone, loadable into a one-seed model of the same spec (after adding back
        the seed dimension with `v.unsqueeze(0)`). BidirectionalModel shares this method."""
        return {k: v[r].detach().clone() for k, v in self.state_dict().items()}
