"""Forward passes through time with hand-written backward passes (BPTT) for the recurrent cores.

At the sizes this project trains (tens of units, hundreds of networks, hundreds of steps) a step costs
little arithmetic, and autograd's bookkeeping per step (graph nodes, a full-size zero-filled gradient
for every slice, one tiny outer product per step for every weight gradient) costs several times more.
So the forward runs without a graph, writing every step straight into the preallocated output, and the
backward walks the steps in reverse with a handful of fused ops each:
- derivatives are fused ops (tanh and sigmoid backward); the LSTM computes everything that does not
  depend on the incoming gradient (its gates' derivatives and their products with the saved gates)
  for all steps at once before the reverse loop;
- weight, bias and input gradients are outer products summed over steps, so they are computed after
  the loop as one matmul over all steps (per activity pattern for the CW-RNN), not one per step.
The gated baselines' scans are in gated_scan.py. On the CPU, CW-RNNs (SRNs) and LSTMs of up to
kernels.MAX_HIDDEN units run in compiled kernels instead (kernel_scan.py): the same maths without these
ops' fixed costs per step. The scans here serve the GRU, CUDA, wider networks and machines without a
compiler. All are checked against independent references
(autograd through the naive CW-RNN and the peephole LSTM written out; torch.nn.LSTM and torch.nn.GRU)
and by gradcheck (tests/test_clockwork.py, test_lstm.py, test_gru.py, test_scan.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from .ensemble import baddbmm, step_sums


@dataclass(frozen=True)
class StepPlan:
    """Which hidden units update at each step, grouped by activity pattern.

    ``rows[p]`` is the pattern's units: an int k for the prefix 0..k-1 (always, when every period divides
    the next, as the paper's 1, 2, 4, ... do) or a long tensor of unit indices. ``steps[p]`` holds the
    steps where pattern p applies, and ``order[t] = (p, j)`` says step t is the j-th step of pattern p;
    pattern 0 is step 0's. The compiled kernels read the same schedule by module, step by step: step t
    updates the modules ``active[starts[t]:starts[t + 1]]``, module m being units ``bounds[m]`` to
    ``bounds[m + 1] - 1`` and reading units ``reads[m, 0]`` to ``reads[m, 1] - 1`` (its rows of W are zero
    elsewhere); int32, int64, int64 and int64 (g, 2) tensors on the CPU.
    """

    rows: tuple
    steps: tuple
    order: tuple
    active: torch.Tensor
    starts: torch.Tensor
    bounds: torch.Tensor
    reads: torch.Tensor


def first_order(backward):
    """Refuse double backward (create_graph=True) loudly. torch's once_differentiable refuses it only when
    the incoming gradient itself needs a gradient, so with a loss linear in the outputs the second-order
    terms would silently vanish."""

    @functools.wraps(backward)
    def guarded(ctx, *grads):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "the hand-written backward through time gives first derivatives only; "
                "double backward (create_graph=True) is not supported"
            )
        return backward(ctx, *grads)

    return guarded


def _rows(t: torch.Tensor, rows, dim: int) -> torch.Tensor:
    if isinstance(rows, int):
        return t.narrow(dim, 0, rows)
    return t.index_select(dim, rows)


def _width(rows) -> int:
    return rows if isinstance(rows, int) else len(rows)


def _add_rows(target: torch.Tensor, rows, dim: int, value: torch.Tensor) -> None:
    if isinstance(rows, int):
        target.narrow(dim, 0, rows).add_(value)
    else:
        target.index_add_(dim, rows, value)


def previous(states: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    """Time-major states (T, ...) shifted one step later, with ``first`` at step 0."""
    return torch.cat([first.unsqueeze(0), states[:-1]])


class ClockworkScan(torch.autograd.Function):
    """out[:, :, t] = h_t for h_t[rows] = tanh(W[rows] h_{t-1} + W_I[rows] x_t + b[rows]), the rest held.

    Shapes: W (R, n, n) already masked, W_I (R, n, I), b (R, n), x (R, B, T, I) or None, h0 (R, B, n);
    out is time-major, (T, R, B, n), so that each step reads and writes contiguous memory (elementwise
    ops on strided slices are several times slower).
    """

    @staticmethod
    def forward(ctx, W, W_I, b, x, h0, plan: StepPlan):
        R, B, n = h0.shape
        T = len(plan.order)
        out = h0.new_empty(T, R, B, n)
        # (R, n, k) views: the matmuls take them transposed as fast as copies, and copying every
        # pattern's rows (a CW-RNN has one pattern per module) cost 7 % of a step at n = 1024.
        right = [_rows(W, rows, 1).transpose(1, 2) for rows in plan.rows]
        drive = []
        for rows, steps in zip(plan.rows, plan.steps):
            bias = _rows(b, rows, 1).unsqueeze(1)  # (R, 1, k)
            if x is None:
                drive.append(bias)
                continue
            m, k = len(steps), bias.shape[-1]
            xs = x.index_select(2, steps).reshape(R, B * m, x.shape[-1])
            d = baddbmm(bias, xs, _rows(W_I, rows, 1).transpose(1, 2))
            drive.append(d.view(R, B, m, k).unbind(2))
        h = h0
        for t, o in enumerate(out.unbind(0)):
            p, j = plan.order[t]
            rows = plan.rows[p]
            pre = baddbmm(drive[p] if x is None else drive[p][j], h, right[p]).tanh_()
            if isinstance(rows, int):
                torch.cat([pre, h[..., rows:]], dim=-1, out=o)
            else:
                o.copy_(h).index_copy_(-1, rows, pre)
            h = o
        ctx.plan = plan
        ctx.save_for_backward(W, W_I, x, h0, out)
        return out

    @staticmethod
    @first_order
    def backward(ctx, grad_out):
        W, W_I, x, h0, out = ctx.saved_tensors
        plan = ctx.plan
        T, R, B, n = out.shape
        # Per pattern, a buffer for the pre-activation gradients at its steps and rows.
        grads = [out.new_empty(len(steps), R, B, _width(rows)) for rows, steps in zip(plan.rows, plan.steps)]
        slots = [g.unbind(0) for g in grads]
        states = out.unbind(0)
        weight_rows = [_rows(W, rows, 1).contiguous() for rows in plan.rows]  # (R, k, n)
        # One copy into time-major memory if the loss left the gradient strided (elementwise ops on strided
        # slices are several times slower), except for an expansion (a sum's gradient, stride 0), whose
        # slices are read as fast: materialising it cost 6 % of a step at n = 1024.
        grad_steps = (grad_out if 0 in grad_out.stride() else grad_out.contiguous()).unbind(0)
        dh = grad_steps[-1].clone()
        for t in range(T - 1, -1, -1):
            p, j = plan.order[t]
            rows = plan.rows[p]
            g = tanh_backward(_rows(dh, rows, 2), _rows(states[t], rows, 2), out=slots[p][j])
            if isinstance(rows, int):
                dh[..., :rows].zero_()
            else:
                dh.index_fill_(-1, rows, 0)
            dh.baddbmm_(g, weight_rows[p])
            if t:
                dh.add_(grad_steps[t - 1])
        dW = torch.zeros_like(W) if ctx.needs_input_grad[0] else None
        db = W.new_zeros(R, n) if ctx.needs_input_grad[2] else None
        dW_I = torch.zeros_like(W_I) if x is not None and ctx.needs_input_grad[1] else None
        dx = torch.zeros_like(x) if x is not None and ctx.needs_input_grad[3] else None
        # Sums over each pattern's steps and the batch, as one matmul per member.
        for p, (rows, steps, g) in enumerate(zip(plan.rows, plan.steps, grads)):
            if dW is not None:
                before = out.index_select(0, (steps - 1).clamp(min=0))  # the states each step started from
                if p == 0:  # pattern 0 is step 0's, which started from h0
                    before[0] = h0
                _add_rows(dW, rows, 1, step_outer(g, before))
            if db is not None:
                _add_rows(db, rows, 1, step_sums(g))
            if dW_I is not None:
                _add_rows(dW_I, rows, 1, torch.einsum("mrbk,rbmi->rki", g, x.index_select(2, steps)))
            if dx is not None:
                dx.index_copy_(2, steps, torch.einsum("mrbk,rki->rbmi", g, _rows(W_I, rows, 1)))
        return dW, dW_I, db, dx, dh, None


def step_outer(g: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """sum over steps m and sequences b of g[m, r, b]^T states[m, r, b], (R, k, n), for time-major (m, R, B, k)
    and (m, R, B, n): one bmm, with (m, b) merged into the contraction dimension, a view when R is 1.
    (torch.einsum copied the states into a batch-first layout first: 8 % of a step at n = 1024.)"""
    m, R, B, _ = g.shape
    flat = [t.transpose(0, 1).reshape(R, m * B, t.shape[-1]) for t in (g, states)]
    return torch.bmm(flat[0].transpose(1, 2), flat[1])


def sigmoid_backward(grad, y, out=None):
    """grad * y * (1 - y) in one fused kernel (autograd's own sigmoid derivative)."""
    if out is None:
        return torch.ops.aten.sigmoid_backward(grad, y)
    return torch.ops.aten.sigmoid_backward.grad_input(grad, y, grad_input=out)


def tanh_backward(grad, y, out=None):
    """grad * (1 - y^2) in one fused kernel (autograd's own tanh derivative)."""
    if out is None:
        return torch.ops.aten.tanh_backward(grad, y)
    return torch.ops.aten.tanh_backward.grad_input(grad, y, grad_input=out)
