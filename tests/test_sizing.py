"""Parameter counting and matching against the paper's Table 1 and against real modules."""

import pytest

from cwrnn import ArchSpec, SequenceModel, build_network, count_parameters, match_hidden_size, paper
from cwrnn.clock import recurrent_macs_per_step, split_units, theoretical_speedup


@pytest.mark.parametrize("arch", ["srn", "lstm", "cwrnn"])
def test_table1_experiment1_within_two_units(arch):
    for budget, expected in zip(paper.GENERATION_BUDGETS, paper.GENERATION_HIDDEN[arch]):
        got = match_hidden_size(arch, budget, 0, 1, num_modules=9 if arch == "cwrnn" else None)
        assert abs(got - expected) <= 2, (arch, budget, got, expected)


@pytest.mark.parametrize("arch", ["srn", "lstm", "cwrnn"])
def test_table1_experiment2_within_two_units(arch):
    for budget, expected in zip(paper.WORDS_BUDGETS, paper.WORDS_HIDDEN[arch]):
        got = match_hidden_size(arch, budget, 13, 25, num_modules=7 if arch == "cwrnn" else None)
        assert abs(got - expected) <= 2, (arch, budget, got, expected)


@pytest.mark.parametrize("arch", ["srn", "lstm", "cwrnn"])
@pytest.mark.parametrize("peepholes", [True, False])
def test_table1_experiment3_bidirectional_within_two_units(arch, peepholes):
    for budget, expected in zip(paper.HANDWRITING_BUDGETS, paper.HANDWRITING_HIDDEN[arch]):
        got = match_hidden_size(
            arch,
            budget,
            paper.HANDWRITING_INPUTS,
            paper.HANDWRITING_OUTPUTS,
            num_modules=len(paper.HANDWRITING_PERIODS) if arch == "cwrnn" else None,
            peepholes=peepholes,
            bidirectional=True,
        )
        assert abs(got - expected) <= 2, (arch, budget, got, expected)


def test_bidirectional_count_by_hand():
    # two SRN layers of 40 (1600 + 160 + 40 each) and one readout from 80 units to 82 outputs
    assert count_parameters("srn", 40, 4, 82, bidirectional=True) == 2 * 1800 + 82 * 81


def test_cwrnn_count_by_hand():
    # n=40, g=9: sizes 5,5,5,5,4,4,4,4,4; recurrent = sum k_i * (units in modules i..g) = 890
    assert split_units(40, 9) == [5, 5, 5, 5, 4, 4, 4, 4, 4]
    assert count_parameters("cwrnn", 40, 0, 1, num_modules=9) == 890 + 40 + 41 + 9
    assert count_parameters("cwrnn", 40, 0, 1, num_modules=9, count_periods=False) == 890 + 40 + 41


@pytest.mark.parametrize(
    "spec,inp,out",
    [
        (ArchSpec("cwrnn", 19, periods=[1, 2, 4, 8, 16, 32, 64, 128, 256]), 0, 1),
        (ArchSpec("cwrnn", 23, periods=[1, 3, 5], connectivity="full"), 13, 25),
        (ArchSpec("srn", 15), 0, 1),
        (ArchSpec("lstm", 7), 13, 25),
        (ArchSpec("lstm", 7, peepholes=False), 0, 1),
        (ArchSpec("gru", 9), 13, 25),
    ],
)
def test_count_equals_the_real_modules(spec, inp, out):
    model = SequenceModel(spec, inp, out, seeds=[0])
    # W_H is stored dense; only its allowed entries are parameters. Periods count one each.
    stored = sum(p.numel() for p in model.parameters())
    if spec.arch == "cwrnn":
        stored -= int((~model.core.mask).sum()) - len(spec.periods)
    assert spec.parameters(inp, out) == stored


@pytest.mark.parametrize(
    "spec",
    [
        ArchSpec("cwrnn", 19, periods=[1, 2, 4, 8, 16], bidirectional=True),
        ArchSpec("srn", 15, bidirectional=True),
        ArchSpec("lstm", 7, bidirectional=True),
        ArchSpec("gru", 9, bidirectional=True),
    ],
)
def test_bidirectional_count_equals_the_real_modules(spec):
    model = build_network(spec, 4, 82, seeds=[0])
    stored = sum(p.numel() for p in model.parameters())
    if spec.arch == "cwrnn":
        stored -= 2 * (int((~model.core.mask).sum()) - len(spec.periods))
    assert spec.parameters(4, 82) == stored


def test_operation_counts_match_the_closed_form():
    k, g = 8, 8
    sizes, periods = [k] * g, [2**i for i in range(g)]
    closed = k * k * (2 * g - 2 + 2 ** (1 - g))
    assert recurrent_macs_per_step(sizes, periods) == pytest.approx(closed)
    assert theoretical_speedup(sizes, periods) == pytest.approx((g * k) ** 2 / closed)


def test_bad_sizing_arguments():
    with pytest.raises(ValueError, match="unknown architecture"):
        count_parameters("gru2", 4, 0, 1)
    with pytest.raises(ValueError, match="budget"):
        match_hidden_size("srn", 0, 0, 1)
