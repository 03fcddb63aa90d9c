"""The compiled scan kernels: built where a compiler is, and used only where they apply."""

import shutil
from contextlib import nullcontext

import pytest
import torch

from cwrnn import LSTM, SRN, ClockworkRNN
from cwrnn.models import kernels


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")), reason="no C++ compiler on this machine")
def test_kernels_build_where_a_compiler_exists():
    assert kernels.problem() is None
    assert kernels.usable(torch.zeros(1, 4, 4), 4)


def test_the_kernels_take_small_cpu_networks_only():
    W = torch.zeros(1, 4, 4)
    assert not kernels.usable(W, kernels.MAX_HIDDEN + 1)
    assert not kernels.usable(W.half(), 4)
    with kernels.torch_ops():
        assert not kernels.usable(W, 4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ClockworkRNN(2, 12, num_modules=3, num_seeds=3),
        lambda: SRN(2, 7, num_seeds=3),
        lambda: LSTM(2, 5, num_seeds=3),
    ],
)
def test_float32_kernels_agree_with_torch_ops(make):
    """The kernels in single precision (where they vectorise tanh and exp) against the torch ops."""
    model = make()
    x = torch.randn(3, 4, 50, 2)
    results = []
    for use_torch in (False, True):
        model.zero_grad()
        with kernels.torch_ops() if use_torch else nullcontext():
            out, _ = model(x)
            (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
        results.append([out.detach()] + [p.grad.clone() for p in model.parameters()])
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
