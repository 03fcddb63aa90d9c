"""Learning-rate sweeps: the table's shape and statistics, divergence, validation split, bad input."""

import numpy as np
import pytest

from cwrnn import ArchSpec
from cwrnn.config import validate
from cwrnn.data.audio import synthetic_tone
from cwrnn.data.speech_data import shipped_words
from cwrnn.experiment import build_specs, build_task
from cwrnn.grid import summarize
from cwrnn.sweep import MAX_SETTINGS, mark_best, sweep, sweep_specs, validation_split
from cwrnn.tasks.generation import GenerationTask
from cwrnn.train import TrainConfig, train

SMALL = {
    "task": "generation",
    "clips": [0, 1],
    "steps": 48,
    "budget": 120,
    "periods": [1, 2, 4, 8],
    "epochs": 8,
    "preset": "paper-generation",
}


def test_one_row_per_rate_and_arch_each_equal_to_its_own_run():
    rates, seeds = [1e-4, 1e-3, 3e-3], [0, 1]
    rows = sweep(SMALL, ["cwrnn", "lstm"], rates, seeds)
    assert [(r["arch"], r["lr"]) for r in rows] == [(a, lr) for a in ("cwrnn", "lstm") for lr in rates]
    assert all(r["n"] + r["diverged"] == 4 and r["momentum"] == 0.95 for r in rows)  # 2 seeds x 2 clips
    assert [sum(r["best"] for r in rows if r["arch"] == a) for a in ("cwrnn", "lstm")] == [1, 1]
    # independent reference: a plain training per rate, with the preset's clipping and no lr_scale
    cfg = validate({**SMALL, "seeds": 2})
    task = build_task(cfg)
    specs = build_specs(cfg, 0, 1)
    for row in rows:
        spec = [s for s in specs if s.arch == row["arch"]]
        tc = TrainConfig.preset("paper-generation", epochs=8, lr=row["lr"], lr_scale={})
        alone = train(task, spec, seeds, tc).final[row["arch"]]["nmse"]
        np.testing.assert_allclose(row["values"], alone, rtol=1e-4)
        assert row["mean"] == pytest.approx(alone.mean(), rel=1e-4)
        assert row["std"] == pytest.approx(alone.std(), rel=1e-3, abs=1e-7)


def test_momenta_multiply_the_settings():
    rows = sweep(SMALL, ["srn"], [1e-4, 1e-3], [0], momenta=[0.0, 0.9])
    assert [(r["lr"], r["momentum"]) for r in rows] == [(1e-4, 0.0), (1e-4, 0.9), (1e-3, 0.0), (1e-3, 0.9)]


def test_diverged_members_are_counted_and_left_out():
    task = GenerationTask([synthetic_tone(50)], num_seeds=4)  # 2 settings x 2 seeds
    low, high = sweep_specs(
        task, [ArchSpec("srn", 8)], [(1e-4, 0.9), (5.0, 0.9)], [0, 1], TrainConfig(epochs=200), "nmse"
    )
    assert high["diverged"] == 2 and high["n"] == 0 and high["mean"] is None and not high["best"]
    assert high["values"] == [None, None]
    assert low["diverged"] == 0 and low["best"] and np.isfinite(low["mean"])


def test_summarize_ignores_non_finite_values():
    s = summarize(np.array([1.0, np.nan, 3.0, np.inf]))
    assert (s["mean"], s["std"], s["median"], s["n"], s["diverged"]) == (2.0, 1.0, 2.0, 2, 2)
    assert summarize([np.nan]) == {"mean": None, "std": None, "median": None, "n": 0, "diverged": 1}
    rows = mark_best(
        [
            {"arch": "a", "n": 2, "diverged": 0, "mean": 0.5},
            {"arch": "a", "n": 0, "diverged": 3, "mean": None},
            {"arch": "a", "n": 1, "diverged": 2, "mean": 0.2},  # the lone survivor of an unstable rate
            {"arch": "b", "n": 0, "diverged": 3, "mean": None},
            {"arch": "c", "n": 1, "diverged": 1, "mean": 0.4},  # every setting lost members: the best survivor
            {"arch": "c", "n": 2, "diverged": 1, "mean": 0.3},
        ]
    )
    assert [r["best"] for r in rows] == [True, False, False, False, False, True]


@pytest.mark.parametrize(
    "rates, message",
    [
        ([], "rates must be a non-empty list"),
        ("1e-3", "rates must be a non-empty list"),
        ([1e-3, float("nan")], r"rates must be finite numbers in \(0, 10\]; these are not: \[nan\]"),
        ([1e-3, float("inf")], "these are not: \\[inf\\]"),
        ([-1e-3], "these are not: \\[-0.001\\]"),
        ([0.0], "these are not"),
        ([1e-3, 1e-3], "rates has repeats"),
        ([1e-5 * (i + 1) for i in range(MAX_SETTINGS + 1)], f"at most {MAX_SETTINGS} rates"),
    ],
)
def test_bad_rate_lists(rates, message):
    with pytest.raises(ValueError, match=message):
        sweep(SMALL, ["srn"], rates, [0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(momenta=[1.0]), r"momenta must be numbers in \[0, 1\)"),
        (dict(momenta=[0.9] * 2), "momenta has repeats"),
        (dict(archs=["rnn"]), "archs must be a list drawn from cwrnn, srn, lstm, gru"),
        (dict(archs=[]), "archs must be"),
        (dict(seeds=[]), "seeds must be a non-empty list"),
        (dict(rates=[1e-4 * (i + 1) for i in range(6)], momenta=[0.5, 0.9, 0.95]), "make 18 settings"),
    ],
)
def test_other_bad_sweeps(kwargs, message):
    args = {"archs": ["srn"], "rates": [1e-3], "seeds": [0], **kwargs}
    with pytest.raises(ValueError, match=message):
        sweep(SMALL, args.pop("archs"), args.pop("rates"), args.pop("seeds"), **args)


def test_words_validation_holds_out_a_training_speaker_and_never_sees_test():
    data = shipped_words()
    val = validation_split(data)
    train_speakers, held = set(val.train.speakers), set(val.test.speakers)
    assert len(held) == 1 and held < set(data.train.speakers) and not train_speakers & held
    assert not (train_speakers | held) & set(data.test.speakers)
    assert len(val.train) + len(val.test) == len(data.train)
    assert set(val.train.targets.tolist()) == set(range(len(data.labels))), "every word is still trained"
    with pytest.raises(ValueError, match="needs 1 to"):
        validation_split(data, speakers=len(set(data.train.speakers)))


def test_words_sweep_reads_the_validation_error():
    config = {"task": "words", "budget": 500, "epochs": 1, "periods": [1, 2, 4, 8], "preset": "paper-words"}
    rows = sweep(config, ["srn"], [3e-4], [0])
    held_out = len(validation_split(shipped_words()).test)
    (row,) = rows
    assert row["metric"] == "validation_error" and row["n"] == 1 and row["momentum"] == 0.9
    assert row["values"][0] * held_out == pytest.approx(round(row["values"][0] * held_out))
