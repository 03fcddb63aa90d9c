"""Line and box figures: training curves across seeds, generated waveforms, the paper's box plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .viz_style import (
    GROUP_PALETTE,
    VizInputError,
    arch_color,
    arch_label,
    empty_figure,
    finish,
    require_columns,
    sort_archs,
    to_array,
    with_alpha,
)

BANDS = ("minmax", "std", None)
METRIC_COLUMNS = ("seed", "epoch", "name", "value")


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average with this weight (0: none, towards 1: more),
    debiased so the first points are not pulled towards zero; NaNs stay NaN and are skipped."""
    if not 0 <= weight < 1:
        raise VizInputError(f"smoothing must be from 0 (none) up to but not including 1, got {weight}")
    values = np.asarray(values, dtype=float)
    out, last, seen = np.full(values.shape, np.nan), 0.0, 0
    for i, value in enumerate(values):
        if np.isfinite(value):
            last, seen = last * weight + (1 - weight) * value, seen + 1
            out[i] = last / (1 - weight**seen)
    return out


def set_y_scale(fig: go.Figure, log_y: bool, values) -> None:
    """A linear or log y axis; a log axis that spans a decade is labelled at the decades only (1, 0.1, 0.01
    as powers of ten), where plotly's own 2 and 5 between them crowd the axis."""
    if not log_y:
        fig.update_yaxes(type="linear")
        return
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    spans_decade = values.size and np.floor(np.log10(values.max())) > np.floor(np.log10(values.min()))
    fig.update_yaxes(type="log", **({"dtick": 1, "exponentformat": "power"} if spans_decade else {}))


def downsample_epochs(df: pd.DataFrame, max_points: int = 1500) -> pd.DataFrame:
    """Rows of at most `max_points` distinct epochs per series, always keeping the first and last epoch.

    A series is one combination of every column but seed, epoch and value (e.g. one arch's loss). All
    seeds of a series keep the same epochs, so a band across seeds is computed at matching x. Epochs are
    picked evenly by rank, so a log with gaps (every 10th epoch, then every epoch) is still thinned evenly.
    """
    if max_points < 2:
        raise VizInputError(f"max_points must be >= 2 to keep the first and last epoch, got {max_points}")
    require_columns(df, ["epoch"], "metrics")
    epochs = df["epoch"].to_numpy()
    if pd.unique(epochs).size <= max_points:
        return df
    keys = [c for c in df.columns if c not in ("seed", "epoch", "value")]
    series = (
        df.groupby(keys, sort=False, dropna=False, observed=True).indices.values() if keys else [np.arange(len(df))]
    )
    keep = np.zeros(len(df), dtype=bool)
    for rows in series:
        distinct = np.unique(epochs[rows])
        if distinct.size > max_points:
            distinct = distinct[np.linspace(0, distinct.size - 1, max_points).round().astype(int)]
        keep[rows] = np.isin(epochs[rows], distinct)
    return df[keep]


def _series_stats(df: pd.DataFrame, group_col: str, max_points: int) -> pd.DataFrame:
    """Per (group, epoch): median, mean, std, min, max and number of seeds."""
    df = downsample_epochs(df, max_points)
    if df.duplicated([group_col, "seed", "epoch"]).any():
        raise VizInputError(
            f"several rows share one ({group_col}, seed, epoch); each {group_col!r} value must "
            f"be a single series per seed (filter the rows or put more in the label)"
        )
    return df.groupby([group_col, "epoch"])["value"].agg(["median", "mean", "std", "min", "max", "count"])


def _add_metric_traces(
    fig: go.Figure,
    df: pd.DataFrame,
    name: str,
    *,
    group_col: str,
    band: str | None,
    max_points: int,
    log_y: bool,
    scale: float = 1.0,
    dash: str = "solid",
    suffix: str = "",
    colors: Mapping[str, str] | None = None,
    dashes: Mapping[str, str] | None = None,
    smoothing: float = 0.0,
    finals: Mapping[str, float] | None = None,
) -> None:
    """One centre line per group for metric `name`, under it a band across seeds when there are several.
    `colors` and `dashes` fix a group's colour and line style (a comparison keeps a run's colour in every
    chart); other groups get the architecture's colour or the palette's next one. `smoothing` (see `smooth`)
    smooths the line and its band; `finals` (group -> value) marks a group's final evaluation as a point at
    the end of its line."""
    if band not in BANDS:
        raise VizInputError(f"band must be one of {BANDS}, got {band!r}")
    rows = df[df["name"] == name]
    if rows.empty:
        return
    stats = _series_stats(rows, group_col, max_points)
    stats[["median", "mean", "std", "min", "max"]] *= scale
    groups = list(pd.unique(rows[group_col]))
    groups = sort_archs(groups) if group_col == "arch" else groups
    for i, key in enumerate(groups):
        s = stats.loc[key]
        color = (colors or {}).get(key) or (
            arch_color(key) if group_col == "arch" else GROUP_PALETTE[i % len(GROUP_PALETTE)]
        )
        label = (arch_label(key) if group_col == "arch" else str(key)) + suffix
        centre = s["mean"] if band == "std" else s["median"]
        lower, upper = (s["mean"] - s["std"], s["mean"] + s["std"]) if band == "std" else (s["min"], s["max"])
        if log_y:  # mean - std can go below zero, which a log axis cannot draw; stop at the lowest seed
            lower = lower.where(lower > 0, s["min"])
        if smoothing:
            centre, lower, upper = (pd.Series(smooth(v, smoothing), index=s.index) for v in (centre, lower, upper))
        many = band is not None and s["count"].max() > 1
        if many:
            fig.add_trace(
                go.Scatter(
                    x=s.index,
                    y=upper,
                    mode="lines",
                    line={"width": 0},
                    legendgroup=label,
                    showlegend=False,
                    hoverinfo="skip",
                    name=f"{label} upper",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=s.index,
                    y=lower,
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=with_alpha(color, 0.2),
                    legendgroup=label,
                    showlegend=False,
                    hoverinfo="skip",
                    name=f"{label} lower",
                )
            )
        spread = " (%{customdata[0]:.3g} to %{customdata[1]:.3g}, %{customdata[2]} seeds)" if many else ""
        fig.add_trace(
            go.Scatter(
                x=s.index,
                y=centre,
                mode="lines",
                name=label,
                legendgroup=label,
                line={"color": color, "dash": (dashes or {}).get(key, dash), "width": 2},
                customdata=np.column_stack([lower, upper, s["count"]]),
                hovertemplate=f"%{{y:.4g}}{spread}<extra>{label}</extra>",
            )
        )
        if finals is not None and finals.get(key) is not None and np.isfinite(finals[key]):
            fig.add_trace(
                go.Scatter(
                    x=[s.index[-1]],
                    y=[finals[key] * scale],
                    mode="markers",
                    name=f"{label} final",
                    legendgroup=label,
                    showlegend=False,
                    marker={"color": color, "size": 11, "symbol": "diamond", "line": {"color": "white", "width": 1}},
                    hovertemplate=f"final evaluation: %{{y:.4g}}<extra>{label}</extra>",
                )
            )


def loss_figure(
    metrics_df: pd.DataFrame,
    name: str = "loss",
    *,
    log_y: bool = True,
    band: str | None = "minmax",
    max_points: int = 1500,
    uirevision: str | None = "loss",
    title: str | None = None,
    group_col: str = "arch",
    colors: Mapping[str, str] | None = None,
    dashes: Mapping[str, str] | None = None,
    smoothing: float = 0.0,
    finals: Mapping[str, float] | None = None,
) -> go.Figure:
    """Metric `name` over epochs: one line per `group_col` value, with a shaded band across seeds.

    band="minmax": median line, band from the best to the worst seed; "std": mean line, mean ± std band;
    None: median line only. `group_col` may be any column, e.g. a "run" label when comparing runs;
    `colors` and `dashes` (group -> colour, plotly dash) fix the look of some groups. `smoothing` is
    TensorBoard's (0 to < 1); `finals` (group -> value) marks each group's final evaluation on its line.
    """
    require_columns(metrics_df, [group_col, *METRIC_COLUMNS], "metrics")
    fig = go.Figure()
    _add_metric_traces(
        fig,
        metrics_df,
        name,
        group_col=group_col,
        band=band,
        max_points=max_points,
        log_y=log_y,
        colors=colors,
        dashes=dashes,
        smoothing=smoothing,
        finals=finals,
    )
    if not fig.data:
        return empty_figure(title=title, uirevision=uirevision)
    fig.update_layout(hovermode="x unified")
    set_y_scale(fig, log_y, np.concatenate([np.asarray(t.y, dtype=float) for t in fig.data]))
    return finish(fig, title=title or name, uirevision=uirevision, x_title="epoch", y_title=name)


def accuracy_figure(
    metrics_df: pd.DataFrame,
    names: Sequence[str] = ("train_error", "test_error"),
    *,
    dashes: Sequence[str] = ("dash", "solid"),
    scale: float = 100.0,
    band: str | None = "minmax",
    max_points: int = 1500,
    uirevision: str | None = "accuracy",
    title: str | None = "Classification error",
    group_col: str = "arch",
    smoothing: float = 0.0,
    finals: Mapping[str, Mapping[str, float]] | None = None,
    chance: float | None = None,
    y_title: str = "error (%)",
) -> go.Figure:
    """Error in % over epochs, one line per group and metric: `names[i]` drawn with `dashes[i]`.

    Errors are stored as fractions; `scale` = 100 shows them in percent (1 with a `y_title` of its own
    draws any metrics side by side, e.g. a training and a validation loss). `finals` (metric name -> group ->
    value) marks final evaluations on their lines; `chance` (a fraction) draws the error of guessing.
    """
    require_columns(metrics_df, [group_col, *METRIC_COLUMNS], "metrics")
    if len(dashes) < len(names):
        raise VizInputError(f"need one dash style per metric: got {len(dashes)} for names {list(names)}")
    fig = go.Figure()
    for name, dash in zip(names, dashes):
        _add_metric_traces(
            fig,
            metrics_df,
            name,
            group_col=group_col,
            band=band,
            max_points=max_points,
            log_y=False,
            scale=scale,
            dash=dash,
            suffix=f" {name.removesuffix('_error')}",
            smoothing=smoothing,
            finals=(finals or {}).get(name),
        )
    if not fig.data:
        return empty_figure(title=title, uirevision=uirevision)
    fig.update_layout(hovermode="x unified")
    if chance is not None:
        fig.add_hline(
            y=chance * scale,
            line={"color": "grey", "dash": "dot", "width": 1},
            annotation_text="chance",
            annotation_position="top left",
        )
    return finish(fig, title=title, uirevision=uirevision, x_title="epoch", y_title=y_title)


def waveform_figure(
    target,
    outputs: Mapping[str, np.ndarray],
    *,
    rate: float | None = None,
    uirevision: str | None = "wave",
    title: str | None = None,
    colors: Mapping[str, str] | None = None,
    dashes: Mapping[str, str] | None = None,
) -> go.Figure:
    """The target sequence (thick grey) with each model's generated sequence over it in the model's colour
    (or its colour and dash in `colors` and `dashes`, keyed as `outputs`).

    x is in steps, or in milliseconds when the sampling `rate` (Hz) is given.
    """
    target = to_array(target, "target", ndim=1)
    if target.size == 0:
        return empty_figure(title=title, uirevision=uirevision)
    if rate is not None and rate <= 0:
        raise VizInputError(f"rate must be a positive sampling rate in Hz, got {rate}")
    x = np.arange(target.size) if rate is None else np.arange(target.size) * 1000.0 / rate
    fig = go.Figure(
        go.Scatter(x=x, y=target, mode="lines", name="target", line={"color": "rgba(0,0,0,0.35)", "width": 5})
    )
    for arch in sort_archs(outputs):
        output = to_array(outputs[arch], f"outputs[{arch!r}]", ndim=1)
        if output.shape != target.shape:
            raise VizInputError(
                f"outputs[{arch!r}] has {output.size} steps but target has {target.size}; "
                f"every output must be as long as the target"
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=output,
                mode="lines",
                name=arch_label(arch),
                line={
                    "color": (colors or {}).get(arch) or arch_color(arch),
                    "dash": (dashes or {}).get(arch, "solid"),
                    "width": 1.5,
                },
            )
        )
    fig.update_layout(hovermode="x unified")
    return finish(
        fig, title=title, uirevision=uirevision, x_title="step" if rate is None else "time (ms)", y_title="amplitude"
    )


def _budget_label(budget: float) -> str:
    """Parameter counts as the paper prints them: 500, 1k, 2.5k."""
    return f"{budget / 1000:g}k" if budget >= 1000 else f"{budget:g}"


def paper_box_figure(
    results_df: pd.DataFrame,
    paper_df: pd.DataFrame,
    *,
    metric_label: str = "NMSE",
    log_y: bool = True,
    title: str | None = None,
    uirevision: str | None = "paper",
) -> go.Figure:
    """Our runs as one box per arch per parameter budget, the paper's reported means as black diamonds.

    Both frames have columns [arch, budget, value]: results one row per seed or run, paper one per cell.
    """
    require_columns(results_df, ["arch", "budget", "value"], "results_df")
    require_columns(paper_df, ["arch", "budget", "value"], "paper_df")
    if results_df.empty and paper_df.empty:
        return empty_figure(title=title, uirevision=uirevision)
    budgets = sorted(set(results_df["budget"]) | set(paper_df["budget"]))
    archs = sort_archs([*pd.unique(results_df["arch"]), *pd.unique(paper_df["arch"])])
    # Explicit numeric slots, not boxmode="group": the paper's diamonds must sit exactly on their box.
    width = 0.8 / len(archs)
    slot = {budget: i for i, budget in enumerate(budgets)}
    column = {arch: j for j, arch in enumerate(archs)}

    def positions(df: pd.DataFrame) -> np.ndarray:
        return np.array([slot[b] - 0.4 + width * (column[a] + 0.5) for a, b in zip(df["arch"], df["budget"])])

    fig = go.Figure()
    for arch in archs:
        rows = results_df[results_df["arch"] == arch]
        if not rows.empty:
            fig.add_trace(
                go.Box(
                    x=positions(rows),
                    y=rows["value"],
                    width=0.85 * width,
                    name=arch_label(arch),
                    marker_color=arch_color(arch),
                    boxpoints="outliers",
                )
            )
    if not paper_df.empty:
        cells = [
            f"{arch_label(a)}, {_budget_label(b)} parameters" for a, b in zip(paper_df["arch"], paper_df["budget"])
        ]
        fig.add_trace(
            go.Scatter(
                x=positions(paper_df),
                y=paper_df["value"],
                mode="markers",
                name="paper",
                marker={"symbol": "diamond", "color": "black", "size": 10, "line": {"color": "white", "width": 1}},
                customdata=cells,
                hovertemplate="paper: %{y:.3g}<br>%{customdata}<extra></extra>",
            )
        )
    fig.update_xaxes(
        tickmode="array",
        tickvals=list(range(len(budgets))),
        ticktext=[_budget_label(b) for b in budgets],
        range=[-0.5, len(budgets) - 0.5],
    )
    set_y_scale(fig, log_y, np.concatenate([results_df["value"], paper_df["value"]]))
    return finish(fig, title=title, uirevision=uirevision, x_title="parameters", y_title=metric_label)


def probabilities_figure(
    probabilities,
    labels: Sequence[str],
    true_index: int,
    *,
    top: int = 5,
    title: str | None = None,
    uirevision: str | None = "probabilities",
) -> go.Figure:
    """How a classifier's answer forms while it hears a sequence: the probability of each class at every
    step (a (steps, classes) array of softmax outputs), for the true class (thick) and the `top` classes
    most probable at the last step; a class other than the true one is drawn thin."""
    probabilities = to_array(probabilities, "probabilities", ndim=2)
    labels = list(labels)
    if probabilities.shape[1] != len(labels) or not 0 <= true_index < len(labels):
        raise VizInputError(
            f"need one label per class ({probabilities.shape[1]}) and a true class among them; got {len(labels)} "
            f"labels and true_index {true_index}"
        )
    if probabilities.shape[0] == 0:
        return empty_figure(title=title, uirevision=uirevision)
    ranked = list(np.argsort(-probabilities[-1], kind="stable")[:top])
    shown = [true_index] + [c for c in ranked if c != true_index]
    steps = np.arange(probabilities.shape[0])
    fig = go.Figure()
    for rank, c in enumerate(shown):
        right = c == true_index
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=probabilities[:, c],
                mode="lines",
                name=labels[c] + (" (true)" if right else ""),
                line={
                    "color": "black" if right else GROUP_PALETTE[rank % len(GROUP_PALETTE)],
                    "width": 3 if right else 1.5,
                },
                hovertemplate=f"%{{y:.0%}}<extra>{labels[c]}</extra>",
            )
        )
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    fig.update_layout(hovermode="x unified")
    return finish(fig, title=title, uirevision=uirevision, x_title="step (10 ms frame)", y_title="probability")
