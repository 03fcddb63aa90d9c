"""Experiment 2 in the app: its datasets, the folders they may be read from, and what a trained CW-RNN does
with one word.

The app never trains or computes here on its own: it rebuilds a run's dataset the way the run's worker
built it (`tasks.words.words_task`, so the split is the same), and replays a finished run's saved CW-RNN
weights over one test word to show each module's activity while the network hears it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

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

#: Folders besides the lab's data home (where uploads go) that "your recordings" may read, os.pathsep-separated.
DATA_ROOTS_VAR = "CWRNN_DATA_ROOTS"
#: MFCC frames per second (10 ms step).
FRAME_RATE = 100


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


def data_roots(home: Path) -> list[Path]:
    """The folders recordings may be read from: the data home and those in $CWRNN_DATA_ROOTS."""
    extra = [Path(p) for p in os.environ.get(DATA_ROOTS_VAR, "").split(os.pathsep) if p.strip()]
    return [Path(home).resolve(), *(p.resolve() for p in extra if p.is_absolute())]


def shown_path(path: str | Path, home: Path) -> str:
    """A path as the lab shows it in links and messages: relative to the data home when inside it, so no
    server path of the lab's own is given away; a folder under $CWRNN_DATA_ROOTS as the user typed it."""
    path, home = Path(path), Path(home).resolve()
    try:
        return str(path.resolve().relative_to(home))
    except (ValueError, OSError):
        return str(path)


def resolve_folder(
    text: str, home: Path, *, holding: str = f"{FILE_PATTERN} files, or upload them as a zip", files_too: bool = False
) -> Path:
    """The folder a user named (or, with ``files_too``, a file), relative to the data home or absolute, if it lies
    under an allowed root. ``holding`` says what the folder should hold, for the message when it is missing.

    ConfigError otherwise; it never says what a folder outside the roots holds, or whether it exists.
    """
    path = Path(text.strip()).expanduser()
    real = (path if path.is_absolute() else Path(home) / path).resolve()
    if not any(real.is_relative_to(root) for root in data_roots(home)):
        raise ConfigError(
            [
                f"the folder {text.strip()!r} is outside the folders this lab reads data from: "
                f"its data folder (uploads/... for a zip uploaded here) and those the lab's operator "
                f"lists in ${DATA_ROOTS_VAR}"
            ]
        )
    if not (real.is_dir() or (files_too and real.is_file())):
        raise ConfigError([f"there is no folder {text.strip()!r} here; give a folder of {holding}"])
    return real


@functools.lru_cache(maxsize=8)
def _dataset(dataset: str, folder: str | None, stamp: int) -> SpeechDataset:
    cfg = RunConfig(task="words", dataset=dataset, folder=folder, periods=list(WORDS_PERIODS))
    return build_task(cfg).data


def load_dataset(dataset: str, folder: str | None = None, home: Path | None = None) -> SpeechDataset:
    """The recordings of a words run, split by speaker exactly as its worker splits them.

    A folder is read only under `data_roots(home)` (see `resolve_folder`). Raises ConfigError whose
    problems say what is wrong with the data (an empty folder, one speaker...), with paths as
    `shown_path` shows them. Loads are kept while the folder is unchanged, so a page that redraws every
    second reads it once.
    """
    if dataset not in DATASETS:
        raise ConfigError([f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}"])
    if dataset != "folder":
        return _dataset(dataset, None, _stamp(dataset, None))
    if not folder or not folder.strip():
        raise ConfigError([f"give the path of a folder of {FILE_PATTERN} files, or upload them as a zip"])
    if home is None:
        raise ConfigError(["the lab's data folder is needed to read a folder of recordings"])
    real = resolve_folder(folder, home)
    try:
        return _dataset(dataset, str(real), _stamp(dataset, str(real)))
    except ConfigError as e:
        raise ConfigError([p.replace(str(real), shown_path(real, home)) for p in e.problems]) from None


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


def verdict(data: SpeechDataset, index: int, activity: WordActivity) -> str:
    """The CW-RNN's answer for test word `index` with a right or wrong mark."""
    true = data.labels[int(data.test.targets[index])]
    return f"✓ right: {true}" if activity.predicted == true else f"✗ wrong: {activity.predicted}, not {true}"


def word_figures(data: SpeechDataset, index: int, activity: WordActivity | None) -> dict[str, go.Figure]:
    """ "features": the word's MFCCs, over steps; with the CW-RNN's `activity`, on the same step axis,
    "activity": its modules over the word and "probabilities": how its answer forms, marked right or wrong."""
    name = word_names(data)[index]
    figures = {
        "features": viz.features_figure(data.test.features[index], None, title=f"Input: MFCCs of {name}, standardised")
    }
    if activity is not None:
        title = f"CW-RNN hidden units by module while it hears {name}"
        figures["activity"] = viz.activity_figure(
            np.round(activity.hidden, 3), activity.module_sizes, activity.periods, activity.active, title=title
        )
        figures["probabilities"] = viz.probabilities_figure(
            activity.probabilities,
            data.labels,
            int(data.test.targets[index]),
            title=f"CW-RNN's answer step by step: {verdict(data, index, activity)}",
        )
    return figures
