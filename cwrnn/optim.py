"""SGD with momentum where every member of a stacked model has its own learning rate and momentum.

Members are independent networks sharing one batched model (see models/ensemble.py), so a learning-rate
sweep of L rates x S seeds trains as one model of L*S members. The update is torch.optim.SGD's
(dampening 0, no weight decay), with the scalar rate and momentum replaced by (R,) vectors broadcast over
the leading member dimension of every parameter:
    buf = momentum * buf + grad
    step = grad + momentum * buf   (Nesterov)   or   buf   (classical)
    param -= lr * step
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch


class MemberSGD(torch.optim.Optimizer):
    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: Sequence[float],
        momentum: Sequence[float],
        nesterov: bool = True,
    ):
        params = list(params)
        members = {p.shape[0] for p in params}
        if len(members) != 1:
            raise ValueError(f"every parameter needs the same leading member dimension, got sizes {sorted(members)}")
        if len(lr) != len(momentum) or len(lr) not in members:
            raise ValueError(
                f"need one learning rate and one momentum per member ({members.pop()}), "
                f"got {len(lr)} rates and {len(momentum)} momenta"
            )
        device = params[0].device
        super().__init__(
            params,
            dict(
                lr=torch.tensor(lr, dtype=torch.float32, device=device),
                momentum=torch.tensor(momentum, dtype=torch.float32, device=device),
                nesterov=nesterov,
            ),
        )

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, mom = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                shape = (-1,) + (1,) * (p.dim() - 1)
                m, g = mom.view(shape), p.grad
                state = self.state[p]
                if "buf" not in state:
                    state["buf"] = g.clone()  # torch's SGD starts its buffer at the first gradient
                else:
                    state["buf"].mul_(m).add_(g)
                step = g + m * state["buf"] if group["nesterov"] else state["buf"]
                p.sub_(lr.view(shape) * step)
