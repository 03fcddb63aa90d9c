"""Experiment 2 in the app: datasets, the folders they are read from, and a finished run's CW-RNN replayed over
one word."""

import io
import os

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from cwrnn.app import word_view as wv
from cwrnn.app.run_figures import run_figures
from cwrnn.config import ConfigError
from cwrnn.data import audio
from cwrnn.data.speech_data import WORD_GROUPS
from cwrnn.models import SequenceModel, matched_specs
from cwrnn.models.reference import naive_cwrnn
from cwrnn.paper import WORDS_PERIODS

TONE = audio.wav_bytes(audio.synthetic_tone(1600) * 0.5, 16000)


# ---- datasets ----------------------------------------------------------------------------------------


def test_the_shipped_words_are_grouped_by_suffix_and_named_by_voice():
    data = wv.load_dataset("synthetic")
    assert wv.class_groups(data.labels) == [list(g) for g in WORD_GROUPS]
    assert wv.class_groups(["0", "1"]) is None
    names = wv.word_names(data)
    assert len(names) == len(data.test) == 50
    assert names[0] == f"{data.labels[data.test.targets[0]]} ({data.test.speakers[0]}, 0)"
    assert wv.load_dataset("synthetic") is data  # kept while the folder is unchanged


def test_a_bad_folder_gives_the_datasets_message_with_paths_relative_to_the_data_home(tmp_path):
    with pytest.raises(ConfigError, match="there is no folder 'nowhere' here"):
        wv.load_dataset("folder", "nowhere", tmp_path)
    with pytest.raises(ConfigError, match="give the path of a folder"):
        wv.load_dataset("folder", " ", tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "yes_ann_0.wav").write_bytes(TONE)
    for named in ("mine", str(tmp_path / "mine")):
        with pytest.raises(ConfigError, match="^invalid configuration:\n- mine has one speaker") as caught:
            wv.load_dataset("folder", named, tmp_path)
        assert str(tmp_path) not in str(caught.value)


def test_folders_are_read_only_under_the_data_home_and_the_allowed_roots(tmp_path, monkeypatch):
    home, outside = tmp_path / "home", tmp_path / "elsewhere"
    (home / "uploads" / "rec").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret-file.txt").write_text("x")
    (home / "uploads" / "link").symlink_to(outside)
    monkeypatch.delenv(wv.DATA_ROOTS_VAR, raising=False)
    assert wv.resolve_folder("uploads/rec", home) == (home / "uploads" / "rec").resolve()
    for named in (str(outside), "../elsewhere", "uploads/link", "/etc", "/"):
        with pytest.raises(ConfigError, match="outside the folders this lab reads data from") as caught:
            wv.load_dataset("folder", named, home)
        assert "secret-file" not in str(caught.value) and str(home) not in str(caught.value)
    monkeypatch.setenv(wv.DATA_ROOTS_VAR, f"relative/ignored{os.pathsep}{outside}")
    assert wv.resolve_folder(str(outside), home) == outside.resolve()
    assert wv.data_roots(home) == [home.resolve(), outside.resolve()]
    assert wv.shown_path(home / "uploads" / "rec", home) == "uploads/rec"
    assert wv.shown_path(outside, home) == str(outside)


def test_a_test_word_plays_as_recorded():
    data = wv.load_dataset("synthetic")
    wav = wv.word_audio(data, 3)
    rate, pcm = wavfile.read(io.BytesIO(wav))
    original_rate, original = wavfile.read(data.test.paths[3])
    assert rate == original_rate and pcm.shape == original.shape
    np.testing.assert_allclose(pcm / 2**15, original / -np.iinfo(original.dtype).min, atol=2 / 2**15)


# ---- a finished run's CW-RNN over one word ------------------------------------------------------------


def finished_words_run(store, data, seeds=(3, 4)) -> tuple[dict, SequenceModel]:
    spec = matched_specs(500, 13, 25, periods=WORDS_PERIODS, baselines=())[0]
    model = SequenceModel(spec, 13, 25, list(seeds))
    run_id = store.create_run("words", {"task": "words", "dataset": "synthetic", "readout": "mean"}, list(seeds))
    store.save_weights(run_id, "cwrnn", model.state_dict())
    store.set_status(run_id, "completed", summary={"models": [spec.to_dict()]})
    return store.get_run(run_id), model


def test_a_word_through_the_saved_cwrnn_matches_a_naive_clockwork_rnn(store):
    data = wv.load_dataset("synthetic")
    run, model = finished_words_run(store, data)
    index = 7
    activity = wv.word_activity(store, run, data, index)
    x = torch.from_numpy(data.test.features[index]).double()[None]
    w = model.core.dense_weights()
    expected = naive_cwrnn(
        w["W_H"][0].double(), w["W_I"][0].double(), w["b"][0].double(), WORDS_PERIODS, model.spec.module_sizes, x=x
    )[0].numpy()
    np.testing.assert_allclose(activity.hidden, expected, atol=1e-5)
    T = len(data.test.features[index])
    assert activity.active.shape == (7, T) and activity.active[:, 0].all() and activity.active[6, 1:64].sum() == 0
    # the readout of member 0, by hand: y = W_O h + b_O at every step; "mean" averages y over the word
    state = model.member_state(0)
    y = expected @ state["readout.weight"].double().numpy().T + state["readout.bias"].double().numpy()
    np.testing.assert_allclose(activity.probabilities, torch.softmax(torch.from_numpy(y), -1).numpy(), atol=1e-5)
    assert activity.predicted == data.labels[int(y.mean(axis=0).argmax())]
    figures = wv.word_figures(data, index, activity)
    assert set(figures) == {"features", "activity", "probabilities"}
    heat = next(t for t in figures["activity"].data if t.type == "heatmap")
    np.testing.assert_allclose(np.array(heat.z, dtype=float), expected.T, atol=5e-4)
    mfcc = figures["features"].data[0]
    np.testing.assert_allclose(np.array(mfcc.z, dtype=float), data.test.features[index].T)
    # the MFCCs and the activity share one axis: steps, one per 10 ms frame
    assert list(mfcc.x) == list(range(T)) and figures["features"].layout.xaxis.title.text.startswith("step")
    # the belief over steps: the true word first (thick), the answer marked right or wrong in the title
    true = data.labels[int(data.test.targets[index])]
    probs = figures["probabilities"]
    assert probs.data[0].name == f"{true} (true)" and probs.data[0].line.width == 3
    np.testing.assert_allclose(probs.data[0].y, activity.probabilities[:, data.labels.index(true)])
    mark = "✓ right" if activity.predicted == true else f"✗ wrong: {activity.predicted}, not {true}"
    assert mark in probs.layout.title.text


def test_a_run_without_saved_weights_has_no_word_activity(store):
    data = wv.load_dataset("synthetic")
    run_id = store.create_run("words", {"task": "words"}, [0])
    assert wv.word_activity(store, store.get_run(run_id), data, 0) is None
    assert set(wv.word_figures(data, 0, None)) == {"features"}


def test_the_confusion_chart_of_a_shipped_words_run_is_ordered_by_suffix_group(store):
    data = wv.load_dataset("synthetic")
    run, _ = finished_words_run(store, data)
    matrix = np.arange(25 * 25).reshape(25, 25)
    store.add_snapshot(run["id"], 1, {"confusion/cwrnn": matrix}, {"epoch": 1, "archs": ["cwrnn"]})
    figure = run_figures(store, run["id"])["confusion"]
    heat = next(t for t in figure.data if t.type == "heatmap")
    order = [data.labels.index(w) for group in WORD_GROUPS for w in group]
    ordered = matrix[np.ix_(order, order)]
    # each row is the share of that true word's recordings given each answer
    np.testing.assert_allclose(np.array(heat.z), ordered / ordered.sum(axis=1, keepdims=True))
    assert list(figure.layout.xaxis.ticktext) == [w for group in WORD_GROUPS for w in group]
    assert "suffix groups" in figure.layout.title.text
