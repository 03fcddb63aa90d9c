"""A network computes the same bits whichever networks share its stacked model: the ground of seed batches
(cwrnn/seed_batches.py). The compiled kernels run one network at a time; on torch's ops each case below
differed in the last bits before the model code avoided torch's and MKL's member-dependent rounding (see
cwrnn/models/ensemble.py's baddbmm, sigmoid and step_sums)."""

from __future__ import annotations

import pytest
import torch

from cwrnn.models import ArchSpec, SequenceModel

SPECS = {
    # a one-unit module gives single-column products, which MKL rounds apart for a lone network
    "cwrnn": ArchSpec("cwrnn", 8, periods=[1, 2, 4], module_sizes=[1, 3, 4]),
    "srn": ArchSpec("srn", 8),
    "lstm": ArchSpec("lstm", 6),
    "gru": ArchSpec("gru", 6),
}
SEEDS = [11, 12, 13, 14, 15]


def _run(spec, seeds, inputs, steps, batch):
    """Outputs and every parameter's gradient of the networks of `seeds`, stacked as one model."""
    model = SequenceModel(spec, 0 if inputs is None else inputs.shape[-1], 1, seeds)
    y, _ = model(None if inputs is None else inputs, steps=steps, batch_size=batch)
    (y.pow(2).sum() + y.sum()).backward()  # a gradient that differs from step to step
    return [y.detach()] + [p.grad for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("arch", sorted(SPECS))
@pytest.mark.parametrize("batch, features", [(1, 0), (1, 3), (4, 3)])  # Experiment 1 (B=1, no input), 2 and 3
def test_a_network_computes_the_same_bits_whatever_networks_share_its_model(
    arch, batch, features, one_thread, scan_path
):
    steps = 37
    g = torch.Generator().manual_seed(0)
    x = None if not features else torch.randn(len(SEEDS), batch, steps, features, generator=g)
    whole = _run(SPECS[arch], SEEDS, x, steps, batch)
    for members in ([1, 3], [4], [0, 1, 2, 3]):
        part = _run(SPECS[arch], [SEEDS[m] for m in members], None if x is None else x[members], steps, batch)
        for a, b in zip(whole, part):
            assert torch.equal(a[members], b)
