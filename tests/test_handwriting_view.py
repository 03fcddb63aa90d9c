"""Experiment 3's figures and views: the ink, what each network reads, where it emits, stroke ends on the
module timelines, checked against the line's own points and a synthetic snapshot shaped as the task's."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest
from handwriting_runs import ARCHS, MODULE_SIZES, snapshot, stored_run

from cwrnn.app import handwriting_view as hv
from cwrnn.app import runs_view, viz
from cwrnn.app.run_figures import run_figures
from cwrnn.config import ConfigError

# Two strokes: an L (points 0-2) and a dot (points 3-4).
INK = np.array([[0, 10], [0, 0], [5, 0], [9, 9], [9, 8]], dtype=np.int16)
PEN_UP = np.array([False, False, True, False, True])


@pytest.fixture(scope="module")
def data():
    return hv.load_data()


def strokes(fig) -> list[np.ndarray]:
    """The runs of points between the gaps of the ink trace."""
    ink = fig.data[0]
    xy = np.column_stack([np.asarray(ink.x, dtype=float), np.asarray(ink.y, dtype=float)])
    gaps = np.flatnonzero(np.isnan(xy[:, 0]))
    return [part[~np.isnan(part[:, 0])] for part in np.split(xy, gaps)]


def texts(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_ink_is_drawn_stroke_by_stroke_with_no_pen_jumps():
    fig = viz.ink_figure(INK, PEN_UP)
    parts = strokes(fig)
    assert [p.tolist() for p in parts] == [INK[:3].tolist(), INK[3:].tolist()]
    assert fig.layout.yaxis.scaleanchor == "x"  # one scale on both axes: y up, unstretched
    wide = viz.ink_figure(INK * [10, 1], PEN_UP)  # a line ten times as wide needs less height
    assert wide.layout.height < fig.layout.height


def test_the_written_text_and_every_reading_are_under_the_ink_in_order():
    fig = viz.ink_figure(INK, PEN_UP, text="L.", readings={"lstm": "L", "cwrnn": "a<b", "srn": ""})
    assert texts(fig) == [
        "<b>written</b>: L.",
        "<b>SRN</b>: <i>(nothing yet)</i>",
        "<b>LSTM</b>: L",
        "<b>CW-RNN</b>: a&lt;b",
    ]
    assert [a.font.color for a in fig.layout.annotations[1:]] == [viz.arch_color(a) for a in ("srn", "lstm", "cwrnn")]


def test_emitted_characters_sit_on_the_points_that_emit_them():
    fig = viz.emission_figure(INK, PEN_UP, [1, 4], ["L", "."], "lstm")
    marks = fig.data[1]
    assert np.column_stack([marks.x, marks.y]).tolist() == INK[[1, 4]].tolist()
    assert list(marks.text) == ["L", "."] and marks.marker.color == viz.arch_color("lstm")


def test_the_output_timeline_shows_how_sure_a_network_is_of_a_character_and_what_it_emits():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0], [0.3, 0.7], [0.6, 0.4]])
    fig = viz.emission_timeline_figure(probs, [1, 3], ["L", "<"], PEN_UP, "srn")
    sure, emitted = fig.data
    assert np.allclose(sure.y, [0.1, 0.8, 0.0, 0.7, 0.4]) and sure.line.color == viz.arch_color("srn")
    assert list(emitted.x) == [1, 3] and np.allclose(emitted.y, [0.8, 0.7]) and list(emitted.text) == ["L", "&lt;"]
    assert [s.x0 for s in fig.layout.shapes if s.name == "stroke end"] == [2.5]
    with pytest.raises(viz.VizInputError, match="one flag per step of probs"):
        viz.emission_timeline_figure(probs, [1], ["L"], PEN_UP[:4], "srn")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: viz.ink_figure(INK[:, :1], PEN_UP), "ink must be (points, 2)"),
        (lambda: viz.ink_figure(INK, PEN_UP[:3]), "one flag per ink point (5)"),
        (lambda: viz.emission_figure(INK, PEN_UP, [1, 2], ["L"], "cwrnn"), "1 characters for 2 emitting steps"),
        (lambda: viz.emission_figure(INK, PEN_UP, [5], ["L"], "cwrnn"), "points 0 to 4"),
    ],
)
def test_bad_pen_data_says_what_is_wrong(call, message):
    with pytest.raises(viz.VizInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_stroke_ends_fall_between_strokes_and_are_marked_on_a_timeline():
    assert viz.stroke_ends(PEN_UP).tolist() == [2.5]  # the line's own end is no boundary
    fig = viz.mark_strokes(viz.activity_figure(np.zeros((5, 2)), [1, 1], [1, 2]), PEN_UP)
    assert [s.x0 for s in fig.layout.shapes if s.name == "stroke end"] == [2.5]


def test_a_snapshot_shows_the_line_what_each_network_reads_and_both_clocks(data):
    line = data.val[0]
    arrays, meta = snapshot(line, data.alphabet, readings={"srn": "ab"})
    figures = hv.snapshot_figures((7, arrays, meta), data)
    assert set(figures) == {"ink", "emissions", "activity", "activity_backward", "outputs", "weights"}
    shown = html.escape(line.text, quote=False)
    assert texts(figures["ink"]) == [
        f"<b>written</b>: {shown}",
        "<b>SRN</b>: ab",
        f"<b>LSTM</b>: {shown}",
        f"<b>CW-RNN</b>: {shown}",
    ]
    assert hv.readings(arrays, data.alphabet) == {"cwrnn": line.text, "srn": "ab", "lstm": line.text}
    emitted = figures["emissions"].data[1]
    assert "".join(html.unescape(c) for c in emitted.text) == line.text
    sure = figures["outputs"].data[0]  # the CW-RNN's output, as the close-up follows it by default
    assert np.allclose(sure.y, 1 - arrays["probs/cwrnn"][:, 0], atol=1e-6)
    n = sum(MODULE_SIZES)
    ends = [s.x0 for s in figures["activity"].layout.shapes if s.name == "stroke end"]
    assert ends == (np.flatnonzero(line.pen_up[:-1]) + 0.5).tolist() and len(ends) == line.pen_up[:-1].sum()
    for name, half, active in (
        ("activity", slice(0, n), "active"),
        ("activity_backward", slice(n, 2 * n), "active_backward"),
    ):
        heatmap = figures[name].data[0]
        assert np.allclose(np.asarray(heatmap.z).T, arrays["hidden/cwrnn"][:, half].round(3))
        slowest = [t for t in figures[name].data if (t.name or "").startswith("M9")][0]
        assert list(slowest.x) == np.flatnonzero(arrays[active][8]).tolist()
    # the backward layer's slowest module ticks at the line's last point, the forward one's at its first
    T = len(line.ink)
    assert list(figures["activity_backward"].data[-1].x)[-1] == T - 1
    assert 0 in list(figures["activity"].data[-1].x)


def test_the_closeup_follows_the_chosen_network(data):
    line = data.val[0]
    arrays, meta = snapshot(line, data.alphabet, readings={"lstm": "xy"})
    fig = hv.snapshot_figures((1, arrays, meta), data, closeup="lstm")["emissions"]
    assert list(fig.data[1].text) == ["x", "y"] and fig.data[1].marker.color == viz.arch_color("lstm")


def test_without_the_data_labels_show_as_numbers_and_no_text_is_claimed(data):
    arrays, meta = snapshot(data.val[0], data.alphabet, readings={a: "ab" for a in ARCHS})
    figures = hv.snapshot_figures((1, arrays, meta), None)
    a, b = data.alphabet.index("a") + 1, data.alphabet.index("b") + 1
    assert texts(figures["ink"])[-1] == f"<b>CW-RNN</b>: #{a} #{b}"


def test_before_the_first_snapshot_every_picture_says_it_is_waiting():
    figures = hv.snapshot_figures(None, None)
    assert all("Waiting" in f.layout.annotations[0].text for f in figures.values())


def test_loss_and_error_curves_draw_training_and_held_out_lines(store, data):
    run_id = stored_run(store, data.val[0], data.alphabet)
    figures = hv.metric_figures(store.metrics(run_id), 500)
    loss = {t.name: t for t in figures["loss"].data if t.name.startswith("CW-RNN")}
    assert loss["CW-RNN loss"].line.dash == "dash" and loss["CW-RNN val_loss"].line.dash == "solid"
    assert loss["CW-RNN val_loss"].y.tolist() == [90.0, 45.0, 30.0]
    cer = {t.name: t for t in figures["cer"].data if t.name.startswith("LSTM")}
    assert np.allclose(cer["LSTM test_cer"].y, [95.0, 47.5, 95.0 / 3])  # in %
    empty = hv.metric_figures(pd.DataFrame(columns=["arch", "seed", "epoch", "name", "value"]), 500)
    assert all("Waiting" in f.layout.annotations[0].text for f in empty.values())


def test_the_shipped_lines_load_once_and_a_bad_folder_says_why(tmp_path, data):
    assert hv.load_data() is data
    assert "2150 lines by" in hv.summary(data) and f"{len(data.alphabet)} characters" in hv.summary(data)
    with pytest.raises(ConfigError, match="does not exist"):
        hv.load_data(str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="cannot be used"):
        hv.load_data(str(tmp_path))  # a folder without any UNIPEN lines


def test_a_stored_run_is_drawn_from_its_latest_snapshot(store, data):
    line = data.val[0]
    run_id = stored_run(store, line, data.alphabet, epochs=2)
    figures = run_figures(store, run_id)
    assert list(figures) == ["loss", "cer", "ink", "emissions", "activity", "activity_backward", "outputs", "weights"]
    assert "epoch 2" in figures["ink"].layout.title.text
    assert texts(figures["ink"])[1:] == [
        f"<b>{viz.arch_label(a)}</b>: {html.escape(line.text, quote=False)}" for a in ("srn", "lstm", "cwrnn")
    ]


def test_the_runs_table_scores_a_handwriting_run_by_its_test_error(store, data):
    run_id = stored_run(store, data.val[0], data.alphabet, epochs=1)
    store.update_progress(run_id, {"latest": {"cwrnn": {"test_cer": 0.4, "val_cer": 0.3}, "lstm": {"test_cer": 0.2}}})
    row = runs_view.runs_table([store.get_run(run_id)]).iloc[0]
    assert (row["score"], row["CW-RNN"], row["LSTM"]) == ("test_cer", 0.4, 0.2)
