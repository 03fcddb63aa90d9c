"""Clock periods, module sizes, activity masks and operation counts.

Everything here is plain Python/numpy so that the Clock explorer page can answer instantly,
without torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

SCHEDULES = ("exponential", "linear", "fibonacci")


def schedule(name: str, num_modules: int, *, base: int = 2, step: int = 1, start: int = 1) -> list[int]:
    """Periods for `num_modules` modules under a named schedule.

    exponential: start * base**i (the paper: 1, 2, 4, ...); linear: start + step*i;
    fibonacci: 1, 2, 3, 5, 8, ... scaled by `start` (distinct values, so 1 is not repeated).
    """
    if num_modules < 1:
        raise ValueError(f"num_modules must be at least 1, got {num_modules}")
    if start < 1:
        raise ValueError(f"the smallest period must be a positive integer, got {start}")
    if name == "exponential":
        if base < 2:
            raise ValueError(f"an exponential schedule needs base >= 2, got {base}")
        return [start * base**i for i in range(num_modules)]
    if name == "linear":
        if step < 1:
            raise ValueError(f"a linear schedule needs step >= 1, got {step}")
        return [start + step * i for i in range(num_modules)]
    if name == "fibonacci":
        fib = [1, 2]
        while len(fib) < num_modules:
            fib.append(fib[-1] + fib[-2])
        return [start * f for f in fib[:num_modules]]
    raise ValueError(f"unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}")


def split_units(hidden_size: int, num_modules: int) -> list[int]:
    """Equal module sizes, the leftover units going to the faster modules (40, 9 -> 5,5,5,5,4,4,4,4,4)."""
    if num_modules < 1:
        raise ValueError(f"num_modules must be at least 1, got {num_modules}")
    if hidden_size < num_modules:
        raise ValueError(
            f"hidden_size {hidden_size} is smaller than num_modules {num_modules}: every module needs at least one unit"
        )
    k, extra = divmod(hidden_size, num_modules)
    return [k + 1 if i < extra else k for i in range(num_modules)]


def check_periods(periods: Sequence[int]) -> list[int]:
    """Validate periods: positive integers, strictly increasing once sorted.

    Unsorted periods are an error rather than silently reordered, because module sizes and weights are
    given in the same order and reordering one but not the other would be a silent bug. Repeated periods
    are an error too: two modules with one clock are one module.
    """
    periods = list(periods)
    if not periods:
        raise ValueError("periods must not be empty")
    for p in periods:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
            raise ValueError(f"periods must be positive integers, got {p!r} in {periods}")
    periods = [int(p) for p in periods]
    if len(set(periods)) != len(periods):
        raise ValueError(f"periods must be distinct (two modules with one clock are one module), got {periods}")
    if periods != sorted(periods):
        raise ValueError(f"periods must be sorted from fastest to slowest (ascending), got {periods}")
    return periods


class PeriodsError(ValueError):
    """A typed list of clock periods (or module sizes) cannot be used; the message says what is allowed."""


def parse_ints(text: str, what: str, example: str) -> list[int]:
    """Whole numbers typed as "1, 2, 4" (commas and/or spaces between them)."""
    parts = [p for p in re.split(r"[,\s]+", str(text).strip()) if p]
    if not parts:
        raise PeriodsError(f"type at least one {what}, e.g. {example}")
    bad = [p for p in parts if not re.fullmatch(r"[+-]?[0-9]+", p)]
    if bad:
        shown = ", ".join(repr(b if len(b) <= 20 else b[:20] + "...") for b in bad)
        raise PeriodsError(f"{what}s must be whole numbers separated by commas, e.g. {example}; not {shown}")
    # no limit here is near 18 digits; longer ones (int() refuses over 4300) are simply too large
    huge = [p for p in parts if len(p.lstrip("+-")) > 18]
    if huge:
        raise PeriodsError(f"{what}s of {max(len(p) for p in huge)} digits are far too large; e.g. {example}")
    return [int(p) for p in parts]


def parse_periods(text: str, max_modules: int, max_period: int) -> list[int]:
    """Periods typed as "1, 2, 4, 8": whole numbers >= 1, ascending, distinct, within the given limits."""
    periods = parse_ints(text, "period", "1, 2, 4, 8")
    if any(p < 1 for p in periods):
        raise PeriodsError(f"every period must be at least 1 (a module that fires every step); got {periods}")
    if len(periods) > max_modules:
        raise PeriodsError(f"at most {max_modules} modules are allowed, got {len(periods)} periods")
    if max(periods) > max_period:
        raise PeriodsError(f"periods may be at most {max_period}, got {max(periods)}")
    try:
        return check_periods(periods)
    except ValueError as e:  # unsorted or repeated: check_periods says which
        raise PeriodsError(str(e)) from None


def active_mask(periods: Sequence[int], steps: int) -> np.ndarray:
    """(g, steps) bool: module i updates at step t iff t % T_i == 0, t counting from 0."""
    t = np.arange(steps)
    return (t[None, :] % np.asarray(periods)[:, None]) == 0


def is_prefix_schedule(periods: Sequence[int]) -> bool:
    """True when every period divides the next, so the active modules are always a fast prefix."""
    return all(b % a == 0 for a, b in zip(periods, periods[1:]))


CONNECTIVITY = ("slow_to_fast", "fast_to_slow", "full")


def block_mask(num_modules: int, connectivity: str = "slow_to_fast") -> np.ndarray:
    """(g, g) bool, [i, j] = module j feeds module i (row = target, column convention).

    slow_to_fast is the paper's: module i reads itself and every slower module j >= i.
    """
    i, j = np.indices((num_modules, num_modules))
    if connectivity == "slow_to_fast":
        return j >= i
    if connectivity == "fast_to_slow":
        return j <= i
    if connectivity == "full":
        return np.ones((num_modules, num_modules), dtype=bool)
    raise ValueError(f"unknown connectivity {connectivity!r}; allowed: {', '.join(CONNECTIVITY)}")


def unit_mask(module_sizes: Sequence[int], connectivity: str = "slow_to_fast") -> np.ndarray:
    """(n, n) bool recurrent mask, row = target unit, column = source unit."""
    idx = np.repeat(np.arange(len(module_sizes)), module_sizes)
    return block_mask(len(module_sizes), connectivity)[idx[:, None], idx[None, :]]


def recurrent_macs_per_step(
    module_sizes: Sequence[int], periods: Sequence[int], connectivity: str = "slow_to_fast"
) -> float:
    """Recurrent multiply-adds per step, averaged over time (exact for any schedule, by the lcm)."""
    conn = block_mask(len(module_sizes), connectivity)
    sizes = np.asarray(module_sizes)
    fan_in = conn @ sizes  # units each module reads
    return float(sum(k * f / T for k, f, T in zip(sizes, fan_in, periods)))


def theoretical_speedup(
    module_sizes: Sequence[int], periods: Sequence[int], connectivity: str = "slow_to_fast"
) -> float:
    """SRN recurrent multiply-adds (n^2) over the CW-RNN's, same number of units."""
    n = int(sum(module_sizes))
    return n * n / recurrent_macs_per_step(module_sizes, periods, connectivity)
