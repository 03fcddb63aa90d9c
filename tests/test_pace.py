"""The time left in a run, from the pace of its recent epochs: against the remaining time of a schedule
whose start is slow, and the plain average that misjudged it."""

import pytest

from cwrnn.pace import Pace


def test_a_slow_start_does_not_inflate_the_estimate():
    # 100 epochs: the first 10 take 1 s each (start-up, a busy machine), the rest 0.2 s
    times = [1.0] * 10 + [0.2] * 90
    pace, elapsed = Pace(100, window_s=3.0), 0.0
    for epoch, took in enumerate(times, 1):
        elapsed += took
        pace.add(epoch, elapsed)
        if epoch == 40:
            truth = sum(times[40:])
            assert pace.eta() == pytest.approx(truth, rel=0.02)
            naive = elapsed / epoch * (100 - epoch)  # the average since the start
            assert naive > 1.9 * truth  # what the first estimates looked like
    assert pace.eta() == 0.0


def test_no_estimate_until_the_pace_can_be_measured():
    pace = Pace(10)
    assert pace.eta() is None
    pace.add(1, 5.0)
    assert pace.eta() is None
    pace.add(2, 5.5)
    assert pace.eta() == pytest.approx(0.5 * 8)
