"""WorkerManager: real spawned worker processes running the stand-in jobs of fake_jobs.py."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
from fake_jobs import dead_pid

from cwrnn.runs.manager import POLL_INTERVAL_S, WorkerManager, default_max_workers, ensure_manager, run_job

PLAY = "fake_jobs:play"  # runs the fake job named by the run's config["play"]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.05)


@pytest.fixture
def make_manager(store):
    """Build (not start) WorkerManagers on the store's home; all are terminated after the test."""
    managers: list[WorkerManager] = []

    def make(max_workers: int = 1, job_target: str = PLAY) -> WorkerManager:
        managers.append(WorkerManager(store.home, max_workers=max_workers, job_target=job_target))
        return managers[-1]

    yield make
    for manager in managers:
        manager.stop(timeout=5, terminate=True)


def test_start_marks_orphans_then_trains_queued_and_submitted_runs(store, make_manager):
    done = store.create_run("toy", {"play": "complete"}, [0])
    store.claim_next(os.getpid())
    store.set_status(done, "completed", summary={"nmse": 0.1})
    orphan = store.create_run("toy", {"play": "complete"}, [0])
    store.claim_next(dead_pid())  # its worker died with the previous process
    store.add_metrics(orphan, [("cwrnn", 0, 0, "loss", 0.5)])
    queued = store.create_run("toy", {"play": "complete"}, [0])

    manager = make_manager(max_workers=2)
    assert manager.start() == [orphan]
    run = store.get_run(orphan)
    assert run["status"] == "interrupted" and "not resumed" in run["error"]
    assert store.metrics(orphan)["value"].tolist() == [0.5]

    submitted = manager.submit("toy", {"play": "complete"}, [0, 1], name="first")
    assert manager.wait([queued, submitted], timeout=60)
    assert store.get_run(queued)["status"] == "completed"
    run = store.get_run(submitted)
    assert (run["status"], run["name"], run["error"]) == ("completed", "first", None)
    assert run["summary"] == {"nmse": 0.25} and run["device"] == "cpu"
    assert run["progress"] == {"epoch": 2, "total_epochs": 3}
    assert run["worker_pid"] not in (None, os.getpid())
    assert run["created_at"] <= run["started_at"] <= run["finished_at"]
    frame = store.metrics(submitted)
    assert frame[["seed", "epoch", "value"]].values.tolist() == [[s, e, 1 / (e + 1)] for e in range(3) for s in (0, 1)]
    wait_for(lambda: manager.active() == [])

    manager.cancel(done)  # a finished run is left as it is
    finished = store.get_run(done)
    assert finished["status"] == "completed" and finished["summary"] == {"nmse": 0.1}
    assert not finished["cancel_requested"]


def test_a_worker_that_raises_or_dies_fails_its_run_and_keeps_its_data(store, make_manager):
    plays = ["raise_error", "kill_self", "exit_abruptly"]
    manager = make_manager(max_workers=len(plays))
    manager.start()
    ids = {play: manager.submit("toy", {"play": play}, [0]) for play in plays}
    assert manager.wait(ids.values(), timeout=60)
    runs = {play: store.get_run(run_id) for play, run_id in ids.items()}
    assert [run["status"] for run in runs.values()] == ["failed"] * 3

    log_path = store.log_path(ids["raise_error"])
    assert runs["raise_error"]["error"] == f"ValueError: learning rate -1 is negative (traceback in {log_path})"
    log = log_path.read_text()
    assert "Traceback (most recent call last)" in log and "fake_jobs.py" in log and "second line only in the log" in log

    killed = runs["kill_self"]
    assert killed["error"].startswith(
        "worker process was killed (signal 9, SIGKILL); the system may have run out of memory"
    )
    assert killed["finished_at"] - killed["progress"]["killed_at"] < 2.0
    assert "killed (signal 9, SIGKILL)" in store.log_path(ids["kill_self"]).read_text()
    assert runs["exit_abruptly"]["error"].startswith("worker process exited with code 3 before the run finished")
    for run_id in ids.values():  # what each job wrote before it ended is kept
        assert store.metrics(run_id)["epoch"].tolist() == [0]


@pytest.fixture
def run_here(store, monkeypatch):
    """Run a job through run_job in this process, for outcomes that need no real worker to die."""
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep Ctrl+C working in pytest

    def run(job_target: str, config: dict) -> dict:
        run_id = store.create_run("toy", config, [0])
        store.claim_next(os.getpid())
        run_job(run_id, str(store.home), job_target)
        return store.get_run(run_id)

    return run


def test_run_job_records_what_the_job_function_could_not(store, run_here):
    run = run_here(PLAY, {"play": "diverge"})
    assert (run["status"], run["error"]) == ("diverged", "loss became NaN at epoch 1")  # the job's own word

    run = run_here(PLAY, {"play": "forget_status"})
    assert run["status"] == "failed"
    assert run["error"] == "the job fake_jobs:play returned without setting a final status (a bug in the job)"

    run = run_here("fake_jobs:no_such_job", {})
    assert run["status"] == "failed"
    assert run["error"].startswith(
        "ValueError: job_target 'fake_jobs:no_such_job': module fake_jobs has no function no_such_job"
    )
    assert "Traceback" in store.log_path(run["id"]).read_text()


def test_cancel_drops_a_queued_run_stops_a_running_one_and_stop_terminates_the_rest(store, make_manager):
    manager = make_manager(max_workers=2)
    manager.start()
    first, second = (manager.submit("toy", {"play": "until_cancelled"}, [0]) for _ in range(2))
    queued = manager.submit("toy", {"play": "complete"}, [0])
    wait_for(lambda: store.last_epoch(first) >= 2 and store.last_epoch(second) >= 2)
    assert manager.active() == [first, second]

    manager.cancel(queued)
    assert store.get_run(queued)["status"] == "cancelled"
    manager.cancel(first)
    assert manager.wait(first, timeout=10)
    assert store.get_run(first)["status"] == "cancelled" and store.last_epoch(first) >= 2

    assert manager.stop(timeout=0.2) is False  # the second run is left to finish
    epoch = store.last_epoch(second)
    wait_for(lambda: store.last_epoch(second) > epoch)
    late = manager.submit("toy", {"play": "complete"}, [0])

    assert manager.stop(timeout=5, terminate=True) is True
    run = store.get_run(second)
    assert run["status"] == "interrupted" and "shut down" in run["error"]
    assert store.last_epoch(second) > epoch
    time.sleep(2 * POLL_INTERVAL_S)
    assert store.get_run(late)["status"] == "queued"  # a stopped manager takes no more runs
    assert store.get_run(queued)["started_at"] is None


def test_never_more_than_max_workers_train_at_once(store, make_manager):
    manager = make_manager(max_workers=2)
    manager.start()
    ids = [manager.submit("toy", {"play": "complete", "sleep_s": 0.2}, [seed]) for seed in range(6)]
    most_active = 0
    while not manager.wait(ids, timeout=0):
        most_active = max(most_active, len(manager.active()))
        time.sleep(0.02)
    runs = [store.get_run(run_id) for run_id in ids]
    assert [run["status"] for run in runs] == ["completed"] * 6
    spans = [(run["started_at"], run["finished_at"]) for run in runs]
    running_at_each_start = [sum(start <= t < end for start, end in spans) for t, _ in spans]
    assert max(running_at_each_start) == 2 and most_active == 2
    assert [start for start, _ in spans] == sorted(start for start, _ in spans)  # oldest first


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 1), (3, 1), (4, 2), (6, 3), (8, 4), (64, 4)])
def test_default_max_workers_is_half_the_cores_between_1_and_4(cores, expected):
    assert default_max_workers(cores) == expected


def test_default_max_workers_reads_this_machine():
    assert 1 <= default_max_workers() <= 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_workers": 0}, "max_workers must be a positive integer"),
        ({"max_workers": True}, "max_workers must be a positive integer"),
        ({"job_target": "fake_jobs.play"}, "must look like 'package.module:function'"),
        ({"job_target": "fake_jobs:"}, "must look like"),
        ({"job_target": "no_such_module_anywhere:run"}, "no module named 'no_such_module_anywhere'"),
    ],
)
def test_bad_manager_arguments_are_refused(store, kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkerManager(store.home, **({"job_target": PLAY} | kwargs))


def test_ensure_manager_gives_one_started_manager_per_home(store, tmp_path):
    orphan = store.create_run("toy", {}, [0])
    store.claim_next(dead_pid())
    found: list[WorkerManager] = []

    def call() -> None:
        found.append(ensure_manager(store.home, job_target=PLAY))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    manager = found[0]
    others: list[WorkerManager] = []
    try:
        assert all(each is manager for each in found) and not manager.stopped
        assert store.get_run(orphan)["status"] == "interrupted"  # it was started
        assert ensure_manager(job_target=PLAY) is manager  # CWRNN_HOME names the same folder
        assert ensure_manager(store.home / ".", job_target=PLAY) is manager
        others.append(ensure_manager(tmp_path / "elsewhere", job_target=PLAY))
        assert others[0] is not manager
        with pytest.raises(ValueError, match="already runs with job_target='fake_jobs:play'"):
            ensure_manager(store.home, job_target="fake_jobs:complete")
        manager.stop(timeout=1)
        others.append(ensure_manager(store.home, job_target=PLAY))
        assert others[1] is not manager and not others[1].stopped
    finally:
        for each in [manager, *others]:
            each.stop(timeout=1, terminate=True)


def test_a_standby_worker_takes_the_next_run_and_is_replaced(store, make_manager):
    manager = make_manager(max_workers=1)
    manager.start()
    wait_for(lambda: manager._standby is not None)
    waiting = manager._standby.pid
    run_id = manager.submit("toy", {"play": "complete"}, [0])
    assert manager.wait([run_id], timeout=30)
    assert store.get_run(run_id)["worker_pid"] == waiting and store.get_run(run_id)["status"] == "completed"
    wait_for(lambda: manager._standby is not None and manager._standby.pid != waiting)
    manager.stop(timeout=5)
    wait_for(lambda: manager._standby is None)
