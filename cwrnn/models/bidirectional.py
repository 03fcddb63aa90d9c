"""Bidirectional networks (Schuster & Paliwal 1997), as the paper uses them in Experiment 3.

A forward and a backward recurrent layer of the same architecture and size, with separate weights, and
one linear readout that reads both at every step: y_t = W_O [h_t(forward); h_t(backward)] + b_O.

Variable lengths: a batch is right-padded and each sequence has its own length. The backward layer reads
each sequence reversed within its own length (a gather with per-sequence indices; padding stays where it
is), runs the ordinary unidirectional scan, and its states are put back in time order by the same gather
(the reversal is its own inverse). Both layers are causal in their own direction, so padding never reaches
a valid step; outputs at padded steps are meaningless and the loss must mask them.

Clocks: every sequence starts at t = 0 in both directions. The forward CW-RNN's clock counts from 0 at the
sequence's first point; the backward CW-RNN's clock counts from 0 at the sequence's LAST point, so there
every module fires, and a module of period T fires at the points L-1, L-1-T, L-1-2T, ... of a sequence
of length L. Padding at the end of a batch therefore never shifts a sequence's backward clock.

Both layers keep their hand-written backward passes; only the gathers and the readout go through autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .ensemble import Stacked, StackedLinear, initialise
from .network import SequenceModel, build_core
from .sizing import ArchSpec


def reversal_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, steps) time indices that reverse each sequence within its length and leave its padding in place."""
    t = torch.arange(steps, device=lengths.device)
    last = (lengths - 1).unsqueeze(1)
    return torch.where(t < lengths.unsqueeze(1), last - t, t)


def reverse_within(seq: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """seq (R, B, T, F) with each sequence's valid steps reversed by `reversal_index`."""
    return seq.gather(2, index[None, :, :, None].expand(seq.shape))


def check_lengths(lengths, batch: int, steps: int, device) -> torch.Tensor:
    """Per-sequence lengths as a long tensor on `device`; all `steps` when None."""
    if lengths is None:
        return torch.full((batch,), steps, dtype=torch.long, device=device)
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (batch,) or lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise ValueError(
            f"lengths must be {batch} integers (one per sequence), got shape {tuple(lengths.shape)} of {lengths.dtype}"
        )
    if lengths.min() < 1 or lengths.max() > steps:
        raise ValueError(
            f"every length must be between 1 and the batch's {steps} steps, got "
            f"{lengths.min().item()}..{lengths.max().item()}"
        )
    return lengths.long()


class BidirectionalModel(Stacked):
    """R seeds of one bidirectional architecture: y_t = W_O [h_t(fwd); h_t(bwd)] + b_O.

    ``core`` is the forward layer and ``reverse_core`` the backward one; each holds R stacked members
    and is built as `SequenceModel` builds its core, so a CW-RNN's clock, weights and activity are read
    from them in the usual way. Member r of every parameter is seed r's network, drawn from its own
    generator in the order forward layer, backward layer, readout.
    """

    def __init__(self, spec: ArchSpec, input_size: int, output_size: int, seeds: Sequence[int], init: str = "paper"):
        super().__init__(len(seeds))
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
            raise ValueError(
                f"a bidirectional network reads an input: input_size must be a positive integer, got {input_size!r}"
            )
        self.spec, self.seeds = spec, list(seeds)
        self.core = build_core(spec, input_size, self.seeds, init)
        self.reverse_core = build_core(spec, input_size, self.seeds, init)
        self.hidden_size = spec.hidden_size  # per direction; the readout reads 2 * hidden_size
        self.readout = StackedLinear(2 * spec.hidden_size, output_size, num_seeds=len(seeds))
        initialise(self, self.seeds, init)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None):
        """(y, hidden) for x (B, T, I) shared by every member or (R, B, T, I), right-padded, with
        `lengths` (B,) valid steps per sequence (all T when None). y is (R, B, T, output_size); hidden is
        (R, B, T, 2 * hidden_size), the forward layer's states then the backward layer's, in time order."""
        if not torch.is_tensor(x) or x.dim() not in (3, 4):
            raise ValueError(
                "x must be a tensor of shape (batch, time, input) or (members, batch, time, "
                f"input), got {getattr(x, 'shape', type(x).__name__)}"
            )
        index = reversal_index(check_lengths(lengths, x.shape[-3], x.shape[-2], x.device), x.shape[-2])
        ahead, _ = self.core(x)
        if x.dim() == 3:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        behind, _ = self.reverse_core(reverse_within(x, index))
        hidden = torch.cat([ahead, reverse_within(behind, index)], dim=-1)
        return self.readout(hidden), hidden

    member_state = SequenceModel.member_state


def build_network(
    spec: ArchSpec, input_size: int, output_size: int, seeds: Sequence[int], init: str = "paper"
) -> SequenceModel | BidirectionalModel:
    """The network `spec` describes: bidirectional when `spec.bidirectional`, else a SequenceModel."""
    model = BidirectionalModel if spec.bidirectional else SequenceModel
    return model(spec, input_size, output_size, seeds, init)
