"""CTC loss per member, best-path decoding, edit distance and character error rate, and a tiny
bidirectional network that learns to transcribe with them."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from cwrnn import ArchSpec, build_network
from cwrnn.tasks.ctc import (
    BLANK,
    best_path,
    cer_per_member,
    character_error_rate,
    ctc_loss_per_member,
    edit_distance,
    emissions,
)


def _dp_distance(a, b):
    """Levenshtein distance by the textbook dynamic programme."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_loss_per_member_equals_separate_ctc_loss_calls():
    gen = torch.Generator().manual_seed(0)
    R, B, T, C = 3, 4, 12, 6
    y = torch.randn(R, B, T, C, dtype=torch.float64, generator=gen, requires_grad=True)
    lengths = torch.tensor([12, 7, 9, 5])
    targets = torch.randint(1, C, (B, 4), generator=gen)
    target_lengths = torch.tensor([4, 2, 3, 1])
    ours = ctc_loss_per_member(y, lengths, targets, target_lengths)
    probe = torch.randn(R, dtype=torch.float64, generator=gen)
    (ours * probe).sum().backward()
    y_ref = y.detach().clone().requires_grad_(True)
    expected = torch.stack(
        [
            F.ctc_loss(
                y_ref[r].log_softmax(-1).transpose(0, 1), targets, lengths, target_lengths, blank=0, reduction="sum"
            )
            for r in range(R)
        ]
    )
    (expected * probe).sum().backward()
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(y.grad, y_ref.grad)


def _scores(paths, C=4):
    """Outputs whose best label at each step is given: one-hot scores (B, T, C)."""
    return F.one_hot(torch.tensor(paths), C).double()


def test_best_path_collapses_repeats_drops_blanks_and_stops_at_the_length():
    y = _scores([[0, 1, 1, 0, 1, 2, 2, 0, 3, 3], [3, 3, 3, 0, 0, 2, 1, 1, 2, 2]])
    assert best_path(y, torch.tensor([10, 10])) == [[1, 1, 2, 3], [3, 2, 1, 2]]
    assert best_path(y, torch.tensor([8, 1])) == [[1, 1, 2], [3]]
    stacked = torch.stack([y, y.flip(1)])
    assert best_path(stacked, torch.tensor([10, 6])) == [[[1, 1, 2, 3], [3, 2]], [[3, 2, 1, 1], [2, 1, 2]]]


def test_emissions_name_the_step_of_each_character():
    steps, labels = emissions(_scores([[0, 1, 1, 0, 1, 2, 2, 0, 3, 3]])[0], 9)
    assert steps.tolist() == [1, 4, 5, 8] and labels.tolist() == [1, 1, 2, 3]
    assert BLANK == 0


def test_edit_distance_equals_the_textbook_programme():
    known = [("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("flaw", "lawn", 2), ("abc", "abc", 0)]
    for a, b, d in known:
        assert edit_distance(a, b) == _dp_distance(a, b) == d
    gen = torch.Generator().manual_seed(1)
    for _ in range(200):
        a, b = (
            torch.randint(1, 4, (int(torch.randint(0, 7, (1,), generator=gen)),), generator=gen).tolist()
            for _ in range(2)
        )
        assert edit_distance(a, b) == _dp_distance(a, b), (a, b)


def test_character_error_rate_sums_over_lines():
    assert character_error_rate(["abd", "d"], ["abc", "de"]) == pytest.approx(2 / 5)
    assert character_error_rate([[1, 2], []], [[1, 2], [3, 3, 3]]) == pytest.approx(3 / 5)
    y = _scores([[0, 1, 1, 0, 2], [3, 0, 3, 0, 0]])
    cer = cer_per_member(torch.stack([y, y.flip(1)]), torch.tensor([5, 5]), [[1, 2], [3, 3]])
    assert cer.tolist() == pytest.approx([0.0, 2 / 4])  # the flipped paths read [2, 1] and [3, 3]


def test_bad_cer_inputs_are_refused():
    with pytest.raises(ValueError, match="2 transcriptions for 1 reference"):
        character_error_rate(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no characters"):
        character_error_rate([""], [""])
    with pytest.raises(ValueError, match="members, batch, time, labels"):
        best_path(torch.zeros(4, 3), torch.tensor([4]))


def _segments(n, gen):
    """Lines of 2-4 symbols from {1, 2, 3}; each symbol is 3-5 steps of its one-hot channel then 2 quiet
    steps, with noise. Repeats happen, so the network must learn to put a blank between them."""
    lines, inputs = [], []
    for _ in range(n):
        labels = torch.randint(1, 4, (int(torch.randint(2, 5, (1,), generator=gen)),), generator=gen).tolist()
        parts = []
        for c in labels:
            part = torch.zeros(int(torch.randint(3, 6, (1,), generator=gen)) + 2, 3)
            part[:-2, c - 1] = 1.0
            parts.append(part)
        line = torch.cat(parts)
        inputs.append(line + 0.1 * torch.randn(line.shape, generator=gen))
        lines.append(labels)
    lengths = torch.tensor([len(x) for x in inputs])
    x = torch.zeros(n, int(lengths.max()), 3)
    targets = torch.zeros(n, max(map(len, lines)), dtype=torch.long)
    for i, (line, labels) in enumerate(zip(inputs, lines)):
        x[i, : len(line)] = line
        targets[i, : len(labels)] = torch.tensor(labels)
    return x, lengths, targets, torch.tensor([len(t) for t in lines]), lines


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("arch", ["cwrnn", "srn", "lstm", "gru"])
def test_a_tiny_bidirectional_network_learns_to_transcribe(arch):
    gen = torch.Generator().manual_seed(0)
    x, lengths, targets, target_lengths, _ = _segments(32, gen)
    held_out = _segments(32, gen)
    spec = ArchSpec(arch, 8, periods=[1, 2, 4] if arch == "cwrnn" else None, forget_bias=0.0, bidirectional=True)
    model = build_network(spec, 3, 4, seeds=[0, 1])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    with torch.no_grad():
        before = cer_per_member(model(held_out[0], held_out[1])[0], held_out[1], held_out[4])
    for _ in range(150):
        opt.zero_grad()
        ctc_loss_per_member(model(x, lengths)[0], lengths, targets, target_lengths).sum().backward()
        opt.step()
    with torch.no_grad():
        after = cer_per_member(model(held_out[0], held_out[1])[0], held_out[1], held_out[4])
    assert all(before > 0.5) and all(after < 0.1), (before, after)


def test_textbook_programme_is_itself_right_on_all_short_strings():
    """The reference is checked against the definition: the fewest single edits, by brute force."""

    def brute(a, b, depth=3):
        frontier = {a}
        for d in range(depth + 1):
            if b in frontier:
                return d
            frontier = (
                {s[:i] + c + s[i:] for s in frontier for i in range(len(s) + 1) for c in "xy"}
                | {s[:i] + s[i + 1 :] for s in frontier for i in range(len(s))}
                | {s[:i] + c + s[i + 1 :] for s in frontier for i in range(len(s)) for c in "xy"}
            )
        return None

    for a, b in itertools.product(["", "x", "xy", "yx", "xxy"], repeat=2):
        assert _dp_distance(a, b) == brute(a, b)
