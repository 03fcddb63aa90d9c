"""What every Clockwork Lab figure shares: architecture colours and labels, input checks, module axes."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from ...paper import ARCH_LABELS, ARCH_ORDER, arch_label, sort_archs  # noqa: F401 (the figures' names)


class VizInputError(ValueError):
    """Data handed to a figure builder has the wrong shape, columns or values."""


# Okabe-Ito colours stay distinguishable under colour blindness; the CW-RNN gets the loudest one.
ARCH_COLORS: dict[str, str] = {"cwrnn": "#D55E00", "srn": "#0072B2", "lstm": "#009E73", "gru": "#CC79A7"}
GROUP_PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)
#: Where colour already names a run (comparing runs), the line style names the model.
ARCH_DASHES: dict[str, str] = {"cwrnn": "solid", "srn": "dot", "lstm": "dash", "gru": "dashdot"}
TEMPLATE = "plotly_white"


def arch_color(arch: str) -> str:
    """Hex colour of an architecture; an unknown name always gets the same palette colour."""
    if arch in ARCH_COLORS:
        return ARCH_COLORS[arch]
    # crc32, not hash(): Python salts str hashes per process, and colours must not change between reloads.
    return GROUP_PALETTE[zlib.crc32(arch.encode()) % len(GROUP_PALETTE)]


def with_alpha(hex_color: str, alpha: float) -> str:
    """`#RRGGBB` as an rgba() string, for translucent bands."""
    r, g, b = hex_to_rgb(hex_color)
    return f"rgba({r},{g},{b},{alpha})"


def empty_figure(message: str = "No data yet", *, title: str | None = None, uirevision: str | None = None) -> go.Figure:
    """A blank figure that says why it is blank, so a page never shows empty axes without explanation."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 16, "color": "grey"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title, uirevision=uirevision, template=TEMPLATE)
    return fig


def finish(fig: go.Figure, *, title: str | None, uirevision: str | None, x_title: str, y_title: str) -> go.Figure:
    """Layout every builder ends with; `uirevision` keeps the user's zoom when the page redraws."""
    fig.update_layout(
        title=title,
        uirevision=uirevision,
        template=TEMPLATE,
        margin={"l": 60, "r": 20, "t": 50 if title else 20, "b": 50},
    )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title)
    return fig


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise if `df` lacks any of `columns`."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise VizInputError(f"{what} lacks column(s) {missing}; it needs {list(columns)}, has {list(df.columns)}")


def to_array(values, what: str, *, ndim: int, dtype=float) -> np.ndarray:
    """`values` as a numpy array of `ndim` dimensions, or a clear error."""
    array = np.asarray(values, dtype=dtype)
    if array.ndim != ndim:
        raise VizInputError(f"{what} must be a {ndim}-D array, got shape {array.shape}")
    return array


def positive_ints(values: Sequence[int], what: str) -> np.ndarray:
    """A non-empty 1-D list of integers >= 1 (module sizes, clock periods) as an int array."""
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.integer) or (array < 1).any():
        raise VizInputError(f"{what} must be a non-empty list of integers >= 1, got {values!r}")
    return array.astype(int)


def module_edges(module_sizes: Sequence[int]) -> np.ndarray:
    """Unit index where each module starts, plus the total: sizes [2, 3] -> [0, 2, 5]."""
    return np.concatenate([[0], np.cumsum(positive_ints(module_sizes, "module_sizes"))])


def module_labels(count: int, periods: Sequence[int] | None = None) -> list[str]:
    """ "M1", "M2", ... (1-based like the paper), with " · T=<period>" when periods are known."""
    if periods is None:
        return [f"M{i + 1}" for i in range(count)]
    return [f"M{i + 1} · T={p}" for i, p in enumerate(periods)]


def fires_mask(periods: Sequence[int], steps: int) -> np.ndarray:
    """(g, steps) bool: module i updates at step t iff t % T_i == 0 (t counts from 0, so all fire at 0)."""
    periods = positive_ints(periods, "periods")
    return np.arange(steps)[None, :] % periods[:, None] == 0


def add_separators(fig: go.Figure, positions: Iterable[float], *, axis: str, name: str) -> None:
    """Thin lines across the plot at data coordinate `positions` on `axis` ("x" or "y")."""
    for pos in positions:
        if axis == "y":
            fig.add_shape(
                type="line",
                name=name,
                xref="x domain",
                x0=0,
                x1=1,
                yref="y",
                y0=pos,
                y1=pos,
                line={"color": "black", "width": 1},
            )
        else:
            fig.add_shape(
                type="line",
                name=name,
                yref="y domain",
                y0=0,
                y1=1,
                xref="x",
                x0=pos,
                x1=pos,
                line={"color": "black", "width": 1},
            )


def label_axis(
    fig: go.Figure, *, axis: str, positions: Sequence[float], labels: Sequence[str], size: int, reverse: bool = False
) -> None:
    """Ticks at `positions` with `labels` on an index axis of `size` cells; `reverse` puts 0 on top."""
    span = [size - 0.5, -0.5] if reverse else [-0.5, size - 0.5]
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(
        tickmode="array", tickvals=list(positions), ticktext=list(labels), range=span, showgrid=False, zeroline=False
    )


def add_module_axis(
    fig: go.Figure, edges: np.ndarray, labels: Sequence[str], *, axis: str, reverse: bool = False
) -> None:
    """One tick per module at its centre and a separator line between neighbouring modules."""
    centres = (edges[:-1] + edges[1:] - 1) / 2
    label_axis(fig, axis=axis, positions=centres, labels=labels, size=int(edges[-1]), reverse=reverse)
    add_separators(fig, edges[1:-1] - 0.5, axis=axis, name="module separator")
