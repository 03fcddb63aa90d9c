"""The LSTM baseline against torch.nn.LSTM and against the peephole equations written out."""
import torch

from cwrnn import LSTM


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


def test_peepholes_follow_gers_and_schmidhuber():
    ours = LSTM(2, 4, peepholes=True).double()
    x = torch.randn(3, 9, 2, dtype=torch.float64)
    out, _ = ours(x)
    W_I, W_H, b, p = ours.W_I, ours.W_H, ours.b, ours.peep
    h = c = torch.zeros(3, 4, dtype=torch.float64)
    for t in range(9):
        z = x[:, t] @ W_I.T + h @ W_H.T + b
        zi, zf, zg, zo = z.chunk(4, dim=-1)
        i = torch.sigmoid(zi + p[0] * c)  # input and forget gates see the previous cell
        f = torch.sigmoid(zf + p[1] * c)
        c = f * c + i * torch.tanh(zg)
        o = torch.sigmoid(zo + p[2] * c)  # the output gate sees the new cell
        h = o * torch.tanh(c)
        torch.testing.assert_close(out[:, t], h)


def test_forget_bias_is_set_after_initialisation():
    lstm = LSTM(0, 6, forget_bias=5.0)
    assert torch.all(lstm.b[6:12] == 5.0) and not torch.all(lstm.b[:6] == 5.0)
