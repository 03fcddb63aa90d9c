"""What the Clock explorer shows: a CW-RNN design's size and cost beside an SRN, an LSTM and a GRU with as
many units, and the periods typed into it. Plain data, unit-tested without a browser; no torch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import clock
from ..config import PLAYGROUND_LIMITS
from ..models.sizing import ARCHS, count_parameters, recurrent_macs
from ..paper import arch_label

PeriodsError = clock.PeriodsError


#: The explorer designs what the Playground trains, so it has the Playground's limits (one set, in config).
MAX_MODULES, MAX_PERIOD = PLAYGROUND_LIMITS["modules"], PLAYGROUND_LIMITS["period"]
#: Experiment 2's input and output sizes: 13 MFCCs in, one output per word of the shipped 25.
WORDS_IO = (13, 25)


def parse_periods(text: str) -> list[int]:
    """Periods typed as "1, 2, 4, 8" into the Clock explorer: within the Playground's limits."""
    return clock.parse_periods(text, MAX_MODULES, MAX_PERIOD)


def playground_link(periods: Sequence[int], hidden_size: int, connectivity: str, input_size: int) -> dict[str, str]:
    """The Playground's query parameters that train this design: Experiment 2 when it has inputs, else
    Experiment 1, with the budget of a CW-RNN of `hidden_size` units in equal modules (the Playground
    matches every model to it, so its CW-RNN gets these units back)."""
    task = "words" if input_size else "generation"
    inputs, outputs = WORDS_IO if input_size else (0, 1)
    sizes = clock.split_units(hidden_size, len(periods))
    budget = count_parameters("cwrnn", hidden_size, inputs, outputs, module_sizes=sizes, connectivity=connectivity)
    return {"task": task, "periods": ",".join(map(str, periods)), "connectivity": connectivity, "budget": str(budget)}


@dataclass
class ClockNumbers:
    """Size and cost of a CW-RNN design against an SRN and an LSTM with the same number of units."""

    module_sizes: list[int]
    table: pd.DataFrame  # one row per architecture
    speedup: float  # SRN recurrent multiply-adds over the CW-RNN's
    paper_bound: float  # the paper's "at least g/4" for exponential periods

    def cwrnn(self, column: str) -> float:
        return float(self.table.set_index("architecture").loc["CW-RNN", column])

    def change_vs_srn(self, column: str) -> float:
        """The CW-RNN's `column` relative to the SRN's: -0.44 is 44 % less."""
        return self.cwrnn(column) / float(self.table.set_index("architecture").loc["SRN", column]) - 1


def clock_numbers(
    periods: Sequence[int],
    hidden_size: int,
    connectivity: str = "slow_to_fast",
    *,
    input_size: int = 0,
    output_size: int = 1,
) -> ClockNumbers:
    """Parameters and recurrent multiply-adds per step of a CW-RNN with `hidden_size` units in
    len(periods) equal modules, and of an SRN, an LSTM and a GRU with the same units.

    Defaults are Experiment 1's: no input and one linear output.
    """
    periods = clock.check_periods(periods)
    sizes = clock.split_units(hidden_size, len(periods))
    n = hidden_size
    recurrent = {
        "cwrnn": int(clock.unit_mask(sizes, connectivity).sum()),
        "srn": n * n,
        "lstm": 4 * n * n,
        "gru": 3 * n * n,
    }
    rows = []
    for arch in ARCHS:
        rows.append(
            {
                "architecture": arch_label(arch),
                "hidden units": n,
                "recurrent weights": recurrent[arch],
                "parameters": count_parameters(
                    arch, n, input_size, output_size, module_sizes=sizes, connectivity=connectivity
                ),
                "multiply-adds per step": recurrent_macs(
                    arch, n, module_sizes=sizes, periods=periods, connectivity=connectivity
                ),
            }
        )
    return ClockNumbers(
        sizes, pd.DataFrame(rows), clock.theoretical_speedup(sizes, periods, connectivity), len(periods) / 4
    )


#: What benchmarks/epoch_speed.py and forward_backward.py measured (BENCHMARKS.md, "Compiled kernels").
SPEED_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "speed.json"


@dataclass
class MeasuredSpeed:
    """The speed benchmark's record, as the Clock explorer shows it beside the theory."""

    source: str  # machine, torch and date of each measurement
    layers: pd.DataFrame  # CW-RNN against the same-path SRN at several widths: measured and theoretical speed-up
    epochs: pd.DataFrame  # Experiment 1's epoch at 1000 parameters, per architecture


def measured_speed(record: dict) -> MeasuredSpeed:
    """Tables from a speed.json record (KeyError or TypeError if it is not one)."""
    fb, ep = record["forward_backward"], record["epoch"]
    layers = pd.DataFrame(
        [
            {
                "hidden units": s["n"],
                "CW-RNN (ms)": round(s["cwrnn_ms"], 1),
                "SRN (ms)": round(s["srn_ms"], 1),
                "measured speed-up": round(s["speedup"], 2),
                "theoretical speed-up": round(s["theory"], 2),
                "code path": s["path"],
            }
            for s in fb["sizes"]
        ]
    )
    epochs = pd.DataFrame(
        [
            {
                "networks": int(networks),
                "code path": path,
                **{f"{arch_label(a)} (ms)": round(ms, 1) for a, ms in timed["ms_per_epoch"].items()},
                "CW-RNN / SRN": round(timed["ratios"]["cwrnn/srn"], 2),
            }
            for networks, paths in ep["networks"].items()
            for path, timed in paths.items()
        ]
    )
    source = (
        f"Measured on {fb['machine']} ({fb['device']}, {fb['threads']} thread{'' if fb['threads'] == 1 else 's'}, torch {fb['torch']}) on {fb['date']}: "
        f"forward and backward, {fb['modules']} modules, batch {fb['batch']}, {fb['steps']} steps. "
        f"Epochs: {ep['setting']}, on {ep['date']}."
    )
    return MeasuredSpeed(source, layers, epochs)


def load_measured_speed(path: Path = SPEED_FILE) -> MeasuredSpeed | None:
    """The shipped measurements, or None where the file is missing or not a speed record."""
    try:
        return measured_speed(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
