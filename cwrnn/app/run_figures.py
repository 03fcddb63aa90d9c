"""The charts and sounds of one stored run, drawn from its metrics and its latest snapshot.

The Playground and the Runs page show a run the same way through these functions. A `RunWatcher`
keeps what it has read, so a live page that redraws every second reads only the new epochs and
rebuilds its figures only when something changed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..config import SHIPPED_UNIPEN, ConfigError
from ..data import audio
from ..runs.store import TERMINAL_STATUSES, RunStore
from . import handwriting_view, viz, word_view
from .viz.viz_style import empty_figure, sort_archs

#: The metric each task's loss chart shows: NMSE compares clips of any loudness; words log their loss.
LOSS_METRIC = {"generation": "nmse", "words": "loss"}
LOSS_TITLE = {
    "generation": "Loss: normalised MSE (1 = as bad as a flat line at the mean)",
    "words": "Loss: cross-entropy",
}
#: A 320-sample clip lasts 7 ms at 44.1 kHz, a click; looped for this long it becomes a tone whose
#: timbre is the clip's shape, which the ear can compare.
LISTEN_SECONDS = 1.0
#: Points per curve sent to the browser: plenty for a chart a few hundred pixels wide, and a live redraw
#: of 20,000 epochs stays small (building and sending 1500 points per curve took four times as long).
MAX_POINTS = 500
_METRIC_FRAME = {"arch": "object", "seed": "int64", "epoch": "int64", "name": "object", "value": "float64"}


def _waiting(what: str, title: str) -> go.Figure:
    return empty_figure(f"Waiting for the first {what}", title=title)


def final_values(summary: dict | None) -> dict[str, dict[str, float]]:
    """metric -> arch -> the final evaluation's mean over seeds, from a finished run's summary ({} before)."""
    finals: dict[str, dict[str, float]] = {}
    for arch, named in ((summary or {}).get("final") or {}).items():
        for metric, stats in named.items():
            if stats.get("mean") is not None:
                finals.setdefault(metric, {})[arch] = stats["mean"]
    return finals


def metric_figures(
    task: str,
    metrics: pd.DataFrame,
    *,
    log_y: bool = True,
    smoothing: float = 0.0,
    finals: dict[str, dict[str, float]] | None = None,
    classes: int | None = None,
) -> dict[str, go.Figure]:
    """The curves over epochs: "loss", and "accuracy" for words runs (with the error of guessing among
    `classes` words). The loss axis is log or linear, the curves smoothed TensorBoard's way, and `finals`
    (see `final_values`) mark each model's final evaluation. Handwriting runs: "loss" and "cer"."""
    if task == "handwriting":
        return handwriting_view.metric_figures(metrics, MAX_POINTS)
    metric, title = LOSS_METRIC.get(task, "loss"), LOSS_TITLE.get(task, "Loss")
    finals = finals or {}
    figures = {
        "loss": viz.loss_figure(
            metrics,
            metric,
            title=title,
            max_points=MAX_POINTS,
            log_y=log_y,
            smoothing=smoothing,
            finals=finals.get(metric),
        )
        if not metrics.empty
        else _waiting("epoch", title)
    }
    if task == "words":
        figures["accuracy"] = (
            viz.accuracy_figure(
                metrics,
                max_points=MAX_POINTS,
                smoothing=smoothing,
                finals=finals,
                chance=1 - 1 / classes if classes else None,
            )
            if not metrics.empty
            else _waiting("epoch", "Classification error")
        )
    return figures


def snapshot_figures(
    task: str, snapshot: tuple[int, dict, dict] | None, classes: tuple[list[str], list[list[str]] | None] | None = None
) -> dict[str, go.Figure]:
    """The pictures of one snapshot: "waveform" (generation), "activity", "weights", "confusion" (words).

    `classes` (words runs) are the class labels in class-number order and the groups to order the
    confusion matrix by (None: no grouping); without them the classes are numbered.
    """
    epoch, arrays, meta = snapshot if snapshot is not None else (None, {}, {})
    at = f", epoch {epoch}" if epoch is not None else ""
    figures = {}
    if task == "generation":
        title = f"Target (grey) and what each model generates{at}"
        outputs = {key.split("/", 1)[1]: value for key, value in arrays.items() if key.startswith("output/")}
        figures["waveform"] = (
            viz.waveform_figure(arrays["target"], outputs, title=title)
            if "target" in arrays
            else _waiting("snapshot", title)
        )
    title = (
        f"CW-RNN hidden units by module over time{at}"
        if task == "generation"
        else f"CW-RNN hidden units by module over the first test word{at}"
    )
    # Hover shows 3 decimals; sending no more digits than that makes the heatmap's JSON, sent at every
    # live redraw, a third of the size.
    figures["activity"] = (
        viz.activity_figure(
            np.round(arrays["hidden/cwrnn"], 3),
            meta["module_sizes"],
            meta["periods"],
            arrays.get("active"),
            title=title,
        )
        if "hidden/cwrnn" in arrays
        else _waiting("snapshot", title)
    )
    title = f"CW-RNN recurrent weights{at} (grey: none)"
    figures["weights"] = (
        viz.weights_figure(arrays["weights/cwrnn"], meta["module_sizes"], periods=meta["periods"], title=title)
        if "weights/cwrnn" in arrays
        else _waiting("snapshot", title)
    )
    if task == "words":  # "confusion" is the CW-RNN's; "confusion_lstm" and so on, each other model's
        archs = sort_archs(k.split("/", 1)[1] for k in arrays if k.startswith("confusion/")) or ["cwrnn"]
        for arch in [a for a in archs if a == "cwrnn"] + [a for a in archs if a != "cwrnn"]:
            title = f"{viz.arch_label(arch)} confusion on the test words{at}, share of each true word"
            matrix = arrays.get(f"confusion/{arch}")
            name = "confusion" if arch == "cwrnn" else f"confusion_{arch}"
            if matrix is None:
                figures[name] = _waiting("snapshot", title)
                continue
            labels, groups = classes if classes and len(classes[0]) == len(matrix) else (None, None)
            figures[name] = viz.confusion_figure(
                matrix,
                labels or [str(i) for i in range(len(matrix))],
                groups,
                title=title + (" (lines separate the suffix groups)" if groups else ""),
                normalize=True,
            )
    return figures


def looped(signal: np.ndarray, rate: int = audio.SHIPPED_RATE, seconds: float = LISTEN_SECONDS) -> np.ndarray:
    """The signal repeated until it lasts at least `seconds`."""
    signal = np.asarray(signal, dtype=float).ravel()
    if signal.size == 0:
        return signal
    return np.tile(signal, math.ceil(seconds * rate / signal.size))


class RunWatcher:
    """One run's metrics and latest snapshot, read incrementally; figures and audio built on demand."""

    def __init__(self, store: RunStore, run_id: int):
        self.store, self.run_id = store, run_id
        self.run = store.get_run(run_id)
        self.metrics = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _METRIC_FRAME.items()})
        self.snapshot: tuple[int, dict, dict] | None = None
        self._curves: dict[str, go.Figure] | None = None
        self._curve_options: tuple[bool, float] | None = None
        self._pictures: dict[str, go.Figure] | None = None
        self._audio: dict[str, bytes] | None = None
        self._classes: tuple[list[str], list[list[str]] | None] | None = None
        self._lines: handwriting_view.HandwritingData | None = None

    @property
    def task(self) -> str:
        return self.run["task"]

    @property
    def finished(self) -> bool:
        return self.run["status"] in TERMINAL_STATUSES

    def refresh(self) -> bool:
        """Read the run's record, new metrics and any newer snapshot; True if any chart needs redrawing."""
        was_finished = self.finished
        self.run = self.store.get_run(self.run_id)
        changed = self.finished != was_finished  # the saved audio replaces the snapshot's
        last = int(self.metrics["epoch"].max()) if not self.metrics.empty else -1
        new = self.store.metrics(self.run_id, after_epoch=last)
        if not new.empty:
            self.metrics = pd.concat([self.metrics, new], ignore_index=True) if not self.metrics.empty else new
            self._curves, changed = None, True
        epochs = self.store.snapshot_epochs(self.run_id)
        if epochs and (self.snapshot is None or epochs[-1] != self.snapshot[0]):
            snapshot = self.store.load_snapshot(self.run_id)
            if snapshot is not None:
                self.snapshot, self._pictures, self._audio, changed = snapshot, None, None, True
        if self.finished and not was_finished:  # the summary's final evaluations join the curves
            self._audio, self._curves = None, None
        return changed

    def figures(self, *, log_y: bool = True, smoothing: float = 0.0) -> dict[str, go.Figure]:
        """The run's figures, named as run_figures names them, the curves drawn as asked (see
        `metric_figures`); each is rebuilt only when its data or the way it is drawn changed."""
        if self._curves is None or self._curve_options != (log_y, smoothing):
            classes = self.classes()
            self._curves = metric_figures(
                self.task,
                self.metrics,
                log_y=log_y,
                smoothing=smoothing,
                finals=final_values(self.run.get("summary")),
                classes=len(classes[0]) if classes else None,
            )
            self._curve_options = (log_y, smoothing)
        if self._pictures is None:
            self._pictures = (
                handwriting_view.snapshot_figures(self.snapshot, self.handwriting())
                if self.task == "handwriting"
                else snapshot_figures(self.task, self.snapshot, self.classes())
            )
        return {**self._curves, **self._pictures}

    def classes(self) -> tuple[list[str], list[list[str]] | None] | None:
        """A words run's class labels and suffix groups, from its dataset; None for other tasks or when
        the dataset can no longer be read (an upload deleted since)."""
        if self.task != "words":
            return None
        if self._classes is None:
            config = self.run["config"]
            try:
                labels = word_view.load_dataset(
                    config.get("dataset", "synthetic"), config.get("folder"), self.store.home
                ).labels
            except ConfigError:
                return None
            self._classes = (labels, word_view.class_groups(labels))
        return self._classes

    def handwriting(self) -> handwriting_view.HandwritingData | None:
        """A handwriting run's lines (for its alphabet and the snapshot line's text); None for other tasks
        or when its UNIPEN folder can no longer be read."""
        if self.task != "handwriting":
            return None
        if self._lines is None:
            try:
                self._lines = handwriting_view.load_data(self.run["config"].get("unipen", SHIPPED_UNIPEN))
            except ConfigError:
                return None
        return self._lines

    def audio(self) -> dict[str, bytes]:
        """WAV bytes of the target and each model's output, looped to be heard, on one loudness scale."""
        if self._audio is None:
            self._audio = {
                name: audio.wav_bytes(np.clip(looped(signal), -1, 1), audio.SHIPPED_RATE)
                for name, signal in self._signals().items()
            }
        return self._audio

    def _signals(self) -> dict[str, np.ndarray]:
        """The finished run's saved WAVs when it has them all, else the latest snapshot's sequences."""
        if self.task != "generation":
            return {}
        archs = sort_archs(self.run["config"].get("baselines", []) + ["cwrnn"])
        names = ["target", *archs]
        if self.finished and all(f"{n}.wav" in self.store.list_artifacts(self.run_id) for n in names):
            folder = self.store.artifact_dir(self.run_id)
            return {n: audio.read_wav(folder / f"{n}.wav")[1] for n in names}
        if self.snapshot is None:
            return {}
        arrays = self.snapshot[1]
        signals = {"target": arrays["target"]} if "target" in arrays else {}
        signals.update({a: arrays[f"output/{a}"] for a in archs if f"output/{a}" in arrays})
        return signals


def run_figures(store: RunStore, run_id: int, *, log_y: bool = True, smoothing: float = 0.0) -> dict[str, go.Figure]:
    """The charts of a run, by name ("loss", "waveform", "activity", "weights"; words runs: "loss",
    "accuracy", "activity", "weights", "confusion"; handwriting runs: "loss", "cer", "ink", "emissions",
    "activity", "activity_backward", "outputs", "weights"), drawn from the store as it is now."""
    watcher = RunWatcher(store, run_id)
    watcher.refresh()
    return watcher.figures(log_y=log_y, smoothing=smoothing)


def run_audio(store: RunStore, run_id: int) -> dict[str, bytes]:
    """WAV bytes of the target ("target") and of each model (by arch) of a generation run; {} otherwise."""
    watcher = RunWatcher(store, run_id)
    watcher.refresh()
    return watcher.audio()
