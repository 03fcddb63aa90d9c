"""Bidirectional networks against independent references: the naive CW-RNN run on each sequence and on
each sequence reversed within its length, and torch's own bidirectional RNN, LSTM and GRU on packed
sequences. Outputs and every gradient, with variable lengths and stacked members."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from cwrnn import ArchSpec, BidirectionalModel, SequenceModel, build_network
from cwrnn.models.reference import naive_cwrnn

pytestmark = pytest.mark.usefixtures("one_thread", "scan_path")

R, B, T, IN, OUT = 2, 3, 10, 2, 5
LENGTHS = torch.tensor([9, 4, 6])  # none fills the batch: step 9 is padding for every sequence


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(R, B, T, IN, dtype=torch.float64, generator=gen)
    valid = torch.arange(T)[None, :] < LENGTHS[:, None]
    probe = torch.randn(R, B, T, OUT, dtype=torch.float64, generator=gen) * valid[None, :, :, None]
    return x, probe


def _leaf(t):
    return t.detach().clone().requires_grad_(True)


def _ours(model, x, probe):
    x = _leaf(x)
    y, _ = model(x, LENGTHS)
    (y * probe).sum().backward()
    return y.detach(), x.grad


def _compare_readout_and_input(model, y, x_grad, W_O, b_O, hidden, x_ref, probe):
    """Finish the reference from its per-member hidden states (R, B, T, 2n), then check y and gradients."""
    y_ref = torch.einsum("rbtk,rok->rbto", hidden, W_O) + b_O[:, None, None]
    (y_ref * probe).sum().backward()
    valid = probe.ne(0).any(-1)
    torch.testing.assert_close(y[valid], y_ref.detach()[valid])
    torch.testing.assert_close(model.readout.weight.grad, W_O.grad)
    torch.testing.assert_close(model.readout.bias.grad, b_O.grad)
    torch.testing.assert_close(x_grad, x_ref.grad)


def test_clockwork_equals_the_naive_reference_both_ways():
    spec = ArchSpec("cwrnn", 5, periods=[1, 2, 4], module_sizes=[2, 2, 1], bidirectional=True)
    model = BidirectionalModel(spec, IN, OUT, seeds=[3, 4]).double()
    x, probe = _batch()
    y, x_grad = _ours(model, x, probe)
    layers = {
        core: {k: _leaf(getattr(core, k)) for k in ("W_H", "W_I", "b")} for core in (model.core, model.reverse_core)
    }
    W_O, b_O, x_ref = _leaf(model.readout.weight), _leaf(model.readout.bias), _leaf(x)
    hidden = torch.zeros(R, B, T, 10, dtype=torch.float64)
    for r in range(R):
        for b, L in enumerate(LENGTHS.tolist()):
            line = x_ref[r, b : b + 1, :L]
            ahead, behind = (
                naive_cwrnn(w["W_H"][r], w["W_I"][r], w["b"][r], spec.periods, spec.module_sizes, x=seq)
                for w, seq in zip(layers.values(), (line, line.flip(1)))
            )
            hidden[r, b, :L] = torch.cat([ahead[0], behind[0].flip(0)], dim=-1)
    _compare_readout_and_input(model, y, x_grad, W_O, b_O, hidden, x_ref, probe)
    for core, ref in layers.items():
        for name, leaf in ref.items():
            torch.testing.assert_close(getattr(core, name).grad, leaf.grad)


# Our parameter -> torch's parameter (suffix _l0 or _l0_reverse) and the slice of it that it fills.
TORCH_NAMES = {
    "W_I": ("weight_ih", slice(None)),
    "W_H": ("weight_hh", slice(None)),
    "b": ("bias_ih", slice(None)),
    "b_hn": ("bias_hh", slice(2 * 5, None)),
}  # GRU: n = 5


@pytest.mark.parametrize(
    "arch,make",
    [
        ("srn", lambda: torch.nn.RNN(IN, 5, batch_first=True, bidirectional=True)),
        ("lstm", lambda: torch.nn.LSTM(IN, 5, batch_first=True, bidirectional=True)),
        ("gru", lambda: torch.nn.GRU(IN, 5, batch_first=True, bidirectional=True)),
    ],
)
def test_baselines_equal_torch_bidirectional_on_packed_sequences(arch, make):
    spec = ArchSpec(arch, 5, peepholes=False, forget_bias=0.0, bidirectional=True)
    model = build_network(spec, IN, OUT, seeds=[1, 2]).double()
    x, probe = _batch(1)
    y, x_grad = _ours(model, x, probe)
    refs = [make().double() for _ in range(R)]
    layers = {model.core: "_l0", model.reverse_core: "_l0_reverse"}
    with torch.no_grad():
        for r, ref in enumerate(refs):
            for core, suffix in layers.items():
                getattr(ref, "bias_hh" + suffix).zero_()  # our biases sit on the input side
                for name, param in core.named_parameters():
                    theirs, part = TORCH_NAMES[name]
                    getattr(ref, theirs + suffix)[part] = param[r]
    W_O, b_O, x_ref = _leaf(model.readout.weight), _leaf(model.readout.bias), _leaf(x)
    hidden = []
    for r, ref in enumerate(refs):
        packed = pack_padded_sequence(x_ref[r], LENGTHS, batch_first=True, enforce_sorted=False)
        hidden.append(pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=T)[0])
    _compare_readout_and_input(model, y, x_grad, W_O, b_O, torch.stack(hidden), x_ref, probe)
    for r, ref in enumerate(refs):
        for core, suffix in layers.items():
            for name, param in core.named_parameters():
                theirs, part = TORCH_NAMES[name]
                torch.testing.assert_close(param.grad[r], getattr(ref, theirs + suffix).grad[part])


def test_backward_clock_starts_at_each_sequence_last_point():
    """A period-3 module of the backward layer fires at L-1, L-4, ... of each sequence and holds between;
    the forward layer's fires at 0, 3, 6, ...; padding changes nothing at a valid step."""
    spec = ArchSpec("cwrnn", 4, periods=[1, 3], module_sizes=[2, 2], bidirectional=True)
    model = BidirectionalModel(spec, IN, OUT, seeds=[0]).double()
    x, _ = _batch(2)
    with torch.no_grad():
        y, hidden = model(x[:1], LENGTHS)
        noisy = x[:1].clone()
        for b, L in enumerate(LENGTHS.tolist()):
            noisy[0, b, L:] = 100.0
        y_noisy, _ = model(noisy, LENGTHS)
    for b, L in enumerate(LENGTHS.tolist()):
        slow_ahead, slow_behind = hidden[0, b, :L, 2:4], hidden[0, b, :L, 6:8]
        changes_ahead = {t for t in range(1, L) if not torch.equal(slow_ahead[t], slow_ahead[t - 1])}
        changes_behind = {t for t in range(L - 1) if not torch.equal(slow_behind[t], slow_behind[t + 1])}
        assert changes_ahead == {t for t in range(1, L) if t % 3 == 0}
        assert changes_behind == {t for t in range(L - 1) if (L - 1 - t) % 3 == 0}
        torch.testing.assert_close(y_noisy[0, b, :L], y[0, b, :L])


def test_stacked_members_equal_networks_built_alone():
    spec = ArchSpec("lstm", 4, bidirectional=True)
    both = build_network(spec, IN, OUT, seeds=[5, 6])
    x, _ = _batch(3)
    y, hidden = both(x.float(), LENGTHS)
    assert y.shape == (R, B, T, OUT) and hidden.shape == (R, B, T, 8)
    for r, seed in enumerate([5, 6]):
        alone = build_network(spec, IN, OUT, seeds=[seed])
        for k, v in alone.member_state(0).items():
            torch.testing.assert_close(both.member_state(r)[k], v)
        torch.testing.assert_close(alone(x[r : r + 1].float(), LENGTHS)[0][0], y[r])


def test_build_network_by_spec():
    assert type(build_network(ArchSpec("gru", 3), IN, OUT, seeds=[0])) is SequenceModel
    model = build_network(ArchSpec("srn", 3, bidirectional=True), IN, OUT, seeds=[0, 1])
    assert isinstance(model, BidirectionalModel) and model.members == 2
    y, _ = model(torch.randn(B, T, IN))  # no lengths: every sequence fills the batch
    assert y.shape == (2, B, T, OUT)


@pytest.mark.parametrize(
    "lengths,message",
    [
        ([3, 4], "3 integers"),
        ([1.0, 2.0, 3.0], "3 integers"),
        ([0, 4, 5], "between 1 and"),
        ([4, 11, 5], "between 1 and"),
    ],
)
def test_bad_lengths_are_refused_clearly(lengths, message):
    model = build_network(ArchSpec("srn", 3, bidirectional=True), IN, OUT, seeds=[0])
    with pytest.raises(ValueError, match=message):
        model(torch.randn(B, T, IN), lengths)


def test_a_network_without_input_is_refused():
    with pytest.raises(ValueError, match="input_size must be a positive"):
        build_network(ArchSpec("srn", 3, bidirectional=True), 0, OUT, seeds=[0])
