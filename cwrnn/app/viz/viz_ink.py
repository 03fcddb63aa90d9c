"""Pen figures for online handwriting: a line drawn as ink, what each network read, where it emitted each
character, and stroke ends marked on a timeline of steps.

Ink is (T, 2) points in tenths of a millimetre with y upward, as the data keeps it, so a line reads right
side up on ordinary axes. A stroke ends at each point whose pen-up flag is set; the pen's jump to the next
stroke is not ink and is never drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from .viz_style import VizInputError, arch_color, arch_label, empty_figure, finish, sort_archs, to_array

INK_COLOR = "#202020"
FAINT_INK = "rgba(0,0,0,0.25)"
STROKE_LINE = {"color": "rgba(0,0,0,0.35)", "width": 1, "dash": "dot"}
#: Pixels below the ink per line of text written under it (the transcription and each network's reading).
TEXT_LINE_PX = 22
#: A line is drawn for about this width; its height follows from the ink's own proportions, within limits.
INK_WIDTH_PX, INK_HEIGHT_PX = 1000, (100, 450)


def _ink(ink, pen_up) -> tuple[np.ndarray, np.ndarray]:
    ink = to_array(ink, "ink", ndim=2)
    if ink.shape[1:] != (2,):
        raise VizInputError(f"ink must be (points, 2) x and y, got shape {ink.shape}")
    pen_up = to_array(pen_up, "pen_up", ndim=1, dtype=bool)
    if pen_up.shape != (len(ink),):
        raise VizInputError(f"pen_up must hold one flag per ink point ({len(ink)}), got shape {pen_up.shape}")
    return ink, pen_up


def stroke_paths(ink, pen_up) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the ink with a gap (NaN) after every stroke's last point, so one line trace draws the
    strokes without the pen's jumps between them."""
    ink, pen_up = _ink(ink, pen_up)
    ends = np.flatnonzero(pen_up[:-1]) + 1  # a gap before the first point of each following stroke
    x = np.insert(ink[:, 0], ends, np.nan)
    y = np.insert(ink[:, 1], ends, np.nan)
    return x, y


def stroke_ends(pen_up) -> np.ndarray:
    """Steps between strokes, at half steps (the last point of a stroke + 0.5), the line's own end left out."""
    pen_up = to_array(pen_up, "pen_up", ndim=1, dtype=bool)
    return np.flatnonzero(pen_up[:-1]) + 0.5


def _ink_trace(ink, pen_up, color: str, name: str) -> go.Scatter:
    x, y = stroke_paths(ink, pen_up)
    steps = np.insert(np.arange(len(ink), dtype=float), np.flatnonzero(pen_up[:-1]) + 1, np.nan)
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        name=name,
        line={"color": color, "width": 2},
        customdata=steps,
        hovertemplate="point %{customdata}<extra></extra>",
        connectgaps=False,
    )


def _paper_layout(fig: go.Figure, ink: np.ndarray, *, title: str | None, uirevision: str | None, below: int) -> None:
    """Equal scales on x and y (a line must not look stretched), no ticks: the ink is the picture. The
    figure is as tall as a line of these proportions needs, plus `below` pixels for text under it."""
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    finish(fig, title=title, uirevision=uirevision, x_title="", y_title="")
    width, height = np.ptp(ink, axis=0) if len(ink) else (1, 1)
    plot = int(np.clip(INK_WIDTH_PX * (height + 1) / (width + 1) * 1.2, *INK_HEIGHT_PX))
    top = 50 if title else 20
    fig.update_layout(showlegend=False, height=plot + top + below, margin={"l": 10, "r": 10, "t": top, "b": below})


def ink_figure(
    ink,
    pen_up,
    *,
    text: str | None = None,
    readings: Mapping[str, str] | None = None,
    title: str | None = None,
    uirevision: str | None = "ink",
) -> go.Figure:
    """A handwritten line as ink, and under it its transcription (`text`) and what each architecture read
    (`readings`: arch -> decoded text), each in the architecture's colour."""
    ink, pen_up = _ink(ink, pen_up)
    if len(ink) == 0:
        return empty_figure("This line has no points", title=title, uirevision=uirevision)
    fig = go.Figure(_ink_trace(ink, pen_up, INK_COLOR, "ink"))
    lines = ([("written", text, INK_COLOR)] if text is not None else []) + [
        (arch_label(a), readings[a], arch_color(a)) for a in sort_archs(readings or {})
    ]
    for i, (who, what, color) in enumerate(lines):
        fig.add_annotation(
            text=f"<b>{who}</b>: {_escape(what) or '<i>(nothing yet)</i>'}",
            xref="paper",
            yref="paper",
            x=0,
            y=0,
            yshift=-TEXT_LINE_PX * (i + 1),
            xanchor="left",
            yanchor="top",
            showarrow=False,
            align="left",
            font={"color": color, "size": 14, "family": "monospace"},
        )
    _paper_layout(fig, ink, title=title, uirevision=uirevision, below=20 + TEXT_LINE_PX * len(lines))
    return fig


def _escape(text: str) -> str:
    """Plotly annotations read a little HTML; a written '<' or '&' must show as itself."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def emission_figure(
    ink,
    pen_up,
    steps,
    characters: Sequence[str],
    arch: str,
    *,
    title: str | None = None,
    uirevision: str | None = "emissions",
) -> go.Figure:
    """Where a network emits each character it reads: the line in faint ink, a marker at each emitting
    point in the architecture's colour, the character written above it."""
    ink, pen_up = _ink(ink, pen_up)
    steps = np.asarray(steps, dtype=int).ravel()
    if len(characters) != steps.size:
        raise VizInputError(f"got {len(characters)} characters for {steps.size} emitting steps; give one per step")
    if steps.size and (steps.min() < 0 or steps.max() >= len(ink)):
        raise VizInputError(f"emitting steps must lie on the line's points 0 to {len(ink) - 1}, got {steps.tolist()}")
    if len(ink) == 0:
        return empty_figure("This line has no points", title=title, uirevision=uirevision)
    fig = go.Figure(_ink_trace(ink, pen_up, FAINT_INK, "ink"))
    color = arch_color(arch)
    fig.add_trace(
        go.Scatter(
            x=ink[steps, 0],
            y=ink[steps, 1],
            mode="markers+text",
            cliponaxis=False,
            name=f"{arch_label(arch)} emits",
            text=[_escape(c) for c in characters],
            textposition="top center",
            textfont={"color": color, "size": 15, "family": "monospace"},
            marker={"color": color, "size": 8, "line": {"color": "white", "width": 1}},
            customdata=[[int(s), c] for s, c in zip(steps, characters)],
            hovertemplate="point %{customdata[0]} emits “%{customdata[1]}”<extra></extra>",
        )
    )
    _paper_layout(fig, ink, title=title, uirevision=uirevision, below=10)
    return fig


def mark_strokes(fig: go.Figure, pen_up) -> go.Figure:
    """Dotted lines across a figure whose x axis counts the line's points, one where each stroke ends, so a
    timeline shows which strokes a module saw between two of its updates."""
    for x in stroke_ends(pen_up):
        fig.add_shape(
            type="line", name="stroke end", xref="x", x0=x, x1=x, yref="y domain", y0=0, y1=1, line=STROKE_LINE
        )
    return fig


def emission_timeline_figure(
    probs,
    steps,
    characters: Sequence[str],
    pen_up,
    arch: str,
    *,
    title: str | None = None,
    uirevision: str | None = "emission_timeline",
) -> go.Figure:
    """A network's output along the line: at each point the probability that it emits some character (not
    the CTC blank), each emitted character written where it is emitted, and dotted lines at stroke ends."""
    probs = to_array(probs, "probs", ndim=2)
    pen_up = to_array(pen_up, "pen_up", ndim=1, dtype=bool)
    steps = np.asarray(steps, dtype=int).ravel()
    T = len(probs)
    if pen_up.shape != (T,):
        raise VizInputError(f"pen_up must hold one flag per step of probs ({T}), got shape {pen_up.shape}")
    if len(characters) != steps.size:
        raise VizInputError(f"got {len(characters)} characters for {steps.size} emitting steps; give one per step")
    if steps.size and (steps.min() < 0 or steps.max() >= T):
        raise VizInputError(f"emitting steps must lie on the line's points 0 to {T - 1}, got {steps.tolist()}")
    if T == 0:
        return empty_figure("This line has no points", title=title, uirevision=uirevision)
    color = arch_color(arch)
    some = 1 - probs[:, 0]
    fig = go.Figure(
        go.Scatter(
            x=np.arange(T),
            y=some,
            mode="lines",
            name="a character",
            line={"color": color, "width": 1.5},
            hovertemplate="point %{x}: a character with p = %{y:.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=some[steps],
            mode="markers+text",
            cliponaxis=False,
            name="emitted",
            text=[_escape(c) for c in characters],
            textposition="top center",
            textfont={"color": color, "size": 14, "family": "monospace"},
            marker={"color": color, "size": 6},
            hoverinfo="skip",
        )
    )
    fig.update_layout(showlegend=False)
    fig.update_yaxes(range=[0, 1.15], tickvals=[0, 0.5, 1])
    fig.update_xaxes(range=[-0.5, T - 0.5])
    mark_strokes(fig, pen_up)
    return finish(
        fig,
        title=title,
        uirevision=uirevision,
        x_title="point of the line (dotted: a stroke ends)",
        y_title="p(not blank)",
    )
