"""The LSTM baseline against torch.nn.LSTM and against the peephole equations written out."""

import pytest
import torch

from cwrnn import LSTM

pytestmark = pytest.mark.usefixtures("scan_path")


def test_without_peepholes_equals_torch_lstm():
    ours = LSTM(3, 5, peepholes=False, forget_bias=1.0).double()
    ref = torch.nn.LSTM(3, 5, batch_first=True).double()
    with torch.no_grad():  # same gate order (input, forget, cell, output); torch splits the bias in two
        ref.weight_ih_l0.copy_(ours.W_I)
        ref.weight_hh_l0.copy_(ours.W_H)
        ref.bias_ih_l0.copy_(ours.b)
        ref.bias_hh_l0.zero_()
    x = torch.randn(2, 11, 3, dtype=torch.float64)
    out, h_n = ours(x)
    expected, (h_ref, c_ref) = ref(x)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(h_n, h_ref[0])
    torch.testing.assert_close(ours.last_cell, c_ref[0])


def _peephole_lstm(W_I, W_H, b, p, x, h):
    """The peephole LSTM written out step by step (autograd differentiates it)."""
    c = torch.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ W_I.T + h @ W_H.T + b
        zi, zf, zg, zo = z.chunk(4, dim=-1)
        i = torch.sigmoid(zi + p[0] * c)  # input and forget gates see the previous cell
        f = torch.sigmoid(zf + p[1] * c)
        c = f * c + i * torch.tanh(zg)
        o = torch.sigmoid(zo + p[2] * c)  # the output gate sees the new cell
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, dim=1)


def test_peepholes_follow_gers_and_schmidhuber():
    """Outputs and every gradient (weights, peepholes, input, initial state) of the hand-written
    backward against autograd through the equations."""
    ours = LSTM(2, 4, peepholes=True).double()
    x = torch.randn(3, 9, 2, dtype=torch.float64, requires_grad=True)
    h0 = (0.5 * torch.randn(3, 4, dtype=torch.float64)).requires_grad_(True)
    out, h_n = ours(x, h0)
    ref_params = [t.detach().clone().requires_grad_(True) for t in (ours.W_I, ours.W_H, ours.b, ours.peep)]
    x_ref, h0_ref = (t.detach().clone().requires_grad_(True) for t in (x, h0))
    ref = _peephole_lstm(*ref_params, x_ref, h0_ref)
    torch.testing.assert_close(out, ref)
    probe = torch.randn(ref.shape, dtype=torch.float64)
    ((out * probe).sum() + h_n.sum()).backward()
    ((ref * probe).sum() + ref[:, -1].sum()).backward()
    for mine, theirs in zip((ours.W_I, ours.W_H, ours.b, ours.peep, x, h0), (*ref_params, x_ref, h0_ref)):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-9, atol=1e-12)


def test_without_peepholes_gradients_equal_torch_lstm():
    ours = LSTM(3, 5, peepholes=False, forget_bias=1.0, num_seeds=1).double()
    ref = torch.nn.LSTM(3, 5, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(ours.W_I[0])
        ref.weight_hh_l0.copy_(ours.W_H[0])
        ref.bias_ih_l0.copy_(ours.b[0])
        ref.bias_hh_l0.zero_()
    x = torch.randn(4, 13, 3, dtype=torch.float64)
    probe = torch.randn(4, 13, 5, dtype=torch.float64)
    (ours(x)[0][0] * probe).sum().backward()
    (ref(x)[0] * probe).sum().backward()
    torch.testing.assert_close(ours.W_H.grad[0], ref.weight_hh_l0.grad)
    torch.testing.assert_close(ours.W_I.grad[0], ref.weight_ih_l0.grad)
    torch.testing.assert_close(ours.b.grad[0], ref.bias_ih_l0.grad)


def test_forget_bias_is_set_after_initialisation():
    lstm = LSTM(0, 6, forget_bias=5.0)
    assert torch.all(lstm.b[6:12] == 5.0) and not torch.all(lstm.b[:6] == 5.0)
