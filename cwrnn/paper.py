"""The paper's reported numbers (Koutnik et al. 2014), for tables and charts to show beside ours, and the
architectures' names and order."""

from collections.abc import Iterable

ARCHS = ("cwrnn", "lstm", "srn")  # the architectures the paper compares, in its order
ARCH_LABELS: dict[str, str] = {"cwrnn": "CW-RNN", "srn": "SRN", "lstm": "LSTM", "gru": "GRU"}
# Baselines first and the CW-RNN last, as in the paper's tables and box plots.
ARCH_ORDER: tuple[str, ...] = ("srn", "lstm", "gru", "cwrnn")

GENERATION_BUDGETS = (100, 250, 500, 1000)
#: Table 1, Experiment 1: hidden units per budget.
GENERATION_HIDDEN = {"srn": (9, 15, 22, 31), "lstm": (4, 7, 10, 15), "cwrnn": (11, 19, 27, 40)}
#: Normalised MSE read off the paper's box plot (mean at 1000 parameters from its text).
GENERATION_NMSE = {
    "cwrnn": (0.039, 0.017, 0.010, 0.007),
    "lstm": (0.068, 0.050, 0.043, 0.04),
    "srn": (0.47, 0.47, 0.47, 0.46),
}
GENERATION_NMSE_STD_1000 = {"srn": 0.08, "lstm": 0.01, "cwrnn": 0.004}

WORDS_BUDGETS = (500, 1000, 2500, 5000, 10000)
WORDS_HIDDEN = {"srn": (10, 18, 34, 54, 84), "lstm": (5, 8, 17, 26, 41), "cwrnn": (10, 19, 40, 65, 102)}
#: Test error %, only 10k is stated in the text for all three; CW-RNN's others are read off the box plot.
WORDS_ERROR = {
    "cwrnn": (62, 42, 28, 18, 16.8),
    "lstm": (None, None, None, None, 34.2),
    "srn": (None, None, None, None, 66.8),
}

HANDWRITING_BUDGETS = (10000, 50000, 100000)
HANDWRITING_INPUTS, HANDWRITING_OUTPUTS = 4, 82  # x, y, time, pen-up; 81 characters and the CTC blank
#: Table 1, Experiment 3: hidden units per direction of a bidirectional network. The LSTM's sizes come
#: out exactly without peepholes (or with peepholes and no forget-gate bias vector); ours, with both,
#: lands within one unit.
HANDWRITING_HIDDEN = {"srn": (40, 121, 185), "lstm": (25, 67, 100), "cwrnn": (45, 148, 231)}
#: Table 3: character error rate % on IAM-OnDB, best-path decoding without a dictionary.
HANDWRITING_CER = {"srn": (52.8, 43.4, 47.5), "lstm": (34.2, 21.4, 19.2), "cwrnn": (67.2, 46.5, 39.5)}

GENERATION_PERIODS = [2**i for i in range(9)]  # 9 modules, 1..256
WORDS_PERIODS = [2**i for i in range(7)]  # 7 modules, 1..64
HANDWRITING_PERIODS = [2**i for i in range(9)]  # 9 modules, 1..256


def paper_value(table: dict, budgets: tuple, arch: str, budget: int):
    """The paper's number for (arch, budget), or None where it reports none."""
    if budget not in budgets or arch not in table:
        return None
    return table[arch][budgets.index(budget)]


def arch_label(arch: str) -> str:
    """Display name of an architecture ("cwrnn" -> "CW-RNN"); unknown names are shown as given."""
    return ARCH_LABELS.get(arch, arch)


def sort_archs(archs: Iterable[str]) -> list[str]:
    """Distinct architectures in ARCH_ORDER, unknown ones after, alphabetically."""
    rank = {arch: i for i, arch in enumerate(ARCH_ORDER)}
    return sorted(set(archs), key=lambda arch: (rank.get(arch, len(rank)), arch))
