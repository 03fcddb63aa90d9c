"""Figures and sounds of a stored run, built from a store filled by hand."""

import io

import numpy as np
import pytest
from scipy.io import wavfile

from cwrnn.app.run_figures import LISTEN_SECONDS, MAX_POINTS, RunWatcher, looped, run_audio, run_figures
from cwrnn.data import audio

ARCHS = ("cwrnn", "srn", "lstm")
PERIODS, SIZES, STEPS = [1, 2, 4], [2, 2, 1], 12


def nmse(arch: str, seed: int, epoch: int) -> float:
    return {"cwrnn": 0.5, "srn": 1.0, "lstm": 0.8}[arch] / epoch + 0.01 * seed


def add_epochs(store, run_id: int, epochs) -> None:
    store.add_metrics(
        run_id,
        [
            (a, s, e, name, factor * nmse(a, s, e))
            for e in epochs
            for a in ARCHS
            for s in (0, 1)
            for name, factor in (("nmse", 1.0), ("mse", 0.3))
        ],
    )


def generation_snapshot(epoch: int, scale: float = 0.5) -> tuple[dict, dict]:
    t = np.arange(STEPS)
    target = np.sin(t / 2.0)
    rng = np.random.default_rng(epoch)
    W = rng.normal(size=(5, 5)) * np.array(
        [[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]]
    )
    arrays = {
        "target": target,
        "hidden/cwrnn": rng.uniform(-1, 1, (STEPS, 5)),
        "weights/cwrnn": W,
        "active": (t[None, :] % np.array(PERIODS)[:, None]) == 0,
        **{f"output/{a}": scale * target * (i + 1) / 3 for i, a in enumerate(ARCHS)},
    }
    return arrays, {"epoch": epoch, "archs": list(ARCHS), "periods": PERIODS, "module_sizes": SIZES}


def generation_run(store, epochs=range(1, 6), snapshot_at=(5,)) -> int:
    run_id = store.create_run("generation", {"baselines": ["srn", "lstm"], "epochs": 10}, [0, 1])
    store.set_status(run_id, "running")
    add_epochs(store, run_id, epochs)
    for epoch in snapshot_at:
        store.add_snapshot(run_id, epoch, *generation_snapshot(epoch))
    return run_id


def trace(fig, name: str):
    return next(t for t in fig.data if t.name == name)


def test_a_generation_run_gets_its_four_charts_from_the_stored_data(store):
    run_id = generation_run(store)
    figures = run_figures(store, run_id)
    assert list(figures) == ["loss", "waveform", "activity", "weights"]

    loss = figures["loss"]
    assert loss.layout.yaxis.type == "log"
    for arch, label in (("cwrnn", "CW-RNN"), ("srn", "SRN"), ("lstm", "LSTM")):
        line = trace(loss, label)
        np.testing.assert_allclose(line.x, [1, 2, 3, 4, 5])
        expected = [np.median([nmse(arch, s, e) for s in (0, 1)]) for e in range(1, 6)]
        np.testing.assert_allclose(line.y, expected)  # the normalised MSE, not the MSE

    arrays, _ = generation_snapshot(5)
    wave = figures["waveform"]
    np.testing.assert_allclose(trace(wave, "target").y, arrays["target"])
    np.testing.assert_allclose(trace(wave, "CW-RNN").y, arrays["output/cwrnn"])
    assert "epoch 5" in wave.layout.title.text

    heat = next(t for t in figures["activity"].data if t.type == "heatmap")
    np.testing.assert_allclose(np.array(heat.z, dtype=float), arrays["hidden/cwrnn"].T, atol=5e-4)  # units down
    weights = next(t for t in figures["weights"].data if t.type == "heatmap")
    z = np.array(weights.z, dtype=float)
    assert np.isnan(z[arrays["weights/cwrnn"] == 0]).all()  # no connection: left blank
    np.testing.assert_allclose(z[arrays["weights/cwrnn"] != 0], arrays["weights/cwrnn"][arrays["weights/cwrnn"] != 0])


def test_a_run_without_data_says_what_it_waits_for(store):
    run_id = store.create_run("generation", {"baselines": []}, [0])
    figures = run_figures(store, run_id)
    assert figures["loss"].layout.annotations[0].text == "Waiting for the first epoch"
    for name in ("waveform", "activity", "weights"):
        assert figures[name].layout.annotations[0].text == "Waiting for the first snapshot"
    assert run_audio(store, run_id) == {}


def test_the_watcher_reads_only_what_is_new_and_rebuilds_only_what_changed(store, monkeypatch):
    run_id = generation_run(store, epochs=range(1, 4), snapshot_at=(1,))
    asked, loads = [], []
    metrics, load_snapshot = store.metrics, store.load_snapshot
    monkeypatch.setattr(
        store, "metrics", lambda rid, after_epoch=-1: asked.append(after_epoch) or metrics(rid, after_epoch)
    )
    monkeypatch.setattr(
        store, "load_snapshot", lambda rid, epoch=None: loads.append(epoch) or load_snapshot(rid, epoch)
    )
    watcher = RunWatcher(store, run_id)
    assert watcher.refresh()
    first = watcher.figures()
    assert not watcher.refresh()  # nothing new: no snapshot read again, every figure reused
    assert all(watcher.figures()[name] is fig for name, fig in first.items()) and len(loads) == 1

    add_epochs(store, run_id, range(4, 7))
    assert watcher.refresh()
    second = watcher.figures()
    assert second["loss"] is not first["loss"] and len(trace(second["loss"], "CW-RNN").x) == 6
    assert all(second[name] is first[name] for name in ("waveform", "activity", "weights"))
    assert asked == [-1, 3, 3]  # every read starts after the last epoch already held
    assert len(watcher.metrics) == 6 * len(ARCHS) * 2 * 2  # no row read twice

    store.add_snapshot(run_id, 5, *generation_snapshot(5))
    assert watcher.refresh()
    third = watcher.figures()
    assert third["loss"] is second["loss"] and third["activity"] is not second["activity"]
    assert len(loads) == 2 and watcher.snapshot[0] == 5 and "epoch 5" in third["waveform"].layout.title.text


def decoded(wav: bytes) -> np.ndarray:
    rate, pcm = wavfile.read(io.BytesIO(wav))
    assert rate == audio.SHIPPED_RATE
    return pcm / 2**15


def test_audio_of_a_running_run_loops_the_snapshot_on_one_loudness_scale(store):
    run_id = generation_run(store)
    sounds = run_audio(store, run_id)
    assert list(sounds) == ["target", "srn", "lstm", "cwrnn"]
    arrays, _ = generation_snapshot(5)
    for name, wav in sounds.items():
        samples = decoded(wav)
        assert samples.size >= LISTEN_SECONDS * audio.SHIPPED_RATE
        signal = arrays["target" if name == "target" else f"output/{name}"]
        np.testing.assert_allclose(samples[: 2 * STEPS], np.tile(signal, 2), atol=1 / 2**15)
    # outputs are 1/6, 2/6 and 3/6 of the target: played as loud as they are, not normalised
    peak = {name: np.abs(decoded(wav)).max() for name, wav in sounds.items()}
    assert peak["srn"] / peak["target"] == pytest.approx(2 / 6, abs=1e-3)


def test_audio_of_a_finished_run_comes_from_its_saved_files(store):
    run_id = generation_run(store)
    saved = {
        name: np.full(STEPS, level) for name, level in (("target", 0.9), ("cwrnn", 0.7), ("srn", 0.1), ("lstm", -0.2))
    }
    for name, signal in saved.items():
        store.save_artifact_bytes(run_id, f"{name}.wav", audio.wav_bytes(signal, audio.SHIPPED_RATE))
    assert decoded(run_audio(store, run_id)["cwrnn"])[0] != pytest.approx(0.7, abs=1e-3)  # still running
    store.set_status(run_id, "completed")
    for name, wav in run_audio(store, run_id).items():
        np.testing.assert_allclose(decoded(wav)[: 3 * STEPS], saved[name][0], atol=1 / 2**15)


def test_a_words_run_gets_its_error_and_confusion_charts_and_no_audio(store):
    run_id = store.create_run("words", {"baselines": ["lstm"]}, [0])
    store.add_metrics(
        run_id,
        [
            (a, 0, e, name, v / e)
            for e in (1, 2)
            for a in ("cwrnn", "lstm")
            for name, v in (("loss", 2.0), ("train_error", 0.5), ("test_error", 0.6))
        ],
    )
    hidden = np.zeros((7, 5))
    store.add_snapshot(
        run_id,
        2,
        {
            "input": np.zeros((7, 13)),
            "hidden/cwrnn": hidden,
            "weights/cwrnn": np.eye(5),
            "output/cwrnn": np.full((7, 3), 1 / 3),
            "confusion/cwrnn": np.eye(3),
        },
        {"epoch": 2, "archs": ["cwrnn", "lstm"], "periods": PERIODS, "module_sizes": SIZES},
    )
    figures = run_figures(store, run_id)
    assert list(figures) == ["loss", "accuracy", "activity", "weights", "confusion"]
    assert {t.name for t in figures["accuracy"].data} >= {"CW-RNN train", "CW-RNN test", "LSTM test"}
    np.testing.assert_allclose(trace(figures["loss"], "CW-RNN").y, [2.0, 1.0])
    assert run_audio(store, run_id) == {}


def test_a_long_history_is_thinned_for_the_browser(store):
    run_id = store.create_run("generation", {"baselines": []}, [0])
    store.add_metrics(run_id, [("cwrnn", 0, e, "nmse", 1 / e) for e in range(1, 20_001)])
    line = trace(run_figures(store, run_id)["loss"], "CW-RNN")
    assert len(line.x) == MAX_POINTS and line.x[0] == 1 and line.x[-1] == 20_000


def test_looped_repeats_a_signal_for_at_least_the_asked_time():
    x = np.array([0.1, -0.2, 0.3])
    y = looped(x, rate=10, seconds=1.0)
    assert y.size == 12 and np.array_equal(y, np.tile(x, 4))
    assert looped(np.array([]), rate=10).size == 0
