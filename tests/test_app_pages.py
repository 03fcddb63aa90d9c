"""AppTests of the Runs, Clock explorer and Paper pages, each run standalone on a store in a temporary home."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from handwriting_runs import stored_run
from streamlit.testing.v1 import AppTest

from cwrnn import grid as paper_grid
from cwrnn import paper
from cwrnn.app import handwriting_view
from cwrnn.config import RunConfig
from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import TERMINAL_STATUSES, RunStore
from cwrnn.runs.worker import execute

PAGES = Path(__file__).resolve().parent.parent / "pages"
TIMEOUT = 60


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def charts(at: AppTest) -> list[str]:
    return [chart.key for chart in at.get("plotly_chart")]


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> tuple[Path, list[int]]:
    """A home with two real, finished Experiment 1 runs (trained in-process by the worker's job)."""
    home = tmp_path_factory.mktemp("lab")
    store = RunStore(home)
    ids = []
    for budget in (100, 120):
        config = RunConfig(epochs=3, budget=budget, clips=[0], snapshot_every=1).to_dict()
        run_id = store.create_run("generation", config, [0])
        store.claim_next(1)
        execute(run_id, str(home))
        ids.append(run_id)
    return home, ids


@pytest.fixture
def lab_home(lab, monkeypatch) -> tuple[RunStore, list[int]]:
    monkeypatch.setenv("CWRNN_HOME", str(lab[0]))
    return RunStore(lab[0]), lab[1]


# ---- Runs -----------------------------------------------------------------------------------------


def test_runs_page_without_runs_says_where_they_come_from(store):
    at = page("runs")
    assert not at.exception
    assert "No runs yet" in texts(at.info)
    assert [w.label for w in at.multiselect] == ["Task", "Status"]


def test_runs_page_lists_every_run_with_filters(lab_home):
    store, (first, second) = lab_home
    at = page("runs")
    assert not at.exception and not at.error
    (table,) = [df for df in at.dataframe if df.key == "runs_table"]
    assert table.value["id"].tolist() == [second, first]
    assert table.value["status"].tolist() == ["completed", "completed"]
    assert table.value["CW-RNN"].notna().all()
    at.multiselect(key="runs_statuses").set_value(["failed"]).run()
    (table,) = [df for df in at.dataframe if df.key == "runs_table"]
    assert table.value.empty


def test_opening_a_run_shows_its_charts_audio_and_files(lab_home):
    store, (first, _) = lab_home
    at = page("runs", run=str(first))
    assert not at.exception and not at.error
    assert {"run_loss_chart", "run_waveform_chart", "run_activity_chart", "run_weights_chart"} <= set(charts(at))
    assert len(at.get("audio")) == 4  # target, CW-RNN, SRN, LSTM
    names = {b.proto.label for b in at.download_button}
    assert {"metrics.csv", "config.json", "target.wav", "cwrnn.wav", "cwrnn.pt", "lstm.pt"} <= names
    assert at.button(key="open_in_playground") and at.button(key="delete_run").disabled


@pytest.mark.parametrize(
    "query, message",
    [
        ({"run": "abc"}, "?run=abc is not a valid link"),
        ({"run": "999"}, "there is no run 999"),
        ({"compare": "1,x"}, "?compare=1,x is not a valid link"),
    ],
)
def test_bad_run_links_say_what_is_wrong(lab_home, query, message):
    at = page("runs", **query)
    assert not at.exception
    assert message in texts(at.error)


def test_comparing_runs_overlays_curves_and_lists_differences(lab_home):
    store, (first, second) = lab_home
    at = page("runs", compare=f"{first},{second}")
    assert not at.exception and not at.error
    assert {"compare_loss_chart", "compare_waveform_chart"} <= set(charts(at))
    diff = at.dataframe[-1].value
    assert diff.index.tolist() == ["budget"] and diff.loc["budget"].tolist() == ["100", "120"]
    at.selectbox(key="compare_arch").set_value("srn").run()
    assert not at.exception and "compare_loss_chart" in charts(at)


def test_deleting_a_run_needs_confirmation(lab_home):
    store, _ = lab_home
    run_id = store.create_run("generation", {"epochs": 1}, [0])
    store.set_status(run_id, "cancelled")
    at = page("runs", run=str(run_id))
    assert at.button(key="delete_run").disabled  # until the deletion is confirmed
    at.checkbox(key=f"delete_confirm_{run_id}").check().run()
    at.button(key="delete_run").click().run()
    assert not at.exception
    assert f"Run {run_id} was deleted." in texts(at.success)
    assert run_id not in [r["id"] for r in store.list_runs()]


def test_open_in_playground_shows_the_run_with_its_settings(lab_home):
    store, (first, _) = lab_home
    at = AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/runs.py")
    at.query_params["run"] = str(first)
    try:
        at.run()
        at.button(key="open_in_playground").click().run()
    finally:
        ensure_manager().stop(timeout=5, terminate=True)  # the router starts one
    assert not at.exception and not at.error
    assert (at.query_params["budget"], at.query_params["epochs"]) == ("100", "3")
    assert (at.number_input(key="budget").value, at.number_input(key="epochs").value) == (100, 3)
    assert at.query_params["run"] == str(first)  # the run itself is shown, not only its settings
    assert {"loss_chart", "waveform_chart"} <= set(charts(at))


# ---- Clock explorer --------------------------------------------------------------------------------


def test_clock_page_shows_the_papers_design_by_default(store):
    at = page("clock")
    assert not at.exception and not at.error
    assert {"clock_chart", "connectivity_chart"} <= set(charts(at))
    assert [w.key for w in at.selectbox] == ["clock_schedule", "clock_connectivity"]
    assert at.slider(key="clock_modules").value == 9 and at.number_input(key="clock_hidden").value == 40
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    assert metrics == {
        "CW-RNN recurrent weights": ("890", "-44% vs SRN"),  # 890 / 1600
        "CW-RNN multiply-adds per step": ("348.7", "-78% vs SRN"),  # 348.6875 / 1600
        "Theoretical speed-up over an SRN": ("4.6×", ""),
    }


@pytest.mark.parametrize(
    "periods, message",
    [
        ("1, 2, x", "whole numbers separated by commas"),
        ("0, 1, 2", "at least 1"),
        ("4, 2, 8", "sorted from fastest to slowest"),
        ("1, 2, 2", "distinct"),
    ],
)
def test_clock_page_explains_bad_custom_periods(store, periods, message):
    at = page("clock")
    at.selectbox(key="clock_schedule").set_value("custom").run()
    at.text_input(key="clock_periods").input(periods).run()
    assert not at.exception
    assert message in texts(at.error)
    assert not charts(at)


def test_clock_page_custom_periods_and_too_few_units(store):
    at = page("clock")
    at.selectbox(key="clock_schedule").set_value("custom").run()
    at.text_input(key="clock_periods").input("1, 3, 9").run()
    assert not at.error and "**Periods** 1, 3, 9 · **module sizes** 14, 13, 13" in texts(at.markdown)
    at.number_input(key="clock_hidden").set_value(2).run()
    assert "hidden_size 2 is smaller than num_modules 3" in texts(at.error)


# ---- Paper --------------------------------------------------------------------------------------------


def test_paper_page_without_sizes_says_what_to_choose(store):
    at = page("paper")
    assert not at.exception
    assert "No grid has run yet" in texts(at.info)
    assert at.dataframe[0].value["hidden units (paper)"].tolist()[:3] == [9, 4, 11]  # Table 1
    at.multiselect(key="paper_sizes").set_value([]).run()
    at.button(key="paper_run").click().run()
    assert "Cannot run this grid: budgets must be one or more distinct sizes from 100, 250, 500, 1000" in texts(
        at.error
    )
    assert store.list_runs() == []


@pytest.mark.slow  # a spawned worker must import torch before it trains: about 10 s on 2 cores
def test_paper_page_runs_a_tiny_grid_in_the_background_and_plots_it(store):
    at = page("paper")
    at.multiselect(key="paper_sizes").set_value([100])
    at.number_input(key="paper_seeds").set_value(1)
    at.number_input(key="paper_epochs").set_value(5)
    at.button(key="paper_run").click().run()
    assert not at.exception and not at.error
    (run,) = store.list_runs()
    assert run["task"] == paper_grid.GRID_TASK
    assert run["config"] == {"grid": "generation", "budgets": [100], "seeds": 1, "epochs": 5}
    wait_for_grid(store, run["id"])
    finished = store.get_run(run["id"])
    assert finished["status"] == "completed", finished["error"]
    at.run()
    assert not at.exception and not at.error
    assert "paper_chart" in charts(at)
    table = at.dataframe[-1].value
    assert table["networks"].tolist() == [5, 5, 5] and table["NMSE (ours)"].notna().all()


def wait_for_grid(store, run_id: int) -> None:
    try:
        deadline = time.monotonic() + TIMEOUT
        while store.get_run(run_id)["status"] not in TERMINAL_STATUSES:
            assert time.monotonic() < deadline, "the grid did not finish in time"
            time.sleep(0.2)
    finally:
        ensure_manager().stop(timeout=5, terminate=True)


@pytest.mark.slow  # a spawned worker must import torch before it trains
def test_paper_page_runs_a_tiny_words_grid_beside_the_papers_numbers(store):
    at = page("paper")
    at.radio(key="paper_experiment").set_value("words").run()
    assert "synthetic speech" in texts(at.markdown)
    assert at.dataframe[0].value["hidden units (paper)"].tolist()[:3] == [10, 5, 10]  # 500 parameters
    at.multiselect(key="paper_words_sizes").set_value([500])
    at.number_input(key="paper_words_seeds").set_value(1)
    at.number_input(key="paper_words_epochs").set_value(2)
    at.button(key="paper_words_run").click().run()
    assert not at.exception and not at.error
    (run,) = store.list_runs()
    assert (run["task"], run["config"]) == ("words-grid", {"grid": "words", "budgets": [500], "seeds": 1, "epochs": 2})
    wait_for_grid(store, run["id"])
    assert store.get_run(run["id"])["status"] == "completed", store.get_run(run["id"])["error"]
    at.run()
    assert not at.exception and not at.error and "paper_chart" in charts(at)
    table = at.dataframe[-1].value
    assert table["networks"].tolist() == [1, 1, 1] and table["test error % (ours)"].between(0, 100).all()
    assert table.set_index("architecture").loc["CW-RNN", "test error % (paper)"] == 62
    at.radio(key="paper_experiment").set_value("generation").run()
    assert "No grid has run yet" in texts(at.info)  # each experiment lists its own grids


# ---- Experiment 3 on the Runs and Paper pages ------------------------------------------------------


def test_a_handwriting_run_opens_on_the_runs_page_with_its_line(store):
    data = handwriting_view.load_data()
    run_id = stored_run(store, data.val[0], data.alphabet, epochs=2)
    at = page("runs", run=str(run_id))
    assert not at.exception and not at.error
    assert charts(at) == [
        f"run_{name}_chart"
        for name in ("loss", "cer", "ink", "emissions", "activity", "activity_backward", "outputs", "weights")
    ]


def test_the_handwriting_grid_lies_beside_table_3(store):
    grid_id = store.create_run(
        "handwriting-grid", {"grid": "handwriting", "budgets": [10000], "seeds": 2, "epochs": 3}, [0, 1]
    )
    cer = {"cwrnn": (0.60, 0.70), "srn": (0.50, 0.54), "lstm": (0.30, 0.40)}
    store.add_metrics(grid_id, [(a, s, 10000, "final_test_cer", v[s]) for a, v in cer.items() for s in (0, 1)])
    store.set_status(grid_id, "completed")
    at = page("paper")
    at.radio(key="paper_experiment").set_value("handwriting").run()
    assert not at.exception and not at.error
    assert "UNIPEN" in texts(at.markdown) and "bidirectional" in texts(at.markdown)
    sizes = at.dataframe[0].value.set_index(["parameters", "architecture"])
    for arch, label in (("srn", "SRN"), ("lstm", "LSTM"), ("cwrnn", "CW-RNN")):
        for budget, paper_units in zip(paper.HANDWRITING_BUDGETS, paper.HANDWRITING_HIDDEN[arch]):
            row = sizes.loc[(budget, label)]
            assert row["hidden units (paper)"] == paper_units and abs(row["hidden units (ours)"] - paper_units) <= 2
    assert "paper_chart" in charts(at)
    table = at.dataframe[-1].value.set_index("architecture")
    assert table["character error rate % (ours)"].to_dict() == pytest.approx(
        {"CW-RNN": 65.0, "SRN": 52.0, "LSTM": 35.0}
    )
    assert table["character error rate % (paper)"].to_dict() == {"CW-RNN": 67.2, "SRN": 52.8, "LSTM": 34.2}
