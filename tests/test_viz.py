"""The figure builders in cwrnn.viz: traces, axes and data checked against values computed here."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import cwrnn
from cwrnn.app import viz


def metrics(archs=("cwrnn", "srn"), seeds=3, epochs=50, names=("loss",), seed=0) -> pd.DataFrame:
    """A metrics frame in the run store's layout with positive random values."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {"arch": arch, "seed": s, "epoch": np.arange(epochs), "name": name, "value": rng.uniform(0.01, 1.0, epochs)}
        )
        for arch in archs
        for s in range(seeds)
        for name in names
    ]
    return pd.concat(frames, ignore_index=True)


def line(fig: go.Figure, name: str) -> go.Scatter:
    """The one trace called `name`."""
    (trace,) = [t for t in fig.data if t.name == name]
    return trace


def shapes_named(fig: go.Figure, name: str) -> list:
    return [s for s in fig.layout.shapes if s.name == name]


def is_no_data(fig: go.Figure) -> bool:
    return not fig.data and [a.text for a in fig.layout.annotations] == ["No data yet"]


# --- colours, labels, imports ---------------------------------------------------------------------------


def test_arch_colours_and_labels_are_shared_by_every_figure():
    assert viz.ARCH_LABELS == {"cwrnn": "CW-RNN", "srn": "SRN", "lstm": "LSTM", "gru": "GRU"}
    assert len(set(viz.ARCH_COLORS.values())) == len(viz.ARCH_COLORS)
    loss = viz.loss_figure(metrics(seeds=1))
    wave = viz.waveform_figure(np.zeros(8), {"cwrnn": np.zeros(8)})
    assert line(loss, "CW-RNN").line.color == line(wave, "CW-RNN").line.color == viz.arch_color("cwrnn")
    assert viz.arch_color("my-variant") == viz.arch_color("my-variant")
    assert viz.arch_label("my-variant") == "my-variant"


def test_viz_modules_import_neither_streamlit_nor_torch():
    allowed = {"__future__", "collections", "zlib", "numpy", "pandas", "plotly", "cwrnn"}
    for path in Path(cwrnn.__file__).parent.glob("viz*.py"):
        tree = ast.parse(path.read_text())
        roots = {
            alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        roots |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert roots <= allowed, f"{path.name} imports {roots - allowed}"


# --- downsample_epochs ----------------------------------------------------------------------------------


def test_downsample_bounds_long_histories_and_keeps_ends():
    df = metrics(seeds=3, epochs=20_000)
    out = viz.downsample_epochs(df, max_points=1500)
    for _, series in out.groupby(["arch", "name"]):
        kept = np.unique(series["epoch"])
        assert 2 <= kept.size <= 1500
        assert kept[0] == 0 and kept[-1] == 19_999
        assert np.diff(kept).max() <= np.ceil(19_999 / 1499)  # evenly thinned, no big holes
        per_seed = [set(s["epoch"]) for _, s in series.groupby("seed")]
        assert all(epochs == per_seed[0] for epochs in per_seed)  # bands need matching x across seeds
    kept_rows = out.merge(df, on=["arch", "seed", "epoch", "name"], suffixes=("", "_orig"))
    assert len(kept_rows) == len(out) and (kept_rows["value"] == kept_rows["value_orig"]).all()


def test_downsample_thins_each_series_on_its_own():
    df = pd.concat(
        [metrics(archs=("cwrnn",), seeds=1, epochs=5000), metrics(archs=("srn",), seeds=1, epochs=40)],
        ignore_index=True,
    )
    out = viz.downsample_epochs(df, max_points=100)
    assert out[out["arch"] == "cwrnn"]["epoch"].nunique() == 100
    assert out[out["arch"] == "srn"]["epoch"].tolist() == list(range(40))


def test_downsample_leaves_short_histories_alone_and_rejects_bad_max_points():
    df = metrics(epochs=30)
    assert viz.downsample_epochs(df, max_points=30).equals(df)
    with pytest.raises(ValueError, match="max_points must be >= 2"):
        viz.downsample_epochs(df, max_points=1)


# --- loss_figure and accuracy_figure ---------------------------------------------------------------------


def test_loss_figure_median_line_with_min_max_band_across_seeds():
    df = metrics(archs=("cwrnn", "srn", "lstm"), seeds=4, epochs=20)
    fig = viz.loss_figure(df, uirevision="keep-zoom")
    assert len(fig.data) == 3 * 3 and all(isinstance(t, go.Scatter) for t in fig.data)
    assert fig.layout.yaxis.type == "log" and fig.layout.uirevision == "keep-zoom"
    values = df[(df.arch == "lstm")].pivot(index="epoch", columns="seed", values="value").to_numpy()
    np.testing.assert_allclose(line(fig, "LSTM").y, np.median(values, axis=1))
    np.testing.assert_allclose(line(fig, "LSTM upper").y, values.max(axis=1))
    lower = line(fig, "LSTM lower")
    np.testing.assert_allclose(lower.y, values.min(axis=1))
    assert lower.fill == "tonexty" and fig.data.index(lower) == fig.data.index(line(fig, "LSTM upper")) + 1
    assert [t.name for t in fig.data if t.showlegend is not False] == ["SRN", "LSTM", "CW-RNN"]


def test_loss_figure_std_band_is_mean_plus_minus_std_and_stays_positive_on_log_axis():
    df = metrics(archs=("srn",), seeds=5, epochs=10)
    df.loc[(df.seed == 0) & (df.epoch < 5), "value"] = 50.0  # one diverged seed: mean - std < 0 there
    values = df.pivot(index="epoch", columns="seed", values="value").to_numpy()
    fig = viz.loss_figure(df, band="std")
    mean, std = values.mean(axis=1), values.std(axis=1, ddof=1)
    np.testing.assert_allclose(line(fig, "SRN").y, mean)
    np.testing.assert_allclose(line(fig, "SRN upper").y, mean + std)
    assert (mean - std < 0).sum() == 5
    expected_lower = np.where(mean - std > 0, mean - std, values.min(axis=1))
    np.testing.assert_allclose(line(fig, "SRN lower").y, expected_lower)
    linear = viz.loss_figure(df, band="std", log_y=False)
    assert linear.layout.yaxis.type == "linear"
    np.testing.assert_allclose(line(linear, "SRN lower").y, mean - std)


@pytest.mark.parametrize("seeds, band", [(1, "minmax"), (4, None)])
def test_loss_figure_has_no_band_with_one_seed_or_band_none(seeds, band):
    fig = viz.loss_figure(metrics(seeds=seeds), band=band)
    assert len(fig.data) == 2 and not any(t.fill for t in fig.data)


def test_loss_figure_groups_by_another_column_to_compare_runs():
    df = pd.concat(
        [metrics(archs=("cwrnn",), seed=1).assign(run="run A"), metrics(archs=("cwrnn",), seed=2).assign(run="run B")],
        ignore_index=True,
    )
    fig = viz.loss_figure(df, group_col="run", title="runs")
    lines = [t for t in fig.data if not t.fill and t.hoverinfo != "skip"]
    assert [t.name for t in lines] == ["run A", "run B"]
    assert lines[0].line.color != lines[1].line.color
    with pytest.raises(ValueError, match="single series per seed"):
        viz.loss_figure(df.assign(run="same"), group_col="run")


def test_loss_figure_downsamples_long_histories():
    fig = viz.loss_figure(metrics(seeds=2, epochs=20_000), max_points=500)
    assert all(len(t.x) == 500 and t.x[0] == 0 and t.x[-1] == 19_999 for t in fig.data)


def test_loss_figure_empty_unknown_metric_and_bad_input():
    assert is_no_data(viz.loss_figure(metrics().iloc[:0]))
    assert is_no_data(viz.loss_figure(metrics(), name="nmse"))
    with pytest.raises(ValueError, match="lacks column"):
        viz.loss_figure(metrics().drop(columns="seed"))
    with pytest.raises(ValueError, match="band must be one of"):
        viz.loss_figure(metrics(), band="iqr")


def test_accuracy_figure_train_dashed_test_solid_in_percent():
    df = metrics(archs=("cwrnn", "lstm"), seeds=1, names=("train_error", "test_error"))
    fig = viz.accuracy_figure(df)
    assert len(fig.data) == 4 and fig.layout.yaxis.title.text == "error (%)"
    assert line(fig, "CW-RNN train").line.dash == "dash" and line(fig, "CW-RNN test").line.dash == "solid"
    test_values = df[(df.arch == "lstm") & (df.name == "test_error")]["value"].to_numpy()
    np.testing.assert_allclose(line(fig, "LSTM test").y, 100 * test_values)
    assert is_no_data(viz.accuracy_figure(metrics(names=("loss",))))


# --- waveform_figure ----------------------------------------------------------------------------------


def test_waveform_figure_overlays_outputs_on_a_thick_target():
    target = np.sin(np.arange(64) / 4)
    fig = viz.waveform_figure(target, {"cwrnn": target * 0.9, "srn": np.zeros(64)}, uirevision="w")
    assert [t.name for t in fig.data] == ["target", "SRN", "CW-RNN"]
    assert fig.data[0].line.width > fig.data[1].line.width and fig.layout.uirevision == "w"
    np.testing.assert_allclose(fig.data[0].y, target)
    assert list(fig.data[0].x[:2]) == [0, 1] and fig.layout.xaxis.title.text == "step"
    in_ms = viz.waveform_figure(target, {}, rate=44_100)
    assert in_ms.data[0].x[1] == pytest.approx(1000 / 44_100) and in_ms.layout.xaxis.title.text == "time (ms)"
    with pytest.raises(ValueError, match="as long as the target"):
        viz.waveform_figure(target, {"lstm": np.zeros(10)})
    assert is_no_data(viz.waveform_figure([], {}))


# --- activity_figure ----------------------------------------------------------------------------------

SIZES, PERIODS = [3, 2, 2, 1], [1, 2, 4, 8]


def test_activity_figure_bands_modules_and_labels_their_periods():
    hidden = np.random.default_rng(0).uniform(-1, 1, (40, sum(SIZES)))
    fig = viz.activity_figure(hidden, SIZES, PERIODS, uirevision="act")
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap) and (heat.zmin, heat.zmax) == (-1, 1) and not heat.zsmooth
    assert heat.colorscale == go.Heatmap(colorscale="RdBu").colorscale
    np.testing.assert_allclose(np.asarray(heat.z), hidden.T)  # units on y, time on x
    ticks = fig.layout.yaxis.ticktext
    assert len(ticks) == 4 and all(f"T={p}" in tick for tick, p in zip(ticks, PERIODS))
    assert list(fig.layout.yaxis.tickvals) == [1.0, 3.5, 5.5, 7.0]
    separators = shapes_named(fig, "module separator")
    assert len(separators) == len(SIZES) - 1 and [s.y0 for s in separators] == [2.5, 4.5, 6.5]
    assert fig.layout.uirevision == "act"


def test_activity_figure_marks_updates_exactly_where_the_clock_fires():
    fig = viz.activity_figure(np.zeros((40, sum(SIZES))), SIZES, PERIODS)
    marks = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert len(marks) == len(PERIODS)
    for mark, period in zip(marks, PERIODS):
        assert list(mark.x) == [t for t in range(40) if t % period == 0]
    active = np.zeros((4, 40), dtype=bool)
    active[2, [3, 17]] = True
    custom = viz.activity_figure(np.zeros((40, sum(SIZES))), SIZES, PERIODS, active=active)
    assert [list(t.x) for t in custom.data[1:]] == [[], [], [3, 17], []]


def test_activity_figure_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"hidden has 7 units .* add up to 8"):
        viz.activity_figure(np.zeros((10, 7)), SIZES, PERIODS)
    with pytest.raises(ValueError, match="one period per module"):
        viz.activity_figure(np.zeros((10, 8)), SIZES, PERIODS[:3])
    with pytest.raises(ValueError, match="active must be"):
        viz.activity_figure(np.zeros((10, 8)), SIZES, PERIODS, active=np.ones((4, 9), bool))
    with pytest.raises(ValueError, match="integers >= 1"):
        viz.activity_figure(np.zeros((10, 8)), SIZES, [1, 2, 0, 8])
    assert is_no_data(viz.activity_figure(np.zeros((0, 8)), SIZES, PERIODS))


# --- weights, clock, connectivity ---------------------------------------------------------------------


def test_weights_figure_blanks_exact_zeros_with_symmetric_colours():
    rng = np.random.default_rng(1)
    W = np.triu(rng.normal(size=(8, 8)))
    z = np.asarray(viz.weights_figure(W, SIZES).data[0].z, dtype=float)
    assert np.isnan(z[W == 0]).all() and (W == 0).sum() == 28
    np.testing.assert_allclose(z[W != 0], W[W != 0])
    heat = viz.weights_figure(W, SIZES).data[0]
    assert heat.zmin == -heat.zmax == -np.abs(W).max()
    fig = viz.weights_figure(W, SIZES, periods=PERIODS)
    assert len(shapes_named(fig, "module separator")) == 2 * (len(SIZES) - 1)
    assert list(fig.layout.xaxis.ticktext) == ["M1 · T=1", "M2 · T=2", "M3 · T=4", "M4 · T=8"]
    with pytest.raises(ValueError, match=r"sum\(module_sizes\) = 8"):
        viz.weights_figure(np.zeros((8, 7)), SIZES)


def test_clock_figure_fills_updates_and_lightens_holds():
    periods = [1, 3, 4]
    fig = viz.clock_figure(periods, steps=24)
    z = np.asarray(fig.data[0].z)
    expected = [[1.0 if t % p == 0 else 0.0 for t in range(24)] for p in periods]
    np.testing.assert_array_equal(z, expected)
    assert list(fig.layout.yaxis.ticktext) == ["M1 · T=1", "M2 · T=3", "M3 · T=4"]
    assert "hold" in fig.layout.title.text
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        viz.clock_figure(periods, steps=0)


def test_connectivity_figure_at_module_and_unit_level():
    modules = np.triu(np.ones((4, 4), dtype=bool))
    fig = viz.connectivity_figure(modules, SIZES)
    assert np.asarray(fig.data[0].z).shape == (4, 4)
    assert fig.data[0].hovertext[1][3] == "from module 4 → to module 2: connected"
    assert fig.data[0].hovertext[3][1] == "from module 2 → to module 4: none"
    module_of_unit = np.repeat(range(4), SIZES)
    units = modules[np.ix_(module_of_unit, module_of_unit)]
    unit_fig = viz.connectivity_figure(units, SIZES)
    assert unit_fig.data[0].hovertext[0][7] == "from module 4 → to module 1: connected"
    assert len(shapes_named(unit_fig, "module separator")) == 6
    with pytest.raises(ValueError, match="mask must be"):
        viz.connectivity_figure(np.ones((5, 5), bool), SIZES)


# --- paper_box_figure ---------------------------------------------------------------------------------


def test_paper_box_figure_one_box_per_arch_per_budget_with_paper_diamonds():
    budgets, archs = [100, 250, 500, 1000], ["cwrnn", "srn", "lstm"]
    rng = np.random.default_rng(2)
    results = pd.DataFrame(
        [(a, b, v) for a in archs for b in budgets for v in rng.uniform(0.01, 0.5, 6)],
        columns=["arch", "budget", "value"],
    )
    paper = pd.DataFrame(
        [("cwrnn", b, v) for b, v in zip(budgets, [0.039, 0.017, 0.010, 0.006])], columns=["arch", "budget", "value"]
    )
    fig = viz.paper_box_figure(results, paper)
    boxes = [t for t in fig.data if isinstance(t, go.Box)]
    assert [b.name for b in boxes] == ["SRN", "LSTM", "CW-RNN"]
    assert all(len(set(b.x)) == len(budgets) for b in boxes)
    for slot in range(len(budgets)):  # side by side within their budget's slot, never on top of each other
        xs = [x for b in boxes for x in set(b.x) if abs(x - slot) < 0.5]
        assert len(xs) == len(archs) and len(set(xs)) == len(archs)
    cw = line(fig, "CW-RNN")
    for budget_x in set(cw.x):  # each box holds exactly that cell's seeds
        values = np.asarray(cw.y)[np.asarray(cw.x) == budget_x]
        assert len(values) == 6
    diamonds = line(fig, "paper")
    assert diamonds.marker.symbol == "diamond" and diamonds.marker.color == "black"
    assert sorted(diamonds.x) == sorted(set(cw.x))  # each diamond sits on its own box
    np.testing.assert_allclose(diamonds.y, paper["value"])
    assert list(fig.layout.xaxis.ticktext) == ["100", "250", "500", "1k"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text == "NMSE"


def test_paper_box_figure_empty_and_paper_only():
    empty = pd.DataFrame(columns=["arch", "budget", "value"])
    assert is_no_data(viz.paper_box_figure(empty, empty))
    paper_only = viz.paper_box_figure(empty, pd.DataFrame({"arch": ["srn"], "budget": [500], "value": [0.4]}))
    assert [t.name for t in paper_only.data] == ["paper"]
    with pytest.raises(ValueError, match="results_df lacks column"):
        viz.paper_box_figure(empty.drop(columns="budget"), empty)


# --- confusion_figure and features_figure -------------------------------------------------------------


def test_confusion_figure_reorders_by_group_and_separates_groups():
    labels = ["a", "b", "c", "d", "e"]
    matrix = np.array([[10 * i + j for j in range(5)] for i in range(5)])  # cell encodes (true, predicted)
    groups = [["c", "a"], ["e", "b", "d"]]
    fig = viz.confusion_figure(matrix, labels, groups)
    order = ["c", "a", "e", "b", "d"]
    assert list(fig.layout.xaxis.ticktext) == list(fig.layout.yaxis.ticktext) == order
    expected = [[10 * labels.index(t) + labels.index(p) for p in order] for t in order]
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), expected)
    separators = shapes_named(fig, "group separator")
    assert len(separators) == 2 and {s.x0 for s in separators if s.xref == "x"} == {1.5}
    assert fig.data[0].text[1][1] == ""  # zero counts stay unlabelled
    assert len(viz.confusion_figure(matrix, labels).layout.shapes) == 0
    with pytest.raises(ValueError, match=r"missing \['d'\]"):
        viz.confusion_figure(matrix, labels, [["a", "b"], ["c", "e"]])
    with pytest.raises(ValueError, match="one row per label"):
        viz.confusion_figure(matrix[:4], labels)


def test_features_figure_puts_channels_on_y_and_time_in_seconds():
    features = np.random.default_rng(3).normal(size=(30, 13))
    fig = viz.features_figure(features, rate_hz=100)
    heat = fig.data[0]
    np.testing.assert_allclose(np.asarray(heat.z), features.T)
    assert list(heat.y) == [f"MFCC {i}" for i in range(1, 13)] + ["energy"]
    assert heat.x[1] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="2 channel labels for 13 channels"):
        viz.features_figure(features, channel_labels=["x", "y"])


# --- how curves are read: log decades, smoothing, final evaluations, chance ----------------------------


def test_smoothing_is_tensorboards_debiased_moving_average():
    from cwrnn.app.viz.viz_curves import smooth

    values = [1.0, 3.0, np.nan, 2.0]
    w = 0.6
    # written out by hand: EMA with a zero start, divided by 1 - w^n after n finite points
    e1 = (1 - w) * 1.0
    e2 = w * e1 + (1 - w) * 3.0
    e3 = w * e2 + (1 - w) * 2.0
    expected = [e1 / (1 - w), e2 / (1 - w**2), np.nan, e3 / (1 - w**3)]
    np.testing.assert_allclose(smooth(values, w), expected)
    np.testing.assert_allclose(smooth(values, 0.0), values)
    with pytest.raises(viz.VizInputError, match="smoothing must be from 0"):
        smooth(values, 1.0)
    df = metrics(seeds=1)
    raw, smoothed = viz.loss_figure(df), viz.loss_figure(df, smoothing=0.9)
    assert np.std(np.diff(line(smoothed, "CW-RNN").y)) < np.std(np.diff(line(raw, "CW-RNN").y))


def test_a_log_loss_axis_is_labelled_at_the_decades_only():
    df = metrics(seeds=1)  # values 0.01 to 1: two decades
    fig = viz.loss_figure(df)
    assert (fig.layout.yaxis.type, fig.layout.yaxis.dtick, fig.layout.yaxis.exponentformat) == ("log", 1, "power")
    narrow = viz.loss_figure(df.assign(value=np.linspace(0.3, 0.9, len(df))))  # within one decade
    assert narrow.layout.yaxis.type == "log" and narrow.layout.yaxis.dtick is None  # plotly's own ticks
    linear = viz.loss_figure(df, log_y=False)
    assert linear.layout.yaxis.type == "linear" and linear.layout.yaxis.dtick is None


def test_the_final_evaluation_is_a_point_at_the_end_of_its_curve():
    df = metrics(seeds=2)
    fig = viz.loss_figure(df, finals={"cwrnn": 0.02, "srn": float("nan")})
    (point,) = [t for t in fig.data if t.name == "CW-RNN final"]
    assert list(point.x) == [49] and list(point.y) == [0.02]
    assert point.marker.color == line(fig, "CW-RNN").line.color and not point.showlegend
    errors = metrics(names=("train_error", "test_error"), seeds=1)
    acc = viz.accuracy_figure(errors, finals={"test_error": {"srn": 0.5}}, chance=1 - 1 / 25)
    (point,) = [t for t in acc.data if t.name.endswith("final")]
    assert point.name == "SRN test final" and list(point.y) == [50.0]
    (chance,) = acc.layout.shapes
    assert chance.y0 == chance.y1 == pytest.approx(96.0) and acc.layout.annotations[0].text == "chance"


def test_a_normalised_confusion_matrix_shows_each_true_words_share_and_keeps_the_counts_in_hover():
    matrix = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    fig = viz.confusion_figure(matrix, ["yes", "no", "maybe"], normalize=True)
    heat = fig.data[0]
    np.testing.assert_allclose(np.array(heat.z), [[0.75, 0.25, 0], [0, 0, 0], [0.25, 0.25, 0.5]])
    assert heat.zmax == 1 and heat.text[0][0] == "75" and "75% (3 of 4)" in heat.hovertext[0][0]
    many = [f"word{i}" for i in range(25)]
    wide = viz.confusion_figure(np.eye(25), many, normalize=True)
    assert wide.layout.xaxis.tickangle == -50 and wide.layout.height >= 22 * 25  # room for every word


def test_probabilities_follow_the_true_class_and_the_likeliest_answers():
    steps = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    fig = viz.probabilities_figure(steps, ["a", "b", "c"], true_index=0, top=1)
    assert [t.name for t in fig.data] == ["a (true)", "b"]
    np.testing.assert_allclose(fig.data[1].y, [0.3, 0.7, 0.8])
    assert list(fig.data[0].x) == [0, 1, 2] and fig.layout.yaxis.range == (0, 1)
    with pytest.raises(viz.VizInputError, match="one label per class"):
        viz.probabilities_figure(steps, ["a", "b"], true_index=0)


# --- sensitivity_figure -----------------------------------------------------------------------------------


def sweep_row(arch, lr, mean, std=0.1, momentum=0.95, best=False, n=5, diverged=0):
    return {
        "arch": arch,
        "lr": lr,
        "momentum": momentum,
        "mean": mean,
        "std": std,
        "n": n,
        "diverged": diverged,
        "best": best,
    }


def test_sensitivity_figure_one_line_per_arch_against_the_rate_with_its_spread_and_best():
    rows = [
        sweep_row("srn", 1e-3, 0.9, 0.05),
        sweep_row("srn", 1e-4, 0.95, 0.02, best=True),
        sweep_row("cwrnn", 1e-4, 0.01, 0.004),
        sweep_row("cwrnn", 1e-3, 0.002, 0.001, best=True),
        sweep_row("cwrnn", 1e-2, None, None, n=0, diverged=5),
    ]
    fig = viz.sensitivity_figure(rows, metric_label="test error %", scale=100.0)
    cw = line(fig, "CW-RNN")
    assert list(cw.x) == [1e-4, 1e-3, 1e-2]  # sorted by rate, whatever the rows' order
    np.testing.assert_allclose(cw.y, [1.0, 0.2, np.nan])  # scaled; a rate where all diverged is a gap
    np.testing.assert_allclose(cw.error_y.array, [0.4, 0.1, np.nan])
    assert [list(c) for c in cw.customdata] == [[5, 0], [5, 0], [0, 5]]
    srn = line(fig, "SRN")
    np.testing.assert_allclose(srn.y, [95.0, 90.0])
    star = line(fig, "CW-RNN: best rate")
    assert (list(star.x), list(star.y), star.marker.symbol) == ([1e-3], [0.2], "star")
    assert line(fig, "SRN: best rate").x == (1e-4,)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("learning rate", "test error %")
    assert cw.line.color == viz.arch_color("cwrnn")


def test_sensitivity_figure_momenta_empty_and_bad_rows():
    rows = [sweep_row("lstm", 1e-3, 0.5, momentum=m) for m in (0.9, 0.95)]
    assert [t.name for t in viz.sensitivity_figure(rows).data] == ["LSTM, momentum 0.9", "LSTM, momentum 0.95"]
    empty = viz.sensitivity_figure([])
    assert not empty.data and [a.text for a in empty.layout.annotations] == ["No sweep yet"]
    with pytest.raises(viz.VizInputError, match="lacks mean"):
        viz.sensitivity_figure([{k: v for k, v in sweep_row("srn", 1e-3, 0.5).items() if k != "mean"}])
