"""The Playground page through Streamlit's AppTest: controls, messages, links, and a real background run."""

import html
import io
import json
import re
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from handwriting_runs import stored_run, tiny_lines
from playground_configs import CUSTOM
from streamlit.testing.v1 import AppTest

from cwrnn.app import handwriting_view as hv
from cwrnn.app import playground_state as ps
from cwrnn.app import viz
from cwrnn.data import audio
from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import TERMINAL_STATUSES

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CONTROLS = (
    "source",
    "clips",
    "modules",
    "schedule",
    "periods_text",
    "sizes_mode",
    "connectivity",
    "budget",
    "srn",
    "lstm",
    "gru",
    "preset",
    "lr",
    "epochs",
    "seeds",
    "seed",
)


@pytest.fixture
def app(store):
    """The whole app (router and Playground) on a fresh run store; its worker manager is stopped afterwards."""
    at = AppTest.from_file(APP, default_timeout=60)
    yield at
    ensure_manager(store.home).stop(timeout=10, terminate=True)


def opened(at: AppTest, **params) -> AppTest:
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def widget(at: AppTest, key: str):
    return next(
        w
        for kind in ("slider", "selectbox", "multiselect", "radio", "text_input", "number_input", "checkbox", "button")
        for w in getattr(at, kind)
        if w.key == key
    )


def chart_keys(at: AppTest) -> set[str]:
    return {el.proto.id.rsplit("-", 1)[-1] for el in at.get("plotly_chart")}


def errors(at: AppTest) -> str:
    """The errors as a reader sees them: Markdown escapes (`app.text.plain`) removed."""
    return unescaped("\n".join(e.value for e in at.error))


def unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def test_the_page_opens_on_experiment_1_with_every_control(app):
    at = opened(app)
    assert not at.exception and not at.error and not at.warning
    for key in (*CONTROLS, *(ps.period_key(i) for i in range(9)), "train", "stop"):
        assert widget(at, key).help, f"{key} has no help text"
    assert [widget(at, ps.period_key(i)).value for i in range(9)] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert not widget(at, "train").disabled and widget(at, "stop").disabled
    table = at.dataframe[0].value
    assert table["architecture"].tolist() == ["CW-RNN", "SRN", "LSTM"]
    assert table["hidden units"].tolist() == [19, 15, 7]
    assert dict(at.query_params) == ps.to_query(ps.DEFAULTS)
    assert chart_keys(at) == {"target_chart"}
    assert "play a 7 ms piece of music" in at.markdown[0].value


def test_typed_periods_are_checked_and_applied(app):
    at = opened(app)
    widget(at, "periods_text").input("1, 0, x").run()
    assert "whole numbers" in errors(at) and "'x'" in errors(at)
    assert widget(at, "train").disabled
    widget(at, "periods_text").input("1, 3, 9, 27").run()
    assert not at.error and not widget(at, "train").disabled
    assert widget(at, "modules").value == 4 and widget(at, "schedule").value == "custom"
    assert [widget(at, ps.period_key(i)).value for i in range(4)] == [1, 3, 9, 27]
    assert at.query_params["periods"] == "1,3,9,27"


def test_unsorted_period_sliders_are_refused(app):
    at = opened(app)
    widget(at, ps.period_key(1)).set_value(300).run()
    assert "sorted from fastest to slowest" in errors(at)
    assert widget(at, "train").disabled and widget(at, "schedule").value == "custom"


def test_the_schedule_and_the_number_of_modules_set_the_periods(app):
    at = opened(app)
    widget(at, "schedule").set_value("fibonacci").run()
    widget(at, "modules").set_value(5).run()
    assert [widget(at, ps.period_key(i)).value for i in range(5)] == [1, 2, 3, 5, 8]
    assert at.query_params["periods"] == "1,2,3,5,8"
    assert [r for r in at.dataframe[0].value["architecture"]] == ["CW-RNN", "SRN", "LSTM"]


def test_custom_module_sizes_start_from_the_equal_split_and_are_checked(app):
    at = opened(app)
    widget(at, "sizes_mode").set_value("custom").run()
    assert widget(at, "sizes_text").value == "3, 2, 2, 2, 2, 2, 2, 2, 2"
    widget(at, "sizes_text").input("5, 5").run()
    assert "one size per module: 9 modules, got 2" in errors(at) and widget(at, "train").disabled


def test_the_optimiser_preset_sets_its_learning_rate(app):
    at = opened(app)
    widget(at, "preset").set_value("adam").run()
    assert widget(at, "lr").value == pytest.approx(3e-3)
    assert at.query_params["preset"] == "adam" and "lr" not in at.query_params


def test_a_link_sets_every_control_and_changes_update_the_link(app):
    cfg = CUSTOM  # every control away from its default
    at = opened(app, **ps.to_query(cfg))
    assert not at.warning and not at.error
    values = {key: widget(at, key).value for key in (*CONTROLS, "sizes_text") if key != "clips"}
    expected = ps.widget_state(cfg)
    assert values == {key: expected[key] for key in values}
    assert dict(at.query_params) == ps.to_query(cfg)
    widget(at, "seed").set_value(42).run()
    assert at.query_params["seed"] == "42" and at.query_params["budget"] == "500"


def test_bad_link_values_fall_back_to_defaults_with_notes(app):
    at = opened(app, budget="abc", periods="8,4", seeds="0", run="latest", epochs="50")
    notes = unescaped("\n".join(w.value for w in at.warning))
    assert "budget='abc'" in notes and "periods='8,4'" in notes and "seeds='0'" in notes
    assert "?run=latest is not a valid link" in notes
    assert widget(at, "budget").value == 250 and widget(at, "seeds").value == 2
    assert widget(at, "modules").value == 9 and widget(at, "epochs").value == 50
    assert at.query_params["budget"] == "250" and "run" not in at.query_params
    widget(at, "seed").set_value(1).run()
    assert not at.warning  # the notes were about the link; once the settings change they go


def test_an_uploaded_wav_is_checked(app, store):
    uploads = store.home / "uploads"
    uploads.mkdir()
    tone = audio.synthetic_tone(44100 // 10)  # 0.1 s
    (uploads / "tone.wav").write_bytes(audio.wav_bytes(tone, audio.SHIPPED_RATE))
    (uploads / "broken.wav").write_bytes(b"RIFF, but nothing else")
    at = opened(app, source="wav", wav_path=str(uploads / "tone.wav"))
    assert not at.error and not widget(at, "train").disabled and chart_keys(at) == {"target_chart"}
    widget(at, "wav_start").set_value(0.095).run()
    assert "runs past the end" in errors(at) and widget(at, "train").disabled
    at = opened(AppTest.from_file(APP, default_timeout=60), source="wav", wav_path=str(uploads / "broken.wav"))
    assert "not a readable WAV file" in errors(at) and widget(at, "train").disabled


def wait_for(store, run_id: int, statuses, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while (run := store.get_run(run_id))["status"] not in statuses:
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']} after {timeout} s"
        time.sleep(0.2)
    return run


def test_train_and_stop_run_in_the_background_and_the_runs_page_lists_them(app, store):
    at = opened(app, epochs="20000", budget="100", seeds="1")
    widget(at, "train").click().run()
    long_run = int(at.query_params["run"])
    assert widget(at, "train").disabled and not widget(at, "stop").disabled
    wait_for(store, long_run, ("running",))
    widget(at, "stop").click().run()
    assert wait_for(store, long_run, TERMINAL_STATUSES)["status"] == "cancelled"

    widget(at, "epochs").set_value(20).run()
    widget(at, "gru").check().run()  # the optional fourth model trains and shows beside the others
    assert at.query_params["baselines"] == "srn,lstm,gru"
    widget(at, "train").click().run()
    tiny = int(at.query_params["run"])
    assert tiny != long_run
    run = wait_for(store, tiny, TERMINAL_STATUSES)
    assert run["status"] == "completed", run["error"]
    at.run()  # AppTest never fires the fragment's timer; a rerun draws what the store holds
    assert chart_keys(at) == {"loss_chart", "waveform_chart", "activity_chart", "weights_chart"}
    assert "Run %d: **completed**" % tiny in "\n".join(m.value for m in at.markdown)
    assert len(at.get("audio")) == 5  # target, SRN, LSTM, GRU, CW-RNN
    assert {r["id"] for r in store.list_runs()} == {long_run, tiny}
    loss = next(el for el in at.get("plotly_chart") if el.proto.id.endswith("loss_chart"))
    assert '"CW-RNN"' in loss.proto.spec and '"GRU"' in loss.proto.spec
    assert np.isfinite(run["summary"]["final"]["cwrnn"]["nmse"]["mean"])
    assert np.isfinite(run["summary"]["final"]["gru"]["nmse"]["mean"])
    speed = next(df.value for df in at.dataframe if "measured ms per epoch" in df.value.columns)
    assert speed["architecture"].tolist() == ["SRN", "LSTM", "GRU", "CW-RNN"]
    assert speed["measured ms per epoch"].tolist() == [
        round(run["summary"]["ms_per_epoch"][a], 1) for a in ("srn", "lstm", "gru", "cwrnn")
    ]

    at.switch_page("pages/runs.py").run()
    assert not at.exception
    listed = next(df for df in at.dataframe if df.proto.id.endswith("runs_table")).value
    assert {long_run, tiny} <= set(listed["id"])


# ---- Experiment 2 ---------------------------------------------------------------------------------

WORDS_CONTROLS = ("task", "dataset", "readout", "modules", "budget", "preset", "epochs", "seeds")


def switched(app: AppTest, task: str, controls: tuple[str, ...]) -> AppTest:
    """The Playground switched to `task`, drawn without a problem, each of its `controls` explained."""
    at = opened(app)
    widget(at, "task").set_value(task).run()
    assert not at.exception and not at.error
    for key in controls:
        assert widget(at, key).help, f"{key} has no help text"
    return at


def test_switching_to_spoken_words_shows_its_controls_design_and_a_word(app):
    at = switched(app, "words", WORDS_CONTROLS)
    assert [widget(at, ps.period_key(i)).value for i in range(7)] == [1, 2, 4, 8, 16, 32, 64]
    assert (widget(at, "preset").value, widget(at, "budget").value) == ("paper-words", 2500)
    assert widget(at, "dataset").value == "synthetic" and "synthetic speech" in widget(at, "dataset").options[0]
    assert dict(at.query_params) == ps.to_query(ps.WORDS_DEFAULTS)
    assert at.dataframe[0].value["parameters"].tolist() == [2507, 2507, 2393]  # 13 channels in, 25 words out
    assert chart_keys(at) == {"features_chart"} and len(at.get("audio")) == 1
    assert "synthetic" in at.info[0].value and "125 recordings" in at.info[0].value


def test_a_words_link_round_trips(app):
    cfg = replace(ps.WORDS_DEFAULTS, readout="mean", budget=1000, preset="adam", epochs=30, seeds=1, seed=5)
    at = opened(app, **ps.to_query(cfg))
    assert not at.warning and not at.error
    assert {k: widget(at, k).value for k in WORDS_CONTROLS} == {k: ps.widget_state(cfg)[k] for k in WORDS_CONTROLS}
    assert dict(at.query_params) == ps.to_query(cfg)
    widget(at, "readout").set_value("last").run()
    assert at.query_params["readout"] == "last" and at.query_params["task"] == "words"


def test_a_bad_folder_and_an_escaping_zip_are_explained(app, store, tmp_path):
    at = opened(app, task="words", dataset="folder", folder=str(tmp_path / "missing"))
    # the link's path is inside the data home: the page names it relative to it, never the server's path
    assert "the recordings cannot be used: there is no folder 'missing' here" in errors(at)
    assert str(tmp_path) not in errors(at) and at.query_params["folder"] == "missing"
    assert widget(at, "train").disabled and not at.exception
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a_b_0.wav", b"RIFF")
        archive.writestr("../../escape_b_0.wav", b"RIFF")
    at.file_uploader(key="words_zip").set_value(("words.zip", buffer.getvalue(), "application/zip")).run()
    assert "words.zip was not used: the zip member '../../escape_b_0.wav' points outside" in errors(at)
    assert not (store.home / "uploads").exists() and widget(at, "folder").value == "missing"


def test_a_tiny_words_run_trains_and_shows_its_charts(app, store):
    at = opened(app, task="words", budget="500", epochs="2", seeds="1")
    widget(at, "train").click().run()
    run = wait_for(store, int(at.query_params["run"]), TERMINAL_STATUSES)
    assert run["status"] == "completed" and run["task"] == "words", run["error"]
    at.run()
    assert not at.exception and not at.error
    assert chart_keys(at) == {
        "loss_chart",
        "accuracy_chart",
        "confusion_chart",  # one confusion matrix per model, each in its tab
        "confusion_srn_chart",
        "confusion_lstm_chart",
        "weights_chart",
        "features_chart",
        "activity_chart",
        "probabilities_chart",
    }
    accuracy = next(el for el in at.get("plotly_chart") if el.proto.id.endswith("accuracy_chart"))
    assert '"CW-RNN test"' in accuracy.proto.spec and '"SRN train"' in accuracy.proto.spec
    assert '"chance"' in accuracy.proto.spec and '"CW-RNN test final"' in accuracy.proto.spec
    captions = "\n".join(c.value for c in at.caption)
    assert "answers ✓ right" in captions or "answers ✗ wrong" in captions  # the saved CW-RNN heard the word
    widget(at, "word").set_value(3).run()
    assert not at.exception and len(at.get("audio")) == 1


def test_a_run_id_too_large_for_the_store_is_a_run_that_does_not_exist(app):
    at = opened(app, run="9" * 25)
    assert not at.exception
    assert f"there is no run {'9' * 25} in this lab" in unescaped(at.warning[0].value)
    assert "run" not in at.query_params


def test_the_file_name_rule_is_shown_as_written_not_as_markdown(app):
    at = opened(app, task="words", dataset="folder", folder="nowhere")
    assert "`{label}_{speaker}_{take}.wav`" in widget(at, "folder").help  # a code span: no italics
    (error,) = at.error
    assert r"{label}\_{speaker}\_{take}.wav" in error.value  # escaped, so it renders exactly as the rule


def test_a_words_design_that_cannot_be_trained_does_not_say_press_train(app):
    at = opened(app, task="words", module_sizes="1,1,1")
    widget(at, "sizes_mode").set_value("custom").run()
    widget(at, "sizes_text").input("1, x").run()
    assert "cannot be trained" in errors(at)
    assert not any("Press **Train**" in i.value for i in at.info) and "words:" in at.info[0].value


# ---- Experiment 3 ---------------------------------------------------------------------------------

HANDWRITING_CONTROLS = (
    "task",
    "unipen_source",
    "ink_input",
    "modules",
    "budget",
    "batch_size",
    "preset",
    "epochs",
    "seeds",
)


def chart(at: AppTest, key: str) -> dict:
    return json.loads(next(el for el in at.get("plotly_chart") if el.proto.id.endswith(key)).proto.spec)


def notes(figure: dict) -> list[str]:
    return [a["text"] for a in figure["layout"].get("annotations", [])]


def test_switching_to_handwriting_shows_its_controls_design_and_the_line(app):
    at = switched(app, "handwriting", HANDWRITING_CONTROLS)  # the tuned clock: four modules, periods up to 8
    assert widget(at, "modules").value == 4
    assert [widget(at, ps.period_key(i)).value for i in range(4)] == [1, 2, 4, 8]
    assert (widget(at, "preset").value, widget(at, "budget").value) == ("tuned-handwriting", 10000)
    assert at.query_params["task"] == "handwriting" and at.query_params["unipen"] == "shipped"
    assert at.query_params["ink_input"] == "offsets"
    table = at.dataframe[0].value  # bidirectional networks, 3 inputs (pen movement, pen-up), 96 outputs
    assert table["architecture"].tolist() == ["CW-RNN", "SRN", "LSTM"] and table["hidden units"].tolist() == [
        40,
        36,
        24,
    ]
    widget(at, "ink_input").set_value("paper").run()  # the paper's 4 inputs: the LSTM's matched size changes
    assert at.dataframe[0].value["hidden units"].tolist() == [39, 36, 23] and at.query_params["ink_input"] == "paper"
    assert chart_keys(at) == {"ink_chart"} and "2150 lines by" in at.info[0].value
    line = hv.load_data().val[0]
    assert notes(chart(at, "ink_chart")) == [f"<b>written</b>: {html.escape(line.text, quote=False)}"]


def test_a_missing_unipen_folder_is_explained(app, tmp_path):
    at = opened(app, task="handwriting", unipen=str(tmp_path / "missing"))
    assert widget(at, "unipen_source").value == "folder" and widget(at, "train").disabled
    assert "there is no folder" in errors(at) and "UNIPEN files" in errors(at) and not at.exception
    widget(at, "unipen_folder").set_value("").run()
    assert "give the path of a UNIPEN folder" in errors(at)
    widget(at, "unipen_source").set_value("shipped").run()
    assert not at.error and not widget(at, "train").disabled


def test_a_unipen_folder_outside_the_data_roots_is_refused_unread(app, tmp_path_factory, monkeypatch):
    """As for recordings (issue 14): the lab reads only under its data home and $CWRNN_DATA_ROOTS, and does not
    say whether a folder elsewhere exists."""
    monkeypatch.delenv("CWRNN_DATA_ROOTS", raising=False)
    outside = tmp_path_factory.mktemp("elsewhere")
    at = opened(app, task="handwriting", unipen=str(tiny_lines(outside / "tiny.npz")))
    assert "outside the folders this lab reads data from" in errors(at) and widget(at, "train").disabled
    assert not at.exception and "12 lines" not in " ".join(i.value for i in at.info)
    monkeypatch.setenv("CWRNN_DATA_ROOTS", str(outside))
    at.run()
    assert not at.error and "12 lines by 6 writers" in at.info[0].value and not widget(at, "train").disabled


def test_a_handwriting_run_shows_the_ink_each_reading_and_the_clocks(app, store):
    data = hv.load_data()
    line = data.val[0]
    run_id = stored_run(store, line, data.alphabet, epochs=2)
    at = opened(app, run=str(run_id))
    assert not at.exception and not at.error
    assert widget(at, "task").value == "handwriting" and widget(at, "batch_size").value == 16
    assert chart_keys(at) == {
        "ink_chart",
        "loss_chart",
        "cer_chart",
        "emissions_chart",
        "activity_chart",
        "activity_backward_chart",
        "outputs_chart",
        "weights_chart",
    }
    written = html.escape(line.text, quote=False)  # the last snapshot reads the whole line
    assert notes(chart(at, "ink_chart")) == [f"<b>{who}</b>: {written}" for who in ("written", "SRN", "LSTM", "CW-RNN")]
    assert "CW-RNN test_cer" in [t["name"] for t in chart(at, "cer_chart")["data"]]
    widget(at, "hw_closeup").set_value("lstm").run()
    assert not at.exception and chart(at, "emissions_chart")["data"][1]["marker"]["color"] == viz.arch_color("lstm")


def test_a_tiny_handwriting_run_trains_and_shows_what_it_reads(app, store, tmp_path):
    lines = tiny_lines(tmp_path / "tiny.npz")
    at = opened(app, task="handwriting", unipen=lines, budget="800", epochs="2", batch_size="4")
    assert not at.exception and not at.error and "12 lines by 6 writers" in at.info[0].value
    widget(at, "train").click().run()
    run = wait_for(store, int(at.query_params["run"]), TERMINAL_STATUSES)
    assert run["status"] == "completed" and run["task"] == "handwriting", run["error"]
    at.run()
    assert not at.exception and not at.error
    assert {"ink_chart", "loss_chart", "cer_chart", "emissions_chart", "outputs_chart", "activity_chart"} <= chart_keys(
        at
    )
    assert [n.split("</b>")[0] for n in notes(chart(at, "ink_chart"))] == [
        "<b>written",
        "<b>SRN",
        "<b>LSTM",
        "<b>CW-RNN",
    ]
