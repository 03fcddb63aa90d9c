"""The hand-written backward passes against finite differences (torch.autograd.gradcheck)."""

import pytest
import torch

from cwrnn import GRU, LSTM, ClockworkRNN
from cwrnn.models import kernels
from cwrnn.models.gated_scan import LSTMScan
from cwrnn.models.kernel_scan import ClockworkKernelScan, LSTMKernelScan
from cwrnn.models.scan import ClockworkScan

needs_kernels = pytest.mark.skipif(kernels.problem() is not None, reason=f"scan kernels: {kernels.problem()}")


def _leaf(*shape, gen):
    return (0.4 * torch.randn(*shape, dtype=torch.float64, generator=gen)).requires_grad_(True)


@pytest.mark.parametrize(
    "input_size,sizes,periods",
    [
        (2, [2, 2, 1], [1, 2, 4]),  # prefix patterns
        (1, [1, 2, 2], [1, 3, 5]),  # indexed patterns
        (0, [2, 1], [2, 3]),  # steps where nothing updates
    ],
)
def test_clockwork_scan_gradcheck(input_size, sizes, periods):
    W, W_I, b, x, h0, plan = _clockwork_args(input_size, sizes, periods)
    assert torch.autograd.gradcheck(lambda *a: ClockworkScan.apply(*a, plan), (W, W_I, b, x, h0))


def test_clockwork_scan_reads_an_expanded_gradient_as_the_materialised_one():
    """A sum's gradient reaches the scan expanded (stride 0), which it reads without copying."""
    W, W_I, b, x, h0, plan = _clockwork_args(2, [2, 2, 1], [1, 2, 4])
    out = ClockworkScan.apply(W, W_I, b, x, h0, plan)
    expanded = torch.full((1,), 0.7, dtype=out.dtype).expand_as(out)
    grads = [torch.autograd.grad(out, (W, W_I, b, x, h0), g, retain_graph=True) for g in (expanded, expanded.clone())]
    assert expanded.stride() == (0, 0, 0, 0)
    for ours, theirs in zip(*grads):
        assert torch.equal(ours, theirs)


@needs_kernels
@pytest.mark.parametrize(
    "input_size,sizes,periods,outputs",
    [
        (2, [2, 2, 1], [1, 2, 4], 3),  # prefix patterns, with the readout
        (1, [1, 2, 2], [1, 3, 5], 0),  # indexed patterns, states only
        (0, [2, 1], [2, 3], 2),  # steps where nothing updates
    ],
)
def test_clockwork_kernel_scan_gradcheck(input_size, sizes, periods, outputs):
    """The compiled kernels' states and readout, each output's gradient alone and both together."""
    W, W_I, b, x, h0, plan = _clockwork_args(input_size, sizes, periods)
    readout = _readout(outputs, sum(sizes), seed=3)
    for pick in _picks(outputs):
        assert torch.autograd.gradcheck(
            lambda *a: pick(ClockworkKernelScan.apply(*a[:5], plan, *a[5:])), (W, W_I, b, x, h0, *readout)
        )


@pytest.mark.parametrize("input_size,peepholes", [(2, True), (0, True), (3, False)])
def test_lstm_scan_gradcheck(input_size, peepholes):
    W, W_I, b, peep, x, h0, T = _lstm_args(input_size, peepholes)
    assert torch.autograd.gradcheck(lambda *a: LSTMScan.apply(*a, T)[0], (W, W_I, b, peep, x, h0))


@needs_kernels
@pytest.mark.parametrize("input_size,peepholes,outputs", [(2, True, 2), (0, True, 0), (3, False, 1)])
def test_lstm_kernel_scan_gradcheck(input_size, peepholes, outputs):
    W, W_I, b, peep, x, h0, T = _lstm_args(input_size, peepholes)
    readout = _readout(outputs, h0.shape[-1], seed=4)
    for pick in _picks(outputs):
        assert torch.autograd.gradcheck(
            lambda *a: pick(_no_cells(LSTMKernelScan.apply(*a[:6], T, *a[6:]))), (W, W_I, b, peep, x, h0, *readout)
        )


def _clockwork_args(input_size, sizes, periods):
    rnn = ClockworkRNN(input_size, module_sizes=sizes, periods=periods)
    R, B, T, n = 2, 2, 11, sum(sizes)
    gen = torch.Generator().manual_seed(0)
    W = _leaf(R, n, n, gen=gen)
    W_I, b, h0 = _leaf(R, n, input_size, gen=gen), _leaf(R, n, gen=gen), _leaf(R, B, n, gen=gen)
    x = _leaf(R, B, T, input_size, gen=gen) if input_size else None
    return W, W_I, b, x, h0, rnn._plan(T, "cpu")


def _lstm_args(input_size, peepholes):
    R, B, T, n = 2, 2, 7, 3
    gen = torch.Generator().manual_seed(1)
    W, W_I, b = _leaf(R, 4 * n, n, gen=gen), _leaf(R, 4 * n, input_size, gen=gen), _leaf(R, 4 * n, gen=gen)
    peep = _leaf(R, 3, n, gen=gen) if peepholes else None
    x = _leaf(R, B, T, input_size, gen=gen) if input_size else None
    return W, W_I, b, peep, x, _leaf(R, B, n, gen=gen), T


def _readout(outputs, n, seed):
    """Readout weights (R, O, n) and bias (R, O) for 2 members, or no readout (None, None)."""
    if not outputs:
        return None, None
    gen = torch.Generator().manual_seed(seed)
    return _leaf(2, outputs, n, gen=gen), _leaf(2, outputs, gen=gen)


def _picks(outputs):
    """Functions of (states, y) to check: the states alone, and with a readout also y alone and both."""
    if not outputs:
        return [lambda r: r[0]]
    return [lambda r: r[0], lambda r: r[1], lambda r: (r[0], r[1])]


def _no_cells(result):
    out, _cells, y = result
    return out, y


@pytest.mark.usefixtures("scan_path")
def test_cells_carry_no_gradient_and_outputs_are_not_stale():
    lstm = LSTM(0, 3)
    out, _ = lstm(steps=5)
    assert not lstm.last_cell.requires_grad and out.requires_grad
    rnn = ClockworkRNN(0, 4, num_modules=2)
    first, _ = rnn(steps=6)
    second, _ = rnn(steps=6)  # the cached plan must not make a second call reuse the first's buffers
    assert first.data_ptr() != second.data_ptr()
    torch.testing.assert_close(first, second)


@pytest.mark.usefixtures("scan_path")
@pytest.mark.parametrize("make", [lambda: ClockworkRNN(2, 4, num_modules=2), lambda: LSTM(2, 3), lambda: GRU(2, 3)])
def test_double_backward_is_refused_even_for_a_linear_loss(make):
    """torch's once_differentiable would let this through and silently drop the second-order terms."""
    model = make().double()
    out, _ = model(torch.randn(2, 5, 2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(out.sum(), model.W_H, create_graph=True)
