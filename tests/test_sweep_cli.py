"""`cwrnn sweep`: a tiny sweep end to end (stored as one run, a table per architecture, --json), queued
sweeps, the sweep job's dispatch, and bad rate lists."""

import json
import time

import pytest

from cwrnn import grid, paper
from cwrnn.cli import main
from cwrnn.config import TUNED_DESIGNS, TUNED_PRESETS
from cwrnn.runs.jobs import job_kind
from cwrnn.runs.store import RunStore
from cwrnn.sweep import MAX_SETTINGS, sweep

TINY = ["--budget", "100", "--archs", "cwrnn", "srn", "--seeds", "1", "--epochs", "3", "--workers", "1"]


def test_a_tiny_sweep_is_one_stored_run_with_its_table_and_json(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    argv = ["sweep", *TINY, "--lr", "1e-4", "1e-2", "--home", str(tmp_path / "home"), "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    (run,) = RunStore(tmp_path / "home").list_runs()
    assert (run["task"], run["status"], job_kind(run["config"])) == ("generation-sweep", "completed", "sweep")
    rows = run["summary"]["rows"]
    assert [(r["arch"], r["lr"]) for r in rows] == [("cwrnn", 1e-4), ("cwrnn", 1e-2), ("srn", 1e-4), ("srn", 1e-2)]
    assert json.loads(out.read_text())["rows"] == rows
    # the same sweep through the library, in this process: the same networks
    direct = sweep({"budget": 100, "epochs": 3, "preset": "paper-generation"}, ["cwrnn", "srn"], [1e-4, 1e-2], [0])
    for stored, alone in zip(rows, direct):
        assert stored["values"] == pytest.approx(alone["values"], rel=1e-5)
    assert (
        "CW-RNN\n" in printed
        and "SRN\n" in printed
        and sum(" * " in line for line in printed.splitlines() if line.startswith(("cwrnn ", "srn "))) == 2
    )
    for r in rows:
        assert f"{r['lr']:>9.3g}" in printed


def test_background_queues_the_sweep_untrained(tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["sweep", *TINY, "--lr", "1e-3", "--background", "--home", str(home)]) == 0
    (run,) = RunStore(home).list_runs()
    assert (
        run["status"] == "queued" and run["config"]["rates"] == [1e-3] and "queued sweep run" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "rates, message",
    [
        (["nan"], r"rates must be finite numbers in (0, 10]; these are not: [nan]"),
        (["1e-3", "-0.001"], "these are not: [-0.001]"),
        (["0"], "these are not: [0.0]"),
        (["1e-3", "1e-3"], "rates has repeats"),
        ([str(1e-5 * (i + 1)) for i in range(MAX_SETTINGS + 1)], f"at most {MAX_SETTINGS} rates"),
    ],
)
def test_bad_rate_lists_say_what_is_wrong_and_store_nothing(tmp_path, capsys, rates, message):
    home = tmp_path / "home"
    assert main(["sweep", *TINY, "--lr", *rates, "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (home / "runs.db").exists() or RunStore(home).list_runs() == []


def test_an_empty_rate_list_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["sweep", "--lr"])
    assert exit.value.code == 2 and "--lr: expected at least one argument" in capsys.readouterr().err


@pytest.mark.parametrize("experiment", ["generation", "words", "handwriting"])
def test_reproduce_tuned_trains_the_tuned_preset(monkeypatch, experiment):
    seen = []
    monkeypatch.setattr(grid, "run_grid", lambda base, *a, **k: seen.append(base) or [])
    for flags in ([], ["--tuned"]):
        main(["reproduce", experiment, "--sizes", "1000" if experiment == "generation" else "10000", *flags])
    assert [base.preset for base in seen] == [f"paper-{experiment}", TUNED_PRESETS[experiment]]
    if experiment == "handwriting":  # the tuned preset trains on the input and clock it was tuned with
        assert [(base.ink_input, base.periods) for base in seen] == [
            ("paper", paper.HANDWRITING_PERIODS),
            (TUNED_DESIGNS["handwriting"]["ink_input"], TUNED_DESIGNS["handwriting"]["periods"]),
        ]


def test_reproduce_handwriting_takes_an_input_and_refuses_an_unknown_one(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(grid, "run_grid", lambda base, *a, **k: seen.append(base.ink_input) or [])
    main(["reproduce", "handwriting", "--sizes", "10000", "--ink-input", "offsets"])
    assert seen == ["offsets"]
    assert main(["reproduce", "handwriting", "--sizes", "10000", "--ink-input", "dxdy"]) == 2
    err = capsys.readouterr().err
    assert "ink_input must be one of paper, offsets, got 'dxdy'" in err and "Traceback" not in err


def test_the_background_job_trains_a_queued_sweep(tmp_path):
    """What a lab's worker does with a queued sweep: jobs.execute hands it to the sweep job."""
    from cwrnn.runs.jobs import execute
    from cwrnn.sweep import SWEEP_TASKS, sweep_request

    store = RunStore(tmp_path)
    raw = sweep_request("generation", 100, ["srn"], [1e-3, 1e-4], seeds=2, epochs=2)
    run_id = store.create_run(SWEEP_TASKS["generation"], raw, [0, 1])
    store.claim_next(1)
    execute(run_id, str(tmp_path))
    run = store.get_run(run_id)
    assert run["status"] == "completed" and run["progress"]["epoch"] == run["progress"]["total_epochs"] == 1
    assert [(r["arch"], r["lr"], r["n"] + r["diverged"]) for r in run["summary"]["rows"]] == [
        ("srn", 1e-3, 10),
        ("srn", 1e-4, 10),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--budget", "5"], "budget"),
        (["--archs", "rnn"], "archs must be a list drawn from"),
        (["--seeds", "0"], "seeds"),
    ],
)
def test_other_bad_sweeps_say_what_is_wrong(tmp_path, capsys, args, message):
    assert main(["sweep", *args, "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_a_sweep_stopped_before_it_starts_and_its_row_in_the_runs_table(store):
    from cwrnn.app import runs_view
    from cwrnn.runs.jobs import execute
    from cwrnn.sweep import SWEEP_TASKS, sweep_request

    raw = sweep_request("words", 500, ["lstm", "srn"], [1e-3], seeds=1, epochs=4)
    run_id = store.create_run(SWEEP_TASKS["words"], raw, [0])
    store.claim_next(1)
    store.request_cancel(run_id)
    execute(run_id, str(store.home))
    run = store.get_run(run_id)
    assert (run["status"], run["error"]) == ("cancelled", "stopped by request after 0 of 2 architectures")
    assert run["summary"]["rows"] == [] and run["summary"]["metric"] == "validation_error"
    row = runs_view.runs_table([run]).iloc[0]
    assert (row["task"], row["architectures"], row["budget"], row["epochs"]) == ("words-sweep", "SRN, LSTM", 500, 4)
    assert "0 of 2 cells done" in runs_view.status_text(run)[0]


def test_stop_is_heard_while_an_architecture_trains_and_keeps_no_half_trained_row(store):
    import threading

    from cwrnn.runs.jobs import execute
    from cwrnn.sweep import SWEEP_TASKS, sweep_request

    # far more epochs than the test waits for: only a stop inside the architecture's training ends it
    raw = sweep_request("generation", 100, ["srn", "cwrnn"], [1e-3], seeds=1, epochs=20_000)
    run_id = store.create_run(SWEEP_TASKS["generation"], raw, [0])
    store.claim_next(1)
    job = threading.Thread(target=execute, args=(run_id, str(store.home)), daemon=True)
    job.start()
    time.sleep(3)
    store.request_cancel(run_id)
    job.join(timeout=120)
    assert not job.is_alive()
    run = store.get_run(run_id)
    assert run["status"] == "cancelled" and run["summary"]["rows"] == []


@pytest.mark.parametrize("workers, parallel", [(None, True), (2, True), (1, False)])
def test_the_sweep_job_trains_in_processes_unless_it_holds_one_slot(store, monkeypatch, workers, parallel):
    import cwrnn.sweep as sweep_module
    from cwrnn.sweep import SWEEP_TASKS, execute_sweep, sweep_request

    calls = []

    def recorded(cells, workers=None, backend=None):
        calls.append(workers)
        return iter([(cell, sweep_module.train_sweep_cell(cell)) for cell in cells])

    monkeypatch.setattr(sweep_module, "run_cells", recorded)
    raw = sweep_request("generation", 100, ["cwrnn"], [1e-3], seeds=1, epochs=2)
    run_id = store.create_run(SWEEP_TASKS["generation"], raw, [0])
    store.claim_next(1)
    execute_sweep(run_id, str(store.home), workers=workers)
    assert (calls == [workers]) is parallel and store.get_run(run_id)["status"] == "completed"
