"""MFCC features against python_speech_features (an independent implementation) and the Standardizer."""

from pathlib import Path

import numpy as np
import pytest
import python_speech_features as psf  # test-only reference implementation (requirements-test.txt)
from scipy.io import wavfile
from scipy.signal import chirp

from cwrnn.data.features import Standardizer, frame_sizes, mfcc

FSDD = Path(__file__).resolve().parents[2] / "shared/data/fsdd/recordings"


def reference_mfcc(signal: np.ndarray, rate: int) -> np.ndarray:
    """The paper's settings spelled out for python_speech_features 0.6 (which defaults to nfft=512, no window)."""
    _, _, nfft = frame_sizes(rate)
    return psf.mfcc(
        signal,
        rate,
        winlen=0.025,
        winstep=0.01,
        numcep=13,
        nfilt=26,
        nfft=nfft,
        preemph=0.97,
        ceplifter=22,
        appendEnergy=True,
        winfunc=np.hamming,
    )


@pytest.mark.parametrize("rate", [8000, 16000, 22050])
def test_matches_python_speech_features_on_a_chirp(rate):
    t = np.arange(int(0.73 * rate)) / rate
    signal = 0.5 * chirp(t, f0=100, t1=t[-1], f1=0.45 * rate)
    signal[: rate // 10] = 0.0  # digital silence exercises the log(eps) floor
    ours = mfcc(signal, rate)
    assert ours.shape == (1 + int(np.ceil((len(signal) - frame_sizes(rate)[0]) / frame_sizes(rate)[1])), 13)
    np.testing.assert_allclose(ours, reference_mfcc(signal, rate), rtol=1e-9, atol=1e-9)


def test_signal_shorter_than_a_window_gives_one_frame():
    signal = np.sin(np.arange(150) * 0.3)
    ours = mfcc(signal, 8000)
    assert ours.shape == (1, 13)
    np.testing.assert_allclose(ours, reference_mfcc(signal, 8000), rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD recordings not found at {FSDD}")
def test_matches_python_speech_features_on_fsdd_recordings():
    names = [
        "0_george_0.wav",
        "3_jackson_17.wav",
        "5_lucas_42.wav",
        "7_nicolas_8.wav",
        "9_theo_33.wav",
        "2_yweweler_4.wav",
    ]
    for name in names:
        rate, data = wavfile.read(FSDD / name)
        signal = data.astype(np.float64) / 32768.0
        np.testing.assert_allclose(mfcc(signal, rate), reference_mfcc(signal, rate), rtol=1e-9, atol=1e-9, err_msg=name)


def test_gain_moves_only_the_energy_channel():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=8000)
    quiet, loud = mfcc(signal, 8000), mfcc(10.0 * signal, 8000)
    np.testing.assert_allclose(loud[:, 0] - quiet[:, 0], 2 * np.log(10.0))
    np.testing.assert_allclose(loud[:, 1:], quiet[:, 1:], atol=1e-9)


def test_frame_sizes_follow_the_paper():
    assert frame_sizes(8000) == (200, 80, 256)
    assert frame_sizes(16000) == (400, 160, 512)
    assert frame_sizes(22050) == (551, 221, 1024)  # 220.5 rounds half up, as python_speech_features


@pytest.mark.parametrize(
    "signal, rate, message",
    [
        (np.zeros((2, 100)), 8000, "1-D"),
        (np.zeros(0), 8000, "non-empty"),
        (np.array([0.0, np.nan, 1.0]), 8000, "finite"),
        (np.zeros(1000), 1000, ">= 4000"),
        (np.zeros(1000), 8000.5, "whole number"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(signal, rate, message):
    with pytest.raises(ValueError, match=message):
        mfcc(signal, rate)


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (5, 9, 14)]
    test = rng.normal(-1.0, 5.0, size=(7, 4))
    standardize = Standardizer.fit(train)
    stacked = np.concatenate(train)
    out = np.concatenate([standardize(s) for s in train])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-6)
    np.testing.assert_allclose(standardize(test), (test - stacked.mean(0)) / stacked.std(0), rtol=1e-5)


def test_standardizer_leaves_a_constant_channel_finite():
    train = [np.column_stack([np.arange(6.0), np.full(6, 7.0)])]
    out = Standardizer.fit(train)(train[0])
    assert np.all(np.isfinite(out)) and np.all(out[:, 1] == 0.0)


def test_standardizer_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="at least one"):
        Standardizer.fit([])
    with pytest.raises(ValueError, match="one width"):
        Standardizer.fit([np.zeros((3, 4)), np.zeros((3, 5))])
    with pytest.raises(ValueError, match=r"\(frames, 4\)"):
        Standardizer.fit([np.ones((3, 4))])(np.zeros((3, 13)))
