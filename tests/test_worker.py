"""The real worker job end to end: queue a configuration, train it in a spawned process, read it back."""

import os
import signal
import time

import numpy as np
import pytest
import torch

from cwrnn.config import validate
from cwrnn.runs.manager import WorkerManager
from cwrnn.runs.store import RunStore
from cwrnn.runs.worker import MS_WINDOW, StoreCallback

TINY = {"clips": [0], "budget": 100, "epochs": 40, "seeds": 2, "snapshot_every": 10, "steps": 64}


@pytest.fixture
def manager(tmp_path):
    m = WorkerManager(tmp_path, max_workers=1)
    m.start()
    yield m
    m.stop(timeout=5, terminate=True)


def _submit(manager, **overrides):
    cfg = validate({**TINY, **overrides})
    return manager.submit(cfg.task, cfg.to_dict(), cfg.seed_list)


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_lifecycle_metrics_snapshots_and_artifacts(manager, tmp_path):
    run_id = _submit(manager)
    assert manager.wait([run_id], timeout=120)
    store = RunStore(tmp_path)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    assert run["device"] == "cpu" and run["versions"]["torch"] == torch.__version__
    m = store.metrics(run_id)
    assert set(m["arch"]) == {"cwrnn", "srn", "lstm"} and m["epoch"].max() == 40
    assert len(m[(m.name == "nmse") & (m.arch == "cwrnn") & (m.epoch == 40)]) == 2  # one row per seed
    assert store.metrics(run_id, after_epoch=35)["epoch"].min() == 36
    epoch, arrays, meta = store.load_snapshot(run_id)
    assert epoch == 40 and arrays["hidden/cwrnn"].shape == (64, sum(meta["module_sizes"]))
    assert arrays["active"].shape == (len(meta["periods"]), 64)
    assert {"cwrnn.pt", "srn.pt", "lstm.pt", "config.json", "target.wav", "cwrnn.wav"} <= set(
        store.list_artifacts(run_id)
    )
    weights = store.load_weights(run_id, "cwrnn")
    assert weights["core.W_H"].shape[0] == 2  # both seeds
    final = run["summary"]["final"]["cwrnn"]["nmse"]["mean"]
    assert np.isclose(final, m[(m.name == "nmse") & (m.arch == "cwrnn") & (m.epoch == 40)]["value"].mean(), rtol=0.5)
    assert run["progress"]["epoch"] == 40 and run["progress"]["eta_s"] == 0
    ms = run["progress"]["ms_per_epoch"]
    assert set(ms) == {m["arch"] for m in run["progress"]["models"]} and all(v > 0 for v in ms.values())
    assert run["summary"]["ms_per_epoch"] == ms


def test_stop_a_running_job_keeps_its_data(manager, tmp_path):
    run_id = _submit(manager, epochs=20_000)
    store = RunStore(tmp_path)
    assert _wait_for(lambda: store.last_epoch(run_id) >= 5)
    manager.cancel(run_id)
    assert manager.wait([run_id], timeout=30)
    run = store.get_run(run_id)
    assert run["status"] == "cancelled" and store.last_epoch(run_id) < 20_000
    assert store.load_snapshot(run_id) is not None and "cwrnn.pt" in store.list_artifacts(run_id)


def test_sigkilled_worker_is_marked_failed_and_data_is_kept(manager, tmp_path):
    run_id = _submit(manager, epochs=20_000)
    store = RunStore(tmp_path)
    assert _wait_for(lambda: store.last_epoch(run_id) >= 5)
    os.kill(store.get_run(run_id)["worker_pid"], signal.SIGKILL)
    assert manager.wait([run_id], timeout=15)
    run = store.get_run(run_id)
    assert run["status"] == "failed" and "killed" in run["error"]
    assert store.last_epoch(run_id) >= 5 and store.load_snapshot(run_id) is not None


def test_nan_run_is_marked_diverged(manager, tmp_path):
    run_id = _submit(
        manager, preset="paper-words", lr=10.0, momentum=0.9, baselines=["srn"], epochs=500, seeds=1, steps=320
    )  # no clipping; NaN outputs must not break saving the audio
    assert manager.wait([run_id], timeout=120)
    run = RunStore(tmp_path).get_run(run_id)
    assert run["status"] == "diverged" and "diverged at epoch" in run["error"]


def test_time_per_epoch_leaves_out_the_warm_up_epoch_once_there_are_others():
    cb = StoreCallback(None, 0)
    cb.on_epoch_seconds(1, {"cwrnn": 5.0, "srn": 4.0})
    assert cb.ms_per_epoch() == {"cwrnn": 5000.0, "srn": 4000.0}  # all there is
    for epoch, s in enumerate([0.1, 0.3, 0.2], 2):
        cb.on_epoch_seconds(epoch, {"cwrnn": s, "srn": 2 * s})
    assert cb.ms_per_epoch() == pytest.approx({"cwrnn": 200.0, "srn": 400.0})
    for epoch in range(5, 5 + MS_WINDOW):  # only the recent epochs count
        cb.on_epoch_seconds(epoch, {"cwrnn": 1.0, "srn": 1.0})
    assert cb.ms_per_epoch() == {"cwrnn": 1000.0, "srn": 1000.0}
