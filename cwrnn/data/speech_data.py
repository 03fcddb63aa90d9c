"""Spoken-word datasets for Experiment 2: folders of `{label}_{speaker}_{take}.wav`, split by speaker.

Test speakers never appear in training, as in the paper (5 speakers train, 2 test per word). Features
are the 13 MFCC channels of `cwrnn.data.features`, standardised with training statistics only, and cached
on disk so the second load of a folder reads one `.npz` instead of every WAV.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy.io import wavfile

from .features import FEATURE_SIGNATURE, Standardizer, mfcc

WORD_GROUPS: tuple[tuple[str, ...], ...] = (
    ("making", "walking", "cooking", "looking", "working"),
    ("biblical", "cyclical", "technical", "classical", "critical"),
    ("tradition", "addition", "audition", "recognition", "competition"),
    ("musicians", "discussions", "regulations", "accusations", "conditions"),
    ("subway", "leeway", "freeway", "highway", "hallway"),
)

FILE_PATTERN = "{label}_{speaker}_{take}.wav"
_FILE_RE = re.compile(r"^(?P<label>[^_]+)_(?P<speaker>[^_]+)_(?P<take>\d+)\.wav$")

SHIPPED_WORDS_DIR = Path(__file__).resolve().parents[2] / "assets" / "words"
DEFAULT_FSDD_DIR = Path(__file__).resolve().parents[3] / "shared/data/fsdd/recordings"


class DatasetError(ValueError):
    """A speech folder or file that cannot be used, with what is wrong and what is expected."""


@dataclass(frozen=True)
class SpeechSplit:
    """One side of a split; all lists are aligned, one entry per recording."""

    features: list[np.ndarray]  # (frames, 13) float32, standardised with training statistics
    targets: np.ndarray  # int64 index into SpeechDataset.labels
    speakers: list[str]
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class SpeechDataset:
    """Labels, a speaker-disjoint train/test split, and the scaling fitted on the training side."""

    labels: list[str]  # sorted
    train: SpeechSplit
    test: SpeechSplit
    standardizer: Standardizer
    sample_rate: int

    @property
    def n_channels(self) -> int:
        return int(self.standardizer.mean.size)


@dataclass(frozen=True)
class _Recording:
    path: Path
    label: str
    speaker: str
    take: int


def _scan(folder: Path) -> list[_Recording]:
    if not folder.exists():
        raise DatasetError(f"speech folder {folder} does not exist")
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder; give a folder of {FILE_PATTERN} files")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if not files:
        raise DatasetError(f"speech folder {folder} is empty; it should hold {FILE_PATTERN} files")
    recordings = []
    for p in files:
        m = _FILE_RE.match(p.name)
        if m:
            recordings.append(_Recording(p, m["label"], m["speaker"], int(m["take"])))
    if not recordings:
        examples = ", ".join(p.name for p in files[:3])
        raise DatasetError(
            f"no files in {folder} match {FILE_PATTERN} (label and speaker without underscores, take a "
            f"number, e.g. 7_jackson_32.wav); found {examples}{' ...' if len(files) > 3 else ''}"
        )
    recordings.sort(key=lambda r: (r.label, r.speaker, r.take))
    speakers = {r.speaker for r in recordings}
    if len(speakers) < 2:
        raise DatasetError(f"{folder} has one speaker ({speakers.pop()}); a speaker split needs at least 2")
    counts = Counter(r.label for r in recordings)
    scarce = sorted(label for label, n in counts.items() if n < 2)
    if scarce:
        raise DatasetError(f"every label needs at least 2 recordings; {folder} has only 1 for: {', '.join(scarce)}")
    return recordings


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A WAV as mono float64 in [-1, 1] and its sample rate; DatasetError naming the file otherwise."""
    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {path} as a WAV file ({exc})") from exc
    if data.size == 0:
        raise DatasetError(f"{path} has no audio samples")
    if data.dtype == np.uint8:
        signal = (data.astype(np.float64) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        signal = data.astype(np.float64) / float(-np.iinfo(data.dtype).min)
    else:
        signal = data.astype(np.float64)
    # Channels are averaged, as Experiment 1 reads a WAV (audio.read_wav): a stereo recording is one word.
    return (signal.mean(axis=1) if signal.ndim == 2 else signal), rate


def _cache_file(folder: Path, recordings: Sequence[_Recording], cache_dir: Path) -> Path:
    # The folder's own path is part of the key: copies made with copy2 keep names, sizes and mtimes.
    digest = hashlib.sha256(f"{FEATURE_SIGNATURE}\n{folder.resolve()}".encode())
    for r in recordings:
        st = r.path.stat()
        digest.update(f"\n{r.path.name}\t{st.st_size}\t{st.st_mtime_ns}".encode())
    safe_name = re.sub(r"[^A-Za-z0-9.-]", "-", folder.name) or "root"
    return cache_dir / f"{safe_name}-{digest.hexdigest()[:24]}.npz"


def _featurise(recordings: Sequence[_Recording]) -> tuple[list[np.ndarray], int]:
    features, rates = [], {}
    for r in recordings:
        signal, rate = read_wav(r.path)
        rates.setdefault(rate, r.path.name)
        if len(rates) > 1:
            found = ", ".join(f"{hz} Hz ({name})" for hz, name in rates.items())
            raise DatasetError(f"all files in a folder must share one sample rate; found {found}")
        features.append(mfcc(signal, rate).astype(np.float32))
    return features, next(iter(rates))


def _cached_features(folder: Path, recordings: Sequence[_Recording], cache_dir: Path) -> tuple[list[np.ndarray], int]:
    cache = _cache_file(folder, recordings, cache_dir)
    if cache.exists():
        try:
            with np.load(cache) as stored:
                frames, lengths, rate = stored["frames"], stored["lengths"], int(stored["rate"])
            if lengths.size == len(recordings):
                return np.split(frames, np.cumsum(lengths)[:-1]), rate
        except (OSError, ValueError, KeyError, EOFError):
            pass  # a damaged cache file is simply rebuilt below
    features, rate = _featurise(recordings)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, frames=np.concatenate(features), lengths=np.array([len(f) for f in features]), rate=rate)
        os.replace(tmp, cache)  # atomic, so a concurrent reader never sees half a file
    except OSError as exc:
        warnings.warn(f"could not write the feature cache {cache}: {exc}; features will be recomputed next time")
    return features, rate


def default_cache_dir() -> Path:
    """$CWRNN_CACHE, else ~/.cache/cwrnn."""
    return Path(os.environ.get("CWRNN_CACHE") or Path.home() / ".cache" / "cwrnn")


def _choose_test_speakers(
    speakers: list[str], test_speakers: Iterable[str] | None, n_test_speakers: int, seed: int
) -> set[str]:
    if test_speakers is not None:
        chosen = {str(s) for s in test_speakers}
        unknown = sorted(chosen - set(speakers))
        if unknown:
            raise DatasetError(f"test speakers {unknown} are not in the folder; its speakers are {speakers}")
        if not chosen or chosen == set(speakers):
            raise DatasetError(
                f"test_speakers must name at least one speaker and leave one for training; got {sorted(chosen)}"
            )
        return chosen
    if not 1 <= n_test_speakers < len(speakers):
        raise DatasetError(
            f"n_test_speakers must be between 1 and {len(speakers) - 1} "
            f"(the folder has {len(speakers)} speakers); got {n_test_speakers}"
        )
    rng = np.random.default_rng(seed)
    return {str(s) for s in rng.choice(speakers, size=n_test_speakers, replace=False)}


def load_folder(
    path: str | os.PathLike,
    *,
    test_speakers: Iterable[str] | None = None,
    n_test_speakers: int = 2,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> SpeechDataset:
    """Load `{label}_{speaker}_{take}.wav` files, split by speaker, standardise with training statistics.

    Without `test_speakers`, `n_test_speakers` speakers are drawn with `seed`. Other files are ignored.
    """
    folder = Path(path).expanduser()
    recordings = _scan(folder)
    speakers = sorted({r.speaker for r in recordings})
    test_set = _choose_test_speakers(speakers, test_speakers, n_test_speakers, seed)
    labels = sorted({r.label for r in recordings})
    missing = sorted(set(labels) - {r.label for r in recordings if r.speaker not in test_set})
    if missing:
        raise DatasetError(f"labels {missing} are spoken only by test speakers {sorted(test_set)}; nothing to train on")

    raw, rate = _cached_features(folder, recordings, Path(cache_dir) if cache_dir else default_cache_dir())
    is_test = [r.speaker in test_set for r in recordings]
    standardizer = Standardizer.fit([f for f, t in zip(raw, is_test) if not t])
    index = {label: i for i, label in enumerate(labels)}

    def split(want_test: bool) -> SpeechSplit:
        chosen = [(r, f) for r, f, t in zip(recordings, raw, is_test) if t == want_test]
        return SpeechSplit(
            features=[standardizer(f) for _, f in chosen],
            targets=np.array([index[r.label] for r, _ in chosen], dtype=np.int64),
            speakers=[r.speaker for r, _ in chosen],
            paths=[r.path for r, _ in chosen],
        )

    return SpeechDataset(
        labels=labels, train=split(False), test=split(True), standardizer=standardizer, sample_rate=rate
    )


def shipped_words(*, cache_dir: str | os.PathLike | None = None) -> SpeechDataset:
    """The project's synthetic 25-word set (assets/words) with its fixed voice split from split.json."""
    split_file = SHIPPED_WORDS_DIR / "split.json"
    try:
        split = json.loads(split_file.read_text())
        test_voices = split["test"]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(
            f"cannot read the voice split {split_file} ({exc}); regenerate with scripts/make_words.py"
        ) from exc
    dataset = load_folder(SHIPPED_WORDS_DIR, test_speakers=test_voices, cache_dir=cache_dir)
    expected = sorted(w for group in WORD_GROUPS for w in group)
    if dataset.labels != expected:
        raise DatasetError(f"{SHIPPED_WORDS_DIR} should hold the 25 words of WORD_GROUPS; found {dataset.labels}")
    return dataset


def fsdd(
    path: str | os.PathLike | None = None,
    *,
    test_speakers: Iterable[str] | None = None,
    n_test_speakers: int = 2,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> SpeechDataset:
    """The Free Spoken Digit Dataset recordings: `path`, else $CWRNN_FSDD, else the shared data folder."""
    folder = Path(path or os.environ.get("CWRNN_FSDD") or DEFAULT_FSDD_DIR)
    if not folder.is_dir():
        raise DatasetError(
            f"FSDD recordings not found at {folder}; pass path= or set CWRNN_FSDD to the folder of 0_george_0.wav ..."
        )
    return load_folder(
        folder, test_speakers=test_speakers, n_test_speakers=n_test_speakers, seed=seed, cache_dir=cache_dir
    )


def pad_batch(seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad (frames, channels) sequences at the end to (B, Tmax, C) float32, with the int64 lengths."""
    if len(seqs) == 0:
        raise ValueError("pad_batch needs at least one sequence; got none")
    shapes = [np.shape(s) for s in seqs]
    if any(len(s) != 2 for s in shapes) or len({s[1] for s in shapes}) != 1:
        raise ValueError(
            f"pad_batch needs 2-D (frames, channels) arrays with one channel count; got shapes {shapes[:5]}"
        )
    lengths = np.array([s[0] for s in shapes], dtype=np.int64)
    padded = np.zeros((len(seqs), int(lengths.max()), shapes[0][1]), dtype=np.float32)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    return padded, lengths
