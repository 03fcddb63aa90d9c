"""Speech folders: speaker splits, standardisation, the feature cache, error messages, the shipped
synthetic word set and its generator, and the FSDD recordings when they are present."""

import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from cwrnn.data import speech_data
from cwrnn.data.features import mfcc
from cwrnn.data.speech_data import (
    SHIPPED_WORDS_DIR,
    WORD_GROUPS,
    DatasetError,
    fsdd,
    load_folder,
    pad_batch,
    read_wav,
    shipped_words,
)

FSDD = Path(__file__).resolve().parents[2] / "shared/data/fsdd/recordings"
needs_fsdd = pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD recordings not found at {FSDD}")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Keep every test's feature cache out of ~/.cache and away from other tests."""
    monkeypatch.setenv("CWRNN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write_word(folder: Path, name: str, *, freq: float = 440.0, rate: int = 8000, seconds: float = 0.3) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    noise = np.random.default_rng(len(name) + int(freq)).normal(scale=0.05, size=t.size)
    path = folder / name
    wavfile.write(path, rate, np.round(8000 * (np.sin(2 * np.pi * freq * t) + noise)).astype(np.int16))
    return path


def make_folder(folder: Path, labels=("a", "b", "c"), speakers=("ann", "bob", "cy", "dee"), takes=2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, label in enumerate(labels):
        for j, speaker in enumerate(speakers):
            for take in range(takes):
                write_word(folder, f"{label}_{speaker}_{take}.wav", freq=300 + 200 * i + 20 * j + 5 * take)
    return folder


def count_mfcc_calls(monkeypatch) -> list:
    calls = []

    def counting(signal, rate):
        calls.append(rate)
        return mfcc(signal, rate)

    monkeypatch.setattr(speech_data, "mfcc", counting)
    return calls


def assert_speaker_split(dataset, all_speakers):
    train, test = set(dataset.train.speakers), set(dataset.test.speakers)
    assert train.isdisjoint(test)
    assert train | test == set(all_speakers)
    for split in (dataset.train, dataset.test):
        for path, speaker, target in zip(split.paths, split.speakers, split.targets):
            label, file_speaker, _ = path.stem.split("_")
            assert file_speaker == speaker and dataset.labels[target] == label


def test_split_by_speaker_with_seeded_choice(tmp_path):
    folder = make_folder(tmp_path / "words")
    speakers = ("ann", "bob", "cy", "dee")
    dataset = load_folder(folder, n_test_speakers=1, seed=3)
    assert dataset.labels == ["a", "b", "c"]
    assert len(set(dataset.test.speakers)) == 1 and (len(dataset.train), len(dataset.test)) == (18, 6)
    assert_speaker_split(dataset, speakers)
    assert load_folder(folder, n_test_speakers=1, seed=3).test.speakers == dataset.test.speakers
    chosen = {load_folder(folder, n_test_speakers=1, seed=s).test.speakers[0] for s in range(12)}
    assert len(chosen) > 1, "the seed should change which speaker is held out"


def test_explicit_test_speakers_are_honoured(tmp_path):
    dataset = load_folder(make_folder(tmp_path / "words"), test_speakers=["bob", "dee"])
    assert set(dataset.test.speakers) == {"bob", "dee"}
    assert_speaker_split(dataset, ("ann", "bob", "cy", "dee"))


def test_features_are_standardised_with_training_statistics(tmp_path):
    dataset = load_folder(make_folder(tmp_path / "words"), test_speakers=["ann"])
    raw = {p: mfcc(*read_wav(p)) for p in dataset.train.paths + dataset.test.paths}
    train_frames = np.concatenate([raw[p] for p in dataset.train.paths])
    mean, std = train_frames.mean(axis=0), train_frames.std(axis=0)
    assert dataset.n_channels == 13 and dataset.sample_rate == 8000
    for split in (dataset.train, dataset.test):
        for path, features in zip(split.paths, split.features):
            assert features.dtype == np.float32
            np.testing.assert_allclose(features, (raw[path] - mean) / std, rtol=1e-4, atol=1e-4)
    test_frames = np.concatenate(dataset.test.features)
    assert np.abs(test_frames.mean(axis=0)).max() > 0.05, "test statistics must not leak into the scaling"


def test_second_load_reads_the_cache_and_a_changed_file_invalidates_it(tmp_path, monkeypatch, private_cache):
    folder = make_folder(tmp_path / "words")
    calls = count_mfcc_calls(monkeypatch)
    first = load_folder(folder)
    assert len(calls) == 24 and len(list(private_cache.glob("*.npz"))) == 1
    second = load_folder(folder)
    assert len(calls) == 24, "a cache hit must not recompute features"
    for a, b in zip(first.train.features + first.test.features, second.train.features + second.test.features):
        np.testing.assert_array_equal(a, b)
    stat = (folder / "a_ann_0.wav").stat()
    os.utime(folder / "a_ann_0.wav", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load_folder(folder)
    assert len(calls) == 48


def test_damaged_cache_file_is_rebuilt(tmp_path, monkeypatch, private_cache):
    folder = make_folder(tmp_path / "words")
    load_folder(folder)
    (cache_file,) = private_cache.glob("*.npz")
    cache_file.write_bytes(b"not an npz")
    calls = count_mfcc_calls(monkeypatch)
    load_folder(folder)
    assert len(calls) == 24
    assert np.load(cache_file)["lengths"].size == 24


def test_cache_dir_argument_overrides_the_environment(tmp_path, private_cache):
    load_folder(make_folder(tmp_path / "words"), cache_dir=tmp_path / "elsewhere")
    assert len(list((tmp_path / "elsewhere").glob("*.npz"))) == 1 and not private_cache.exists()


def test_other_files_in_the_folder_are_ignored(tmp_path):
    folder = make_folder(tmp_path / "words")
    (folder / "README.md").write_text("notes")
    (folder / "split.json").write_text("{}")
    assert len(load_folder(folder).train) + len(load_folder(folder).test) == 24


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_folder(tmp_path / "nope")


def test_a_file_instead_of_a_folder(tmp_path):
    path = write_word(tmp_path, "a_ann_0.wav")
    with pytest.raises(DatasetError, match="is not a folder"):
        load_folder(path)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="is empty"):
        load_folder(tmp_path / "empty")


def test_no_matching_files_names_the_pattern(tmp_path):
    folder = tmp_path / "words"
    folder.mkdir()
    write_word(folder, "hello.wav")
    write_word(folder, "a_b_c_0.wav")
    with pytest.raises(DatasetError, match=r"\{label\}_\{speaker\}_\{take\}\.wav.*found a_b_c_0.wav, hello.wav"):
        load_folder(folder)


def test_corrupt_wav_names_the_file(tmp_path):
    folder = make_folder(tmp_path / "words")
    (folder / "b_cy_1.wav").write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(DatasetError, match="cannot read .*b_cy_1.wav as a WAV file"):
        load_folder(folder)


def test_stereo_wav_is_read_as_the_mean_of_its_channels_as_experiment_1_reads_it(tmp_path):
    from cwrnn.data import audio

    left, right = np.full(800, 8192, dtype=np.int16), np.full(800, -4096, dtype=np.int16)
    wavfile.write(tmp_path / "a_bob_0.wav", 8000, np.column_stack([left, right]))
    signal, rate = speech_data.read_wav(tmp_path / "a_bob_0.wav")
    assert rate == 8000 and signal.shape == (800,)
    np.testing.assert_allclose(signal, (8192 - 4096) / 2 / 32768)
    np.testing.assert_allclose(signal, audio.read_wav(tmp_path / "a_bob_0.wav")[1])


def test_mixed_sample_rates_are_rejected(tmp_path):
    folder = make_folder(tmp_path / "words")
    write_word(folder, "c_dee_1.wav", rate=16000)
    with pytest.raises(DatasetError, match="one sample rate; found 8000 Hz .* 16000 Hz \\(c_dee_1.wav\\)"):
        load_folder(folder)


def test_one_speaker_is_not_enough(tmp_path):
    folder = make_folder(tmp_path / "words", speakers=("solo",))
    with pytest.raises(DatasetError, match=r"one speaker \(solo\); a speaker split needs at least 2"):
        load_folder(folder)


def test_a_label_with_one_example(tmp_path):
    folder = make_folder(tmp_path / "words")
    write_word(folder, "zebra_ann_0.wav")
    with pytest.raises(DatasetError, match="at least 2 recordings; .* only 1 for: zebra"):
        load_folder(folder)


def test_bad_split_requests(tmp_path):
    folder = make_folder(tmp_path / "words")
    with pytest.raises(DatasetError, match=r"n_test_speakers must be between 1 and 3 .* got 4"):
        load_folder(folder, n_test_speakers=4)
    with pytest.raises(DatasetError, match=r"test speakers \['zed'\] are not in the folder"):
        load_folder(folder, test_speakers=["zed"])
    with pytest.raises(DatasetError, match="leave one for training"):
        load_folder(folder, test_speakers=["ann", "bob", "cy", "dee"])


def test_a_label_only_test_speakers_say(tmp_path):
    folder = make_folder(tmp_path / "words", labels=("a",))
    write_word(folder, "solo_bob_0.wav")
    write_word(folder, "solo_bob_1.wav")
    with pytest.raises(DatasetError, match=r"labels \['solo'\] are spoken only by test speakers"):
        load_folder(folder, test_speakers=["bob"])


def test_pad_batch_pads_with_zeros_at_the_end():
    seqs = [np.ones((3, 2)), 2 * np.ones((5, 2)), np.full((1, 2), 3.0)]
    padded, lengths = pad_batch(seqs)
    assert padded.shape == (3, 5, 2) and padded.dtype == np.float32
    assert lengths.tolist() == [3, 5, 1] and lengths.dtype == np.int64
    for row, seq, n in zip(padded, seqs, lengths):
        np.testing.assert_array_equal(row[:n], seq)
        assert not row[n:].any()
    with pytest.raises(ValueError, match="at least one"):
        pad_batch([])
    with pytest.raises(ValueError, match="one channel count"):
        pad_batch([np.ones((3, 2)), np.ones((3, 4))])


def test_word_groups_share_a_suffix_within_each_group():
    assert [len(g) for g in WORD_GROUPS] == [5] * 5
    suffixes = [os.path.commonprefix([w[::-1] for w in group])[::-1] for group in WORD_GROUPS]
    assert suffixes == ["king", "ical", "ition", "ns", "way"]  # musicians: -ians


def test_shipped_words_have_the_papers_shape():
    dataset = shipped_words()
    split = json.loads((SHIPPED_WORDS_DIR / "split.json").read_text())
    assert dataset.labels == sorted(w for group in WORD_GROUPS for w in group)
    assert (len(dataset.train), len(dataset.test)) == (125, 50)
    assert set(dataset.train.speakers) == set(split["train"]) and len(split["train"]) == 5
    assert set(dataset.test.speakers) == set(split["test"]) and len(split["test"]) == 2
    assert_speaker_split(dataset, split["train"] + split["test"])
    for targets, per_word in ((dataset.train.targets, 5), (dataset.test.targets, 2)):
        assert np.bincount(targets, minlength=25).tolist() == [per_word] * 25
    assert dataset.sample_rate == 16000
    assert all("_" not in v for v in split["train"] + split["test"])
    assert sum(p.stat().st_size for p in SHIPPED_WORDS_DIR.iterdir()) < 8 * 2**20


@pytest.fixture(scope="module")
def make_words():
    path = Path(__file__).resolve().parents[1] / "scripts" / "make_words.py"
    spec = importlib.util.spec_from_file_location("make_words", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_words"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["make_words"]


def espeak_like_word(rate: int = 22050) -> np.ndarray:
    """Fixed input: 0.2 s silence, 0.5 s of a 150 Hz buzz with a 700 Hz formant-ish tone, 0.3 s silence."""
    t = np.arange(int(0.5 * rate)) / rate
    voiced = 0.4 * np.sign(np.sin(2 * np.pi * 150 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 700 * t))
    return np.concatenate([np.zeros(int(0.2 * rate)), voiced, np.zeros(int(0.3 * rate))])


def test_generator_augmentation_is_deterministic(make_words):
    word = espeak_like_word()
    params = make_words.take_params(np.random.default_rng([0, 4, 2]))
    assert params == make_words.take_params(np.random.default_rng([0, 4, 2]))
    a = make_words.augment(word, 22050, params, np.random.default_rng(7))
    b = make_words.augment(word, 22050, params, np.random.default_rng(7))
    c = make_words.augment(word, 22050, params, np.random.default_rng(8))
    assert a.dtype == np.int16 and np.abs(a).max() == round(make_words.PEAK * 32767)
    np.testing.assert_array_equal(a, b)
    assert a.shape == c.shape and not np.array_equal(a, c)


def test_generator_parameters_stay_in_their_ranges(make_words):
    drawn = [make_words.take_params(np.random.default_rng([0, w, v])) for w in range(25) for v in range(7)]
    for lo_hi, values in (
        (make_words.SPEED_WPM, [p.speed_wpm for p in drawn]),
        (make_words.PITCH, [p.pitch for p in drawn]),
        (make_words.VTL_FACTOR, [p.vtl_factor for p in drawn]),
        (make_words.SNR_DB, [p.snr_db for p in drawn]),
    ):
        assert lo_hi[0] <= min(values) and max(values) <= lo_hi[1] and len(set(values)) > 5


def test_generator_steps_do_what_they_say(make_words):
    word = espeak_like_word()
    stretched = make_words.change_vocal_tract(word, 22050, 1.1)
    assert len(stretched) == pytest.approx(len(word) / 22050 * 16000 * 1.1, abs=2)
    trimmed = make_words.trim_silence(stretched, 16000)
    voiced_s = 0.5 * 1.1
    assert len(trimmed) / 16000 == pytest.approx(voiced_s + 2 * make_words.TRIM_MARGIN_S, abs=0.02)
    noisy = make_words.add_noise(trimmed, 15.0, np.random.default_rng(0))
    realised = 10 * np.log10(np.mean(trimmed**2) / np.mean((noisy - trimmed) ** 2))
    assert realised == pytest.approx(15.0, abs=0.3)


@needs_fsdd
def test_fsdd_loads_all_recordings_fast_with_a_speaker_split(capsys):
    start = time.perf_counter()
    dataset = fsdd()
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nFSDD: featurised {len(dataset.train) + len(dataset.test)} files in {seconds:.2f} s (cold cache)")
    assert seconds < 10
    assert dataset.labels == [str(d) for d in range(10)] and dataset.sample_rate == 8000
    assert (len(dataset.train), len(dataset.test)) == (2000, 1000)
    assert_speaker_split(dataset, ("george", "jackson", "lucas", "nicolas", "theo", "yweweler"))


@needs_fsdd
def test_fsdd_path_comes_from_the_environment(tmp_path, monkeypatch):
    folder = tmp_path / "few"
    folder.mkdir()
    for name in ["1_theo_0.wav", "1_theo_1.wav", "1_lucas_0.wav", "2_theo_0.wav", "2_lucas_0.wav", "2_lucas_1.wav"]:
        shutil.copy(FSDD / name, folder / name)
    monkeypatch.setenv("CWRNN_FSDD", str(folder))
    dataset = fsdd(test_speakers=["lucas"])
    assert {p.parent for p in dataset.train.paths + dataset.test.paths} == {folder}
    assert (len(dataset.train), len(dataset.test)) == (3, 3)


def test_fsdd_missing_folder_says_how_to_point_at_it(tmp_path):
    with pytest.raises(DatasetError, match="CWRNN_FSDD"):
        fsdd(tmp_path / "nowhere")
