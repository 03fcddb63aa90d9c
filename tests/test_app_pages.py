"""AppTests of the Runs, Clock explorer and Paper pages, each run standalone on a store in a temporary home."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from handwriting_runs import stored_run
from streamlit.testing.v1 import AppTest

from cwrnn import grid as paper_grid
from cwrnn import paper
from cwrnn.app import clock_view, handwriting_view
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
    (settings,) = [d.value for d in at.dataframe if list(d.value.columns) == ["setting", "value"]]
    settings = settings.set_index("setting")["value"]
    # what the paper-generation preset chose, not "automatic"
    assert settings["learning rate"] == "0.0003 (LSTM x 0.1)" and settings["momentum"] == "0.95"
    assert settings["gradient norm clipped at"] == "100" and settings["parameter budget"] == "100"
    assert settings["epochs trained"] == "3" and "CW-RNN size" in settings and "recordings" not in settings
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
    at.multiselect(key="compare_archs").set_value(["srn", "cwrnn"]).run()
    assert not at.exception and "compare_loss_chart" in charts(at)
    colours = {key: line_colours(at, key) for key in ("compare_loss_chart", "compare_waveform_chart")}
    for chart in colours.values():  # colour names the run, so both models of a run share it
        assert set(chart) == {f"run {r} · {m}" for r in (first, second) for m in ("CW-RNN", "SRN")}
        assert chart[f"run {first} · CW-RNN"] == chart[f"run {first} · SRN"] != chart[f"run {second} · SRN"]
    assert colours["compare_loss_chart"] == colours["compare_waveform_chart"]  # and it is one in every chart
    (table,) = [df for df in at.dataframe if df.key == "runs_table"]
    assert json.loads(table.proto.selection_default)["selection"]["rows"] == [0, 1]  # the link's runs ticked


def line_colours(at: AppTest, key: str) -> dict[str, str]:
    """Trace name -> line colour of the drawn lines of one chart (bands and the target left out)."""
    (chart,) = [c for c in at.get("plotly_chart") if c.key == key]
    spec = json.loads(chart.proto.spec)
    return {
        t["name"]: t["line"]["color"]
        for t in spec["data"]
        if t.get("line", {}).get("color") and t.get("name") != "target" and t["line"].get("width", 2) > 0
    }


def test_a_mixed_selection_compares_each_tasks_runs_as_a_group(lab_home):
    store, (first, second) = lab_home
    words = [store.create_run("words", RunConfig(task="words").to_dict(), [0]) for _ in range(2)]
    try:
        for i, run_id in enumerate(words):
            store.set_status(run_id, "cancelled")
            store.add_metrics(run_id, [("cwrnn", 0, e, "test_error", 0.5 - 0.1 * e - 0.01 * i) for e in range(3)])
        at = page("runs", compare=f"{first},{words[0]},{second},{words[1]}")
        assert not at.exception and not at.error
        assert {
            "compare_loss_chart_generation",
            "compare_waveform_chart_generation",
            "compare_loss_chart_words",
        } <= set(charts(at))
        assert "each task's runs are shown as a group" in texts(at.info)
    finally:
        for run_id in words:
            store.delete_run(run_id)


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
        assert not at.exception and not at.error
        assert (at.query_params["budget"], at.query_params["epochs"]) == ("100", "3")
        assert (at.number_input(key="budget").value, at.number_input(key="epochs").value) == (100, 3)
        assert at.query_params["run"] == str(first)  # the run itself is shown, not only its settings
        assert {"loss_chart", "waveform_chart"} <= set(charts(at))
        assert "settings differ" not in texts(at.info)
    finally:
        ensure_manager().stop(timeout=5, terminate=True)  # the router starts one


def test_changed_settings_beside_a_shown_run_are_named_and_drop_the_run_from_the_link(lab_home):
    store, (first, _) = lab_home
    at = AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=TIMEOUT)  # the Playground first
    at.query_params["run"] = str(first)
    try:
        at.run()
        assert "settings differ" not in texts(at.info) and at.query_params["run"] == str(first)
        at.number_input(key="budget").set_value(150).run()
        at.slider(key="modules").set_value(8).run()
    finally:
        ensure_manager().stop(timeout=5, terminate=True)  # the router starts one
    assert not at.exception and not at.error
    # the charts still show the run, and say so; the link no longer claims these settings are its
    assert f"The charts below show run {first}; your settings differ in modules, budget." in texts(at.info)
    assert "run" not in at.query_params and at.query_params["budget"] == "150"
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
    measured = clock_view.load_measured_speed()  # the shipped benchmark record, beside the theory
    shown = [df.value for df in at.dataframe if "measured speed-up" in df.value.columns]
    assert len(shown) == 1 and shown[0].equals(measured.layers)
    assert measured.source in " ".join(c.value for c in at.caption)


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


def test_train_this_design_opens_the_playground_with_it(store):
    at = AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/clock.py")
    try:
        at.run()
        at.selectbox(key="clock_schedule").set_value("custom").run()
        at.text_input(key="clock_periods").input("1, 3, 9, 27").run()
        at.button(key="clock_train").click().run()
    finally:
        ensure_manager().stop(timeout=5, terminate=True)  # the router starts one
    assert not at.exception and not at.error and not at.warning
    assert at.query_params["periods"] == "1,3,9,27" and at.query_params["task"] == "generation"
    assert [at.slider(key=f"period_{i + 1}").value for i in range(4)] == [1, 3, 9, 27]
    (table,) = [d.value for d in at.dataframe if "architecture" in d.value.columns]
    assert table.set_index("architecture").loc["CW-RNN", "hidden units"] == 40  # the explorer's 40 units


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
    # a fresh lab shows the results this project's reproduce made, with how and when
    assert "results this project's `reproduce` produced on 2026-11-26" in texts(at.info)
    assert "reproduce generation --runs 100" in at.code[0].value
    shipped = at.dataframe[1].value.set_index(["parameters", "architecture"])
    assert shipped.loc[(1000, "CW-RNN"), "NMSE (ours)"] == 0.001859 and shipped["networks"].eq(500).all()
    at.multiselect(key="paper_sizes").set_value([]).run()
    at.button(key="paper_run").click().run()
    assert "Cannot run this grid: budgets must be one or more distinct sizes from 100, 250, 500, 1000" in texts(
        at.error
    )
    assert store.list_runs() == []


def test_paper_page_says_when_its_grids_run_on_a_ray_cluster(store, monkeypatch):
    monkeypatch.setenv("CWRNN_RAY_ADDRESS", "10.0.0.5:6379")
    at = page("paper")
    assert "trained at once on the Ray cluster at 10.0.0.5:6379" in texts(at.caption)


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


# ---- learning-rate sweeps --------------------------------------------------------------------------


def test_paper_page_shows_the_shipped_sweep_until_one_has_run_here(store):
    at = page("paper")
    assert not at.exception and "paper_sweep_chart_1000" in charts(at)
    (chart,) = [c for c in at.get("plotly_chart") if c.key == "paper_sweep_chart_1000"]
    traces = json.loads(chart.proto.spec)["data"]
    assert {t["name"] for t in traces} >= {"CW-RNN", "LSTM", "SRN", "CW-RNN: best rate"}
    assert "shipped: `python benchmarks/lr_sweep.py" in texts(at.caption)
    at.radio(key="paper_experiment").set_value("words").run()
    assert not at.exception and "No sweep of this experiment yet" in texts(at.info)


def test_a_stored_sweep_replaces_the_shipped_one_and_opens_on_the_runs_page(store):
    from cwrnn.cli import main

    argv = ["sweep", "--budget", "100", "--archs", "cwrnn", "lstm", "--lr", "1e-4", "1e-3", "--seeds", "1"]
    assert main([*argv, "--epochs", "2", "--workers", "1", "--home", str(store.home)]) == 0
    (run,) = store.list_runs()
    at = page("paper")
    assert not at.exception and {"paper_sweep_chart_100", "paper_sweep_chart_1000"} <= set(charts(at))
    assert f"From run {run['id']}" in texts(at.caption)
    at = page("runs", run=str(run["id"]))
    assert not at.exception and not at.error and "run_sweep_chart" in charts(at)
    (table,) = [d.value for d in at.dataframe if "learning rate" in d.value.columns]
    assert table["learning rate"].tolist() == [1e-4, 1e-3, 1e-4, 1e-3] and table["best"].sum() == 2
    assert table["networks"].tolist() == [5, 5, 5, 5]


def test_paper_page_queues_a_sweep(store, monkeypatch):
    submitted = []

    class Manager:
        def submit(self, task, config, seeds, name=None):
            submitted.append((task, config, seeds))
            return 7

    monkeypatch.setattr("cwrnn.runs.manager.ensure_manager", lambda: Manager())
    at = page("paper")
    at.multiselect(key="paper_sweep_rates").set_value([3e-4, 1e-3])
    at.button(key="paper_sweep_run").click().run()
    assert not at.exception and "Queued sweep run 7" in texts(at.success)
    ((task, config, seeds),) = submitted
    assert task == "generation-sweep" and config["rates"] == [3e-4, 1e-3] and seeds == [0, 1]
    at.multiselect(key="paper_sweep_rates").set_value([]).run()
    at.button(key="paper_sweep_run").click().run()
    assert "Cannot run this sweep: rates must be a non-empty list" in texts(at.error) and len(submitted) == 1


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


def test_the_handwriting_grid_starts_on_the_tuned_recipe(store):
    at = page("paper")
    at.radio(key="paper_experiment").set_value("handwriting").run()
    assert at.radio(key="paper_handwriting_recipe").value == "tuned"
    assert "from the paper's recipe no network learns" in at.radio(key="paper_handwriting_recipe").help
    shipped = at.dataframe[1].value.set_index("architecture")  # and beside it, what that recipe made
    assert shipped.loc["CW-RNN", "character error rate % (ours)"] == 59.8
    assert "periods 1, 2, 4, 8" in texts(at.caption)
    at.radio(key="paper_handwriting_recipe").set_value("paper").run()
    at.button(key="paper_handwriting_run").click().run()
    assert not at.exception and not at.error
    (run,) = store.list_runs()
    ensure_manager().stop(timeout=5, terminate=True)  # its cells would train for minutes
    assert run["config"] == {"grid": "handwriting", "budgets": [10000], "seeds": 1, "epochs": 40}
    assert at.selectbox(key="paper_handwriting_shown").options == [
        f"run {run['id']}: 10000 parameters, 1 seed(s), 40 epochs, paper"
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
