"""The data behind the Runs, Clock explorer and Paper pages, checked on a real store and hand-computed values."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cwrnn import grid as paper_grid
from cwrnn import paper
from cwrnn.app import clock_view, paper_results
from cwrnn.app import playground_state as ps
from cwrnn.app import runs_view as rv
from cwrnn.config import RunConfig, validate
from cwrnn.runs.store import RunStore


def finished(store: RunStore, task: str, config: dict, status: str = "completed", **fields) -> int:
    """A run taken through the store's life cycle to `status`, with the given progress or summary."""
    run_id = store.create_run(task, config, [0])
    store.claim_next(1)
    if "progress" in fields:
        store.update_progress(run_id, fields["progress"])
    if status != "running":
        store.set_status(run_id, status, summary=fields.get("summary"))
    return run_id


def final(**means) -> dict:
    return {
        arch: {metric: {"mean": value, "std": 0.0} for metric, value in named.items()} for arch, named in means.items()
    }


# ---- the runs table ---------------------------------------------------------------------------


@pytest.fixture
def four_runs(store):
    gen = finished(
        store,
        "generation",
        {**RunConfig().to_dict(), "budget": 250, "baselines": ["srn"]},
        summary={"final": final(cwrnn={"mse": 0.1, "nmse": 0.02}, srn={"mse": 2.0, "nmse": 0.5})},
    )
    words = finished(
        store,
        "words",
        {"task": "words", "budget": 500},
        status="running",
        progress={
            "epoch": 7,
            "total_epochs": 20,
            "latest": {"cwrnn": {"loss": 1.0, "test_error": 0.3}, "lstm": {"loss": 2.0, "test_error": 0.6}},
        },
    )
    cells = [
        {"arch": a, "budget": b, "mean": m}
        for a, b, m in [("cwrnn", 100, 0.04), ("srn", 100, 0.5), ("cwrnn", 1000, 0.007), ("lstm", 1000, 0.04)]
    ]
    grid = finished(
        store,
        paper_grid.GRID_TASK,
        {"grid": "generation", "budgets": [100, 1000], "seeds": 1, "epochs": 5},
        summary={"cells": cells},
    )
    queued = store.create_run("generation", RunConfig().to_dict(), [0])
    return gen, words, grid, queued


def test_runs_table_has_one_row_per_run_with_its_final_scores(store, four_runs):
    gen, words, grid, queued = four_runs
    table = rv.runs_table(store.list_runs())
    assert list(table.columns) == list(rv.RUNS_COLUMNS)
    assert table["id"].tolist() == [queued, grid, words, gen]  # newest first, as the store lists them
    rows = table.set_index("id")
    assert rows.loc[gen, ["task", "architectures", "budget", "status", "score", "CW-RNN", "SRN"]].tolist() == [
        "generation",
        "SRN, CW-RNN",
        250,
        "completed",
        "nmse",
        0.02,
        0.5,
    ]
    assert np.isnan(rows.loc[gen, "LSTM"])
    # a running run shows its latest scores and how far it got
    assert rows.loc[words, ["status", "score", "CW-RNN", "LSTM", "epochs"]].tolist() == [
        "running",
        "test_error",
        0.3,
        0.6,
        7,
    ]
    # a grid shows its largest budget, and the scores at that budget only
    assert rows.loc[grid, ["budget", "CW-RNN", "LSTM", "epochs"]].tolist() == [1000, 0.007, 0.04, 5]
    assert rows.loc[grid, "architectures"] == "SRN, LSTM, CW-RNN"  # the paper's three: a grid trains no GRU
    assert np.isnan(rows.loc[grid, "SRN"])
    assert pd.isna(rows.loc[queued, "epochs"]) and rows.loc[queued, ["CW-RNN", "SRN", "LSTM"]].isna().all()
    assert rows.loc[queued, "architectures"] == "SRN, LSTM, CW-RNN"


def test_runs_table_of_no_runs_is_empty_with_every_column():
    table = rv.runs_table([])
    assert table.empty and list(table.columns) == list(rv.RUNS_COLUMNS)


def test_filter_runs_by_task_and_status(store, four_runs):
    gen, words, grid, queued = four_runs
    table = rv.runs_table(store.list_runs())
    assert rv.filter_runs(table)["id"].tolist() == [queued, grid, words, gen]
    assert rv.filter_runs(table, tasks=["generation"])["id"].tolist() == [queued, gen]
    assert rv.filter_runs(table, statuses=["completed"])["id"].tolist() == [grid, gen]
    assert rv.filter_runs(table, ["generation"], ["queued", "running"])["id"].tolist() == [queued]
    assert rv.filter_runs(table, tasks=[]).empty


def test_selection_becomes_a_run_or_compare_link():
    ids = [9, 7, 4]
    assert rv.selection_params(ids, []) == {}
    assert rv.selection_params(ids, [1]) == {"run": "7"}
    assert rv.selection_params(ids, [2, 0]) == {"compare": "4,9"}
    assert rv.selection_params(ids, [5]) == {}  # a row of a table that has since shrunk


# ---- links --------------------------------------------------------------------------------------


def test_parse_run_ids_accepts_stored_runs_and_explains_bad_links(store, four_runs):
    gen, words, *_ = four_runs
    assert rv.parse_run_ids(f" {gen} ", store) == [gen]
    assert rv.parse_run_ids(f"{words},{gen},{words}", store, param="compare") == [words, gen]
    with pytest.raises(rv.RunLinkError, match=r"\?run=abc is not a valid link: run ids are whole numbers.*'abc'"):
        rv.parse_run_ids("abc", store)
    with pytest.raises(rv.RunLinkError, match="'-1'"):
        rv.parse_run_ids("-1", store)
    with pytest.raises(rv.RunLinkError, match=r"no run 99 in this lab \(it may have been deleted\)"):
        rv.parse_run_ids("99", store)
    with pytest.raises(rv.RunLinkError, match="several runs; .run takes one id"):
        rv.parse_run_ids(f"{gen},{words}", store)
    store.delete_run(gen)
    with pytest.raises(rv.RunLinkError, match=f"no run {gen} "):
        rv.parse_run_ids(str(gen), store, param="compare")


@pytest.mark.parametrize("digits", [19, 20, 40])
def test_run_ids_past_sqlites_largest_integer_are_runs_that_do_not_exist(store, four_runs, digits):
    huge = "9" * digits
    with pytest.raises(rv.RunLinkError, match=f"no run {huge} in this lab"):
        rv.parse_run_ids(huge, store)
    with pytest.raises(rv.RunLinkError, match=f"no run {huge} in this lab"):
        rv.parse_run_ids(f"{four_runs[0]},{huge}", store, param="compare")


def test_playground_params_name_config_fields_and_join_lists():
    cfg = {**RunConfig().to_dict(), "periods": [1, 3, 9], "lr": 0.001, "grid": "ignored"}
    params = rv.playground_params(cfg)
    assert params["periods"] == "1,3,9" and params["clips"] == "0,1,2,3,4" and params["lr"] == "0.001"
    assert params["budget"] == "1000" and params["baselines"] == "srn,lstm" and params["task"] == "generation"
    assert {"module_sizes", "wav_path", "folder", "device", "momentum", "clip_norm", "grid"}.isdisjoint(params)
    assert all(isinstance(v, str) for v in params.values())


# ---- one run's files ------------------------------------------------------------------------------


def test_downloads_hold_the_stored_metrics_config_audio_and_weights(store):
    config = {**RunConfig().to_dict(), "budget": 123}
    run_id = finished(store, "generation", config)
    store.add_metrics(run_id, [("cwrnn", 0, 1, "nmse", 0.5), ("srn", 1, 2, "mse", 0.25)])
    store.save_artifact_bytes(run_id, "target.wav", b"RIFF-target")
    store.save_artifact_bytes(run_id, "config.json", b"{}")
    store.save_weights(run_id, "cwrnn", {})
    back = pd.read_csv(io.BytesIO(rv.metrics_csv(store, run_id)))
    pd.testing.assert_frame_equal(back, store.metrics(run_id), check_dtype=False)
    # the settings the preset chose are written out, so the file says what was used and trains the same run
    assert json.loads(rv.config_json(store.get_run(run_id))) == {
        **config,
        "lr": 3e-4,
        "momentum": 0.95,
        "clip_norm": 100.0,
    }
    assert rv.downloadable_files(store, run_id) == [
        ("weights", "cwrnn.pt", "application/octet-stream"),
        ("audio", "target.wav", "audio/wav"),
    ]
    assert rv.artifact_bytes(store, run_id, "target.wav") == b"RIFF-target"
    with pytest.raises(FileNotFoundError, match="has no file '../runs.db'"):
        rv.artifact_bytes(store, run_id, "../runs.db")


# ---- comparing runs ---------------------------------------------------------------------------------


def test_config_diff_lists_only_the_settings_that_differ(store):
    base = RunConfig().to_dict()
    a = finished(store, "generation", base)
    b = finished(store, "generation", {**base, "budget": 250, "periods": [1, 3, 9]})
    c = finished(store, "generation", {**base, "lr": 0.01})
    runs = [store.get_run(i) for i in (a, b, c)]
    diff = rv.config_diff(runs)
    assert list(diff.columns) == [f"run {a}", f"run {b}", f"run {c}"]
    assert diff.index.tolist() == ["periods", "budget", "lr"]  # in RunConfig's order
    assert diff.loc["periods"].tolist() == [
        "1, 2, 4, 8, 16, 32, 64, 128, 256",
        "1, 3, 9",
        "1, 2, 4, 8, 16, 32, 64, 128, 256",
    ]
    assert diff.loc["lr"].tolist() == ["automatic", "automatic", "0.01"]
    assert rv.config_diff(runs[:1]).empty


def test_the_settings_table_shows_a_words_runs_values_as_trained(store):
    folder = store.home / "uploads" / "recordings-abc"
    config = {
        **RunConfig(
            task="words", dataset="folder", folder=str(folder), preset="adam", budget=500, periods=[1, 2, 4]
        ).to_dict()
    }
    run_id = finished(
        store,
        "words",
        config,
        summary={
            "epochs": 7,
            "models": [{"arch": "cwrnn", "hidden_size": 12, "parameters": 498}, {"arch": "srn", "hidden_size": 10}],
        },
    )
    table = rv.settings_table(store.get_run(run_id), store.home).set_index("setting")["value"]
    assert table["folder"] == "uploads/recordings-abc" and table["recordings"] == "folder"
    assert table["learning rate"] == "0.003" and table["momentum"] == "0"
    assert table["gradient norm clipped at"] == "none"
    assert table["periods"] == "1, 2, 4" and table["epochs trained"] == "7"
    assert table["CW-RNN size"] == "12 hidden units, 498 parameters" and table["SRN size"] == "10 hidden units"
    assert "target" not in table and "clips" not in table  # Experiment 1's settings are not a words run's


def test_a_tuned_runs_stored_config_trains_the_same_per_architecture_clipping(store):
    from cwrnn.config import as_trained
    from cwrnn.experiment import train_config

    stored = as_trained(validate({"preset": "tuned-generation"}))
    assert train_config(validate(stored)).clip_by_arch == {"srn": 1.0}  # not every architecture at 100
    run_id = finished(store, "generation", stored)
    table = rv.settings_table(store.get_run(run_id), store.home).set_index("setting")["value"]
    assert table["gradient norm clipped at"] == "100, SRN at 1"


def test_config_diff_names_each_setting_once_when_tasks_differ(store):
    a = finished(store, "generation", RunConfig().to_dict())
    b = finished(store, "words", {**RunConfig().to_dict(), "task": "words"})
    diff = rv.config_diff([store.get_run(a), store.get_run(b)])
    assert diff.index.tolist() == ["task"] and diff.loc["task"].tolist() == ["generation", "words"]


def test_config_diff_names_uploads_relative_to_the_data_home(store):
    config = {**RunConfig(task="words", dataset="folder").to_dict()}
    a = finished(store, "words", {**config, "folder": str(store.home / "uploads" / "recordings-a")})
    b = finished(store, "words", {**config, "folder": "/srv/speech"})
    diff = rv.config_diff([store.get_run(a), store.get_run(b)], store.home)
    assert diff.loc["folder"].tolist() == ["uploads/recordings-a", "/srv/speech"]


def snapshot(store: RunStore, run_id: int, target: np.ndarray, outputs: dict) -> None:
    arrays = {"target": target, **{f"output/{a}": y for a, y in outputs.items()}}
    store.add_snapshot(run_id, 10, arrays, {"epoch": 10, "archs": list(outputs)})


def test_comparison_overlays_what_every_run_shares(store):
    runs = [finished(store, "generation", RunConfig().to_dict()) for _ in range(4)]
    for i, run_id in enumerate(runs):
        archs = ["cwrnn", "srn"] + (["lstm"] if i == 0 else [])
        store.add_metrics(
            run_id, [(a, 0, e, n, 1.0 / (e + i + 1)) for a in archs for e in range(3) for n in ("mse", "nmse")]
        )
    store.add_metrics(runs[1], [("cwrnn", 0, 0, "extra", 1.0)])
    target = np.sin(np.arange(16.0))
    snapshot(store, runs[0], target, {"cwrnn": target * 0.5, "srn": target * 0})
    snapshot(store, runs[1], target, {"cwrnn": target * 0.9})
    snapshot(store, runs[2], target + 1, {"cwrnn": target})
    chosen = [store.get_run(i) for i in runs]

    metrics = rv.comparison_metrics(store, chosen)
    assert sorted(metrics["run"].unique()) == sorted(f"run {i}" for i in runs)
    assert len(metrics) == 2 * (3 * 2 * 3) + 3 * 2 * 3 + 1
    assert rv.metric_choices(metrics) == (["srn", "lstm", "cwrnn"], ["mse", "nmse"])

    target_back, outputs, labels, notes = rv.comparison_waveforms(store, chosen, ["srn", "cwrnn"])
    np.testing.assert_allclose(target_back, target)
    a, b = f"run {runs[0]}", f"run {runs[1]}"
    assert list(outputs) == [f"{a} · SRN", f"{a} · CW-RNN", f"{b} · CW-RNN"]  # run 1 has no SRN output
    assert labels[f"{a} · SRN"] == (a, "srn")
    np.testing.assert_allclose(outputs[f"{b} · CW-RNN"], target * 0.9)
    assert notes == [
        f"run {runs[2]} learned a different target sequence, so it is not overlaid",
        f"run {runs[3]} has no snapshot yet",
    ]
    assert rv.comparison_waveforms(store, chosen[1:2], ["srn"])[1] == {}

    rows, labels = rv.comparison_series(metrics, ["cwrnn", "lstm"])
    assert set(rows["arch"]) == {"cwrnn", "lstm"} and set(labels) == {f"run {r} · CW-RNN" for r in runs} | {
        f"{a} · LSTM"
    }
    colors = rv.run_colors(chosen)
    line_colors, dashes = rv.series_style(labels, colors)
    assert line_colors[f"{a} · LSTM"] == line_colors[f"{a} · CW-RNN"] == colors[a] != colors[b]
    assert dashes[f"{a} · LSTM"] == "dash" and dashes[f"{a} · CW-RNN"] == "solid"


def test_runs_group_by_task_and_keep_one_colour_each(store, four_runs):
    gen, words, grid, queued = four_runs
    runs = [store.get_run(i) for i in (gen, words, queued)]
    assert {task: [r["id"] for r in group] for task, group in rv.by_task(runs).items()} == {
        "generation": [gen, queued],
        "words": [words],
    }
    colors = rv.run_colors(runs)
    assert list(colors) == [f"run {gen}", f"run {words}", f"run {queued}"] and len(set(colors.values())) == 3
    assert rv.rows_of([queued, grid, words, gen], [gen, words]) == [2, 3]


# ---- the clock explorer ---------------------------------------------------------------------------


SPEED_RECORD = {
    "forward_backward": {
        "machine": "a test machine",
        "torch": "2.13.0+cpu",
        "date": "2026-12-01",
        "device": "cpu",
        "threads": 1,
        "batch": 32,
        "steps": 256,
        "modules": 8,
        "sizes": [
            {"n": 64, "path": "kernels", "cwrnn_ms": 2.74, "srn_ms": 6.35, "speedup": 2.3114, "theory": 4.5689},
            {"n": 1024, "path": "torch ops", "cwrnn_ms": 342.3, "srn_ms": 1171.0, "speedup": 3.421, "theory": 4.5689},
        ],
    },
    "epoch": {
        "date": "2026-11-30",
        "setting": "Experiment 1: 1000 parameters",
        "networks": {
            "500": {
                "kernels": {
                    "ms_per_epoch": {"cwrnn": 30.16, "srn": 39.79, "lstm": 67.55},
                    "ratios": {"cwrnn/srn": 0.758, "cwrnn/lstm": 0.4465},
                }
            }
        },
    },
}


def test_measured_speed_sits_beside_the_theory_with_where_and_when_it_was_measured(tmp_path):
    m = clock_view.measured_speed(SPEED_RECORD)
    assert m.layers.to_dict("records") == [
        {
            "hidden units": 64,
            "CW-RNN (ms)": 2.7,
            "SRN (ms)": 6.3,
            "measured speed-up": 2.31,
            "theoretical speed-up": 4.57,
            "code path": "kernels",
        },
        {
            "hidden units": 1024,
            "CW-RNN (ms)": 342.3,
            "SRN (ms)": 1171.0,
            "measured speed-up": 3.42,
            "theoretical speed-up": 4.57,
            "code path": "torch ops",
        },
    ]
    assert m.epochs.to_dict("records") == [
        {
            "networks": 500,
            "code path": "kernels",
            "CW-RNN (ms)": 30.2,
            "SRN (ms)": 39.8,
            "LSTM (ms)": 67.5,
            "CW-RNN / SRN": 0.76,
        }
    ]
    assert "a test machine (cpu, 1 thread, torch 2.13.0+cpu) on 2026-12-01" in m.source
    assert "on 2026-11-30" in m.source
    path = tmp_path / "speed.json"
    path.write_text(json.dumps(SPEED_RECORD))
    assert clock_view.load_measured_speed(path).layers.equals(m.layers)
    for broken in ("{not json", json.dumps({"epoch": {}}), json.dumps([1, 2])):
        path.write_text(broken)
        assert clock_view.load_measured_speed(path) is None
    assert clock_view.load_measured_speed(tmp_path / "missing.json") is None


def test_parse_periods_reads_a_typed_list():
    assert clock_view.parse_periods("1, 2, 4, 8") == [1, 2, 4, 8]
    assert clock_view.parse_periods(" 1 3  9,27 ") == [1, 3, 9, 27]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "type at least one period"),
        ("1, two, 4", "whole numbers separated by commas.*'two'"),
        ("1, 2.5", "whole numbers.*'2.5'"),
        ("0, 1, 2", "at least 1"),
        ("-2, 4", "at least 1"),
        ("4, 2, 8", "sorted from fastest to slowest"),
        ("1, 2, 2", "distinct"),
        (", ".join(str(2**i) for i in range(11)), "at most 10 modules"),
        ("1, 1024", "at most 512"),
    ],
)
def test_parse_periods_explains_bad_lists(text, message):
    with pytest.raises(clock_view.PeriodsError, match=message):
        clock_view.parse_periods(text)


@pytest.mark.parametrize(
    "text",
    [
        "1, 2, 4, 8",
        ", ".join(str(2**i) for i in range(10)),
        "1, 512",
        "1, 600",
        ", ".join(str(i) for i in range(1, 12)),
    ],
)
def test_the_clock_explorer_and_the_playground_accept_the_same_periods(text):
    """One set of limits (config.PLAYGROUND_LIMITS): a design the explorer shows, the Playground trains."""

    def outcome(parse, error):
        try:
            return parse(text)
        except error as e:
            return str(e)

    assert outcome(clock_view.parse_periods, clock_view.PeriodsError) == outcome(
        ps.parse_periods, ps.PlaygroundInputError
    )


@pytest.mark.parametrize("inputs, task, io", [(0, "generation", (0, 1)), (13, "words", (13, 25))])
def test_train_this_design_asks_the_playground_for_a_cwrnn_of_the_same_units(inputs, task, io):
    link = clock_view.playground_link([1, 3, 9, 27], 30, "full", inputs)
    assert (link["task"], link["periods"], link["connectivity"]) == (task, "1,3,9,27", "full")
    cfg, notes = ps.from_query(link)
    assert notes == []
    cwrnn = ps.comparison_rows(cfg, *io)[0]
    assert (cwrnn["architecture"], cwrnn["hidden units"], cwrnn["parameters"]) == ("CW-RNN", 30, int(link["budget"]))


def test_clock_numbers_of_the_papers_1000_parameter_cwrnn():
    numbers = clock_view.clock_numbers(paper.GENERATION_PERIODS, 40)
    assert numbers.module_sizes == [5, 5, 5, 5, 4, 4, 4, 4, 4]
    table = numbers.table.set_index("architecture")
    # sum_i k_i (k_i + ... + k_g) = 5*40 + 5*35 + 5*30 + 5*25 + 4*20 + 4*16 + 4*12 + 4*8 + 4*4
    assert table["recurrent weights"].to_dict() == {"CW-RNN": 890, "SRN": 1600, "LSTM": 6400, "GRU": 4800}
    # + 40 biases + 41 readout (+ 9 periods for the CW-RNN; 3 x 40 peepholes for the LSTM; 3 x 40 biases
    # and b_hn for the GRU)
    assert table["parameters"].to_dict() == {"CW-RNN": 980, "SRN": 1681, "LSTM": 6721, "GRU": 5001}
    # each module's fan-in times its size, over its period
    macs = 200 + 175 / 2 + 150 / 4 + 125 / 8 + 80 / 16 + 64 / 32 + 48 / 64 + 32 / 128 + 16 / 256
    assert table.loc["CW-RNN", "multiply-adds per step"] == pytest.approx(macs)
    assert table.loc["SRN", "multiply-adds per step"] == 1600
    assert numbers.speedup == pytest.approx(1600 / macs) and numbers.paper_bound == 9 / 4
    assert numbers.cwrnn("recurrent weights") == 890
    assert numbers.change_vs_srn("recurrent weights") == pytest.approx(890 / 1600 - 1)


def test_clock_numbers_match_the_papers_closed_form_for_equal_modules():
    g, k = 6, 3  # k^2 (2g - 2 + 2^(1-g)) multiply-adds, n^2/2 + n k/2 weights
    numbers = clock_view.clock_numbers([2**i for i in range(g)], g * k, input_size=2, output_size=3)
    cw = numbers.table.set_index("architecture").loc["CW-RNN"]
    n = g * k
    assert cw["multiply-adds per step"] == pytest.approx(k * k * (2 * g - 2 + 2 ** (1 - g)))
    assert cw["recurrent weights"] == n * n / 2 + n * k / 2
    assert cw["parameters"] == n * n / 2 + n * k / 2 + n * 2 + n + 3 * (n + 1) + g
    assert numbers.speedup >= g / 4


def test_clock_numbers_full_connectivity_and_too_few_units():
    numbers = clock_view.clock_numbers([1, 2, 4], 9, "full")
    assert numbers.table.set_index("architecture").loc["CW-RNN", "recurrent weights"] == 81
    with pytest.raises(ValueError, match="hidden_size 5 is smaller than num_modules 9"):
        clock_view.clock_numbers(paper.GENERATION_PERIODS, 5)


# ---- the paper grid -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"budgets": [100], "seeds": 1, "epochs": 5}, '"grid" \\(one of generation, words, handwriting\\)'),
        ({"grid": "words", "budgets": [100], "seeds": 1, "epochs": 5}, "sizes from 500, 1000, 2500, 5000, 10000"),
        ({"grid": "generation", "budgets": [], "seeds": 1, "epochs": 5}, "one or more distinct sizes from 100, 250"),
        ({"grid": "generation", "budgets": [300], "seeds": 1, "epochs": 5}, "got \\[300\\]"),
        ({"grid": "generation", "budgets": [100, 100], "seeds": 1, "epochs": 5}, "distinct"),
        ({"grid": "generation", "budgets": [100], "seeds": 0, "epochs": True}, "seeds must be.*; epochs must be"),
        ({"grid": "words", "budgets": [500], "seeds": 1, "epochs": 5, "recipe": "best"}, "one of paper, tuned"),
    ],
)
def test_check_grid_explains_bad_configs(raw, message):
    with pytest.raises(paper_grid.GridConfigError, match=message):
        paper_grid.check_grid(raw)


def test_grid_cells_configs_and_tables():
    grid = paper_grid.check_grid({"grid": "generation", "budgets": [1000, 100], "seeds": 2, "epochs": 7})
    assert grid.config() == {"grid": "generation", "budgets": [100, 1000], "seeds": 2, "epochs": 7}
    assert grid.cells() == [(100, "cwrnn"), (100, "lstm"), (100, "srn"), (1000, "cwrnn"), (1000, "lstm"), (1000, "srn")]
    metrics = pd.DataFrame(
        {
            "arch": ["cwrnn"] * 3 + ["srn", "cwrnn"],
            "seed": [0, 1, 2, 0, 0],
            "epoch": [100, 100, 100, 100, 100],
            "name": ["final_nmse"] * 4 + ["other"],
            "value": [0.1, 0.2, np.nan, 0.5, 9.0],
        }
    )
    results = paper_results.grid_results(metrics)
    assert results.to_dict("list") == {
        "arch": ["cwrnn", "cwrnn", "srn"],
        "budget": [100, 100, 100],
        "value": [0.1, 0.2, 0.5],
    }
    table = paper_results.grid_table(results, grid.budgets).set_index(["parameters", "architecture"])
    assert table.loc[(100, "CW-RNN"), "networks"] == 2
    assert table.loc[(100, "CW-RNN"), "NMSE (ours)"] == pytest.approx(0.15)
    assert table.loc[(100, "CW-RNN"), "std (ours)"] == pytest.approx(0.05)  # population std, as summaries
    assert table.loc[(100, "CW-RNN"), "NMSE (paper)"] == 0.039
    assert table.loc[(1000, "LSTM"), "networks"] == 0 and np.isnan(table.loc[(1000, "LSTM"), "NMSE (ours)"])
    reference = paper_results.paper_reference([100, 1000])
    assert len(reference) == 6 and reference.set_index(["arch", "budget"]).loc[("srn", 1000), "value"] == 0.46
    fig = paper_results.grid_figure(results, grid.budgets)
    assert {t.name for t in fig.data} == {"CW-RNN", "SRN", "paper"}


def test_hidden_size_table_sets_ours_beside_the_papers_table_1():
    table = paper_results.hidden_size_table().set_index(["parameters", "architecture"])
    assert len(table) == 12
    for arch, label in (("srn", "SRN"), ("lstm", "LSTM"), ("cwrnn", "CW-RNN")):
        assert [table.loc[(b, label), "hidden units (paper)"] for b in paper.GENERATION_BUDGETS] == list(
            paper.GENERATION_HIDDEN[arch]
        )
    assert table.loc[(1000, "CW-RNN"), ["hidden units (ours)", "parameters (ours)"]].tolist() == [40, 980]


def test_execute_grid_trains_every_cell_and_stores_each_networks_score(store):
    grid = paper_grid.check_grid({"grid": "generation", "budgets": [100], "seeds": 1, "epochs": 2})
    run_id = store.create_run(paper_grid.GRID_TASK, grid.config(), [0])
    store.claim_next(1)
    paper_grid.execute_grid(run_id, str(store.home))
    run = store.get_run(run_id)
    assert run["status"] == "completed" and run["progress"]["epoch"] == run["progress"]["total_epochs"] == 3
    metrics = store.metrics(run_id)
    assert set(metrics["name"]) == {"final_nmse"} and set(metrics["epoch"]) == {100}
    assert metrics.groupby("arch")["seed"].apply(list).to_dict() == {
        a: list(range(paper_grid.CLIPS)) for a in ("cwrnn", "lstm", "srn")
    }
    cells = {c["arch"]: c for c in run["summary"]["cells"]}
    assert {a: c["hidden_size"] for a, c in cells.items()} == {"cwrnn": 11, "lstm": 4, "srn": 9}
    assert cells["srn"]["mean"] == pytest.approx(metrics[metrics["arch"] == "srn"]["value"].mean())


def test_execute_grid_stops_between_cells_when_asked(store):
    grid = paper_grid.check_grid({"grid": "generation", "budgets": [100, 250], "seeds": 1, "epochs": 2})
    run_id = store.create_run(paper_grid.GRID_TASK, grid.config(), [0])
    store.claim_next(1)
    store.request_cancel(run_id)
    paper_grid.execute_grid(run_id, str(store.home))
    run = store.get_run(run_id)
    assert (run["status"], run["error"]) == ("cancelled", "stopped by request after 0 of 6 cells")
    assert store.metrics(run_id).empty


def test_a_words_grid_reports_test_error_in_percent_beside_the_papers():
    grid = paper_grid.check_grid({"grid": "words", "budgets": [10000, 500], "seeds": 1, "epochs": 9})
    assert grid.config() == {"grid": "words", "budgets": [500, 10000], "seeds": 1, "epochs": 9}
    cell = validate(grid.cell_config(500))
    assert (cell.task, cell.dataset, cell.periods, cell.preset, cell.epochs) == (
        "words",
        "synthetic",
        [1, 2, 4, 8, 16, 32, 64],
        "paper-words",
        9,
    )
    metrics = pd.DataFrame(
        {
            "arch": ["cwrnn", "cwrnn", "srn", "lstm"],
            "seed": [0, 1, 0, 0],
            "epoch": [500, 500, 10000, 10000],
            "name": ["final_test_error"] * 3 + ["final_nmse"],
            "value": [0.5, 0.7, 0.9, 0.1],
        }
    )
    results = paper_results.grid_results(metrics, "words")
    assert results.to_dict("list") == {
        "arch": ["cwrnn", "cwrnn", "srn"],
        "budget": [500, 500, 10000],
        "value": [50.0, 70.0, 90.0],
    }
    table = paper_results.grid_table(results, grid.budgets, "words").set_index(["parameters", "architecture"])
    assert table.loc[(500, "CW-RNN"), "test error % (ours)"] == pytest.approx(60.0)
    assert table.loc[(500, "CW-RNN"), "test error % (paper)"] == 62
    assert np.isnan(table.loc[(500, "SRN"), "test error % (paper)"])  # the paper gives none
    assert table.loc[(10000, "SRN"), "test error % (paper)"] == 66.8
    reference = paper_results.paper_reference(grid.budgets, "words")
    assert sorted(map(tuple, reference[["arch", "budget"]].values.tolist())) == [
        ("cwrnn", 500),
        ("cwrnn", 10000),
        ("lstm", 10000),
        ("srn", 10000),
    ]
    fig = paper_results.grid_figure(results, grid.budgets, "words")
    assert "test error %" in fig.layout.yaxis.title.text and "Experiment 2" in fig.layout.title.text


def test_the_words_size_table_sets_ours_beside_the_papers():
    table = paper_results.hidden_size_table("words").set_index(["parameters", "architecture"])
    assert len(table) == 15
    assert [table.loc[(b, "CW-RNN"), "hidden units (paper)"] for b in paper.WORDS_BUDGETS] == [10, 19, 40, 65, 102]
    assert table.loc[(10000, "CW-RNN"), "hidden units (ours)"] == 102


def test_execute_grid_trains_a_words_grid(store):
    grid = paper_grid.check_grid({"grid": "words", "budgets": [500], "seeds": 1, "epochs": 2})
    run_id = store.create_run(paper_grid.GRID_TASKS["words"], grid.config(), [0])
    store.claim_next(1)
    paper_grid.execute_grid(run_id, str(store.home))
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    metrics = store.metrics(run_id)
    assert set(metrics["name"]) == {"final_test_error"} and len(metrics) == 3  # one network per architecture
    assert metrics["value"].between(0, 1).all()
    assert {c["arch"]: c["hidden_size"] for c in run["summary"]["cells"]} == {"cwrnn": 10, "lstm": 5, "srn": 10}
    row = rv.runs_table([run]).iloc[0]
    assert (row["task"], row["score"], row["budget"]) == ("words-grid", "final_test_error", 500)
    assert row["CW-RNN"] == pytest.approx(metrics[metrics["arch"] == "cwrnn"]["value"].iloc[0])


def test_the_shipped_grid_results_are_the_readmes_tables():
    """The Paper page's fresh-install results (assets/paper_results) against the README's tables."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table, made = paper_results.shipped_results("generation")
    assert made["date"] and made["versions"]["torch"] and "reproduce generation" in made["command"]
    assert len(table) == 12 and set(table["parameters"]) == set(paper.GENERATION_BUDGETS)
    for budget in paper.GENERATION_BUDGETS:
        row = re.search(rf"^\| {budget} \| (.*)$", readme, re.M).group(1)
        cwrnn, _, lstm, _, srn, _ = [c.strip(" *") for c in row.split("|")[:6]]
        ours = table[table["parameters"] == budget].set_index("architecture")
        for label, text in (("CW-RNN", cwrnn), ("LSTM", lstm), ("SRN", srn)):
            mean, std = (float(v) for v in text.split(" ± "))
            assert ours.loc[label, "NMSE (ours)"] == pytest.approx(mean, rel=0.03)
            assert ours.loc[label, "std (ours)"] == pytest.approx(std, rel=0.06)
    words, _ = paper_results.shipped_results("words")
    assert dict(zip(words["architecture"], words["test error % (ours)"].round())) == {
        "SRN": 83,
        "LSTM": 51,
        "CW-RNN": 44,
    }
    assert "CW-RNN 44 ± 4 %, LSTM 51 ± 10 %, SRN 83 ± 4 %" in readme
    handwriting, made = paper_results.shipped_results("handwriting")
    assert "--tuned" in made["command"] and "periods 1, 2, 4, 8" in made["note"]  # says it is not the paper's recipe
    ours = handwriting.set_index("architecture")
    for label in ("LSTM", "SRN", "CW-RNN"):
        mean, std = ours.loc[label, ["character error rate % (ours)", "std (ours)"]]
        assert f"{label} {mean:.1f} ± {std:.1f} %" in readme
    assert ours["character error rate % (paper)"].to_dict() == {"CW-RNN": 67.2, "SRN": 52.8, "LSTM": 34.2}


def test_a_short_experiment_1_run_with_the_papers_optimiser_says_what_to_expect():
    def run(status, epoch, **config):
        config = {"preset": "paper-generation", **config}
        return {"id": 1, "task": "generation", "status": status, "config": config, "progress": {"epoch": epoch}}

    assert "stays near NMSE 1" in rv.early_note(run("running", 40)) and "Epoch 40" in rv.early_note(run("running", 40))
    assert "stopped at epoch 100" in rv.early_note(run("completed", 100))
    assert rv.early_note(run("running", 300)) is None  # past the plateau
    assert rv.early_note(run("running", 40, preset="adam")) is None
    assert rv.early_note({**run("running", 40), "task": "words"}) is None
    text, _ = rv.status_text({**run("running", 1, epochs=400), "progress": {"epoch": 1, "total_epochs": 400}})
    assert text.endswith("epoch 1 of 400, estimating the time left")


def test_speed_rows_put_measured_time_beside_the_work_per_step():
    models = [{"arch": a, "macs_per_step": m} for a, m in (("srn", 961.0), ("cwrnn", 412.345), ("lstm", 900.0))]
    run = {"progress": {"models": models, "ms_per_epoch": {"srn": 222.0, "cwrnn": 111.0, "lstm": 333.0}}}
    rows = rv.speed_rows(run)
    assert [r["architecture"] for r in rows] == ["SRN", "LSTM", "CW-RNN"]  # the paper's order, as everywhere
    assert [r["multiply-adds per step"] for r in rows] == [961.0, 900.0, 412.3]
    assert [r["time / CW-RNN's"] for r in rows] == ["2.00x", "3.00x", "1.00x"]
    assert rv.speed_rows({"progress": {"models": models}}) == []  # before the first epoch's time
    assert rv.speed_rows({"progress": None}) == []
    without_cwrnn = {"progress": {"models": models, "ms_per_epoch": {"srn": 5.0}}}
    assert rv.speed_rows(without_cwrnn) == [
        {"architecture": "SRN", "multiply-adds per step": 961.0, "measured ms per epoch": 5.0, "time / CW-RNN's": ""}
    ]
