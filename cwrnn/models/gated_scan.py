"""Hand-written BPTT for the gated baselines, the LSTM and the GRU (see scan.py for why and how).

Gate activations are stored gate-major and time-major, (gates, T, R, B, n), so that each step's
elementwise ops, and each gate's derivatives over all steps, run on contiguous memory; the matmuls
need them member-major, (R, B, gates * n): one copy per step converts, or the elementwise ops write
their gate's slice of the member-major buffer directly.
"""

from __future__ import annotations

import torch

from .ensemble import sigmoid, step_sums
from .scan import first_order, previous, sigmoid_backward, tanh_backward


class LSTMScan(torch.autograd.Function):
    """Peephole LSTM over all steps; returns (out, cells), each time-major (T, R, B, n). Cells carry no
    gradient.

    Shapes: W (R, 4n, n), W_I (R, 4n, I), b (R, 4n), peep (R, 3, n) or None, x (R, B, steps, I) or
    None, h0 (R, B, n); gate order input, forget, cell, output.
    """

    @staticmethod
    def forward(ctx, W, W_I, b, peep, x, h0, steps: int):
        R, B, n = h0.shape
        T = steps
        out, cells, tanh_cells = (h0.new_empty(T, R, B, n) for _ in range(3))
        gates = h0.new_empty(4, T, R, B, n)  # after their nonlinearities
        right = W.transpose(1, 2).contiguous()
        if x is None:
            drive = [b.unsqueeze(1)] * T
        else:
            xs = x.reshape(R, B * T, x.shape[-1])
            drive = torch.baddbmm(b.unsqueeze(1), xs, W_I.transpose(1, 2)).view(R, B, T, 4 * n).unbind(2)
        if peep is not None:  # expanded once so that no step broadcasts along its innermost dimension
            p_i, p_f, p_o = (peep[:, None, k].expand(R, B, n).contiguous() for k in range(3))
        h, c = h0, h0.new_zeros(R, B, n)
        for t, (gt, c_t, tc, o) in enumerate(zip(gates.unbind(1), cells, tanh_cells, out)):
            z = torch.baddbmm(drive[t], h, right).view(R, B, 4, n).permute(2, 0, 1, 3).contiguous()
            if peep is not None:
                z[0].addcmul_(p_i, c)
                z[1].addcmul_(p_f, c)
            sigmoid(z[:2], out=gt[:2])
            torch.tanh(z[2], out=gt[2])
            torch.mul(gt[1], c, out=c_t).addcmul_(gt[0], gt[2])
            if peep is not None:
                z[3].addcmul_(p_o, c_t)
            sigmoid(z[3], out=gt[3])
            h = torch.mul(gt[3], torch.tanh(c_t, out=tc), out=o)
            c = c_t
        ctx.save_for_backward(W, W_I, peep, x, h0, out, cells, tanh_cells, gates)
        ctx.mark_non_differentiable(cells)
        return out, cells

    @staticmethod
    @first_order
    def backward(ctx, grad_out, _grad_cells):
        W, W_I, peep, x, h0, out, cells, tanh_cells, gates = ctx.saved_tensors
        T, R, B, n = out.shape
        i, f, g, o = gates
        # Everything that does not depend on the incoming gradient, for all steps at once:
        # dz_o = dh * a;  dc = dc_next + dh * e;  (dz_i, dz_f, dz_g) = dc * q;  dc_prev = dc * k.
        a = sigmoid_backward(tanh_cells, o)  # tanh(c) o (1 - o)
        e = tanh_backward(o, tanh_cells)  # o (1 - tanh(c)^2)
        q = gates.new_empty(T, R, B, 3, n)  # member-major, like the gradients it scales
        sigmoid_backward(g, i, out=q[..., 0, :])
        q[0, ..., 1, :].zero_()  # c_{-1} = 0
        sigmoid_backward(cells[:-1], f[1:], out=q[1:, ..., 1, :])
        tanh_backward(i, g, out=q[..., 2, :])
        k = f.clone()
        if peep is not None:
            p_i, p_f, p_o = (peep[:, None, j] for j in range(3))  # (R, 1, n), broadcast over T and B
            e.addcmul_(a, p_o)
            k.addcmul_(q[..., 0, :], p_i).addcmul_(q[..., 1, :], p_f)
        # Pre-activation gradients, member-major (T, R, B, 4n) as the matmuls need them; the
        # elementwise ops below write into its gate slices directly (no step needs a transposing copy).
        dz = out.new_empty(T, R, B, 4 * n)
        grad_steps = grad_out.contiguous().unbind(0)
        dh, dc = grad_steps[-1], torch.zeros_like(h0)
        per_step = (reversed(v.unbind(0)) for v in (a, e, q, k, dz))
        for t, a_t, e_t, q_t, k_t, dz_t in zip(range(T - 1, -1, -1), *per_step):
            gate = dz_t.view(R, B, 4, n)
            torch.mul(dh, a_t, out=gate[:, :, 3])
            dc = torch.addcmul(dc, dh, e_t)
            torch.mul(dc.unsqueeze(2), q_t, out=gate[:, :, :3])
            dc.mul_(k_t)
            dh = torch.baddbmm(grad_steps[t - 1], dz_t, W) if t else torch.bmm(dz_t, W)
        per_member = dz.transpose(0, 1).reshape(R, T * B, 4 * n)
        dW = per_member.transpose(1, 2) @ previous(out, h0).transpose(0, 1).reshape(R, T * B, n)
        db = step_sums(dz)
        dpeep = None
        if peep is not None:
            gate = dz.view(T, R, B, 4, n)
            dpeep = torch.stack(
                [
                    step_sums(gate[1:, ..., 0, :] * cells[:-1]),
                    step_sums(gate[1:, ..., 1, :] * cells[:-1]),
                    step_sums(gate[..., 3, :] * cells),
                ],
                dim=1,
            )
        dW_I = dx = None
        if x is not None:
            xs = x.transpose(1, 2).reshape(R, T * B, x.shape[-1])  # rows ordered (t, b) like per_member
            if ctx.needs_input_grad[1]:
                dW_I = per_member.transpose(1, 2) @ xs
            if ctx.needs_input_grad[4]:
                dx = (per_member @ W_I).view(R, T, B, -1).transpose(1, 2)
        return dW, dW_I, db, dpeep, dx, dh, None


class GRUScan(torch.autograd.Function):
    """GRU over all steps (torch.nn.GRU's equations); returns out, time-major (T, R, B, n).

    r = sigmoid(W_ir x + b_r + W_hr h), z = sigmoid(W_iz x + b_z + W_hz h),
    m = tanh(W_in x + b_n + r * (W_hn h + b_hn)), h' = (1 - z) m + z h.
    Shapes: W (R, 3n, n), W_I (R, 3n, I), b (R, 3n), b_hn (R, n), x (R, B, steps, I) or None,
    h0 (R, B, n); gate order reset, update, new.
    """

    @staticmethod
    def forward(ctx, W, W_I, b, b_hn, x, h0, steps: int):
        R, B, n = h0.shape
        T = steps
        out, hidden_new = h0.new_empty(T, R, B, n), h0.new_empty(T, R, B, n)  # the latter: W_hn h + b_hn
        gates = h0.new_empty(3, T, R, B, n)  # r, z, m after their nonlinearities
        right = W.transpose(1, 2).contiguous()
        if x is None:
            drive = [b.view(R, 1, 3, n).permute(2, 0, 1, 3).expand(3, R, B, n).contiguous()] * T
        else:
            d = torch.baddbmm(b.unsqueeze(1), x.reshape(R, B * T, x.shape[-1]), W_I.transpose(1, 2))
            drive = d.view(R, B, T, 3, n).permute(2, 3, 0, 1, 4).contiguous().unbind(0)
        bias_new = b_hn.unsqueeze(1).expand(R, B, n).contiguous()
        h = h0
        for d_t, g, hn, o in zip(drive, gates.unbind(1), hidden_new, out):
            gh = torch.bmm(h, right).view(R, B, 3, n).permute(2, 0, 1, 3)
            sigmoid(torch.add(d_t[:2], gh[:2], out=g[:2]), out=g[:2])
            torch.add(gh[2], bias_new, out=hn)
            torch.addcmul(d_t[2], g[0], hn, out=g[2]).tanh_()
            h = torch.addcmul(g[2], g[1], h - g[2], out=o)
        ctx.save_for_backward(W, W_I, x, h0, out, hidden_new, gates)
        return out

    @staticmethod
    @first_order
    def backward(ctx, grad_out):
        W, W_I, x, h0, out, hidden_new, gates = ctx.saved_tensors
        T, R, B, n = out.shape
        r, z, m = gates
        h_prev = previous(out, h0)
        scratch = out.new_empty(3, R, B, n)  # one step's hidden-side pre-activation gradients, gate-major
        member_major = scratch.permute(1, 2, 0, 3)
        d_hidden = out.new_empty(T, R, B, 3 * n)  # all steps', member-major for the matmuls
        d_new = out.new_empty(T, R, B, n)  # input side of m; r and z share the hidden side's
        grad_steps = grad_out.contiguous().unbind(0)
        dh = grad_steps[-1]
        for t in range(T - 1, -1, -1):
            d_m = tanh_backward(torch.addcmul(dh, dh, z[t], value=-1), m[t], out=d_new[t])
            sigmoid_backward(d_m * hidden_new[t], r[t], out=scratch[0])
            sigmoid_backward(dh * (h_prev[t] - m[t]), z[t], out=scratch[1])
            torch.mul(d_m, r[t], out=scratch[2])
            d_hidden[t].view(R, B, 3, n).copy_(member_major)
            dh = torch.addcmul(grad_steps[t - 1], dh, z[t]) if t else dh * z[t]
            dh.baddbmm_(d_hidden[t], W)
        per_member = d_hidden.transpose(0, 1).reshape(R, T * B, 3 * n)
        dW = per_member.transpose(1, 2) @ h_prev.transpose(0, 1).reshape(R, T * B, n)
        gate_sums = step_sums(d_hidden.view(T, R, B, 3, n))  # (R, 3, n)
        db = torch.cat([gate_sums[:, :2].reshape(R, 2 * n), step_sums(d_new)], dim=1)
        dW_I = dx = None
        if x is not None:
            d_input = d_hidden.clone()
            d_input.view(T, R, B, 3, n)[..., 2, :] = d_new
            flat = d_input.transpose(0, 1).reshape(R, T * B, 3 * n)
            if ctx.needs_input_grad[1]:
                dW_I = flat.transpose(1, 2) @ x.transpose(1, 2).reshape(R, T * B, x.shape[-1])
            if ctx.needs_input_grad[4]:
                dx = (flat @ W_I).view(R, T, B, -1).transpose(1, 2)
        return dW, dW_I, db, gate_sums[:, 2], dx, dh, None
