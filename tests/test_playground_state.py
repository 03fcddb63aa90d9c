"""The Playground's URL, widget and table logic (pure functions, no Streamlit)."""

from dataclasses import replace

import numpy as np
import pytest
from playground_configs import CUSTOM

from cwrnn.app import playground_state as ps
from cwrnn.app import runs_view
from cwrnn.config import validate
from cwrnn.paper import GENERATION_BUDGETS, GENERATION_HIDDEN


def test_an_empty_link_gives_the_defaults_without_notes():
    assert ps.from_query({}) == (ps.DEFAULTS, [])


def test_the_defaults_are_experiment_1_at_a_small_budget():
    d = ps.DEFAULTS
    assert (d.task, d.source, d.clips, d.periods) == ("generation", "clips", [0], [1, 2, 4, 8, 16, 32, 64, 128, 256])
    assert d.budget == 250 and d.preset == "paper-generation" and d.baselines == ["srn", "lstm"]
    assert 300 <= d.epochs <= 500 and 1 <= d.seeds <= 3
    assert validate(d.to_dict()) == d


@pytest.mark.parametrize("cfg", [ps.DEFAULTS, CUSTOM, replace(ps.DEFAULTS, clips=[4, 1], baselines=[], lr=1e-5)])
def test_a_link_reproduces_its_configuration(cfg):
    query = ps.to_query(cfg)
    assert all(isinstance(v, str) for v in query.values())
    assert ps.from_query(query) == (cfg, [])


def test_a_link_from_the_runs_page_opens_with_every_field_and_no_notes():
    """The Runs page writes every RunConfig field; those the Playground lacks hold their defaults."""
    stored = {**CUSTOM.to_dict(), "snapshot_every": 31}
    cfg, notes = ps.from_query(runs_view.playground_params(stored))
    assert notes == [] and cfg == CUSTOM


def test_a_repeated_parameter_counts_as_its_last_value():
    cfg, notes = ps.from_query({"budget": ["300", "400"], "seed": ["5"]})
    assert (cfg.budget, cfg.seed, notes) == (400, 5, [])


@pytest.mark.parametrize(
    "key, text",
    [
        ("budget", "abc"),
        ("budget", "5"),
        ("budget", "2.5e2"),
        ("epochs", "0"),
        ("seeds", "11"),
        ("seed", "-1"),
        ("lr", "nan"),
        ("lr", "2"),
        ("lr", "fast"),
        ("clips", "0,7"),
        ("clips", "1,1"),
        ("clips", ""),
        ("periods", "1, 0, x"),
        ("periods", "4,2"),
        ("periods", "1,1"),
        ("periods", "1,1024"),
        ("periods", ",".join(str(2**i) for i in range(11))),
        ("source", "mp3"),
        ("connectivity", "sideways"),
        ("preset", "paper-words"),
        ("baselines", "srn,tcn"),
        ("wav_start", "-1"),
        ("module_sizes", "a,b"),
        ("batch_size", "0"),
        ("batch_size", "many"),
    ],
)
def test_a_bad_value_falls_back_to_its_default_with_a_note(key, text):
    good = "seeds" if key == "seed" else "seed"
    cfg, notes = ps.from_query({key: text, good: "3"})
    assert getattr(cfg, key) == getattr(ps.DEFAULTS, key)
    assert getattr(cfg, good) == 3  # the good value next to it is kept
    assert len(notes) == 1 and notes[0].startswith(f"{key}={text!r} in the link is not allowed")


def test_notes_say_what_is_allowed():
    _, notes = ps.from_query({"budget": "9999999", "periods": "8,4"})
    assert "from 50 to 20000" in notes[0] and "using 250 instead" in notes[0]
    assert "ascending" in notes[1] and "using 1,2,4,8,16,32,64,128,256 instead" in notes[1]


def test_module_sizes_must_match_the_periods():
    cfg, notes = ps.from_query({"periods": "1,2,4", "module_sizes": "5,5"})
    assert cfg.periods == [1, 2, 4] and cfg.module_sizes is None
    assert notes == [
        "module_sizes in the link cannot be used (give one size per module: 3 modules, got 2 sizes); "
        "using equal module sizes"
    ]


def test_unknown_and_foreign_parameters_are_ignored_and_named():
    cfg, notes = ps.from_query(
        {
            "foo": "1",
            "steps": "320",
            "dataset": "synthetic",
            "momentum": "0.9",
            "snapshot_every": "3",
            "embed": "true",
            "run": "4",
        }
    )
    assert cfg == ps.DEFAULTS
    assert len(notes) == 2
    assert "foo='1'" in notes[0] and "unknown name" in notes[0]
    assert "momentum='0.9'" in notes[1] and "not a Playground setting" in notes[1]


def test_a_wav_path_must_be_an_upload_of_this_lab(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.wav").write_bytes(b"RIFF")
    cfg, notes = ps.from_query({"source": "wav", "wav_path": str(uploads / "a.wav"), "wav_start": "0.5"}, uploads)
    assert (cfg.source, cfg.wav_path, cfg.wav_start, notes) == ("wav", str((uploads / "a.wav").resolve()), 0.5, [])
    by_name, _ = ps.from_query({"source": "wav", "wav_path": "a.wav"}, uploads)
    assert by_name.wav_path == str((uploads / "a.wav").resolve())
    for outside in (str(tmp_path / "secret.wav"), "../secret.wav", str(uploads / "missing.wav")):
        cfg, notes = ps.from_query({"source": "wav", "wav_path": outside}, uploads)
        assert cfg.source == "clips" and cfg.wav_path is None
        assert "not allowed (a WAV file uploaded to this lab)" in notes[0]
        assert notes[1] == "source=wav needs a WAV file uploaded to this lab; using the shipped clips instead"


@pytest.mark.parametrize(
    "text, message",
    [
        ("1, 0, x", "whole numbers"),
        ("1, 0", "at least 1"),
        ("4, 2", "sorted"),
        ("1, 2, 2", "distinct"),
        ("", "at least one period"),
        ("1, 1024", "at most 512"),
        (", ".join(map(str, range(1, 12))), "at most 10 modules"),
    ],
)
def test_typed_periods_are_checked(text, message):
    with pytest.raises(ps.PlaygroundInputError, match=message):
        ps.parse_periods(text)


def test_typed_periods_accept_commas_and_spaces():
    assert ps.parse_periods(" 1, 3  9,27 ") == [1, 3, 9, 27]


@pytest.mark.parametrize(
    "text, message",
    [
        ("5, 5", "one size per module"),
        ("5, 0, 4", "at least 1 unit"),
        ("5, x, 4", "whole numbers"),
        ("1000, 20, 20", "at most 1024"),
    ],
)
def test_typed_module_sizes_are_checked(text, message):
    with pytest.raises(ps.PlaygroundInputError, match=message):
        ps.parse_module_sizes(text, 3)


def test_schedules_are_named_back_and_resized():
    assert ps.schedule_periods("exponential", 4) == [1, 2, 4, 8]
    assert ps.schedule_periods("fibonacci", 5) == [1, 2, 3, 5, 8]
    assert [ps.schedule_of(ps.schedule_periods(n, 6)) for n in ("exponential", "linear", "fibonacci")] == [
        "exponential",
        "linear",
        "fibonacci",
    ]
    assert ps.schedule_of([1, 3, 9]) == "custom"
    assert ps.schedule_of([1]) == "exponential"  # one module: every schedule agrees
    assert ps.resize_periods([1, 3, 9], 2) == [1, 3]
    assert ps.resize_periods([1, 3, 300], 5) == [1, 3, 300, 512, 512]


@pytest.mark.parametrize("cfg", [ps.DEFAULTS, CUSTOM])
def test_widgets_hold_a_configuration_and_give_it_back(cfg):
    values = ps.widget_state(cfg)
    assert values["modules"] == len(cfg.periods) and values["periods_text"] == ps.format_ints(cfg.periods)
    assert [values[ps.period_key(i)] for i in range(len(cfg.periods))] == cfg.periods
    raw = ps.config_from_widgets(values, wav_path=cfg.wav_path)
    assert raw["snapshot_every"] == ps.live_snapshot_every(cfg.epochs)
    assert replace(validate(raw), snapshot_every=cfg.snapshot_every) == cfg


def test_a_learning_rate_equal_to_the_presets_is_left_to_the_preset():
    values = {**ps.widget_state(ps.DEFAULTS), "preset": "adam", "lr": 3e-3}
    assert ps.config_from_widgets(values)["lr"] is None
    assert ps.config_from_widgets({**values, "lr": 1e-3})["lr"] == 1e-3


def test_live_snapshots_come_about_forty_times_a_run():
    assert ps.live_snapshot_every(400) == 10 and ps.live_snapshot_every(20) == 5
    assert 400 // ps.live_snapshot_every(20_000) == 0 and 20_000 // ps.live_snapshot_every(20_000) == 40


def test_check_config_lists_problems_instead_of_raising():
    assert ps.check_config(ps.DEFAULTS.to_dict()) == (ps.DEFAULTS, [])
    cfg, problems = ps.check_config({**ps.DEFAULTS.to_dict(), "periods": [4, 2]})
    assert cfg is None and "sorted" in problems[0]
    cfg, problems = ps.check_config({**ps.DEFAULTS.to_dict(), "module_sizes": [100] * 9})
    assert cfg is None and "too small" in problems[0]


@pytest.mark.parametrize("budget", GENERATION_BUDGETS)
def test_the_comparison_table_matches_the_papers_table_1(budget):
    """Hidden sizes for 100..1000 parameters are the paper's, give or take the one unit where the paper rounds
    differently; parameter counts are worked out by hand."""
    rows = {r["architecture"]: r for r in ps.comparison_rows(replace(ps.DEFAULTS, budget=budget))}
    i = GENERATION_BUDGETS.index(budget)
    for label, arch in (("SRN", "srn"), ("LSTM", "lstm"), ("CW-RNN", "cwrnn")):
        assert abs(rows[label]["hidden units"] - GENERATION_HIDDEN[arch][i]) <= 1
    n = rows["SRN"]["hidden units"]
    assert rows["SRN"]["parameters"] == n * n + n + (n + 1)  # recurrent, bias, linear readout
    n = rows["LSTM"]["hidden units"]
    assert rows["LSTM"]["parameters"] == 4 * (n * n + n) + 3 * n + (n + 1)  # 4 gates, peepholes, readout
    assert rows["SRN"]["multiply-adds per step"] == rows["SRN"]["hidden units"] ** 2


def test_the_cwrnn_multiply_adds_are_those_of_a_simulated_clock():
    """Average over a whole clock cycle of the rows an active module computes (it reads itself and slower ones)."""
    cfg = replace(ps.DEFAULTS, periods=[1, 3, 4, 10], module_sizes=[4, 3, 2, 2])
    cycle = np.lcm.reduce(cfg.periods)
    sizes = cfg.module_sizes
    work = sum(sizes[i] * sum(sizes[i:]) for t in range(cycle) for i, T in enumerate(cfg.periods) if t % T == 0)
    row = ps.comparison_rows(cfg)[0]
    assert row["architecture"] == "CW-RNN" and row["hidden units"] == 11
    assert row["multiply-adds per step"] == round(work / cycle, 1)


def test_status_text_names_state_device_epoch_and_time_left():
    run = {
        "id": 3,
        "status": "running",
        "config": {"epochs": 400},
        "device": None,
        "progress": {"epoch": 100, "total_epochs": 400, "eta_s": 12.2, "device": "cpu"},
    }
    assert runs_view.status_text(run) == ("Run 3: **running**, on cpu, epoch 100 of 400, about 13 s left", 0.25)
    queued = {"id": 4, "status": "queued", "config": {"epochs": 50}, "progress": None}
    assert runs_view.status_text(queued) == ("Run 4: **queued**, epoch 0 of 50", 0.0)
    done = {**run, "status": "completed", "progress": {**run["progress"], "epoch": 400, "elapsed_s": 20.04}}
    assert runs_view.status_text(done) == ("Run 3: **completed**, on cpu, epoch 400 of 400, took 20.0 s", 1.0)


def test_equal_module_sizes_give_leftovers_to_the_fast_modules():
    assert ps.equal_module_sizes(250, 9) == [3, 2, 2, 2, 2, 2, 2, 2, 2]  # 19 units, as the table says


# ---- Experiment 2 ---------------------------------------------------------------------------------

WORDS_CUSTOM = replace(
    ps.WORDS_DEFAULTS,
    dataset="folder",
    folder="/data/my words",
    readout="mean",
    budget=1000,
    preset="adam",
    epochs=30,
    seeds=1,
    seed=4,
)


def test_the_words_defaults_are_the_papers_design_on_the_synthetic_speech():
    d = ps.WORDS_DEFAULTS
    assert (d.task, d.dataset, d.readout, d.periods, d.preset) == (
        "words",
        "synthetic",
        "last",
        [1, 2, 4, 8, 16, 32, 64],
        "paper-words",
    )
    assert validate(d.to_dict()) == d


@pytest.mark.parametrize("cfg", [ps.WORDS_DEFAULTS, WORDS_CUSTOM])
def test_a_words_link_reproduces_its_configuration(cfg):
    query = ps.to_query(cfg)
    assert query["task"] == "words" and "source" not in query and "clips" not in query
    assert ps.from_query(query) == (cfg, [])
    values = ps.widget_state(cfg)
    assert replace(validate(ps.config_from_widgets(values)), snapshot_every=cfg.snapshot_every) == cfg


def test_a_words_link_falls_back_to_the_words_defaults():
    cfg, notes = ps.from_query(
        {"task": "words", "preset": "paper-generation", "readout": "middle", "dataset": "mp3s", "budget": "x"}
    )
    assert (cfg.preset, cfg.readout, cfg.dataset, cfg.budget) == ("paper-words", "last", "synthetic", 2500)
    assert [n.split("=")[0] for n in notes] == ["preset", "readout", "dataset", "budget"]
    assert (
        "paper-words or tuned-words or adam for the words task" in notes[0] and "using paper-words instead" in notes[0]
    )
    assert "using 2500 instead" in notes[3]


def test_a_bad_task_or_a_folder_dataset_without_a_folder_fall_back_with_notes():
    cfg, notes = ps.from_query({"task": "speech"})
    assert cfg == ps.DEFAULTS and notes == [
        "task='speech' in the link is not allowed (generation, words, handwriting); using generation instead"
    ]
    cfg, notes = ps.from_query({"task": "words", "dataset": "folder"})
    assert cfg.dataset == "synthetic" and "dataset=folder needs folder=PATH" in notes[0]


def test_fsdd_is_offered_in_a_link_only_where_it_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("CWRNN_FSDD", str(tmp_path / "absent"))
    cfg, notes = ps.from_query({"task": "words", "dataset": "fsdd"})
    assert cfg.dataset == "synthetic" and "FSDD is not installed here" in notes[0]
    monkeypatch.setenv("CWRNN_FSDD", str(tmp_path))
    assert ps.from_query({"task": "words", "dataset": "fsdd"}) == (replace(ps.WORDS_DEFAULTS, dataset="fsdd"), [])


def test_switching_task_sets_that_tasks_design_and_keeps_the_seeds():
    state = ps.task_switch_state("words")
    assert state["modules"] == 7 and [state[ps.period_key(i)] for i in range(7)] == [1, 2, 4, 8, 16, 32, 64]
    assert (state["preset"], state["lr"], state["budget"]) == ("paper-words", 3e-4, 2500)
    assert "seeds" not in state and "seed" not in state and "dataset" not in state
    assert ps.task_switch_state("generation")["modules"] == 9


def test_the_words_comparison_table_matches_the_papers_sizes():
    """13 MFCC channels in and 25 words out: at 10k parameters the paper has CW-RNN 102, LSTM 41 and SRN 84
    (ours 82: an SRN of 84 units has 10,357 parameters by our count, so the paper counts a little differently)."""
    rows = {r["architecture"]: r for r in ps.comparison_rows(replace(ps.WORDS_DEFAULTS, budget=10_000), 13, 25)}
    assert [rows[k]["hidden units"] for k in ("CW-RNN", "LSTM", "SRN")] == [102, 41, 82]
    n = rows["SRN"]["hidden units"]
    assert rows["SRN"]["parameters"] == n * n + 13 * n + n + 25 * (n + 1)
    assert ps.check_config({**ps.WORDS_DEFAULTS.to_dict(), "budget": 100}, 13, 25)[1][0].startswith(
        "a budget of 100 parameters is too small"
    )


def test_the_gru_baseline_goes_through_the_link_and_the_widgets():
    cfg, notes = ps.from_query({"baselines": ["srn,gru"]})
    assert not notes and cfg.baselines == ["srn", "gru"]
    state = ps.widget_state(cfg)
    assert state["srn"] and state["gru"] and not state["lstm"]
    assert ps.config_from_widgets(state)["baselines"] == ["srn", "gru"]


def test_differing_settings_name_what_changed_in_the_playgrounds_words():
    shown = ps.DEFAULTS
    assert ps.differing_settings(shown, shown) == []
    changed = replace(shown, periods=[1, 2, 4], budget=300, lr=0.01, seed=3)
    assert ps.differing_settings(shown, changed) == ["modules", "budget", "first seed", "learning rate"]
    assert ps.differing_settings(shown, replace(shown, periods=[1, 3, 9, 27, 81, 100, 200, 300, 400])) == ["periods"]


# ---- Experiment 3 ---------------------------------------------------------------------------------


def test_the_handwriting_defaults_are_the_tuned_design_on_the_shipped_lines():
    d = ps.HANDWRITING_DEFAULTS
    assert (d.task, d.unipen, d.periods, d.budget, d.preset, d.ink_input) == (
        "handwriting",
        "shipped",
        [1, 2, 4, 8],
        10000,
        "tuned-handwriting",
        "offsets",
    )
    assert validate(d.to_dict()) == d
    assert ps.live_snapshot_every(d.epochs, "handwriting") == 1  # an epoch is long: every one is shown


def test_a_handwriting_link_reproduces_its_configuration(tmp_path):
    folder = tmp_path / "unipen"
    folder.mkdir()
    cfg = replace(
        ps.HANDWRITING_DEFAULTS,
        unipen=str(folder),
        ink_input="paper",
        batch_size=8,
        preset="adam",
        epochs=20,
        seeds=2,
    )
    query = ps.to_query(cfg)
    assert (query["task"], query["unipen"], query["ink_input"], query["batch_size"]) == (
        "handwriting",
        str(folder),
        "paper",
        "8",
    )
    assert "source" not in query and "dataset" not in query
    assert ps.from_query(query) == (cfg, [])
    values = ps.widget_state(cfg)
    assert (values["unipen_source"], values["unipen_folder"], values["ink_input"]) == ("folder", str(folder), "paper")
    assert replace(validate(ps.config_from_widgets(values)), snapshot_every=cfg.snapshot_every) == cfg
    shipped = ps.widget_state(ps.HANDWRITING_DEFAULTS)
    assert ps.config_from_widgets({**shipped, "unipen_folder": "/ignored"})["unipen"] == "shipped"


def test_a_handwriting_link_falls_back_to_the_handwriting_defaults():
    query = {"task": "handwriting", "preset": "paper-words", "batch_size": "9999", "ink_input": "dxdy"}
    cfg, notes = ps.from_query(query)
    assert (cfg.preset, cfg.batch_size, cfg.ink_input) == ("tuned-handwriting", 16, "offsets")
    assert "paper-handwriting or tuned-handwriting or adam for the handwriting task" in notes[0]
    assert "using tuned-handwriting instead" in notes[0]
    assert "from 1 to 256" in notes[1] and "using 16 instead" in notes[1]
    assert "paper or offsets" in notes[2] and "using offsets instead" in notes[2]
