"""ClockworkRNN against the naive reference, and the paper's traps pinned down."""

import pytest
import torch

from cwrnn import SRN, ClockworkRNN
from cwrnn.models import kernels
from cwrnn.models.reference import naive_cwrnn

CONFIGS = [
    # (input_size, module_sizes, periods)
    (3, [5, 5, 5, 5, 4, 4, 4, 4, 4], [1, 2, 4, 8, 16, 32, 64, 128, 256]),  # unequal sizes, paper schedule
    (2, [3, 2, 4], [1, 3, 5]),  # non-exponential: active modules are not a prefix
    (0, [4, 3, 3], [1, 2, 4]),  # no input, as in Experiment 1
    (0, [2, 2, 2, 2], [2, 3, 5, 8]),  # smallest period above 1, Fibonacci-like
]


def _pair(input_size, sizes, periods, seed=0):
    rnn = ClockworkRNN(input_size, module_sizes=sizes, periods=periods, seeds=[seed]).double()
    w = {k: v.clone().requires_grad_(True) for k, v in rnn.dense_weights().items()}
    return rnn, w


@pytest.mark.usefixtures("scan_path")
@pytest.mark.parametrize("input_size,sizes,periods", CONFIGS)
def test_outputs_and_gradients_equal_naive_reference(input_size, sizes, periods):
    """Every gradient the hand-written BPTT returns (weights, bias, input, initial state) against
    autograd through the naive loop."""
    rnn, w = _pair(input_size, sizes, periods)
    T, B = 37, 2
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, input_size, dtype=torch.float64, generator=gen, requires_grad=True)
    h0 = (0.5 * torch.randn(B, sum(sizes), dtype=torch.float64, generator=gen)).requires_grad_(True)
    h0_ref = h0.detach().clone().requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    if input_size:
        out, h_n = rnn(x, h0)
        ref = naive_cwrnn(w["W_H"], w["W_I"], w["b"], periods, sizes, x=x_ref, h0=h0_ref)
    else:
        out, h_n = rnn(h0=h0, steps=T, batch_size=B)
        ref = naive_cwrnn(w["W_H"], w["W_I"], w["b"], periods, sizes, steps=T, h0=h0_ref)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_n, ref[:, -1])
    probe = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    ((out * probe).sum() + h_n.sum()).backward()
    ((ref * probe).sum() + ref[:, -1].sum()).backward()
    mask = rnn.mask
    torch.testing.assert_close(rnn.W_H.grad, w["W_H"].grad * mask, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(rnn.b.grad, w["b"].grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(h0.grad, h0_ref.grad, rtol=1e-9, atol=1e-12)
    if input_size:
        torch.testing.assert_close(rnn.W_I.grad, w["W_I"].grad, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.usefixtures("scan_path")
def test_stacked_gradients_equal_single_networks():
    """Members of a stacked model get exactly the gradients (weights, their input, their initial state)
    they would get alone, also with time-major input."""
    seeds = [3, 8]
    kwargs = dict(module_sizes=[3, 2, 2], periods=[1, 2, 5], batch_first=False)
    x = torch.randn(2, 11, 4, 2, dtype=torch.float64, requires_grad=True)  # (R, time, batch, input)
    h0 = torch.randn(2, 4, 7, dtype=torch.float64, requires_grad=True)
    stacked = ClockworkRNN(2, num_seeds=2, seeds=seeds, **kwargs).double()
    stacked(x, h0)[0].pow(2).sum().backward()
    for r, seed in enumerate(seeds):
        single = ClockworkRNN(2, seeds=[seed], **kwargs).double()
        x_r, h0_r = (t[r].detach().clone().requires_grad_(True) for t in (x, h0))
        single(x_r, h0_r)[0].pow(2).sum().backward()
        for name in ("W_H", "W_I", "b"):
            torch.testing.assert_close(getattr(stacked, name).grad[r], getattr(single, name).grad)
        torch.testing.assert_close(x.grad[r], x_r.grad)
        torch.testing.assert_close(h0.grad[r], h0_r.grad)


def test_module_sizes_give_leftovers_to_fast_modules():
    assert ClockworkRNN(0, 40, num_modules=9).module_sizes == [5, 5, 5, 5, 4, 4, 4, 4, 4]
    assert ClockworkRNN(0, 11, num_modules=9).periods == [1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_slow_module_never_influenced_by_faster_one():
    """Connection direction: perturbing the fast module's state leaves every slower unit unchanged."""
    rnn = ClockworkRNN(0, module_sizes=[3, 3, 3], periods=[1, 2, 4]).double()
    W = rnn.dense_weights()["W_H"]
    assert torch.all(W[3:, :3] == 0) and torch.all(W[6:, 3:6] == 0)  # no fast -> slow weights
    assert torch.all(W[:3, 3:] != 0)  # slow -> fast weights exist
    h0 = torch.zeros(1, 9, dtype=torch.float64)
    h0_perturbed = h0.clone()
    h0_perturbed[:, :3] = 0.9  # only the fastest module differs
    a, _ = rnn(steps=20, h0=h0)
    b, _ = rnn(steps=20, h0=h0_perturbed)
    assert not torch.allclose(a[..., :3], b[..., :3])
    torch.testing.assert_close(a[..., 3:], b[..., 3:], rtol=0, atol=0)


def test_fast_to_slow_variant_reverses_the_direction():
    rnn = ClockworkRNN(0, module_sizes=[2, 2], periods=[1, 2], connectivity="fast_to_slow")
    W = rnn.dense_weights()["W_H"]
    assert torch.all(W[:2, 2:] == 0) and torch.all(W[2:, :2] != 0)
    full = ClockworkRNN(0, module_sizes=[2, 2], periods=[1, 2], connectivity="full")
    assert torch.all(full.dense_weights()["W_H"] != 0)


def test_clock_fires_at_zero_and_held_modules_keep_their_value():
    rnn = ClockworkRNN(1, module_sizes=[2, 2, 2], periods=[1, 3, 4]).double()
    x = torch.randn(1, 13, 1, dtype=torch.float64)
    out, _ = rnn(x)
    activity = rnn.activity(13)
    assert activity[:, 0].all(), "every module fires at t = 0"
    assert rnn.active_modules(0) == [0, 1, 2] and rnn.active_modules(6) == [0, 1] and rnn.active_modules(8) == [0, 2]
    assert (out[0, 0] != 0).all()
    for i, (start, period) in enumerate(zip([0, 2, 4], [1, 3, 4])):
        for t in range(1, 13):
            same = torch.equal(out[0, t, start : start + 2], out[0, t - 1, start : start + 2])
            assert same == (t % period != 0), (i, t)


def test_dense_weights_round_trip_and_structure_is_enforced():
    rnn = ClockworkRNN(2, module_sizes=[2, 2], periods=[1, 2])
    w = rnn.dense_weights()
    other = ClockworkRNN(2, module_sizes=[2, 2], periods=[1, 2], seeds=[7])
    other.load_dense_weights(**w)
    for k in w:
        torch.testing.assert_close(other.dense_weights()[k], w[k])
    bad = torch.ones(4, 4)
    with pytest.raises(ValueError, match="non-zero entries where slow_to_fast"):
        other.load_dense_weights(W_H=bad)
    other.load_dense_weights(W_H=bad, strict=False)
    assert torch.equal(other.dense_weights()["W_H"], other.mask.float())
    with pytest.raises(ValueError, match="shape"):
        other.load_dense_weights(b=torch.zeros(3))


@pytest.mark.parametrize("init, std", [("paper", 0.1), ("paper-variance", 0.1**0.5)])
def test_paper_init_is_normal_with_std_point_one_or_variance_point_one(init, std):
    rnn = ClockworkRNN(4, 256, num_modules=1, init=init)
    w = rnn.dense_weights()["W_H"]
    assert abs(w.std().item() - std) < 0.05 * std and abs(w.mean().item()) < 0.005


def test_stacked_members_equal_single_networks():
    stacked = ClockworkRNN(2, module_sizes=[3, 2], periods=[1, 2], num_seeds=3, seeds=[4, 5, 6])
    x = torch.randn(5, 9, 2)
    out, _ = stacked(x)
    assert out.shape == (3, 5, 9, 5)
    for r, seed in enumerate([4, 5, 6]):
        single = ClockworkRNN(2, module_sizes=[3, 2], periods=[1, 2], seeds=[seed])
        torch.testing.assert_close(single.W_H, stacked.W_H[r])
        torch.testing.assert_close(single(x)[0], out[r])


def test_srn_is_one_module_of_period_one():
    srn = SRN(3, 6).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, _ = srn(x)
    w = srn.dense_weights()
    h = torch.zeros(2, 6, dtype=torch.float64)
    for t in range(5):
        h = torch.tanh(h @ w["W_H"].T + x[:, t] @ w["W_I"].T + w["b"])
        torch.testing.assert_close(out[:, t], h)


def test_batch_first_false_and_time_major_input():
    rnn = ClockworkRNN(2, module_sizes=[2, 2], periods=[1, 2], batch_first=False)
    same = ClockworkRNN(2, module_sizes=[2, 2], periods=[1, 2])
    x = torch.randn(7, 3, 2)  # (time, batch, input)
    out, h_n = rnn(x)
    ref, ref_n = same(x.transpose(0, 1))
    assert out.shape == (7, 3, 4) and h_n.shape == (3, 4)
    torch.testing.assert_close(out, ref.transpose(0, 1))
    torch.testing.assert_close(h_n, ref_n)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(input_size=0, hidden_size=4, periods=[2, 1]), "sorted"),
        (dict(input_size=0, hidden_size=4, periods=[1, 1]), "distinct"),
        (dict(input_size=0, hidden_size=4, periods=[1, 0]), "positive integers"),
        (dict(input_size=0, hidden_size=4, periods=[1, 2.5]), "positive integers"),
        (dict(input_size=0, hidden_size=3, num_modules=4), "smaller than num_modules"),
        (dict(input_size=0, hidden_size=5, module_sizes=[2, 2]), "does not equal"),
        (dict(input_size=0, hidden_size=4, num_modules=2, periods=[1, 2, 4]), "3 periods for 2 modules"),
        (dict(input_size=-1, hidden_size=4), "non-negative"),
        (dict(input_size=0, hidden_size=4, connectivity="sideways"), "unknown connectivity"),
        (dict(input_size=0), "give hidden_size"),
    ],
)
def test_bad_arguments_are_clear(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClockworkRNN(**kwargs)


def test_bad_calls_are_clear():
    rnn = ClockworkRNN(3, 4, num_modules=2)
    with pytest.raises(ValueError, match="input_size=3"):
        rnn(steps=4)
    with pytest.raises(ValueError, match="3 input features|expects 3"):
        rnn(torch.randn(1, 4, 2))
    with pytest.raises(ValueError, match="h0 must have shape"):
        rnn(torch.randn(1, 4, 3), h0=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="steps >= 1"):
        ClockworkRNN(0, 4, num_modules=2)()
    with pytest.raises(ValueError, match="at least one sequence and one time step"):
        rnn(torch.randn(1, 0, 3))


def test_input_of_another_dtype_is_converted_like_h0():
    rnn = ClockworkRNN(3, 4, num_modules=2).double()
    out, _ = rnn(torch.randn(2, 5, 3), h0=torch.zeros(2, 4))
    assert out.dtype == torch.float64


@pytest.mark.parametrize("periods", [[1, 2, 4, 8], [1, 3, 4, 10]])
def test_the_kernels_schedule_lists_exactly_the_active_modules(periods):
    """The compiled kernels update at step t the modules active[starts[t]:starts[t + 1]], module m being
    units bounds[m] to bounds[m + 1] - 1."""
    sizes = [3, 2, 2, 1]
    plan = ClockworkRNN(0, module_sizes=sizes, periods=periods)._plan(40, "cpu")
    assert plan.bounds.tolist() == [0, 3, 5, 7, 8]
    for t in range(40):
        expected = [i for i, T in enumerate(periods) if t % T == 0]
        assert plan.active[plan.starts[t] : plan.starts[t + 1]].tolist() == expected


@pytest.mark.parametrize("periods", [[1, 2, 4, 8], [1, 3, 4, 10]])
def test_only_active_rows_are_computed(monkeypatch, periods):
    """Each step's recurrent matmul produces exactly the active modules' units, never all n (torch ops)."""
    sizes = [3, 2, 2, 1]
    rnn = ClockworkRNN(0, module_sizes=sizes, periods=periods)
    widths = []
    real = torch.baddbmm

    def spy(inp, a, b, *args, **kwargs):
        if a.shape[-1] == rnn.hidden_size:  # the recurrent product h @ W[rows].T
            widths.append(b.shape[-1])
        return real(inp, a, b, *args, **kwargs)

    monkeypatch.setattr(torch, "baddbmm", spy)
    with kernels.torch_ops():
        rnn(steps=40)
    expected = [sum(k for k, T in zip(sizes, periods) if t % T == 0) for t in range(40)]
    assert widths == expected
