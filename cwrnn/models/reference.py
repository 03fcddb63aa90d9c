"""The Clockwork RNN written straight from the paper's equations, in float64: its readable definition.

Deliberately naive: a per-step Python loop over a dense matrix, every unit computed every step, and the
clock applied by copying the old value back. It shares no code with `ClockworkRNN`, so the tests can hold
the fast version to it (docs/conventions.md: the connection direction, the clock from 0, held modules).
"""

import torch


def naive_cwrnn(W_H, W_I, b, periods, module_sizes, x=None, steps=None, h0=None):
    """x: (B, T, I) or None; h0: (B, n) or None (zeros). Returns (B, T, n) hidden states.
    W_H in column convention (row = target)."""
    n = sum(module_sizes)
    module_of = []
    for i, k in enumerate(module_sizes):
        module_of += [i] * k
    # Eq. (1)-(3): slow-to-fast block structure, written out unit by unit.
    allowed = torch.tensor([[module_of[col] >= module_of[row] for col in range(n)] for row in range(n)])
    W_H = W_H * allowed
    B = 1 if x is None else x.shape[0]
    T = steps if x is None else x.shape[1]
    h = torch.zeros(B, n, dtype=torch.float64) if h0 is None else h0
    outs = []
    for t in range(T):
        drive = h @ W_H.T + b
        if x is not None:
            drive = drive + x[:, t] @ W_I.T
        candidate = torch.tanh(drive)
        new = h.clone()
        for u in range(n):
            if t % periods[module_of[u]] == 0:
                new[:, u] = candidate[:, u]
        h = new
        outs.append(h)
    return torch.stack(outs, dim=1)
