"""Audio for Experiment 1 (sequence generation): reading WAVs, windows, scaling, and the shipped clips.

The paper's targets are five 320-sample pieces of a 44.1 kHz music recording, each scaled to [-1, 1].
Ours come from a real instrument recording shipped in ``assets/generation/`` (see its README).
"""

from __future__ import annotations

import io
import math
import operator
import warnings
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
from scipy.io import wavfile

__all__ = [
    "AudioError",
    "EXCERPT_START",
    "EXCERPT_STOP",
    "GENERATION_ASSETS",
    "MAX_SECONDS",
    "RECORDING_PATH",
    "SEQUENCE_LENGTH",
    "SHIPPED_OFFSETS",
    "SHIPPED_RATE",
    "clip_from_wav",
    "read_wav",
    "resample",
    "scale_to_unit",
    "shipped_clips",
    "shipped_recording",
    "synthetic_tone",
    "wav_bytes",
    "window",
]

MAX_SECONDS = 600
SEQUENCE_LENGTH = 320
SHIPPED_RATE = 44100
# Offsets of the five targets in the original music21 file; the excerpt starts at EXCERPT_START.
SHIPPED_OFFSETS = (162830, 239540, 330750, 403780, 529200)
EXCERPT_START = 160000
EXCERPT_STOP = 530000
GENERATION_ASSETS = Path(__file__).resolve().parents[2] / "assets" / "generation"
RECORDING_PATH = GENERATION_ASSETS / "music21_test_audio_160000-530000.wav"

_ALLOWED_FORMATS = (
    "uncompressed PCM WAV with 8-bit unsigned or 16/24/32-bit signed integer samples, "
    "or IEEE-float WAV with 32/64-bit samples"
)
# Full-scale value of each integer container scipy returns (24-bit arrives left-justified in int32).
_FULL_SCALE = {np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31}


class AudioError(ValueError):
    """Bad audio input: the message says what is wrong and what is allowed."""


def _source_bytes(source: str | Path | bytes | BinaryIO) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"no WAV file at {str(path)!r}; give the path of an existing .wav file")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise AudioError(f"could not read {str(path)!r}: {exc}") from exc
    if hasattr(source, "read"):
        # An upload widget may already have been read once; a WAV always starts at byte 0.
        try:
            if getattr(source, "seekable", lambda: False)():
                source.seek(0)
            data = source.read()
        except (OSError, ValueError) as exc:
            raise AudioError(f"could not read from the file object: {exc}") from exc
        if not isinstance(data, (bytes, bytearray)):
            raise AudioError("the file object returned text; open the WAV file in binary mode ('rb')")
        return bytes(data)
    raise AudioError(
        f"cannot read audio from a {type(source).__name__}; give a path, the file's bytes, or a binary file object"
    )


def _to_unit_float(data: np.ndarray) -> np.ndarray:
    """Map integer or float samples onto float64 in [-1, 1]."""
    if data.dtype == np.uint8:
        return (data.astype(np.float64) - 128.0) / 128.0
    if data.dtype in _FULL_SCALE:
        return data.astype(np.float64) / _FULL_SCALE[data.dtype]
    if data.dtype in (np.float32, np.float64):
        samples = data.astype(np.float64)
        if not np.all(np.isfinite(samples)):
            raise AudioError("the WAV file contains NaN or infinite samples; only finite samples are allowed")
        # Float WAVs may overshoot full scale; clip as a player would.
        return np.clip(samples, -1.0, 1.0)
    raise AudioError(
        f"unsupported sample format: {data.dtype.itemsize * 8}-bit samples (read as {data.dtype.name}); "
        f"allowed: {_ALLOWED_FORMATS}"
    )


def read_wav(source: str | Path | bytes | BinaryIO) -> tuple[int, np.ndarray]:
    """Read a WAV file into (sample_rate, mono float64 samples in [-1, 1]); channels are averaged."""
    raw = _source_bytes(source)
    if not raw:
        raise AudioError(f"the file is empty (0 bytes); allowed: {_ALLOWED_FORMATS}")
    try:
        with warnings.catch_warnings():
            # Unknown chunks and a short final chunk are harmless; the data checks below catch the rest.
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(io.BytesIO(raw))
    # scipy signals malformed files with ValueError, struct.error, IndexError, ZeroDivisionError and
    # others, undocumented; any failure here means the bytes are not a WAV we can read.
    except Exception as exc:
        raise AudioError(f"not a readable WAV file ({exc}); allowed: {_ALLOWED_FORMATS}") from exc
    if rate <= 0:
        raise AudioError(f"the WAV header gives a sample rate of {rate} Hz; it must be positive")
    n_frames = data.shape[0]
    if n_frames == 0:
        raise AudioError("the WAV file contains no samples; it needs at least one frame of audio")
    seconds = n_frames / rate
    if seconds > MAX_SECONDS:
        raise AudioError(f"the recording is {seconds:.1f} s long; at most {MAX_SECONDS} s is allowed, trim it first")
    samples = _to_unit_float(data)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return int(rate), samples


def _as_signal(x: np.ndarray, name: str = "signal") -> np.ndarray:
    """A 1-D, non-empty, finite float64 copy of x."""
    arr = np.array(x, dtype=np.float64)
    if arr.ndim != 1:
        raise AudioError(f"the {name} must be 1-D (one channel); got shape {arr.shape}")
    if arr.size == 0:
        raise AudioError(f"the {name} is empty; it needs at least one sample")
    if not np.all(np.isfinite(arr)):
        raise AudioError(f"the {name} contains NaN or infinite values; only finite samples are allowed")
    return arr


def _finite(value: float, name: str, allowed: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
    ):
        raise AudioError(f"{name} must be {allowed}; got {value!r}")
    return float(value)


def _positive_rate(rate: float, name: str) -> float:
    allowed = "a positive, finite number of Hz"
    value = _finite(rate, name, allowed)
    if value <= 0:
        raise AudioError(f"{name} must be {allowed}; got {rate!r}")
    return value


def resample(x: np.ndarray, rate_from: float, rate_to: float) -> np.ndarray:
    """Resample x from rate_from to rate_to Hz with a polyphase filter (scipy.signal.resample_poly)."""
    from scipy.signal import resample_poly  # imported here: scipy.signal costs seconds at worker start

    signal = _as_signal(x)
    ratio = Fraction(_positive_rate(rate_to, "rate_to")) / Fraction(_positive_rate(rate_from, "rate_from"))
    # Integer rates give the exact ratio (44100 -> 48000 is 160/147); odd ones are approximated so the
    # polyphase filter, whose length grows with up and down, stays small.
    ratio = ratio.limit_denominator(1000)
    if ratio.numerator == 0:
        raise AudioError(f"cannot resample from {rate_from} Hz to {rate_to} Hz: the ratio is below 1/1000")
    if ratio == 1:
        return signal
    return resample_poly(signal, ratio.numerator, ratio.denominator)


def _count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise AudioError(f"{name} must be an integer; got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise AudioError(f"{name} must be an integer; got {value!r}") from None
    if number < minimum:
        raise AudioError(f"{name} must be at least {minimum}; got {number}")
    return number


def window(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """The `length` samples of x starting at index `start`, as a float64 copy."""
    signal = _as_signal(x)
    start = _count(start, "start", 0)
    length = _count(length, "length", 1)
    if length > signal.size:
        raise AudioError(f"a window of {length} samples is longer than the signal ({signal.size} samples)")
    if start + length > signal.size:
        raise AudioError(
            f"the window [{start}, {start + length}) does not fit in a signal of {signal.size} samples; "
            f"start must be at most {signal.size - length}"
        )
    return signal[start : start + length].copy()  # not a view that keeps the whole signal alive


def scale_to_unit(x: np.ndarray) -> np.ndarray:
    """Map x's min..max linearly onto -1..1, as the paper scales its targets."""
    signal = _as_signal(x)
    low, high = signal.min(), signal.max()
    if low == high:
        raise AudioError(
            f"the signal is constant (every sample is {low:g}), so it cannot be scaled to [-1, 1]; "
            "pick a piece of audio that varies"
        )
    return 2.0 * (signal - low) / (high - low) - 1.0


def shipped_recording() -> tuple[int, np.ndarray]:
    """The shipped excerpt of the music21 recording: (44100, mono float64 samples)."""
    return read_wav(RECORDING_PATH)


def shipped_clips() -> list[np.ndarray]:
    """The five 320-sample targets of Experiment 1, each scaled to [-1, 1]."""
    _, recording = shipped_recording()
    return [scale_to_unit(window(recording, offset - EXCERPT_START, SEQUENCE_LENGTH)) for offset in SHIPPED_OFFSETS]


def synthetic_tone(
    length: int = SEQUENCE_LENGTH, rate: int = SHIPPED_RATE, f0: float = 440.0, seed: int = 0
) -> np.ndarray:
    """A deterministic plucked-string-like tone scaled to [-1, 1].

    Harmonics below Nyquist with amplitudes falling as 1/k, phases and small amplitude jitter drawn from
    `seed`, under an envelope with a fast attack and an exponential decay spanning the clip.
    """
    length = _count(length, "length", 2)
    rate = _positive_rate(rate, "rate")
    f0 = _positive_rate(f0, "f0")
    if f0 >= rate / 2:
        raise AudioError(f"f0 must be below the Nyquist frequency ({rate / 2:g} Hz); got {f0:g} Hz")
    rng = np.random.default_rng(seed)
    n_harmonics = min(8, int((rate / 2) // f0))
    k = np.arange(1, n_harmonics + 1)
    amplitudes = (1.0 / k) * rng.uniform(0.8, 1.2, size=n_harmonics)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=n_harmonics)
    t = np.arange(length) / rate
    duration = length / rate
    envelope = (1.0 - np.exp(-t / (0.05 * duration))) * np.exp(-t / (0.6 * duration))
    partials = amplitudes[:, None] * np.sin(2.0 * np.pi * f0 * k[:, None] * t + phases[:, None])
    return scale_to_unit(envelope * partials.sum(axis=0))


def _seconds(value: float) -> str:
    return f"{round(float(value), 3)} s"


def clip_from_wav(
    source: str | Path | bytes | BinaryIO,
    start_seconds: float = 0.0,
    length: int = SEQUENCE_LENGTH,
    rate: int = SHIPPED_RATE,
) -> np.ndarray:
    """A `length`-sample target from a user's WAV: resampled to `rate`, cut at start_seconds, scaled."""
    length = _count(length, "length", 2)
    rate = _positive_rate(rate, "rate")
    allowed = "a finite number of seconds >= 0"
    if _finite(start_seconds, "start_seconds", allowed) < 0:
        raise AudioError(f"start_seconds must be {allowed}; got {start_seconds!r}")
    source_rate, recording = read_wav(source)
    recording = resample(recording, source_rate, rate)
    duration = _seconds(recording.size / rate)
    clip = f"a {length}-sample clip ({_seconds(length / rate)} at {rate:g} Hz)"
    if length > recording.size:
        raise AudioError(f"the {duration} recording is shorter than {clip}; use a longer recording")
    start = round(start_seconds * rate)
    if start >= recording.size:
        raise AudioError(
            f"start {_seconds(start_seconds)} is past the end of the {duration} recording; "
            f"choose a start below {duration}"
        )
    if start + length > recording.size:
        # Rounded down so that the suggested start really fits.
        latest = math.floor((recording.size - length) / rate * 1000) / 1000
        raise AudioError(
            f"{clip} starting at {_seconds(start_seconds)} runs past the end of the {duration} recording; "
            f"choose a start of at most {latest} s"
        )
    piece = window(recording, start, length)
    try:
        return scale_to_unit(piece)
    except AudioError:
        raise AudioError(
            f"the {length} samples at {_seconds(start_seconds)} are silent or constant, so they cannot be "
            "scaled to [-1, 1]; choose a start where the recording is playing"
        ) from None


def wav_bytes(x: np.ndarray, rate: int, *, peak: float | None = None) -> bytes:
    """16-bit PCM mono WAV bytes of x.

    st.audio peak-normalises float arrays, which hides loudness differences; these bytes do not.
    peak=None clips x to [-1, 1] and writes it as-is so several signals keep their relative loudness;
    a float scales x so that its largest magnitude equals `peak` (0 < peak <= 1).
    """
    signal = _as_signal(x)
    rate_hz = _count(rate, "rate", 1)
    if peak is not None:
        if not 0 < _finite(peak, "peak", "a number in (0, 1] or None") <= 1:
            raise AudioError(f"peak must be a number in (0, 1] or None; got {peak!r}")
        largest = np.abs(signal).max()
        if largest == 0:
            raise AudioError("the signal is silent (all zeros), so it cannot be scaled to a peak; use peak=None")
        signal = signal * (peak / largest)
    pcm = np.clip(np.round(signal * 2.0**15), -(2**15), 2**15 - 1).astype(np.int16)
    buffer = io.BytesIO()
    wavfile.write(buffer, rate_hz, pcm)
    return buffer.getvalue()
