"""Parameter counts and parameter-matched hidden sizes, in the paper's conventions.

Counted: recurrent and input weights, hidden biases, a linear readout with bias, LSTM peepholes, and
one parameter per CW-RNN period (the paper counts the periods when it matches network sizes).
A bidirectional network has two recurrent layers of the same size (each with its own periods) and one
readout reading both, 2n units wide.
"""
from __future__ import annotations

from collections.abc import Sequence

from .. import clock

ARCHS = ("cwrnn", "srn", "lstm", "gru")
MAX_HIDDEN = 4096


def count_parameters(arch: str, hidden_size: int, input_size: int, output_size: int, *,
                     num_modules: int | None = None, module_sizes: Sequence[int] | None = None,
                     connectivity: str = "slow_to_fast", peepholes: bool = True,
                     count_periods: bool = True, bidirectional: bool = False) -> int:
    """Trainable parameters of an `arch` network with a linear readout (plus CW-RNN periods)."""
    directions = 2 if bidirectional else 1
    recurrent = _recurrent_parameters(arch, hidden_size, input_size, num_modules=num_modules,
                                      module_sizes=module_sizes, connectivity=connectivity,
                                      peepholes=peepholes, count_periods=count_periods)
    return directions * recurrent + output_size * (directions * hidden_size + 1)


def _recurrent_parameters(arch, hidden_size, input_size, *, num_modules, module_sizes, connectivity,
                          peepholes, count_periods) -> int:
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


def match_hidden_size(arch: str, budget: int, input_size: int, output_size: int, *,
                      num_modules: int | None = None, **kwargs) -> int:
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


def recurrent_macs(arch: str, hidden_size: int, *, module_sizes: Sequence[int] | None = None,
                   periods: Sequence[int] | None = None, connectivity: str = "slow_to_fast") -> float:
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
