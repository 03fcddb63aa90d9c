"""Experiment 2's task: padding and the readouts, per-member noise, batched seeds, early stopping,
learning on the shipped words, FSDD when present, and the messages for bad data."""

from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch

from cwrnn import paper
from cwrnn.cli import reproduce_words
from cwrnn.config import ConfigError, validate
from cwrnn.data.features import Standardizer
from cwrnn.data.speech_data import WORD_GROUPS, SpeechDataset, SpeechSplit, pad_batch, shipped_words
from cwrnn.experiment import build_task
from cwrnn.grid import Cell
from cwrnn.models import ArchSpec, SequenceModel
from cwrnn.tasks.words import READOUTS, WordsTask, read_out
from cwrnn.train import Callback, TrainConfig, train

FSDD = Path(__file__).resolve().parents[2] / "shared/data/fsdd/recordings"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CWRNN_CACHE", str(tmp_path / "cache"))


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_split(n: int, classes: int, rng: np.random.Generator, *, lengths=(5, 16)) -> SpeechSplit:
    """Class c is noise plus an offset of 1.5 on channel c, so a few epochs separate the classes."""
    targets = np.arange(n, dtype=np.int64) % classes
    features = []
    for c in targets:
        f = rng.normal(size=(int(rng.integers(*lengths)), 13)).astype(np.float32)
        f[:, c] += 1.5
        features.append(f)
    return SpeechSplit(features, targets, [f"s{i % 3}" for i in range(n)], [Path(f"{i}.wav") for i in range(n)])


def tiny_dataset(classes: int = 3, n_train: int = 12, n_test: int = 6, seed: int = 0) -> SpeechDataset:
    rng = np.random.default_rng(seed)
    return SpeechDataset(
        [f"w{c}" for c in range(classes)],
        tiny_split(n_train, classes, rng),
        tiny_split(n_test, classes, rng),
        Standardizer(np.zeros(13), np.ones(13)),
        8000,
    )


def spec(arch: str, n: int = 6) -> ArchSpec:
    return ArchSpec(arch, n, periods=[1, 2, 4] if arch == "cwrnn" else None)


@pytest.fixture(scope="module")
def words(tmp_path_factory) -> SpeechDataset:
    return shipped_words(cache_dir=tmp_path_factory.mktemp("cache"))


# -- padding, readouts, loss ---------------------------------------------------------------------


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("arch", ["cwrnn", "srn", "lstm"])
def test_a_short_word_batched_with_a_long_one_keeps_its_logits(arch, readout):
    """Right padding keeps every word at t = 0, so the clock starts at its first frame, and no padded step
    reaches its prediction; the reference runs the word alone, unpadded."""
    torch.manual_seed(0)
    model = SequenceModel(spec(arch), 13, 4, seeds=[0, 1])
    short, long = torch.randn(7, 13), torch.randn(20, 13)
    with torch.no_grad():
        y_alone, _ = model(short[None])
        expected = y_alone[:, 0, -1] if readout == "last" else y_alone[:, 0].mean(dim=1)
        x, lengths = pad_batch([long.numpy(), short.numpy()])
        got = read_out(model(torch.from_numpy(x))[0], torch.from_numpy(lengths), readout)[:, 1]
        # a garbage tail (not just zeros) after the word must not matter either
        tail = torch.cat([short, 1e3 * torch.ones(9, 13)])[None]
        tailed = read_out(model(tail)[0], torch.tensor([7]), readout)[:, 0]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(tailed, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("readout", READOUTS)
def test_loss_sums_the_cross_entropy_of_each_word_alone(readout):
    task = WordsTask(tiny_dataset(classes=4), readout=readout, batch_size=5)
    model = SequenceModel(spec("cwrnn"), 13, 4, seeds=[5, 6])
    batch = next(iter(task.batches(1, [5, 6])))
    with torch.no_grad():
        loss = task.loss(model, batch)
        expected = torch.zeros(2)
        for i, (length, target) in enumerate(zip(batch.lengths.tolist(), batch.targets.tolist())):
            for r in range(2):  # each member's own noisy copy of the word, unpadded
                y, _ = model(batch.x[:, i : i + 1, :length].expand(2, 1, length, 13).contiguous())
                scores = y[r, 0, -1] if readout == "last" else y[r, 0].mean(dim=0)
                expected[r] -= torch.log_softmax(scores, dim=-1)[target]
    assert loss.shape == (2,)
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)


def test_predictions_come_back_in_the_split_order():
    task = WordsTask(tiny_dataset(classes=5, n_test=11), eval_batch=4)  # several length-sorted chunks
    model = SequenceModel(spec("srn"), 13, 5, seeds=[2])
    with torch.no_grad():
        alone = [int(model(torch.from_numpy(f)[None])[0][0, 0, -1].argmax()) for f in task.data.test.features]
    np.testing.assert_array_equal(task.predictions(model, "test")[0], alone)
    errors = task.error(model, "test")
    assert errors[0] == pytest.approx(np.mean(np.array(alone) != task.data.test.targets))


# -- batches and noise ---------------------------------------------------------------------------


def test_each_member_gets_its_own_noise_whatever_the_other_members():
    task = WordsTask(tiny_dataset(n_train=10), batch_size=4)
    pair = list(task.batches(3, [7, 9]))
    alone = list(task.batches(3, [9]))
    assert [len(b.targets) for b in pair] == [4, 4, 2]
    for b, a in zip(pair, alone):
        assert b.x.shape[:2] == (2, len(b.targets))
        torch.testing.assert_close(b.x[1], a.x[0], rtol=0, atol=0)
        assert not torch.allclose(b.x[0], b.x[1])
    clean = list(WordsTask(tiny_dataset(n_train=10), batch_size=4, noise_std=0.0).batches(3, [7]))
    noise = torch.cat(
        [
            (b.x - c.x)[:, i, :length].reshape(-1)
            for b, c in zip(pair, clean)
            for i, length in enumerate(b.lengths.tolist())
        ]
    )
    assert noise.std().item() == pytest.approx(0.6, rel=0.1)

    def words_of(batches):
        return [(int(n), int(t)) for b in batches for n, t in zip(b.lengths, b.targets)]

    train = task.data.train
    assert sorted(words_of(pair)) == sorted((len(f), int(t)) for f, t in zip(train.features, train.targets))
    assert words_of(pair) != words_of(task.batches(4, [7, 9]))  # a new order every epoch


def test_batched_seeds_train_exactly_like_single_seeds():
    task = WordsTask(tiny_dataset(), batch_size=4)
    cfg = TrainConfig(epochs=3, optimizer="sgd", lr=0.02, momentum=0.9, snapshot_every=100, device="cpu")
    specs = [spec("cwrnn"), spec("lstm", 3)]
    both = train(task, specs, [3, 8], cfg).models
    for r, seed in enumerate([3, 8]):
        alone = train(task, specs, [seed], cfg).models
        for arch in ("cwrnn", "lstm"):
            start = SequenceModel(specs[0] if arch == "cwrnn" else specs[1], 13, 3, seeds=[seed]).member_state(0)
            trained = alone[arch].member_state(0)
            assert any(not torch.allclose(trained[k], start[k]) for k in trained)  # it did train
            for k, v in both[arch].member_state(r).items():
                torch.testing.assert_close(v, trained[k], atol=1e-5, rtol=1e-5)


# -- early stopping ------------------------------------------------------------------------------


class ParamRecorder(WordsTask):
    """Keeps every member's parameters as the loop measures them (after each epoch's updates)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params: list[list[torch.Tensor]] = []

    def metrics(self, model, train_losses):
        self.params.append([p.detach().clone() for p in model.parameters()])
        return super().metrics(model, train_losses)


class History(Callback):
    def __init__(self):
        self.train_error: list[np.ndarray] = []

    def on_epoch(self, epoch, metrics, elapsed):
        self.train_error.append(metrics["cwrnn"]["train_error"])


def stop_epoch(errors: list[float], patience: int) -> int | None:
    """The epoch (1-based) after which the noise-free training error has not fallen for `patience` epochs."""
    best, waited = np.inf, 0
    for epoch, e in enumerate(errors, 1):
        best, waited = (e, 0) if e < best else (best, waited + 1)
        if waited >= patience:
            return epoch
    return None


def test_early_stopping_freezes_each_member_when_its_training_error_stalls():
    task = ParamRecorder(tiny_dataset(), batch_size=4)
    history = History()
    cfg = TrainConfig(epochs=60, optimizer="sgd", lr=0.02, momentum=0.9, patience=5, snapshot_every=100, device="cpu")
    result = train(task, [spec("cwrnn")], [0, 1, 2], cfg, [history])
    errors = np.array(history.train_error)  # (epochs, members)
    stops = [stop_epoch(list(errors[:, r]), 5) for r in range(3)]
    assert None not in stops and result.epochs == max(stops) < cfg.epochs
    assert len(set(stops)) > 1  # so some member is frozen while another still learns
    for r, s in enumerate(stops):
        frozen = [p[r] for p in task.params[s - 1]]
        assert any(not torch.equal(a[r], b) for a, b in zip(task.params[0], frozen))  # it moved first
        for later in task.params[s:]:  # every later epoch and the final evaluation
            for p, f in zip(later, frozen):
                assert torch.equal(p[r], f)


# -- the shipped words, FSDD, configuration ------------------------------------------------------


def test_a_short_run_on_the_shipped_words_beats_chance(words):
    task = WordsTask(words)
    cfg = TrainConfig.preset("paper-words", epochs=20, lr=5e-4, snapshot_every=100, device="cpu")
    result = train(task, [ArchSpec("cwrnn", 64, periods=paper.WORDS_PERIODS)], [0, 1], cfg)
    final = result.final["cwrnn"]
    assert final["loss"].shape == final["test_error"].shape == (2,)
    assert np.all(final["test_error"] < 0.75), final  # chance is 24 in 25 wrong; new voices are hard
    assert np.all(final["train_error"] < 0.4), final


def test_snapshot_and_description_of_the_shipped_words(words):
    task = WordsTask(words, readout="mean", dataset="synthetic")
    model = SequenceModel(spec("cwrnn", 9), 13, 25, seeds=[4])
    with torch.no_grad():
        snap = task.snapshot(model)
    frames = len(words.test.features[0])
    assert snap["input"].shape == (frames, 13) and snap["hidden"].shape == (frames, 9)
    assert snap["output"].shape == (frames, 25)
    np.testing.assert_allclose(snap["output"].sum(axis=1), 1.0, rtol=1e-5)
    confusion = snap["confusion"]
    assert confusion.shape == (25, 25) and confusion.sum() == len(words.test)
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(words.test.targets, minlength=25))
    assert 1 - np.trace(confusion) / confusion.sum() == pytest.approx(task.error(model, "test")[0])
    info = task.describe()
    assert info["groups"] == [list(g) for g in WORD_GROUPS]
    assert (info["train"], info["test"], info["labels"]) == (125, 50, words.labels)
    assert len(info["test_speakers"]) == 2 and not set(info["test_speakers"]) & set(info["train_speakers"])


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD recordings not found at {FSDD}")
def test_fsdd_through_the_configuration(tmp_path, monkeypatch):
    subset = tmp_path / "fsdd"
    subset.mkdir()
    for digit in range(10):  # two takes of every digit from three speakers keep the test fast
        for speaker in ("george", "jackson", "theo"):
            for take in (0, 1):
                (subset / f"{digit}_{speaker}_{take}.wav").symlink_to(FSDD / f"{digit}_{speaker}_{take}.wav")
    monkeypatch.setenv("CWRNN_FSDD", str(subset))
    cfg = validate({"task": "words", "dataset": "fsdd", "periods": [1, 2, 4], "budget": 500, "seeds": 2})
    task = build_task(cfg)
    assert task.output_size == 10 and task.describe()["groups"] is None
    assert task.describe()["labels"] == [str(d) for d in range(10)]
    result = train(task, [spec("cwrnn")], cfg.seed_list, TrainConfig(epochs=2, patience=5, device="cpu"))
    assert result.outcome == "completed"
    assert all(np.all(np.isfinite(v)) and v.shape == (2,) for v in result.final["cwrnn"].values())


def test_bad_words_data_gives_a_clear_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_task(validate({"task": "words", "dataset": "folder", "folder": str(tmp_path / "missing")}))
    (tmp_path / "notes.txt").write_text("not a recording")
    with pytest.raises(ConfigError, match=r"\{label\}_\{speaker\}_\{take\}\.wav"):
        build_task(validate({"task": "words", "dataset": "folder", "folder": str(tmp_path)}))
    with pytest.raises(ValueError, match="readout must be one of last, mean"):
        WordsTask(tiny_dataset(), readout="first")
    with pytest.raises(ValueError, match="readout must be one of last, mean"):
        read_out(torch.zeros(1, 1, 3, 2), torch.tensor([3]), "max")


def test_reproduce_words_runs_the_paper_grid_and_prints_percent(monkeypatch):
    calls = {}

    def fake_grid(base, budgets, archs, **kwargs):
        calls.update(base=base, budgets=list(budgets), archs=list(archs), **kwargs)
        return [Cell("cwrnn", 10000, 102, 9999, [0.1, 0.2], 16.8, "completed", 1.0)]

    monkeypatch.setattr("cwrnn.grid.run_grid", fake_grid)
    args = Namespace(
        sizes=None,
        runs=4,
        epochs=300,
        workers=2,
        dataset="synthetic",
        folder=None,
        device="cpu",
        archs=list(paper.ARCHS),
        ray=None,
        seed_batch=None,
        tuned=False,
    )
    cells, table = reproduce_words(args)
    base = calls["base"]
    assert (base.task, base.dataset, base.preset) == ("words", "synthetic", "paper-words")
    assert (base.epochs, base.seeds) == (300, 4)
    assert base.periods == paper.WORDS_PERIODS == [1, 2, 4, 8, 16, 32, 64]
    assert calls["budgets"] == list(paper.WORDS_BUDGETS) and calls["metric"] == "test_error"
    assert calls["paper_table"] is paper.WORDS_ERROR and set(calls["archs"]) == {"cwrnn", "lstm", "srn"}
    assert "test error %" in table and "15 ± 5" in table and "16.8" in table
    reproduce_words(Namespace(**{**vars(args), "dataset": "fsdd"}))
    assert calls["base"].dataset == "fsdd" and calls["paper_table"] == {}  # TIMIT numbers fit no other data
