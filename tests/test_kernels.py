"""The compiled scan kernels: built where a compiler is, and used only where they apply."""

import shutil
from contextlib import nullcontext

import pytest
import torch

from cwrnn import ArchSpec, ClockworkRNN, SequenceModel, clock
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


SPECS = [
    ArchSpec("cwrnn", 12, periods=[1, 2, 4], module_sizes=[5, 4, 3]),
    ArchSpec("cwrnn", 9, periods=[1, 3, 5], module_sizes=[3, 3, 3]),  # active units not a prefix
    # modules read other spans of units than the paper's (the kernels skip the zero blocks of W)
    ArchSpec("cwrnn", 10, periods=[1, 2, 4], module_sizes=[4, 3, 3], connectivity="fast_to_slow"),
    ArchSpec("cwrnn", 10, periods=[1, 2, 4], module_sizes=[4, 3, 3], connectivity="full"),
    ArchSpec("srn", 7),
    ArchSpec("lstm", 5),
    ArchSpec("lstm", 5, peepholes=False),
]


@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, {}), (torch.float32, dict(rtol=1e-4, atol=1e-5))])
@pytest.mark.parametrize("input_size", [2, 0])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.arch}-{s.hidden_size}")
@pytest.mark.parametrize("states_in_loss", [True, False])
def test_models_agree_on_both_paths(spec, input_size, dtype, tolerance, states_in_loss):
    """A SequenceModel (core and readout, which the kernels compute inside the scan) through the kernels
    and through torch ops: outputs, states and every gradient, with a loss on y alone (the kernels then get
    no gradient for the states) or on y and the states. In single precision the kernels use glibc's vector
    tanh and exp, so they agree to rounding. 3 networks x 3 sequences: the CW-RNN's kernels take members
    eight at a time, so the last network's sequences fall into two groups and the second group is mostly
    padding."""
    model = SequenceModel(spec, input_size, 3, seeds=[1, 2, 3]).to(dtype)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 3, 30, input_size, generator=gen).to(dtype) if input_size else None
    results = []
    for use_torch in (False, True):
        model.zero_grad()
        with kernels.torch_ops() if use_torch else nullcontext():
            y, hidden = model(x, steps=30, batch_size=3)
            loss = (y * torch.linspace(-1, 1, 3, dtype=dtype)).sum()
            (loss + hidden.pow(2).sum() if states_in_loss else loss).backward()
        grads = [p.grad.clone() for p in model.parameters() if p.numel()]  # input_size 0: W_I is empty
        results.append([y.detach(), hidden.detach(), *grads])
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs, **tolerance)


@pytest.mark.parametrize("connectivity", clock.CONNECTIVITY)
def test_the_plans_spans_are_the_recurrent_mask(connectivity):
    """The kernels read each module's rows of W_H only over its span and take W_H unmasked: right only if
    the mask is exactly the spans."""
    rnn = ClockworkRNN(0, module_sizes=[3, 2, 4, 1], periods=[1, 2, 4, 8], connectivity=connectivity)
    reads = rnn._plan(8, "cpu").reads
    spans = torch.zeros(rnn.hidden_size, rnn.hidden_size, dtype=torch.bool)
    for m, (first, end) in enumerate(reads.tolist()):
        spans[rnn.module_start[m] : rnn.module_start[m + 1], first:end] = True
    assert torch.equal(spans, rnn.mask)
