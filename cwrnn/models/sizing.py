"""Parameter counts and parameter-matched hidden sizes, in the paper's conventions.

Counted: recurrent and input weights, hidden biases, a linear readout with bias, LSTM peepholes, and
one parameter per CW-RNN period (the paper counts the periods when it matches network sizes).
A bidirectional network has two recurrent layers of the same size (each with its own periods) and one
readout reading both, 2n units wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .. import clock

ARCHS = ("cwrnn", "srn", "lstm", "gru")
MAX_HIDDEN = 4096


def count_parameters(
    arch: str,
    hidden_size: int,
    input_size: int,
    output_size: int,
    *,
    num_modules: int | None = None,
    module_sizes: Sequence[int] | None = None,
    connectivity: str = "slow_to_fast",
    peepholes: bool = True,
    count_periods: bool = True,
    bidirectional: bool = False,
) -> int:
    """Trainable parameters of an `arch` network with a linear readout (plus CW-RNN periods)."""
    directions = 2 if bidirectional else 1
    recurrent = _recurrent_parameters(
        arch,
        hidden_size,
        input_size,
        num_modules=num_modules,
        module_sizes=module_sizes,
        connectivity=connectivity,
        peepholes=peepholes,
        count_periods=count_periods,
    )
    return directions * recurrent + output_size * (directions * hidden_size + 1)


def _recurrent_parameters(
    arch, hidden_size, input_size, *, num_modules, module_sizes, connectivity, peepholes, count_periods
) -> int:
    n = hidden_size
    if arch == "srn":
        return n * n + n * input_size + n
    if arch == "lstm":
        return 4 * (n * n + n * input_size + n) + (3 * n if peepholes else 0)
    if arch == "gru":
        return 3 * (n * n + n * input_size + n) + n
    if arch == "cwrnn":
        sizes = list(module_sizes) if module_sizes is not None else clock.split_units(n, num_modules or 1)
        if sum(sizes) != n:
            raise ValueError(f"module sizes {sizes} do not add up to hidden_size {n}")
        recurrent = int(clock.unit_mask(sizes, connectivity).sum())
        return recurrent + n * input_size + n + (len(sizes) if count_periods else 0)
    raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(ARCHS)}")


def match_hidden_size(
    arch: str, budget: int, input_size: int, output_size: int, *, num_modules: int | None = None, **kwargs
) -> int:
    """The hidden size whose parameter count is closest to `budget` (the smaller one on a tie).

    A CW-RNN keeps its number of modules, with sizes split as `clock.split_units` does.
    """
    if budget < 1:
        raise ValueError(f"the parameter budget must be a positive integer, got {budget}")
    smallest = num_modules or 1 if arch == "cwrnn" else 1
    best, best_gap = smallest, None
    for n in range(smallest, MAX_HIDDEN + 1):
        count = count_parameters(arch, n, input_size, output_size, num_modules=num_modules, **kwargs)
        gap = abs(count - budget)
        if best_gap is None or gap < best_gap:
            best, best_gap = n, gap
        if count > budget:  # counts grow with n, so nothing further can be closer
            break
    return best


def recurrent_macs(
    arch: str,
    hidden_size: int,
    *,
    module_sizes: Sequence[int] | None = None,
    periods: Sequence[int] | None = None,
    connectivity: str = "slow_to_fast",
) -> float:
    """Recurrent multiply-adds per step, averaged over time."""
    if arch == "srn":
        return float(hidden_size**2)
    if arch == "lstm":
        return float(4 * hidden_size**2)
    if arch == "gru":
        return float(3 * hidden_size**2)
    if arch == "cwrnn":
        return clock.recurrent_macs_per_step(module_sizes, periods, connectivity)
    raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(ARCHS)}")


@dataclass
class ArchSpec:
    """One architecture of a comparison. The CW-RNN fields are ignored by the baselines. A bidirectional
    spec has a forward and a backward recurrent layer, each `hidden_size` wide (see models/bidirectional.py)."""

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
        return count_parameters(
            self.arch,
            self.hidden_size,
            input_size,
            output_size,
            module_sizes=self.module_sizes,
            connectivity=self.connectivity,
            peepholes=self.peepholes,
            bidirectional=self.bidirectional,
        )

    def macs(self) -> float:
        one_way = recurrent_macs(
            self.arch,
            self.hidden_size,
            module_sizes=self.module_sizes,
            periods=self.periods,
            connectivity=self.connectivity,
        )
        return one_way * (2 if self.bidirectional else 1)

    def to_dict(self) -> dict:
        return asdict(self)


def matched_specs(
    budget: int,
    input_size: int,
    output_size: int,
    *,
    periods: Sequence[int],
    module_sizes: Sequence[int] | None = None,
    connectivity: str = "slow_to_fast",
    baselines: Sequence[str] = ("srn", "lstm"),
    peepholes: bool = True,
    forget_bias: float = 5.0,
    bidirectional: bool = False,
) -> list[ArchSpec]:
    """The CW-RNN and its baselines, each sized to the same parameter budget.

    Explicit CW-RNN module sizes fix its hidden size, and then its actual parameter count becomes the
    baselines' budget, so the comparison stays fair whatever `budget` says.
    """
    periods = clock.check_periods(periods)
    explicit = module_sizes is not None
    if not explicit:
        n = match_hidden_size(
            "cwrnn",
            budget,
            input_size,
            output_size,
            num_modules=len(periods),
            connectivity=connectivity,
            bidirectional=bidirectional,
        )
        module_sizes = clock.split_units(n, len(periods))
    specs = [
        ArchSpec(
            "cwrnn", sum(module_sizes), list(periods), list(module_sizes), connectivity, bidirectional=bidirectional
        )
    ]
    if explicit:
        budget = specs[0].parameters(input_size, output_size)
    for arch in baselines:
        n = match_hidden_size(arch, budget, input_size, output_size, peepholes=peepholes, bidirectional=bidirectional)
        specs.append(ArchSpec(arch, n, peepholes=peepholes, forget_bias=forget_bias, bidirectional=bidirectional))
    return specs
