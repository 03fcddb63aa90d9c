"""Per-member learning rates and momenta: one stacked model of rates x seeds equals separate runs."""

import pytest
import torch

from cwrnn import matched_specs
from cwrnn.data.audio import shipped_clips, synthetic_tone
from cwrnn.optim import MemberSGD
from cwrnn.tasks.generation import GenerationTask
from cwrnn.train import TrainConfig, train


def _params(result):
    return {a: {k: v.detach().clone() for k, v in m.state_dict().items()} for a, m in result.models.items()}


@pytest.mark.parametrize("nesterov", [True, False])
def test_member_sgd_matches_torch_sgd_per_member(nesterov):
    """Each member's slice moves exactly as torch.optim.SGD with that member's rate and momentum moves it."""
    torch.manual_seed(0)
    rates, momenta = [1e-2, 3e-3, 5e-2], [0.9, 0.0, 0.5]
    start = torch.randn(3, 4, 5)
    grads = [torch.randn(3, 4, 5) for _ in range(6)]
    stacked = torch.nn.Parameter(start.clone())
    opt = MemberSGD([stacked], rates, momenta, nesterov=nesterov)
    for g in grads:
        stacked.grad = g.clone()
        opt.step()
    for r in range(3):
        alone = torch.nn.Parameter(start[r].clone())
        ref = torch.optim.SGD([alone], lr=rates[r], momentum=momenta[r], nesterov=nesterov and momenta[r] > 0)
        for g in grads:
            alone.grad = g[r].clone()
            ref.step()
        torch.testing.assert_close(stacked.detach()[r], alone.detach(), rtol=1e-6, atol=1e-7)


def test_rates_by_seeds_equal_separate_runs():
    """A sweep's stacked model (2 rates x 2 seeds, 2 target clips each, with clipping that bites) gives each
    network the weights of a separate run at its own rate and momentum."""
    clips = [c[:48] for c in shipped_clips()[:2]]
    specs = matched_specs(120, 0, 1, periods=[1, 2, 4, 8], baselines=("srn", "lstm"))
    seeds, rates, momenta = [3, 4, 3, 4], [1e-3, 1e-3, 4e-3, 4e-3], [0.95, 0.95, 0.5, 0.5]
    cfg = dict(epochs=12, clip_norm=0.5, lr_scale={"lstm": 0.1})
    together = _params(
        train(
            GenerationTask(clips, num_seeds=4),
            specs,
            seeds,
            TrainConfig(member_lr=rates, member_momentum=momenta, **cfg),
        )
    )
    for r, (seed, lr, mom) in enumerate(zip(seeds, rates, momenta)):
        alone = _params(
            train(GenerationTask(clips, num_seeds=1), specs, [seed], TrainConfig(lr=lr, momentum=mom, **cfg))
        )
        for arch in together:
            for name, value in alone[arch].items():
                for clip in range(2):  # member of (clip, seed slot r) in the stacked model: clip * 4 + r
                    torch.testing.assert_close(together[arch][name][clip * 4 + r], value[clip], rtol=1e-5, atol=1e-6)


def test_classical_momentum_differs_from_nesterov():
    def task():
        return GenerationTask([synthetic_tone(30)], num_seeds=1)

    spec = matched_specs(120, 0, 1, periods=[1, 2, 4, 8], baselines=())
    a = train(task(), spec, [0], TrainConfig(epochs=10, lr=1e-3, nesterov=True)).final["cwrnn"]["nmse"]
    b = train(task(), spec, [0], TrainConfig(epochs=10, lr=1e-3, nesterov=False)).final["cwrnn"]["nmse"]
    assert abs(a[0] - b[0]) > 1e-6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(member_lr=[]), "member_lr must be a non-empty list"),
        (dict(member_lr=[1e-3, float("nan")]), "finite positive"),
        (dict(member_lr=[-1e-3]), "finite positive"),
        (dict(member_momentum=[1.0]), r"member_momentum must be a non-empty list of numbers in \[0, 1\)"),
        (dict(member_lr=[1e-3], optimizer="adam"), "member_lr needs optimizer 'sgd'"),
    ],
)
def test_bad_member_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_member_rates_must_match_the_seeds():
    task = GenerationTask([synthetic_tone(20)], num_seeds=2)
    spec = matched_specs(120, 0, 1, periods=[1, 2], baselines=())
    with pytest.raises(ValueError, match="member_lr needs one value per seed: got 3 for 2 seeds"):
        train(task, spec, [0, 1], TrainConfig(epochs=1, member_lr=[1e-3] * 3))
