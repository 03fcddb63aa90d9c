"""The training loop: batched seeds equal single seeds, determinism, divergence, stopping, callbacks."""

import numpy as np
import pytest
import torch

from cwrnn import ArchSpec, matched_specs
from cwrnn.data.audio import shipped_clips, synthetic_tone
from cwrnn.tasks.generation import GenerationTask
from cwrnn.train import Callback, TrainConfig, member_seeds, train

PERIODS = [1, 2, 4, 8]


def _specs(budget=120):
    return matched_specs(budget, 0, 1, periods=PERIODS, baselines=("srn", "lstm", "gru"))


def _params(result):
    return {a: {k: v.detach().clone() for k, v in m.state_dict().items()} for a, m in result.models.items()}


def test_batched_seeds_equal_each_seed_alone():
    target = [synthetic_tone(40)]
    cfg = TrainConfig(epochs=15, lr=3e-4, momentum=0.95, clip_norm=100.0)
    together = _params(train(GenerationTask(target, num_seeds=3), _specs(), [3, 4, 5], cfg))
    for r, seed in enumerate([3, 4, 5]):
        alone = _params(train(GenerationTask(target, num_seeds=1), _specs(), [seed], cfg))
        for arch in together:
            for name, value in alone[arch].items():
                torch.testing.assert_close(together[arch][name][r], value[0], rtol=1e-5, atol=1e-6)


def test_one_network_per_sequence():
    clips = shipped_clips()[:2]
    task = GenerationTask(clips, num_seeds=2)
    seeds = member_seeds([7, 8], 2)
    assert task.replicas() == 2 and seeds[:2] == [7, 8] and len(set(seeds)) == 4
    assert len(set(member_seeds(range(10), 5))) == 50, "no two (seed, clip) networks share initial weights"
    assert [task.member_target(m) for m in range(4)] == [0, 0, 1, 1]
    assert torch.equal(task.target[2], torch.from_numpy(clips[1].astype(np.float32)))


def test_same_seed_same_result():
    cfg = TrainConfig(epochs=5)

    def task():
        return GenerationTask([synthetic_tone(30)], num_seeds=2)

    a, b = train(task(), _specs(), [0, 1], cfg), train(task(), _specs(), [0, 1], cfg)
    for arch in a.final:
        np.testing.assert_array_equal(a.final[arch]["nmse"], b.final[arch]["nmse"])


def test_cwrnn_beats_srn_on_a_shipped_clip():
    """A short run with the paper's settings: the CW-RNN fits the music clip, the SRN outputs its mean."""
    task = GenerationTask([shipped_clips()[0][:160]], num_seeds=2)
    specs = matched_specs(250, 0, 1, periods=[1, 2, 4, 8, 16, 32, 64, 128], baselines=["srn"])
    result = train(task, specs, [0, 1], TrainConfig.preset("paper-generation", epochs=300))
    cw, srn = result.final["cwrnn"]["nmse"], result.final["srn"]["nmse"]
    assert cw.max() < 0.5 * srn.min(), (cw, srn)
    assert cw.mean() < 0.3


def test_divergence_is_reported():
    task = GenerationTask([synthetic_tone(50)], num_seeds=1)
    result = train(task, [ArchSpec("srn", 8)], [0], TrainConfig(epochs=200, lr=5.0, momentum=0.9))
    assert result.outcome == "diverged"
    assert "srn diverged at epoch" in result.message and "smaller learning rate" in result.message


class Recorder(Callback):
    def __init__(self, stop_after=None):
        self.epochs, self.snapshots, self.info, self.stop_after, self.result = [], [], None, stop_after, None
        self.seconds, self.elapsed = [], []

    def on_start(self, info):
        self.info = info

    def on_epoch_seconds(self, epoch, seconds):
        assert epoch == len(self.epochs) + 1, "timed before its epoch is reported"
        self.seconds.append(seconds)

    def on_epoch(self, epoch, metrics, elapsed):
        self.epochs.append(epoch)
        self.elapsed.append(elapsed)

    def on_snapshot(self, epoch, arrays, meta):
        self.snapshots.append((epoch, arrays, meta))

    def should_stop(self):
        return self.stop_after is not None and len(self.epochs) >= self.stop_after

    def on_end(self, result):
        self.result = result


def test_callbacks_snapshots_and_stop():
    rec = Recorder(stop_after=7)
    task = GenerationTask([synthetic_tone(24)], num_seeds=2)
    result = train(task, _specs(), [0, 1], TrainConfig(epochs=50, snapshot_every=5), [rec])
    assert result.outcome == "cancelled" and result.epochs == 7 and rec.epochs == list(range(1, 8))
    assert [s[0] for s in rec.snapshots] == [1, 5]
    epoch, arrays, meta = rec.snapshots[-1]
    assert arrays["target"].shape == (24,) and arrays["output/cwrnn"].shape == (24,)
    assert arrays["hidden/cwrnn"].shape == (24, sum(meta["module_sizes"]))
    np.testing.assert_array_equal(
        arrays["active"][:, :9], [[1] * 9, [1, 0] * 4 + [1], [1, 0, 0, 0] * 2 + [1], [1, 0, 0, 0, 0, 0, 0, 0, 1]]
    )
    W = arrays["weights/cwrnn"]
    k = meta["module_sizes"][0]
    assert np.all(W[k:, :k] == 0), "no fast-to-slow weights in the snapshot"
    assert rec.info["models"][0]["arch"] == "cwrnn" and rec.info["device"] == "cpu"
    assert rec.result is result
    # each model's update time per epoch: every model, within the epoch's wall time (metrics not included)
    assert len(rec.seconds) == 7 and all(set(s) == {"cwrnn", "srn", "lstm", "gru"} for s in rec.seconds)
    epoch_walls = np.diff([0.0, *rec.elapsed])
    assert all(0 < sum(s.values()) < wall for s, wall in zip(rec.seconds, epoch_walls))


def _exploding_task():
    """Two targets for one seed: a normal one and one a million times larger, whose gradients explode."""
    tone = synthetic_tone(30)
    return GenerationTask([tone, tone * 1e6], num_seeds=1)


def test_per_member_clipping_touches_only_the_exploding_member():
    clipped = _params(train(_exploding_task(), _specs(), [0], TrainConfig(epochs=3, clip_norm=1.0)))
    alone = _params(
        train(GenerationTask([synthetic_tone(30)], num_seeds=1), _specs(), [0], TrainConfig(epochs=3, clip_norm=1.0))
    )
    unclipped = _params(train(_exploding_task(), _specs(), [0], TrainConfig(epochs=3, lr=1e-12)))
    for arch in clipped:
        for name in clipped[arch]:
            # the healthy member is exactly what it is trained alone with the same clip
            torch.testing.assert_close(clipped[arch][name][0], alone[arch][name][0])
        # the exploding member moved, but by at most lr * clip_norm per epoch (3 epochs, momentum 0.95)
        step = torch.sqrt(sum(((clipped[arch][n][1] - unclipped[arch][n][1]) ** 2).sum() for n in clipped[arch]))
        assert 0 < step <= 3e-4 * 1.0 * 3 * (1 + 0.95 + 0.95**2) * 1.01


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_diverging_member_does_not_stop_the_others():
    tone = synthetic_tone(30)
    task = GenerationTask([tone, tone * 1e30], num_seeds=1)  # the second's squared error overflows
    cfg = TrainConfig(epochs=30, lr=1e-3, momentum=0.9)
    both = train(task, [ArchSpec("srn", 8)], [0], cfg)
    alone = train(GenerationTask([synthetic_tone(30)], num_seeds=1), [ArchSpec("srn", 8)], [0], cfg)
    nmse = both.final["srn"]["nmse"]
    assert both.outcome == "completed" and np.isnan(nmse[1]) and "1 of 2 srn networks diverged" in both.message
    np.testing.assert_allclose(nmse[0], alone.final["srn"]["nmse"][0], rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(lr=float("nan")), "finite positive"),
        (dict(lr=0), "finite positive"),
        (dict(optimizer="rmsprop"), "optimizer must be one of"),
        (dict(momentum=1.0), "momentum"),
        (dict(epochs=0), "epochs"),
        (dict(clip_norm=-1.0), "clip_norm"),
    ],
)
def test_bad_train_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_bad_targets():
    with pytest.raises(ValueError, match="zero variance"):
        GenerationTask([np.ones(10)], num_seeds=1)
    with pytest.raises(ValueError, match="NaN"):
        GenerationTask([np.array([0.0, np.nan, 1.0])], num_seeds=1)
