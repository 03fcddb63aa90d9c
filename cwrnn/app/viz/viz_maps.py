"""Heatmap figures: module activity over time, weight matrices and masks, clocks, confusion, input features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .viz_style import (
    ARCH_COLORS,
    VizInputError,
    add_module_axis,
    add_separators,
    empty_figure,
    finish,
    fires_mask,
    label_axis,
    module_edges,
    module_labels,
    positive_ints,
    to_array,
    with_alpha,
)

CLOCK_COLOR = ARCH_COLORS["cwrnn"]
# Weights that are exactly zero become NaN and show this background: grey, so they cannot be mistaken for
# the near-white of small weights on the RdBu scale.
NO_CONNECTION = "#c8c8c8"


def _heatmap(z: np.ndarray, **kwargs) -> go.Figure:
    """A heatmap on index axes; never smoothed, so a held module shows as flat stripes."""
    return go.Figure(go.Heatmap(z=z, x=np.arange(z.shape[1]), y=np.arange(z.shape[0]), zsmooth=False, **kwargs))


def _square_cells(fig: go.Figure) -> None:
    """Square cells for matrices; the axes shrink rather than pad, so no background shows beside them."""
    fig.update_xaxes(constrain="domain")
    fig.update_yaxes(scaleanchor="x", constrain="domain")


def activity_figure(
    hidden,
    module_sizes: Sequence[int],
    periods: Sequence[int],
    active=None,
    *,
    uirevision: str | None = "activity",
    title: str | None = None,
) -> go.Figure:
    """Hidden units (y, module 1 on top) over time steps (x), banded by module, with a tick at every update.

    `hidden` is (T, n) with units ordered by module; `active` (g, T) bool says which module updated at
    which step and defaults to the paper's clock, t % T_i == 0.
    """
    hidden = to_array(hidden, "hidden", ndim=2)
    edges = module_edges(module_sizes)
    periods = positive_ints(periods, "periods")
    g, (steps, n) = len(edges) - 1, hidden.shape
    if len(periods) != g:
        raise VizInputError(f"got {len(periods)} periods for {g} modules; give one period per module")
    if n != edges[-1]:
        raise VizInputError(
            f"hidden has {n} units per step but module_sizes {list(module_sizes)} add up to "
            f"{edges[-1]}; hidden must be (T, sum(module_sizes))"
        )
    if steps == 0:
        return empty_figure(title=title, uirevision=uirevision)
    fires = fires_mask(periods, steps) if active is None else to_array(active, "active", ndim=2, dtype=bool)
    if fires.shape != (g, steps):
        raise VizInputError(f"active must be (modules, steps) = {(g, steps)}, got {fires.shape}")
    labels = module_labels(g, periods)
    fig = _heatmap(
        hidden.T,
        colorscale="RdBu",
        zmin=-1,
        zmax=1,
        colorbar={"title": "h"},
        hovertemplate="step %{x}<br>unit %{y}<br>h = %{z:.3f}<extra></extra>",
    )
    for i, label in enumerate(labels):
        # A tick on the band's upper edge at each update: slow modules get sparse ticks over long stripes.
        fired = np.flatnonzero(fires[i])
        fig.add_trace(
            go.Scatter(
                x=fired,
                y=np.full(fired.size, edges[i] - 0.5),
                mode="markers",
                name=f"{label} updates",
                showlegend=False,
                cliponaxis=False,
                marker={"symbol": "line-ns-open", "size": 7, "color": "black", "line": {"width": 1.5}},
                hovertemplate=f"{label} updates at step %{{x}}<extra></extra>",
            )
        )
    add_module_axis(fig, edges, labels, axis="y", reverse=True)
    fig.update_xaxes(range=[-0.5, steps - 0.5], showgrid=False, zeroline=False)
    return finish(fig, title=title, uirevision=uirevision, x_title="step", y_title="")


def weights_figure(
    W,
    module_sizes: Sequence[int],
    *,
    periods: Sequence[int] | None = None,
    title: str | None = "Recurrent weights (grey: no connection)",
    uirevision: str | None = "weights",
) -> go.Figure:
    """A recurrent matrix in column-vector form (row = target unit, column = source unit), by module.

    Colours are symmetric around 0; exactly-zero entries are left blank so the block structure shows.
    A matrix stored as `h @ W` (in x out) must be transposed first.
    """
    W = to_array(W, "W", ndim=2)
    edges = module_edges(module_sizes)
    if W.shape != (edges[-1], edges[-1]):
        raise VizInputError(f"W must be square with sum(module_sizes) = {edges[-1]} rows, got {W.shape}")
    z = np.where(W == 0, np.nan, W)
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = _heatmap(
        z,
        colorscale="RdBu",
        zmin=-limit,
        zmax=limit,
        hoverongaps=False,
        colorbar={"title": "w"},
        hovertemplate="to unit %{y} ← from unit %{x}<br>w = %{z:.3g}<extra></extra>",
    )
    labels = module_labels(len(edges) - 1, periods)
    add_module_axis(fig, edges, labels, axis="x")
    add_module_axis(fig, edges, labels, axis="y", reverse=True)
    fig.update_layout(plot_bgcolor=NO_CONNECTION)
    _square_cells(fig)
    return finish(fig, title=title, uirevision=uirevision, x_title="from (source)", y_title="to (target)")


def clock_figure(
    periods: Sequence[int], steps: int = 64, *, title: str | None = "Module clocks", uirevision: str | None = "clock"
) -> go.Figure:
    """Modules (rows, fastest on top) by steps: a filled cell where the module updates, a light one where it holds."""
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise VizInputError(f"steps must be a positive integer, got {steps!r}")
    periods = positive_ints(periods, "periods")
    fires = fires_mask(periods, steps)
    labels = module_labels(len(periods), periods)
    hover = [
        [f"{label}, step {t}: {'update' if f else 'hold'}" for t, f in enumerate(row)]
        for label, row in zip(labels, fires)
    ]
    fig = _heatmap(
        fires.astype(float),
        zmin=0,
        zmax=1,
        showscale=False,
        xgap=1,
        ygap=1,
        colorscale=[[0, with_alpha(CLOCK_COLOR, 0.15)], [1, CLOCK_COLOR]],
        hovertext=hover,
        hoverinfo="text",
    )
    label_axis(fig, axis="y", positions=range(len(labels)), labels=labels, size=len(labels), reverse=True)
    fig.update_xaxes(range=[-0.5, steps - 0.5], showgrid=False, zeroline=False)
    return finish(
        fig,
        title=title and f"{title}: filled = update, light = hold",
        uirevision=uirevision,
        x_title="step",
        y_title="",
    )


def connectivity_figure(
    mask,
    module_sizes: Sequence[int],
    *,
    periods: Sequence[int] | None = None,
    title: str | None = "Recurrent connectivity",
    uirevision: str | None = "connectivity",
) -> go.Figure:
    """Which module feeds which: a boolean (n, n) unit mask or (g, g) module mask, row = target."""
    mask = to_array(mask, "mask", ndim=2, dtype=bool)
    edges = module_edges(module_sizes)
    g, n = len(edges) - 1, int(edges[-1])
    if mask.shape not in {(n, n), (g, g)}:
        raise VizInputError(
            f"mask must be (units, units) = {(n, n)} or (modules, modules) = {(g, g)}, got {mask.shape}"
        )
    if mask.shape != (n, n):
        edges = np.arange(g + 1)
    module_of = np.repeat(np.arange(g), np.diff(edges))
    hover = [
        [
            f"from module {module_of[j] + 1} → to module {module_of[i] + 1}: {'connected' if mask[i, j] else 'none'}"
            for j in range(mask.shape[1])
        ]
        for i in range(mask.shape[0])
    ]
    fig = _heatmap(
        mask.astype(float),
        zmin=0,
        zmax=1,
        showscale=False,
        hovertext=hover,
        hoverinfo="text",
        colorscale=[[0, "#f2f2f2"], [1, "#404040"]],
    )
    labels = module_labels(g, periods)
    add_module_axis(fig, edges, labels, axis="x")
    add_module_axis(fig, edges, labels, axis="y", reverse=True)
    _square_cells(fig)
    return finish(fig, title=title, uirevision=uirevision, x_title="from module j", y_title="to module i")


def confusion_figure(
    matrix,
    labels: Sequence[str],
    groups: Sequence[Sequence[str]] | None = None,
    *,
    title: str | None = "Confusion matrix",
    uirevision: str | None = "confusion",
    normalize: bool = False,
) -> go.Figure:
    """Counts (or rates) of true class (row) against predicted class (column).

    With `groups` (lists of labels covering every label once) the classes are reordered group by group
    and lines separate the groups. `normalize` divides each row by its count, so a cell is the share of a
    word's recordings given each answer (a word with fewer test recordings weighs the same).
    """
    matrix = to_array(matrix, "matrix", ndim=2)
    labels = list(labels)
    if matrix.shape != (len(labels), len(labels)):
        raise VizInputError(f"matrix must be square with one row per label ({len(labels)}), got {matrix.shape}")
    bounds: list[float] = []
    if groups is not None:
        order = [label for group in groups for label in group]
        if sorted(order) != sorted(labels) or len(set(order)) != len(order):
            missing, unknown = set(labels) - set(order), set(order) - set(labels)
            raise VizInputError(
                f"groups must list every label exactly once; missing {sorted(missing)}, "
                f"unknown {sorted(unknown)}, {len(order)} entries for {len(labels)} labels"
            )
        index = [labels.index(label) for label in order]
        matrix, labels = matrix[np.ix_(index, index)], order
        bounds = list(np.cumsum([len(group) for group in groups])[:-1] - 0.5)
    counts = matrix
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        cells = [
            [f"true {t}<br>predicted {p}<br>{v:.0%} ({c:g} of {n:g})" for p, v, c in zip(labels, row, crow)]
            for t, row, crow, n in zip(labels, matrix, counts, totals[:, 0])
        ]
        text = np.where(matrix != 0, np.char.mod("%.0f", 100 * matrix), "")
    else:
        cells = [
            [f"true {t}<br>predicted {p}<br>{v:.3g}" for p, v in zip(labels, row)] for t, row in zip(labels, matrix)
        ]
        text = np.where(matrix != 0, np.char.mod("%.3g", matrix), "")
    fig = _heatmap(
        matrix,
        colorscale="Blues",
        zmin=0,
        zmax=1 if normalize else None,
        hovertext=cells,
        hoverinfo="text",
        text=text,
        texttemplate="%{text}",
        colorbar={"title": "share of row", "tickformat": ".0%"} if normalize else None,
    )
    k = len(labels)
    label_axis(fig, axis="x", positions=range(k), labels=labels, size=k)
    label_axis(fig, axis="y", positions=range(k), labels=labels, size=k, reverse=True)
    if k > 10:  # whole words: slanted below, and room for a row per word
        fig.update_xaxes(tickangle=-50, automargin=True)
        fig.update_yaxes(automargin=True)
        fig.update_layout(height=max(450, 22 * k + 180), font={"size": 11})
    for axis in ("x", "y"):
        add_separators(fig, bounds, axis=axis, name="group separator")
    _square_cells(fig)
    return finish(fig, title=title, uirevision=uirevision, x_title="predicted", y_title="true")


def features_figure(
    features,
    rate_hz: float | None = 100,
    *,
    channel_labels: Sequence[str] | None = None,
    title: str | None = "Input features",
    uirevision: str | None = "features",
) -> go.Figure:
    """A (frames, channels) feature sequence as channels (y) over time in seconds (x), or over frames when
    `rate_hz` is None (the steps a network takes, to line up with its activity).

    13 channels are labelled as the TIMIT task builds them: 12 MFCCs, then energy.
    """
    features = to_array(features, "features", ndim=2)
    frames, channels = features.shape
    if rate_hz is not None and rate_hz <= 0:
        raise VizInputError(f"rate_hz must be a positive frame rate or None (steps), got {rate_hz}")
    if channel_labels is None:
        channel_labels = (
            [f"MFCC {i + 1}" for i in range(12)] + ["energy"]
            if channels == 13
            else [f"channel {i + 1}" for i in range(channels)]
        )
    if len(channel_labels) != channels:
        raise VizInputError(f"got {len(channel_labels)} channel labels for {channels} channels")
    if frames == 0:
        return empty_figure(title=title, uirevision=uirevision)
    fig = go.Figure(
        go.Heatmap(
            z=features.T,
            x=np.arange(frames) / (rate_hz or 1),
            y=list(channel_labels),
            colorscale="RdBu",
            zmid=0,
            zsmooth=False,
            colorbar={"title": "value"},
            hovertemplate="%{y}<br>" + ("t = %{x:.2f} s" if rate_hz else "step %{x}") + "<br>%{z:.3g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(showgrid=False)
    return finish(
        fig, title=title, uirevision=uirevision, x_title="time (s)" if rate_hz else "step (10 ms frame)", y_title=""
    )
