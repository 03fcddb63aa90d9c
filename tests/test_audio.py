"""Tests for cwrnn.data.audio: the shipped Experiment 1 clips, WAV reading and writing, resampling, errors."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import wave

import numpy as np
import pytest
from scipy.io import wavfile

from cwrnn.data import audio
from cwrnn.data.audio import (
    RECORDING_PATH,
    SEQUENCE_LENGTH,
    SHIPPED_OFFSETS,
    AudioError,
    clip_from_wav,
    read_wav,
    resample,
    scale_to_unit,
    shipped_clips,
    shipped_recording,
    synthetic_tone,
    wav_bytes,
    window,
)

RATE = 44100
# Written out here rather than imported, so a wrong constant in cwrnn.data.audio cannot hide itself.
PAPER_OFFSETS = (162830, 239540, 330750, 403780, 529200)  # in the original music21 file
EXCERPT_START = 160000  # where the shipped excerpt starts in that file (see its README)


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.8) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)


def scipy_wav(data: np.ndarray, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    wavfile.write(buffer, rate, data)
    return buffer.getvalue()


def riff(format_tag: int, channels: int, rate: int, bits: int, payload: bytes) -> bytes:
    """A minimal RIFF/WAVE file, written by hand for formats scipy cannot write."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload))
    return b"RIFF" + struct.pack("<I", len(body) + len(payload)) + body + payload


def dominant_frequency(x: np.ndarray, rate: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


# --- the shipped recording and clips -------------------------------------------------------------


def test_shipped_clips_are_the_scaled_windows_of_the_asset():
    rate, raw = wavfile.read(RECORDING_PATH)  # independent of read_wav
    assert rate == RATE and raw.dtype == np.int16 and raw.ndim == 1
    assert SHIPPED_OFFSETS == PAPER_OFFSETS
    clips = shipped_clips()
    assert len(clips) == 5
    for clip, offset in zip(clips, PAPER_OFFSETS):
        piece = raw[offset - EXCERPT_START : offset - EXCERPT_START + 320].astype(np.float64)
        expected = (piece - piece.min()) / (piece.max() - piece.min()) * 2 - 1
        assert clip.shape == (SEQUENCE_LENGTH,) == (320,)
        assert clip.min() == -1.0 and clip.max() == 1.0
        np.testing.assert_allclose(clip, expected, atol=1e-12)


def test_shipped_clips_are_distinct_music_not_silence():
    clips = shipped_clips()
    for i in range(len(clips)):
        assert np.std(clips[i]) > 0.2
        for j in range(i):
            assert not np.allclose(clips[i], clips[j])


def test_asset_sha256_and_range_match_readme():
    readme = (RECORDING_PATH.parent / "README.md").read_text()
    assert f"samples {EXCERPT_START} (inclusive) to 530000 (exclusive)" in readme
    assert wavfile.read(RECORDING_PATH)[1].size == 530000 - EXCERPT_START
    recorded = re.search(r"SHA-256 of the excerpt \| `([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256(RECORDING_PATH.read_bytes()).hexdigest() == recorded.group(1)


def test_asset_licence_is_music21_bsd():
    licence = (RECORDING_PATH.parent / "LICENSE-music21.txt").read_text()
    assert licence.startswith("Copyright (c) 2006-2026 Michael Scott Asato Cuthbert")
    assert "Neither the name of the copyright holder" in licence


def test_shipped_recording_holds_every_window():
    rate, samples = shipped_recording()
    _, raw = wavfile.read(RECORDING_PATH)
    assert rate == RATE
    np.testing.assert_array_equal(samples, raw / 32768.0)
    assert max(PAPER_OFFSETS) - EXCERPT_START + SEQUENCE_LENGTH <= samples.size


def test_clip_from_wav_on_the_asset_reproduces_a_shipped_clip():
    start_seconds = (PAPER_OFFSETS[2] - EXCERPT_START) / RATE
    np.testing.assert_array_equal(clip_from_wav(RECORDING_PATH, start_seconds), shipped_clips()[2])


# --- read_wav ------------------------------------------------------------------------------------

REFERENCE = sine(441.0, RATE, 0.05, amplitude=0.9)


@pytest.mark.parametrize(
    ("encode", "tolerance"),
    [
        (lambda x: np.round(x * 128 + 128).astype(np.uint8), 0.5 / 128),
        (lambda x: np.round(x * 32768).astype(np.int16), 0.5 / 32768),
        (lambda x: np.round(x * 2**31).astype(np.int32), 1e-9),
        (lambda x: x.astype(np.float32), 1e-7),
        (lambda x: x.astype(np.float64), 0.0),
    ],
    ids=["uint8", "int16", "int32", "float32", "float64"],
)
def test_read_wav_round_trips_scipy_formats(encode, tolerance):
    rate, samples = read_wav(scipy_wav(encode(REFERENCE)))
    assert rate == RATE and samples.dtype == np.float64
    np.testing.assert_allclose(samples, REFERENCE, atol=tolerance)


def test_read_wav_reads_24_bit():
    ints = np.round(REFERENCE * 2**23).astype(np.int32)
    payload = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    rate, samples = read_wav(riff(1, 1, RATE, 24, payload))
    assert rate == RATE
    np.testing.assert_allclose(samples, REFERENCE, atol=2**-24)


def test_read_wav_full_scale_mapping():
    _, u8 = read_wav(scipy_wav(np.array([0, 128, 255], dtype=np.uint8)))
    _, i16 = read_wav(scipy_wav(np.array([-32768, 0, 16384], dtype=np.int16)))
    np.testing.assert_array_equal(u8, [-1.0, 0.0, 127 / 128])
    np.testing.assert_array_equal(i16, [-1.0, 0.0, 0.5])


def test_read_wav_clips_float_overshoot():
    _, samples = read_wav(scipy_wav(np.array([-1.5, 0.25, 2.0], dtype=np.float32)))
    np.testing.assert_array_equal(samples, [-1.0, 0.25, 1.0])


@pytest.mark.parametrize("channels", [2, 3])
def test_read_wav_averages_channels(channels):
    data = np.stack([REFERENCE * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)
    _, samples = read_wav(scipy_wav(data))
    np.testing.assert_allclose(samples, REFERENCE * (channels + 1) / (2 * channels), atol=1e-7)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_read_wav_keeps_the_sample_rate(rate):
    got_rate, samples = read_wav(scipy_wav(sine(300, rate, 0.1).astype(np.float32), rate))
    assert got_rate == rate and samples.size == rate // 10


def test_read_wav_accepts_path_str_bytes_and_file(tmp_path):
    data = scipy_wav(np.round(REFERENCE * 32767).astype(np.int16))
    path = tmp_path / "tone.wav"
    path.write_bytes(data)
    results = [read_wav(path), read_wav(str(path)), read_wav(data), read_wav(io.BytesIO(data))]
    with path.open("rb") as handle:
        handle.read(10)  # an upload widget may have been read before
        results.append(read_wav(handle))
    for rate, samples in results:
        assert rate == RATE
        np.testing.assert_array_equal(samples, results[0][1])


FORMATS = "allowed: uncompressed PCM WAV with 8-bit unsigned or 16/24/32-bit signed integer samples"


@pytest.mark.parametrize(
    ("payload", "words", "allowed"),
    [
        (b"this is not audio at all, just some text bytes", "not a readable WAV", FORMATS),
        (b"", "empty", FORMATS),
        (scipy_wav(np.zeros(0, dtype=np.int16)), "no samples", "needs at least one frame"),
        (scipy_wav(np.zeros(100, dtype=np.int16))[:30], "not a readable WAV", FORMATS),
        (riff(7, 1, 8000, 8, bytes(100)), "not a readable WAV", FORMATS),  # mu-law
        (scipy_wav(np.zeros(10, dtype=np.int64)), "unsupported sample format", FORMATS),
        (scipy_wav(np.array([0.0, np.nan], dtype=np.float32)), "NaN", "only finite samples are allowed"),
        (riff(1, 1, 0, 16, bytes(8)), "sample rate of 0", "it must be positive"),
    ],
    ids=["garbage", "empty", "zero-frames", "truncated", "mu-law", "int64", "nan", "zero-rate"],
)
def test_read_wav_rejects_bad_files(payload, words, allowed):
    """Each message says what is wrong and what is allowed instead."""
    with pytest.raises(AudioError, match=words) as caught:
        read_wav(payload)
    assert allowed in str(caught.value)


def test_read_wav_rejects_missing_and_empty_paths(tmp_path):
    with pytest.raises(AudioError, match="no WAV file"):
        read_wav(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        read_wav(empty)
    with pytest.raises(AudioError, match="binary mode"):
        read_wav(io.StringIO("RIFF"))
    with pytest.raises(AudioError, match="give a path"):
        read_wav(12345)


def test_read_wav_rejects_too_long(monkeypatch):
    monkeypatch.setattr(audio, "MAX_SECONDS", 1)
    data = scipy_wav(np.zeros(2 * 8000, dtype=np.int16), 8000)
    with pytest.raises(AudioError, match=r"2\.0 s long; at most 1 s"):
        read_wav(data)
    assert read_wav(scipy_wav(np.zeros(8000, dtype=np.int16), 8000))[1].size == 8000


# --- resample, window, scale_to_unit -------------------------------------------------------------


@pytest.mark.parametrize(("rate_from", "rate_to"), [(48000, 44100), (8000, 44100), (44100, 22050)])
def test_resample_preserves_frequency(rate_from, rate_to):
    freq = 1000.0
    out = resample(sine(freq, rate_from, 1.0), rate_from, rate_to)
    assert out.size == rate_to
    assert abs(dominant_frequency(out, rate_to) - freq) <= 1.0
    # Away from the edges the output is the same sine sampled at the new rate.
    middle = slice(rate_to // 10, -rate_to // 10)
    np.testing.assert_allclose(out[middle], sine(freq, rate_to, 1.0)[middle], atol=2e-3)


def test_resample_same_rate_is_identity_and_bad_rates_fail():
    x = sine(100, 8000, 0.01)
    np.testing.assert_array_equal(resample(x, 8000, 8000), x)
    with pytest.raises(AudioError, match="positive"):
        resample(x, 0, 8000)
    with pytest.raises(AudioError, match="1-D"):
        resample(np.zeros((2, 3)), 8000, 16000)


def test_window_and_its_errors():
    x = np.arange(10.0)
    np.testing.assert_array_equal(window(x, 7, 3), [7.0, 8.0, 9.0])
    with pytest.raises(AudioError, match=r"start must be at most 7"):
        window(x, 8, 3)
    with pytest.raises(AudioError, match="longer than the signal"):
        window(x, 0, 11)
    with pytest.raises(AudioError, match="start must be at least 0"):
        window(x, -1, 3)
    with pytest.raises(AudioError, match="length must be an integer"):
        window(x, 0, 2.5)


def test_scale_to_unit_maps_min_max_and_rejects_constants():
    np.testing.assert_allclose(scale_to_unit(np.array([2.0, 3.0, 6.0])), [-1.0, -0.5, 1.0])
    with pytest.raises(AudioError, match="constant"):
        scale_to_unit(np.full(5, 0.3))
    with pytest.raises(AudioError, match="NaN"):
        scale_to_unit(np.array([0.0, np.inf]))


# --- clip_from_wav -------------------------------------------------------------------------------


def test_clip_from_wav_resamples_and_cuts_at_the_start():
    data = scipy_wav(sine(523.25, 48000, 0.5).astype(np.float32), 48000)
    clip = clip_from_wav(data, start_seconds=0.2, length=320, rate=RATE)
    t = (round(0.2 * RATE) + np.arange(320)) / RATE
    expected = scale_to_unit(np.sin(2 * np.pi * 523.25 * t))
    assert clip.shape == (320,) and clip.min() == -1.0 and clip.max() == 1.0
    np.testing.assert_allclose(clip, expected, atol=5e-3)


def test_clip_from_wav_errors():
    data = scipy_wav(sine(200, 8000, 2.1).astype(np.float32), 8000)
    with pytest.raises(AudioError, match=r"start 3\.0 s is past the end of the 2\.1 s recording"):
        clip_from_wav(data, start_seconds=3.0)
    with pytest.raises(AudioError, match=r"runs past the end .* at most 2\.092 s"):
        clip_from_wav(data, start_seconds=2.095)
    with pytest.raises(AudioError, match="seconds >= 0"):
        clip_from_wav(data, start_seconds=-1.0)
    with pytest.raises(AudioError, match="shorter than"):
        clip_from_wav(scipy_wav(np.ones(40, dtype=np.int16), 8000))
    silent = scipy_wav(np.zeros(8000, dtype=np.int16), 8000)
    with pytest.raises(AudioError, match="silent or constant"):
        clip_from_wav(silent)


# --- wav_bytes and synthetic_tone ----------------------------------------------------------------


def test_wav_bytes_is_16_bit_mono_and_round_trips():
    x = sine(440, RATE, 0.02, amplitude=0.7)
    data = wav_bytes(x, RATE)
    with wave.open(io.BytesIO(data)) as parsed:  # stdlib parser, independent of scipy
        assert (parsed.getnchannels(), parsed.getsampwidth(), parsed.getframerate()) == (1, 2, RATE)
        assert parsed.getnframes() == x.size
    rate, back = read_wav(data)
    assert rate == RATE
    np.testing.assert_allclose(back, x, atol=1 / 32768)


def test_wav_bytes_keeps_relative_loudness_and_clips():
    loud, quiet = sine(440, RATE, 0.02, 0.5), sine(440, RATE, 0.02, 0.1)
    loud_back, quiet_back = read_wav(wav_bytes(loud, RATE))[1], read_wav(wav_bytes(quiet, RATE))[1]
    assert np.abs(loud_back).max() / np.abs(quiet_back).max() == pytest.approx(5.0, rel=1e-3)
    clipped = read_wav(wav_bytes(np.array([-3.0, 0.0, 3.0]), RATE))[1]
    np.testing.assert_array_equal(clipped, [-1.0, 0.0, 32767 / 32768])


def test_wav_bytes_peak_normalises():
    back = read_wav(wav_bytes(sine(440, RATE, 0.02, 0.1), RATE, peak=0.8))[1]
    assert np.abs(back).max() == pytest.approx(0.8, abs=1 / 32768)
    with pytest.raises(AudioError, match="silent"):
        wav_bytes(np.zeros(10), RATE, peak=0.5)
    with pytest.raises(AudioError, match=r"peak must be a number in \(0, 1\]"):
        wav_bytes(np.ones(10), RATE, peak=1.5)
    with pytest.raises(AudioError, match="rate must be an integer"):
        wav_bytes(np.ones(10), 44100.5)


def test_synthetic_tone_is_deterministic_in_range_and_pitched():
    tone = synthetic_tone()
    assert tone.shape == (SEQUENCE_LENGTH,)
    assert tone.min() == -1.0 and tone.max() == 1.0
    np.testing.assert_array_equal(tone, synthetic_tone())
    assert not np.allclose(tone, synthetic_tone(seed=1))
    long_tone = synthetic_tone(length=RATE, rate=RATE, f0=330.0)
    assert abs(dominant_frequency(long_tone, RATE) - 330.0) <= 2.0
    with pytest.raises(AudioError, match="Nyquist"):
        synthetic_tone(rate=8000, f0=4000.0)
