"""The learning-rate sensitivity figure: a sweep's metric against the rate, one line per architecture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from .viz_curves import set_y_scale
from .viz_style import VizInputError, arch_color, arch_label, empty_figure, finish, sort_archs

ROW_KEYS = ("arch", "lr", "momentum", "mean", "std", "n", "diverged", "best")


def sensitivity_figure(
    rows: Sequence[Mapping],
    *,
    metric_label: str = "NMSE",
    scale: float = 1.0,
    log_y: bool = True,
    title: str | None = None,
    uirevision: str | None = "sweep",
) -> go.Figure:
    """Each architecture's mean metric (x `scale`) against the learning rate on a log axis, error bars of
    one std over its seeds; its best rate a star. Rows are a sweep's (cwrnn.sweep): settings where every
    member diverged leave a gap, and the hover counts the diverged. Several momenta: one line each."""
    for row in rows:
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            raise VizInputError(f"a sweep row needs {', '.join(ROW_KEYS)}; this one lacks {', '.join(missing)}")
    if not rows:
        return empty_figure("No sweep yet", title=title, uirevision=uirevision)
    fig, values = go.Figure(), []
    for arch in sort_archs(list(dict.fromkeys(r["arch"] for r in rows))):
        momenta = sorted({r["momentum"] for r in rows if r["arch"] == arch})
        for momentum in momenta:
            line = sorted((r for r in rows if r["arch"] == arch and r["momentum"] == momentum), key=lambda r: r["lr"])
            mean = np.array([np.nan if r["mean"] is None else r["mean"] * scale for r in line])
            std = np.array([np.nan if r["std"] is None else r["std"] * scale for r in line])
            values += list(mean[np.isfinite(mean)])
            name = arch_label(arch) + (f", momentum {momentum:g}" if len(momenta) > 1 else "")
            color = arch_color(arch)
            fig.add_trace(
                go.Scatter(
                    x=[r["lr"] for r in line],
                    y=mean,
                    error_y={"type": "data", "array": std, "visible": True, "color": color},
                    mode="lines+markers",
                    name=name,
                    line={"color": color},
                    customdata=[[r["n"], r["diverged"]] for r in line],
                    hovertemplate=f"{name}<br>rate %{{x:.3g}}: %{{y:.4g}} ± %{{error_y.array:.2g}}"
                    "<br>%{customdata[0]} networks, %{customdata[1]} diverged<extra></extra>",
                )
            )
            best = [r for r in line if r["best"]]
            if best:
                fig.add_trace(
                    go.Scatter(
                        x=[best[0]["lr"]],
                        y=[best[0]["mean"] * scale],
                        mode="markers",
                        name=f"{name}: best rate",
                        marker={"symbol": "star", "size": 16, "color": color, "line": {"color": "black", "width": 1}},
                        hovertemplate=f"{name}: best rate %{{x:.3g}}<extra></extra>",
                    )
                )
    fig.update_xaxes(type="log", exponentformat="power", dtick=1)
    set_y_scale(fig, log_y, values)
    return finish(fig, title=title, uirevision=uirevision, x_title="learning rate", y_title=metric_label)
