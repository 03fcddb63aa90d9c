"""The Playground page through Streamlit's AppTest: controls, messages, links, and a real background run."""
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cwrnn import audio
from cwrnn import playground_state as ps
from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import TERMINAL_STATUSES

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CONTROLS = ("source", "clips", "modules", "schedule", "periods_text", "sizes_mode", "connectivity", "budget",
            "srn", "lstm", "preset", "lr", "epochs", "seeds", "seed")


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
    return next(w for kind in ("slider", "selectbox", "multiselect", "radio", "text_input", "number_input",
                               "checkbox", "button") for w in getattr(at, kind) if w.key == key)


def chart_keys(at: AppTest) -> set[str]:
    return {el.proto.id.rsplit("-", 1)[-1] for el in at.get("plotly_chart")}


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


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
    cfg = replace(ps.DEFAULTS, source="tone", periods=[1, 3, 9, 27], module_sizes=[6, 5, 4, 3],
                  connectivity="full", budget=500, baselines=["lstm"], preset="adam", lr=0.01, epochs=1234,
                  seeds=3, seed=7)
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
    notes = "\n".join(w.value for w in at.warning)
    assert "budget='abc'" in notes and "periods='8,4'" in notes and "seeds='0'" in notes and "run='latest'" in notes
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
    widget(at, "train").click().run()
    tiny = int(at.query_params["run"])
    assert tiny != long_run
    run = wait_for(store, tiny, TERMINAL_STATUSES)
    assert run["status"] == "completed", run["error"]
    at.run()  # AppTest never fires the fragment's timer; a rerun draws what the store holds
    assert chart_keys(at) == {"loss_chart", "waveform_chart", "activity_chart", "weights_chart"}
    assert "Run %d: **completed**" % tiny in "\n".join(m.value for m in at.markdown)
    assert len(at.get("audio")) == 4  # target, SRN, LSTM, CW-RNN
    assert {r["id"] for r in store.list_runs()} == {long_run, tiny}
    loss = next(el for el in at.get("plotly_chart") if el.proto.id.endswith("loss_chart"))
    assert '"CW-RNN"' in loss.proto.spec and np.isfinite(run["summary"]["final"]["cwrnn"]["nmse"]["mean"])

    at.switch_page("pages/runs.py").run()
    assert not at.exception
    listed = next(df for df in at.dataframe if df.proto.id.endswith("runs_table")).value
    assert {long_run, tiny} <= set(listed["id"])
