"""MFCC features for the spoken-word task, and per-channel standardisation.

The paper (Experiment 2) feeds 13 channels per 10 ms frame: 12 MFCCs and the frame's energy, from a
25 ms window with pre-emphasis 0.97. The details it leaves out follow python_speech_features 0.6
(Hamming window passed in, 26 mel filters, lifter 22, log energy replacing c0), so the tests can check
this vectorised version against that independent implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy.fft import dct, rfft

WINLEN_S = 0.025
WINSTEP_S = 0.01
PREEMPH = 0.97
N_FILTERS = 26
N_CEPSTRA = 13
LIFTER = 22
MIN_RATE = 4000

# Changing any of these invalidates cached features, so the cache key includes this string.
FEATURE_SIGNATURE = (
    f"mfcc-v1 win={WINLEN_S} step={WINSTEP_S} preemph={PREEMPH} nfilt={N_FILTERS} "
    f"ncep={N_CEPSTRA} lifter={LIFTER} window=hamming energy=log-power"
)


def frame_sizes(rate: int) -> tuple[int, int, int]:
    """Window length, step (samples, rounded half up) and FFT size (next power of 2 >= window)."""
    win = int(np.floor(WINLEN_S * rate + 0.5))
    step = int(np.floor(WINSTEP_S * rate + 0.5))
    nfft = 1 << (win - 1).bit_length()
    return win, step, nfft


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(rate: int, nfft: int) -> np.ndarray:
    """Triangular mel filters (N_FILTERS, nfft // 2 + 1) on floored FFT bins, as python_speech_features."""
    mel_points = np.linspace(0.0, _hz_to_mel(rate / 2.0), N_FILTERS + 2)
    edges = np.floor((nfft + 1) * _mel_to_hz(mel_points) / rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    bins = np.arange(nfft // 2 + 1, dtype=float)[None, :]
    # Where two edges coincide the slope is empty; `where` keeps the 0/0 out of the result.
    rising = np.divide(bins - lo, mid - lo, out=np.zeros((N_FILTERS, bins.size)), where=mid > lo)
    falling = np.divide(hi - bins, hi - mid, out=np.zeros((N_FILTERS, bins.size)), where=hi > mid)
    bank = np.where((bins >= lo) & (bins < mid), rising, 0.0) + np.where((bins >= mid) & (bins < hi), falling, 0.0)
    bank.setflags(write=False)
    return bank


@lru_cache(maxsize=8)
def _lifter_and_window(win: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.arange(N_CEPSTRA)
    lift = 1.0 + (LIFTER / 2.0) * np.sin(np.pi * n / LIFTER)
    return lift, np.hamming(win)


def mfcc(signal: np.ndarray, rate: int) -> np.ndarray:
    """13 features per 10 ms frame, float64 (frames, 13): column 0 is log frame energy, 1..12 are c1..c12.

    `signal` is a 1-D float array (any scale; scale only shifts column 0). The last frame is zero-padded,
    and a signal shorter than one window gives one frame.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"mfcc needs a non-empty 1-D signal; got an array of shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("mfcc needs a finite signal; it contains NaN or infinity")
    if int(rate) != rate or rate < MIN_RATE:
        raise ValueError(f"sample rate must be a whole number of Hz >= {MIN_RATE}; got {rate}")
    rate = int(rate)
    win, step, nfft = frame_sizes(rate)

    emphasised = np.concatenate(([x[0]], x[1:] - PREEMPH * x[:-1]))
    n_frames = 1 if x.size <= win else 1 + int(np.ceil((x.size - win) / step))
    padded = np.zeros((n_frames - 1) * step + win)
    padded[: x.size] = emphasised
    lift, window = _lifter_and_window(win)
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::step] * window

    power = np.abs(rfft(frames, nfft, axis=1)) ** 2 / nfft
    eps = np.finfo(float).eps  # as python_speech_features: silent frames get log(eps), not -inf
    energy = power.sum(axis=1)
    mel = power @ mel_filterbank(rate, nfft).T
    cepstra = dct(np.log(np.where(mel == 0, eps, mel)), type=2, axis=1, norm="ortho")[:, :N_CEPSTRA] * lift
    cepstra[:, 0] = np.log(np.where(energy == 0, eps, energy))
    return cepstra


@dataclass(frozen=True)
class Standardizer:
    """Per-channel shift and scale to zero mean, unit variance, fitted on training frames only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, sequences: Sequence[np.ndarray]) -> "Standardizer":
        """Statistics over every frame of every (frames, channels) sequence."""
        if len(sequences) == 0:
            raise ValueError("Standardizer.fit needs at least one sequence; got none")
        widths = {np.shape(s)[-1] if np.ndim(s) == 2 else None for s in sequences}
        if len(widths) != 1 or None in widths:
            raise ValueError(f"Standardizer.fit needs 2-D (frames, channels) arrays of one width; got widths {widths}")
        frames = np.concatenate([np.asarray(s, dtype=np.float64) for s in sequences])
        std = frames.std(axis=0)
        # A channel that never varies in training carries no information; scale 1 leaves it at 0, not NaN.
        std[std == 0] = 1.0
        return cls(mean=frames.mean(axis=0), std=std)

    def __call__(self, sequence: np.ndarray) -> np.ndarray:
        """The standardised sequence as float32."""
        seq = np.asarray(sequence)
        if seq.ndim != 2 or seq.shape[1] != self.mean.size:
            raise ValueError(f"expected a (frames, {self.mean.size}) array; got shape {seq.shape}")
        return ((seq - self.mean) / self.std).astype(np.float32)
