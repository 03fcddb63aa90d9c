"""What every recurrent model shares: a stack of R independent networks (one per seed) in one module.

Parameters of a stacked model carry a leading seed dimension R; a plain model (``num_seeds=None``) has
ordinary shapes. The maths always runs on the stacked form, so one code path serves both and R seeds
train as one batched computation whose result equals training each seed alone: members share no
parameter, and every optimiser we use (SGD with momentum, Adam) acts elementwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

INITS = ("paper", "paper-variance", "torch")
#: "weights drawn from N(0, 0.1)": read as a standard deviation ("paper") or a variance ("paper-variance")
INIT_STD = {"paper": 0.1, "paper-variance": 0.1**0.5}


def seed_list(num_seeds: int | None, seeds: Sequence[int] | None) -> list[int]:
    """The per-member seeds: given explicitly, or 0..R-1."""
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if num_seeds is not None and len(seeds) != num_seeds:
            raise ValueError(f"got {len(seeds)} seeds for num_seeds={num_seeds}")
        if not seeds:
            raise ValueError("seeds must not be empty")
        return seeds
    if num_seeds is not None and num_seeds < 1:
        raise ValueError(f"num_seeds must be at least 1, got {num_seeds}")
    return list(range(num_seeds or 1))


class Stacked(nn.Module):
    """Base for modules whose parameters carry an optional leading seed dimension."""

    def __init__(self, num_seeds: int | None = None):
        super().__init__()
        if num_seeds is not None and num_seeds < 1:
            raise ValueError(f"num_seeds must be at least 1, got {num_seeds}")
        self.num_seeds = num_seeds

    @property
    def stacked(self) -> bool:
        return self.num_seeds is not None

    @property
    def members(self) -> int:
        return self.num_seeds or 1

    def new_param(self, *shape: int) -> nn.Parameter:
        lead = (self.num_seeds,) if self.stacked else ()
        return nn.Parameter(torch.zeros(*lead, *shape))

    def stack(self, p: torch.Tensor) -> torch.Tensor:
        """The (R, ...) view of a parameter, whatever the mode."""
        return p if self.stacked else p.unsqueeze(0)

    def unstack(self, t: torch.Tensor) -> torch.Tensor:
        """Drop the seed dimension again for a plain model."""
        return t if self.stacked else t.squeeze(0)

    def after_init(self) -> None:
        """Hook for structure that initialisation must respect (masks, gate biases)."""


def baddbmm(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch.baddbmm(c, a, b), each member's product rounded alike however many members share the call.

    torch hands a batch of one to MKL's plain gemm, which computes a single-column product (a matrix
    times a vector) in another order than MKL's batched gemm does; so a lone member's single-column
    product runs as a batch of two copies of it."""
    if a.shape[0] == 1 and b.shape[-1] == 1:
        return torch.baddbmm(*(t.expand(2, *t.shape[1:]) for t in (c, a, b)))[:1]
    return torch.baddbmm(c, a, b)


def sigmoid(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """(1 + tanh(x / 2)) / 2, torch's sigmoid in a member-invariant form: torch's own sigmoid rounds
    differently in its vector loop and its scalar tail, so a value's last bit depended on where the
    member's slice sat in the stacked tensor; tanh, products and sums round alike in both."""
    out = torch.mul(x, 0.5, out=out) if out is not None else x * 0.5
    return out.tanh_().mul_(0.5).add_(0.5)


def step_sums(t: torch.Tensor) -> torch.Tensor:
    """Sum of a time-major (T, R, B, ...) tensor over steps and sequences, (R, ...): along each member's
    own contiguous rows. t.sum((0, 2)) vectorises across the members when B is 1, so a member's sum
    rounded differently with different neighbours."""
    return t.movedim((0, 2), (-2, -1)).contiguous().sum((-2, -1))


class StackedLinear(Stacked):
    """y = W x + b for each member; x is (R, ..., in) and y is (R, ..., out)."""

    def __init__(self, in_features: int, out_features: int, num_seeds: int | None = None):
        super().__init__(num_seeds)
        self.in_features, self.out_features = in_features, out_features
        self.weight = self.new_param(out_features, in_features)
        self.bias = self.new_param(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        R = self.members
        w, b = self.stack(self.weight), self.stack(self.bias)
        flat = x.reshape(R, -1, self.in_features)
        y = baddbmm(b.unsqueeze(1), flat, w.transpose(1, 2))
        return y.reshape(*x.shape[:-1], self.out_features)


def initialise(module: nn.Module, seeds: Sequence[int], scheme: str = "paper") -> None:
    """Draw every parameter of every member from that member's own generator.

    Member r of a stacked model gets exactly the values a plain model built with seed ``seeds[r]`` gets,
    because both draw the same parameters in the same order from ``torch.Generator().manual_seed(seed)``.
    """
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; allowed: {', '.join(INITS)}")
    params = list(module.named_parameters())
    stacked = [m for m in module.modules() if isinstance(m, Stacked)]
    is_stacked = any(m.stacked for m in stacked)
    if not is_stacked and len(seeds) != 1:
        raise ValueError("a plain (num_seeds=None) model takes exactly one seed")
    with torch.no_grad():
        for r, seed in enumerate(seeds):
            gen = torch.Generator().manual_seed(int(seed))
            for name, p in params:
                target = p[r] if is_stacked else p
                fresh = torch.empty(target.shape)
                if scheme in INIT_STD:
                    fresh.normal_(0.0, INIT_STD[scheme], generator=gen)
                else:  # torch's RNN default: U(-1/sqrt(fan), 1/sqrt(fan)) over the hidden width
                    fan = max(1, getattr(module, "hidden_size", target.shape[-1]))
                    fresh.uniform_(-(fan**-0.5), fan**-0.5, generator=gen)
                target.copy_(fresh.to(target.device, target.dtype))
        for m in stacked:
            m.after_init()
