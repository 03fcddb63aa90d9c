"""The GRU baseline against torch.nn.GRU (outputs and every gradient) and finite differences."""

import pytest
import torch

from cwrnn import GRU
from cwrnn.models.gated_scan import GRUScan


def _torch_twin(ours: GRU) -> torch.nn.GRU:
    ref = torch.nn.GRU(ours.input_size, ours.hidden_size, batch_first=True).double()
    n = ours.hidden_size
    with torch.no_grad():  # same gate order (reset, update, new); torch's b_hr, b_hz only add to b_ir, b_iz
        ref.weight_ih_l0.copy_(ours.W_I)
        ref.weight_hh_l0.copy_(ours.W_H)
        ref.bias_ih_l0.copy_(ours.b)
        ref.bias_hh_l0.zero_()
        ref.bias_hh_l0[2 * n :] = ours.b_hn
    return ref


def test_outputs_and_gradients_equal_torch_gru():
    ours = GRU(3, 5, seeds=[2]).double()
    ref = _torch_twin(ours)
    x = torch.randn(4, 13, 3, dtype=torch.float64, requires_grad=True)
    h0 = (0.5 * torch.randn(4, 5, dtype=torch.float64)).requires_grad_(True)
    x_ref, h0_ref = (t.detach().clone().requires_grad_(True) for t in (x, h0))
    out, h_n = ours(x, h0)
    expected, h_ref = ref(x_ref, h0_ref.unsqueeze(0))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(h_n, h_ref[0])
    probe = torch.randn(expected.shape, dtype=torch.float64)
    ((out * probe).sum() + h_n.sum()).backward()
    ((expected * probe).sum() + h_ref.sum()).backward()
    n = ours.hidden_size
    torch.testing.assert_close(ours.W_H.grad, ref.weight_hh_l0.grad)
    torch.testing.assert_close(ours.W_I.grad, ref.weight_ih_l0.grad)
    torch.testing.assert_close(ours.b.grad, ref.bias_ih_l0.grad)
    torch.testing.assert_close(ours.b_hn.grad, ref.bias_hh_l0.grad[2 * n :])
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(h0.grad, h0_ref.grad)


def test_without_input_runs_for_given_steps_and_members_are_independent():
    stacked = GRU(0, 4, num_seeds=3, seeds=[1, 2, 3])
    out, h_n = stacked(steps=9)
    assert out.shape == (3, 1, 9, 4) and h_n.shape == (3, 1, 4)
    single = GRU(0, 4, seeds=[2])
    torch.testing.assert_close(single(steps=9)[0], out[1])


@pytest.mark.parametrize("input_size", [0, 2])
def test_gru_scan_gradcheck(input_size):
    R, B, T, n = 2, 2, 6, 3
    gen = torch.Generator().manual_seed(3)

    def leaf(*shape):
        return (0.4 * torch.randn(*shape, dtype=torch.float64, generator=gen)).requires_grad_(True)

    args = (
        leaf(R, 3 * n, n),
        leaf(R, 3 * n, input_size),
        leaf(R, 3 * n),
        leaf(R, n),
        leaf(R, B, T, input_size) if input_size else None,
        leaf(R, B, n),
    )
    assert torch.autograd.gradcheck(lambda *a: GRUScan.apply(*a, T), args)


def test_bad_sizes_are_clear():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        GRU(1, 0)
    with pytest.raises(ValueError, match="input_size must be a non-negative integer"):
        GRU(-1, 3)
