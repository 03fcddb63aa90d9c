"""The scans through the compiled CPU kernels (kernels.py, kernels.cpp), as autograd Functions.

Same equations, arguments and gradients as the torch-op scans (scan.ClockworkScan, gated_scan.LSTMScan),
plus an optional linear readout y_t = W_O h_t + b_O computed inside the scan (W_O (R, O, n), b_O (R, O)):
reading every state again afterwards cost a quarter of a training step at the lab's sizes. Each Function
returns (states, y): states time-major (T, R, B, n) like the torch-op scans, as a view of the kernels'
member-major memory; y member-major (R, B, T, O), or None without a readout. The models choose these
where `kernels.usable` says so (see ClockworkRNN.read and LSTM.read).
"""

from __future__ import annotations

import torch

from . import kernels
from .scan import StepPlan, first_order


class ClockworkKernelScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, W, W_I, b, x, h0, plan: StepPlan, W_O=None, b_O=None):
        R, B, n = h0.shape
        T = len(plan.order)
        drive = b[:, None, None].expand(R, B, T, n) if x is None else input_drive(W_I, b, x)
        W, h0, W_O, b_O = _contiguous(W, h0, W_O, b_O)
        out, y, tape = kernels.clockwork_forward(W, drive, h0, plan, W_O, b_O)
        ctx.plan, ctx.batch = plan, B
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not a tensor of zeros
        ctx.save_for_backward(W, W_I, x, tape, W_O)
        return time_major(out), y

    @staticmethod
    @first_order
    def backward(ctx, grad_out, grad_y):
        W, W_I, x, tape, W_O = ctx.saved_tensors
        dW, db, G, dh, dW_O, db_O = kernels.clockwork_backward(
            W,
            tape,
            None if grad_out is None else member_major(grad_out),
            ctx.plan,
            ctx.batch,
            pre_grads=x is not None,
            W_O=W_O,
            grad_y=None if grad_y is None else grad_y.contiguous(),
        )
        dW_I, dx = input_grads(G, W_I, x, ctx.needs_input_grad[1], ctx.needs_input_grad[3])
        return dW, dW_I, db, dx, dh, None, dW_O, db_O


class LSTMKernelScan(torch.autograd.Function):
    """Returns (out, cells, y): cells time-major like out, without gradient."""

    @staticmethod
    def forward(ctx, W, W_I, b, peep, x, h0, steps: int, W_O=None, b_O=None):
        R, B, n = h0.shape
        drive = b[:, None, None].expand(R, B, steps, 4 * n) if x is None else input_drive(W_I, b, x)
        W, peep, h0, W_O, b_O = _contiguous(W, peep, h0, W_O, b_O)
        out, cells, tanh_cells, gates, y = kernels.lstm_forward(W, drive, peep, h0, steps, W_O, b_O)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(W, W_I, peep, x, h0, out, cells, tanh_cells, gates, W_O)
        cells = time_major(cells)
        ctx.mark_non_differentiable(cells)
        return time_major(out), cells, y

    @staticmethod
    @first_order
    def backward(ctx, grad_out, _grad_cells, grad_y):
        W, W_I, peep, x, h0, out, cells, tanh_cells, gates, W_O = ctx.saved_tensors
        dW, db, dpeep, G, dh, dW_O, db_O = kernels.lstm_backward(
            W,
            peep,
            h0,
            out,
            cells,
            tanh_cells,
            gates,
            None if grad_out is None else member_major(grad_out),
            pre_grads=x is not None,
            W_O=W_O,
            grad_y=None if grad_y is None else grad_y.contiguous(),
        )
        dW_I, dx = input_grads(G, W_I, x, ctx.needs_input_grad[1], ctx.needs_input_grad[4])
        return dW, dW_I, db, dpeep, dx, dh, None, dW_O, db_O


def _contiguous(*tensors):
    return tuple(None if t is None else t.contiguous() for t in tensors)


def input_drive(W_I: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """W_I x_t + b for every step and every row, (R, B, T, rows): one batched matmul before the scan."""
    R, B, T, _ = x.shape
    return torch.baddbmm(b.unsqueeze(1), x.reshape(R, B * T, -1), W_I.transpose(1, 2)).view(R, B, T, -1)


def input_grads(G, W_I: torch.Tensor, x, want_W_I: bool, want_x: bool) -> tuple:
    """(dW_I, dx) from the pre-activation gradients G (R, B, T, rows) of the drive W_I x_t + b; (None,
    None) without input."""
    if x is None:
        return None, None
    dW_I = torch.einsum("rbtk,rbti->rki", G, x) if want_W_I else None
    dx = torch.einsum("rbtk,rki->rbti", G, W_I) if want_x else None
    return dW_I, dx


def time_major(states: torch.Tensor) -> torch.Tensor:
    """The kernels' member-major (R, B, T, n) states as the (T, R, B, n) view every scan returns."""
    return states.permute(2, 0, 1, 3)


def member_major(grad: torch.Tensor) -> torch.Tensor:
    """A (T, R, B, n) gradient as contiguous (R, B, T, n) memory; no copy when it arrives as the transpose
    of the (R, B, T, n) states the models hand out (cwrnn.models.clockwork._outputs)."""
    return grad.permute(1, 2, 0, 3).contiguous()
