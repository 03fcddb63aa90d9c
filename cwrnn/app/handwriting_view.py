"""Experiment 3 in the app: the handwriting set a run reads, and the pictures of its snapshot line.

A handwriting run's snapshot holds one validation line (its ink, pen-up flags and features, stored once)
and, per architecture, its hidden states over the line, its per-step output probabilities and where best
path decoding emits each label. Labels become characters through the data set's alphabet, which the app
reads the way the run's worker read it (the shipped file, or the run's UNIPEN folder).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..config import SHIPPED_UNIPEN, ConfigError
from ..data.handwriting import HandwritingData, HandwritingLine, load_handwriting
from ..data.unipen import UnipenError
from ..paper import sort_archs
from . import viz
from .viz.viz_style import empty_figure

LOSS_TITLE = "CTC loss per line: dashed training, solid validation"
UNIPEN_HOLDING = "UNIPEN files (include/ and data/, or part of them), or the path of a .npz of lines"
CER_TITLE = "Character error (%): dashed validation, solid test (unseen writers)"


def _stamp(source: str) -> int:
    """The folder's modification time, so lines added to it are read again."""
    try:
        return Path(source).expanduser().stat().st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=4)
def _data(source: str, stamp: int, ink_input: str) -> HandwritingData:
    return load_handwriting(None if source == SHIPPED_UNIPEN else Path(source).expanduser(), ink_input)


def load_data(source: str = SHIPPED_UNIPEN, ink_input: str = "paper") -> HandwritingData:
    """The lines a handwriting run reads, as its `ink_input`: the shipped subset ("shipped"), a UNIPEN
    folder's or a .npz of lines, split by writer exactly as the worker splits them. ConfigError says what
    is wrong with a folder; a load is kept while the folder is unchanged, so a page redrawn every second
    reads it once."""
    if source != SHIPPED_UNIPEN and not Path(source).expanduser().exists():
        raise ConfigError([f"the UNIPEN folder {source} does not exist"])
    try:
        return _data(source, 0 if source == SHIPPED_UNIPEN else _stamp(source), ink_input)
    except (UnipenError, OSError) as e:
        raise ConfigError([f"the handwriting in {source} cannot be used: {e}"]) from None


def summary(data: HandwritingData) -> str:
    """How many lines and writers each split holds, in a sentence."""
    parts = [
        f"{len(lines)} lines by {len({line.writer for line in lines})} writers to {what}"
        for lines, what in ((data.train, "learn from"), (data.val, "validate on"), (data.test, "test on"))
    ]
    return f"{', '.join(parts)}; {len(data.alphabet)} characters."


def preview_figure(line: HandwritingLine) -> go.Figure:
    """A line before any training: its ink and what was written."""
    return viz.ink_figure(
        line.ink, line.pen_up, text=line.text, title=f"The line the networks will read (writer {line.writer})"
    )


# ---- a snapshot's line ---------------------------------------------------------------------------------


def archs_of(arrays: dict) -> list[str]:
    """The architectures a snapshot holds a reading of, in the lab's order."""
    return sort_archs({key.split("/", 1)[1] for key in arrays if key.startswith("emit_labels/")})


def characters(labels, alphabet: str | None) -> list[str]:
    """Labels 1..C-1 as characters; without the alphabet (data no longer readable) as their numbers."""
    return [alphabet[int(k) - 1] if alphabet else f"#{int(k)}" for k in labels]


def readings(arrays: dict, alphabet: str | None) -> dict[str, str]:
    """arch -> the text best-path decoding reads from the snapshot's line."""
    joiner = "" if alphabet else " "
    return {a: joiner.join(characters(arrays[f"emit_labels/{a}"], alphabet)) for a in archs_of(arrays)}


def written_text(data: HandwritingData | None, ink: np.ndarray) -> str | None:
    """The transcription of the validation line whose ink this is (None when the data cannot tell)."""
    if data is None:
        return None
    return next((line.text for line in data.val if line.ink.shape == ink.shape and np.array_equal(line.ink, ink)), None)


def closeup_figure(snapshot: tuple[int, dict, dict], arch: str, alphabet: str | None) -> go.Figure:
    """Where `arch` emits each character it reads on the snapshot's line."""
    epoch, arrays, _ = snapshot
    return viz.emission_figure(
        arrays["ink"],
        arrays["pen_up"],
        arrays[f"emit_steps/{arch}"],
        characters(arrays[f"emit_labels/{arch}"], alphabet),
        arch,
        title=f"{viz.arch_label(arch)}: the point at which each character is emitted, epoch {epoch}",
    )


def timeline_figure(snapshot: tuple[int, dict, dict], arch: str, alphabet: str | None) -> go.Figure:
    """`arch`'s output along the snapshot's line: how sure it is of some character at each point, and what
    it emits where."""
    epoch, arrays, _ = snapshot
    return viz.emission_timeline_figure(
        arrays[f"probs/{arch}"],
        arrays[f"emit_steps/{arch}"],
        characters(arrays[f"emit_labels/{arch}"], alphabet),
        arrays["pen_up"],
        arch,
        title=f"{viz.arch_label(arch)}: probability of a character, not the blank, at each point, epoch {epoch}",
    )


def _activity(arrays: dict, meta: dict, backward: bool, title: str) -> go.Figure:
    n = sum(meta["module_sizes"])
    hidden = arrays["hidden/cwrnn"]
    half = hidden[:, n:] if backward else hidden[:, :n]
    # Hover shows 3 decimals; sending no more digits keeps the live redraw's JSON small.
    fig = viz.activity_figure(
        np.round(half, 3),
        meta["module_sizes"],
        meta["periods"],
        arrays["active_backward" if backward else "active"],
        title=title,
        uirevision="activity_backward" if backward else "activity",
    )
    fig.update_xaxes(title="point of the line (dotted: a stroke ends)")
    return viz.mark_strokes(fig, arrays["pen_up"])


def snapshot_figures(
    snapshot: tuple[int, dict, dict] | None, data: HandwritingData | None, closeup: str = "cwrnn"
) -> dict[str, go.Figure]:
    """The pictures of a handwriting snapshot: "ink" (the line and each network's reading), "emissions"
    (where `closeup`, else the first architecture, emits each character), "activity" and
    "activity_backward" (the CW-RNN's two layers along the line), "outputs" (the `closeup` network's output
    along the line) and "weights" (the CW-RNN's forward W_H)."""
    titles = {
        "ink": "A validation line (held-out writer) and what each network reads",
        "emissions": "Where each character is emitted",
        "activity": "CW-RNN forward layer: hidden units by module along the line",
        "activity_backward": "CW-RNN backward layer (its clock counts from the line's last point)",
        "outputs": "The output along the line",
        "weights": "CW-RNN forward recurrent weights (grey: none)",
    }
    if snapshot is None:
        return {name: empty_figure("Waiting for the first snapshot", title=title) for name, title in titles.items()}
    epoch, arrays, meta = snapshot
    at = f", epoch {epoch}"
    alphabet = data.alphabet if data is not None else None
    archs = archs_of(arrays)
    shown = closeup if closeup in archs else archs[0]
    return {
        "ink": viz.ink_figure(
            arrays["ink"],
            arrays["pen_up"],
            text=written_text(data, arrays["ink"]),
            readings=readings(arrays, alphabet),
            title=titles["ink"] + at,
        ),
        "emissions": closeup_figure(snapshot, shown, alphabet),
        "activity": _activity(arrays, meta, False, titles["activity"] + at),
        "activity_backward": _activity(arrays, meta, True, titles["activity_backward"] + at),
        "outputs": timeline_figure(snapshot, shown, alphabet),
        "weights": viz.weights_figure(
            arrays["weights/cwrnn"], meta["module_sizes"], periods=meta["periods"], title=titles["weights"] + at
        ),
    }


def metric_figures(metrics: pd.DataFrame, max_points: int) -> dict[str, go.Figure]:
    """ "loss": training and validation CTC loss per line; "cer": validation and test character error, in %."""
    if metrics.empty:
        return {
            "loss": empty_figure("Waiting for the first epoch", title=LOSS_TITLE),
            "cer": empty_figure("Waiting for the first epoch", title=CER_TITLE),
        }
    return {
        "loss": viz.accuracy_figure(
            metrics,
            ("loss", "val_loss"),
            scale=1.0,
            max_points=max_points,
            title=LOSS_TITLE,
            y_title="CTC loss per line",
            uirevision="loss",
        ),
        "cer": viz.accuracy_figure(
            metrics,
            ("val_cer", "test_cer"),
            max_points=max_points,
            title=CER_TITLE,
            y_title="character error (%)",
            uirevision="cer",
        ),
    }
