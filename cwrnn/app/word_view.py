"""Experiment 2 in the app: its datasets, zip uploads of recordings, and what a trained CW-RNN does with one word.

The app never trains or computes here on its own: it rebuilds a run's dataset the way the run's worker
built it (`tasks.words.words_task`, so the split is the same), and replays a finished run's saved CW-RNN
weights over one test word to show each module's activity while the network hears it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath

import numpy as np
import plotly.graph_objects as go

from ..config import DATASETS, ConfigError, RunConfig
from ..data import audio
from ..data.speech_data import DEFAULT_FSDD_DIR, FILE_PATTERN, WORD_GROUPS, SpeechDataset, read_wav
from ..experiment import build_task
from ..models.sizing import ArchSpec
from ..paper import WORDS_PERIODS
from ..runs.store import RunStore
from . import viz

#: A zip upload is refused past these: Streamlit's own upload limit, a generous unpacked size for an
#: hour of 16-bit audio per thousand files, and a member count no honest speech folder reaches.
MAX_ZIP_BYTES = 200 * 2**20
MAX_UNPACKED_BYTES = 1024 * 2**20
MAX_ZIP_MEMBERS = 20_000
#: MFCC frames per second (10 ms step).
FRAME_RATE = 100


class UploadError(ValueError):
    """An uploaded archive that is not extracted; the message says why and what is accepted."""


# ---- datasets ----------------------------------------------------------------------------------------


def fsdd_folder() -> Path | None:
    """The Free Spoken Digit Dataset's recordings folder ($CWRNN_FSDD, else the shared one), if it exists."""
    folder = Path(os.environ.get("CWRNN_FSDD") or DEFAULT_FSDD_DIR)
    return folder if folder.is_dir() else None


def _stamp(dataset: str, folder: str | None) -> int:
    """The folder's modification time: it changes when files are added, removed or renamed."""
    path = {"folder": folder, "fsdd": fsdd_folder()}.get(dataset)
    try:
        return Path(path).stat().st_mtime_ns if path else 0
    except OSError:
        return 0


@functools.lru_cache(maxsize=8)
def _dataset(dataset: str, folder: str | None, stamp: int) -> SpeechDataset:
    cfg = RunConfig(task="words", dataset=dataset, folder=folder, periods=list(WORDS_PERIODS))
    return build_task(cfg).data


def load_dataset(dataset: str, folder: str | None = None) -> SpeechDataset:
    """The recordings of a words run, split by speaker exactly as its worker splits them.

    Raises ConfigError whose problems say what is wrong with the data (an empty folder, one speaker...).
    Loads are kept while the folder is unchanged, so a page that redraws every second reads it once.
    """
    if dataset not in DATASETS:
        raise ConfigError([f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}"])
    if dataset == "folder" and not folder:
        raise ConfigError([f"give the path of a folder of {FILE_PATTERN} files, or upload them as a zip"])
    return _dataset(dataset, folder if dataset == "folder" else None, _stamp(dataset, folder))


def class_groups(labels: list[str]) -> list[list[str]] | None:
    """The paper's five suffix groups when the labels are its 25 words, else None (no grouping)."""
    paper_words = sorted(w for group in WORD_GROUPS for w in group)
    return [list(g) for g in WORD_GROUPS] if sorted(labels) == paper_words else None


def word_names(data: SpeechDataset) -> list[str]:
    """A name for each test recording, in the split's order: its word, its speaker and its take."""
    return [
        f"{data.labels[t]} ({speaker}, {Path(p).stem.rsplit('_', 1)[-1]})"
        for t, speaker, p in zip(data.test.targets, data.test.speakers, data.test.paths)
    ]


def word_audio(data: SpeechDataset, index: int) -> bytes:
    """WAV bytes of one test recording as it was recorded (loudness kept)."""
    signal, rate = read_wav(Path(data.test.paths[index]))
    return audio.wav_bytes(signal, rate)


# ---- zip uploads -------------------------------------------------------------------------------------


def _wav_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's WAV files; UploadError for any member that could land outside the target folder."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadError(f"the zip holds {len(infos)} entries; at most {MAX_ZIP_MEMBERS} are accepted")
    wavs, names = [], set()
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise UploadError(
                f"the zip member {info.filename!r} points outside the archive's folder "
                "(an absolute path or '..'); such archives are refused"
            )
        if info.is_dir() or path.suffix.lower() != ".wav" or "__MACOSX" in path.parts or path.name.startswith("."):
            continue
        if path.name in names:
            raise UploadError(
                f"the zip holds two files named {path.name!r}; recordings are read from one "
                f"folder, so every {FILE_PATTERN} name must be unique"
            )
        names.add(path.name)
        wavs.append(info)
    if not wavs:
        raise UploadError(
            f"the zip holds no .wav files; it should hold {FILE_PATTERN} recordings (at the top or in one folder)"
        )
    unpacked = sum(info.file_size for info in wavs)
    if unpacked > MAX_UNPACKED_BYTES:
        raise UploadError(
            f"the zip's WAV files unpack to {unpacked / 2**20:.0f} MiB; at most "
            f"{MAX_UNPACKED_BYTES // 2**20} MiB are accepted"
        )
    return wavs


def extract_recordings(data: bytes, uploads: Path) -> Path:
    """Unpack the WAV files of a zip upload into one folder under `uploads`, named by the archive's content
    (the same zip uploaded twice is kept once); returns that folder.

    Only `.wav` members are written, flattened into the folder. Archives with absolute or `..` member
    paths, more than MAX_ZIP_MEMBERS entries, over MAX_ZIP_BYTES, or unpacking past MAX_UNPACKED_BYTES are
    refused with UploadError before anything is written.
    """
    if len(data) > MAX_ZIP_BYTES:
        raise UploadError(f"the zip is {len(data) / 2**20:.0f} MiB; at most {MAX_ZIP_BYTES // 2**20} MiB are accepted")
    target = uploads / f"recordings-{hashlib.sha256(data).hexdigest()[:16]}"
    if target.is_dir():
        return target
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UploadError(f"the upload is not a readable zip archive ({exc})") from None
    with archive:
        members = _wav_members(archive)
        uploads.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=uploads))
        try:
            for info in members:
                # Each file is written by its own name only, so no member path can choose where it goes.
                name = PurePosixPath(info.filename.replace("\\", "/")).name
                with archive.open(info) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            os.replace(staging, target)  # all or nothing: a half-unpacked folder is never seen
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if target.is_dir():  # another session unpacked the same archive first
                return target
            raise UploadError(f"the zip could not be unpacked ({exc})") from None
    return target


# ---- one word through a finished run's CW-RNN -------------------------------------------------------


@dataclass
class WordActivity:
    """Member 0 of a run's CW-RNN hearing one word."""

    hidden: np.ndarray  # (T, n) hidden units, ordered by module
    active: np.ndarray  # (g, T) bool: which module updated at each step
    probabilities: np.ndarray  # (T, C) softmax of the output at every step
    predicted: str  # the class the run's readout picks
    module_sizes: list[int]
    periods: list[int]


def _spec(run: Mapping, arch: str):
    models = (run.get("summary") or {}).get("models") or (run.get("progress") or {}).get("models") or []
    known = {f.name for f in fields(ArchSpec)}
    for model in models:
        if model["arch"] == arch:
            return ArchSpec(**{k: v for k, v in model.items() if k in known})
    return None


def word_activity(store: RunStore, run: Mapping, data: SpeechDataset, index: int) -> WordActivity | None:
    """The run's saved CW-RNN (its first seed) run over test word `index`; None until the run has saved
    its weights (they are written when it finishes)."""
    import torch

    from ..models import SequenceModel
    from ..tasks.words import read_out

    spec = _spec(run, "cwrnn")
    if spec is None or "cwrnn.pt" not in store.list_artifacts(run["id"]):
        return None
    model = SequenceModel(spec, data.n_channels, len(data.labels), run["seeds"])
    model.load_state_dict(store.load_weights(run["id"], "cwrnn"))
    features = torch.from_numpy(np.asarray(data.test.features[index], dtype=np.float32))
    with torch.no_grad():
        y, hidden = model(features[None])
        logits = read_out(y, torch.tensor([features.shape[0]]), run["config"].get("readout", "last"))
    return WordActivity(
        hidden=hidden[0, 0].numpy(),
        active=model.core.activity(features.shape[0]),
        probabilities=torch.softmax(y[0, 0], dim=-1).numpy(),
        predicted=data.labels[int(logits[0, 0].argmax())],
        module_sizes=list(spec.module_sizes),
        periods=list(spec.periods),
    )


def word_figures(data: SpeechDataset, index: int, activity: WordActivity | None) -> dict[str, go.Figure]:
    """ "features": the word's MFCCs; "activity" (when given): the CW-RNN's modules over it."""
    name = word_names(data)[index]
    figures = {
        "features": viz.features_figure(
            data.test.features[index], FRAME_RATE, title=f"Input: MFCCs of {name}, standardised"
        )
    }
    if activity is not None:
        title = f"CW-RNN hidden units by module while it hears {name}"
        figures["activity"] = viz.activity_figure(
            np.round(activity.hidden, 3), activity.module_sizes, activity.periods, activity.active, title=title
        )
    return figures
