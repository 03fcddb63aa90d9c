"""RunStore: runs, metrics, snapshots and files in SQLite, checked through the API and raw SQL."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_jobs import dead_pid

from cwrnn.runs.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    STATUSES,
    RunNotFound,
    RunStore,
    StoreError,
    default_home,
    snapshots_to_keep,
)


def raw(store: RunStore) -> sqlite3.Connection:
    """A plain SQLite connection to the store's file, to check what is really stored."""
    return sqlite3.connect(store.path)


# ---- home, file format, schema ---------------------------------------------------------------


def test_default_home_follows_cwrnn_home_then_xdg_then_local_share(monkeypatch, tmp_path):
    monkeypatch.setenv("CWRNN_HOME", str(tmp_path / "lab"))
    assert default_home() == tmp_path / "lab"
    monkeypatch.delenv("CWRNN_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "cwrnn"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert default_home() == tmp_path / "me" / ".local" / "share" / "cwrnn"


def test_store_without_home_uses_cwrnn_home(store):
    assert RunStore().path == store.home / "runs.db"


def test_new_database_is_wal_tagged_and_current(store):
    with raw(store) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID == 0x43574C42
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn = store._connection()
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_each_thread_gets_its_own_connection(store):
    seen = []
    thread = threading.Thread(target=lambda: seen.append(store._connection()))
    thread.start()
    thread.join()
    assert seen[0] is not store._connection()


V1_SCHEMA = f"""
PRAGMA application_id = {0x43574C42};
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, task TEXT NOT NULL, config TEXT NOT NULL,
    seeds TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL,
    finished_at REAL, device TEXT, versions TEXT, error TEXT, progress TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0, worker_pid INTEGER, summary TEXT);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    arch TEXT NOT NULL, seed INTEGER NOT NULL, epoch INTEGER NOT NULL, name TEXT NOT NULL, value REAL);
INSERT INTO runs (name, task, config, seeds, status, created_at, finished_at, summary)
    VALUES ('old', 'sequence_generation', '{{"lr": 0.0003}}', '[0, 1]', 'completed', 1.0, 2.0, '{{"nmse": 0.01}}');
INSERT INTO metrics VALUES (1, 'cwrnn', 0, 0, 'loss', 0.5), (1, 'cwrnn', 0, 1, 'loss', 0.25);
PRAGMA user_version = 1;
"""


def test_version_1_database_is_migrated_and_keeps_its_data(tmp_path):
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        conn.executescript(V1_SCHEMA)
    store = RunStore(tmp_path)
    with raw(store) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    run = store.get_run(1)
    assert (run["name"], run["status"], run["config"], run["seeds"]) == ("old", "completed", {"lr": 0.0003}, [0, 1])
    assert run["summary"] == {"nmse": 0.01}
    assert store.metrics(1)["value"].tolist() == [0.5, 0.25]
    store.add_snapshot(1, 1, {"h": np.zeros(3)}, {})  # the table version 2 added
    assert store.snapshot_epochs(1) == [1]
    assert store.create_run("t", {}, [0]) == 2


def test_database_from_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            f"PRAGMA application_id = {APPLICATION_ID}; CREATE TABLE runs (id INTEGER PRIMARY KEY);"
            f"PRAGMA user_version = {SCHEMA_VERSION + 1};"
        )
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"newer version of Clockwork Lab .*schema version {SCHEMA_VERSION + 1}"):
        RunStore(tmp_path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"these are not the bytes of a database\n" * 100, b"x"])
def test_corrupt_file_is_refused_untouched(tmp_path, content):
    path = tmp_path / "runs.db"
    path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="is not a Clockwork Lab run database"):
        RunStore(tmp_path)
    assert path.read_bytes() == before


def test_damaged_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="is not a Clockwork Lab run database"):
        RunStore(tmp_path)
    assert path.read_bytes() == before


def test_another_programs_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        RunStore(tmp_path)
    assert path.read_bytes() == before


# ---- locking ---------------------------------------------------------------------------------


def hold_write_lock(store: RunStore) -> sqlite3.Connection:
    """Another connection holding the write lock, as a busy worker in another process would."""
    holder = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_write_waits_out_a_lock_held_longer_than_the_sqlite_timeout(tmp_path):
    store = RunStore(tmp_path, timeout=0.05, retries=6)
    holder = hold_write_lock(store)
    releaser = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    releaser.start()
    started = time.monotonic()
    run_id = store.create_run("t", {}, [0])
    waited = time.monotonic() - started
    releaser.join()
    assert waited >= 0.3  # it did wait for the lock, well past one 0.05 s sqlite timeout
    assert store.get_run(run_id)["status"] == "queued"


def test_lock_that_is_never_released_gives_a_clear_error(tmp_path):
    store = RunStore(tmp_path, timeout=0.05, retries=2)
    holder = hold_write_lock(store)
    try:
        with pytest.raises(StoreError, match=r"stayed locked by another process .*3 tries"):
            store.create_run("t", {}, [0])
    finally:
        holder.execute("ROLLBACK")
    assert store.list_runs() == []


# ---- runs ------------------------------------------------------------------------------------


def test_create_and_get_run_round_trips_json_fields(store):
    before = time.time()
    config = {"lr": np.float32(0.5), "periods": [1, 2]}
    run_id = store.create_run("sequence_generation", config, [3, np.int64(4)], name="first")
    run = store.get_run(run_id)
    assert run["id"] == run_id and run["name"] == "first" and run["task"] == "sequence_generation"
    assert run["config"] == {"lr": 0.5, "periods": [1, 2]}
    assert run["seeds"] == [3, 4]
    assert run["status"] == "queued" and run["cancel_requested"] is False
    assert before <= run["created_at"] <= time.time()
    assert run["started_at"] is run["finished_at"] is run["summary"] is run["progress"] is None


def test_missing_run_raises_run_not_found(store):
    with pytest.raises(RunNotFound, match="no run with id 42") as caught:
        store.get_run(42)
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, StoreError)
    for call in (store.cancel_requested, store.metrics, store.snapshot_epochs, store.artifact_dir, store.delete_run):
        with pytest.raises(RunNotFound):
            call(42)
    with pytest.raises(RunNotFound):
        store.set_status(42, "failed")
    with pytest.raises(RunNotFound):
        store.add_metrics(42, [("cwrnn", 0, 0, "loss", 1.0)])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": ""}, "task must be a non-empty string"),
        ({"config": [1, 2]}, "config must be a dict"),
        ({"config": {"f": object()}}, "config must hold only numbers"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"seeds": [-1]}, "non-negative"),
        ({"seeds": [True]}, "seeds must be"),
        ({"seeds": "12"}, "seeds must be"),
        ({"name": 5}, "name must be a string"),
    ],
)
def test_create_run_rejects_bad_input(store, kwargs, message):
    args = {"task": "t", "config": {}, "seeds": [0]} | kwargs
    with pytest.raises(ValueError, match=message):
        store.create_run(**args)
    assert store.list_runs() == []


def test_list_runs_newest_first_and_by_status(store):
    ids = [store.create_run("t", {"i": i}, [0]) for i in range(3)]
    store.set_status(ids[1], "failed", error="boom")
    assert [run["id"] for run in store.list_runs()] == ids[::-1]
    assert [run["id"] for run in store.list_runs("queued")] == [ids[2], ids[0]]
    assert [run["error"] for run in store.list_runs("failed")] == ["boom"]
    with pytest.raises(ValueError, match="unknown run status 'done'; allowed: queued, running"):
        store.list_runs("done")


def test_claim_next_takes_the_oldest_queued_run(store):
    first, second = store.create_run("t", {}, [0]), store.create_run("t", {}, [1])
    claimed = store.claim_next(worker_pid=1234)
    assert claimed["id"] == first and claimed["status"] == "running" and claimed["worker_pid"] == 1234
    assert claimed["started_at"] is not None
    assert store.claim_next(1234)["id"] == second
    assert store.claim_next(1234) is None


def test_concurrent_claims_never_share_a_run(store):
    ids = {store.create_run("t", {}, [0]) for _ in range(30)}
    claimed: list[int] = []

    def worker() -> None:
        while (run := store.claim_next(os.getpid())) is not None:
            claimed.append(run["id"])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_set_status_sets_finished_at_and_respects_if_status(store):
    run_id = store.create_run("t", {}, [0])
    assert store.set_status(run_id, "completed", if_status="running") is False
    assert store.get_run(run_id)["status"] == "queued"
    store.claim_next(1)
    assert store.set_status(run_id, "completed", device="cpu", summary={"nmse": np.float64(0.5)})
    run = store.get_run(run_id)
    assert run["status"] == "completed" and run["device"] == "cpu" and run["summary"] == {"nmse": 0.5}
    assert run["finished_at"] >= run["started_at"]
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        store.set_status(run_id, "done")
    assert set(STATUSES) == {"queued", "running", "completed", "failed", "cancelled", "diverged", "interrupted"}


def test_progress_versions_and_cancel_flag(store):
    run_id = store.create_run("t", {}, [0])
    store.update_progress(run_id, {"epoch": 3, "total_epochs": 10, "losses": {"cwrnn": 0.1}, "eta_s": 2.5})
    store.set_versions(run_id, {"python": "3.11", "numpy": np.__version__})
    assert not store.cancel_requested(run_id)
    store.request_cancel(run_id)
    run = store.get_run(run_id)
    assert run["progress"] == {"epoch": 3, "total_epochs": 10, "losses": {"cwrnn": 0.1}, "eta_s": 2.5}
    assert run["versions"] == {"python": "3.11", "numpy": np.__version__}
    assert store.cancel_requested(run_id) and run["cancel_requested"] is True


def test_remove_queued_only_removes_queued_runs(store):
    queued, running = store.create_run("t", {}, [0]), store.create_run("t", {}, [1])
    store.set_status(running, "running")
    store.remove_queued(queued)
    with pytest.raises(RunNotFound):
        store.get_run(queued)
    with pytest.raises(StoreError, match=f"run {running} is running, not queued"):
        store.remove_queued(running)
    assert store.get_run(running)["status"] == "running"


def test_mark_interrupted_on_startup_only_touches_runs_of_dead_workers(store):
    orphan, alive, queued, done = (store.create_run("t", {}, [i]) for i in range(4))
    store.set_status(done, "completed")
    pid = dead_pid()
    store.set_status(orphan, "running")
    store.set_worker_pid(orphan, pid)
    store.set_status(alive, "running")
    store.set_worker_pid(alive, os.getpid())
    store.add_metrics(orphan, [("cwrnn", 0, 0, "loss", 1.0)])
    assert store.mark_interrupted_on_startup() == [orphan]
    run = store.get_run(orphan)
    assert run["status"] == "interrupted" and f"pid {pid}" in run["error"] and "not resumed" in run["error"]
    assert run["finished_at"] is not None and len(store.metrics(orphan)) == 1
    assert [store.get_run(i)["status"] for i in (alive, queued, done)] == ["running", "queued", "completed"]
    assert store.mark_interrupted_on_startup() == []


# ---- metrics ---------------------------------------------------------------------------------


def test_metrics_are_read_back_sorted_by_epoch_and_incrementally(store):
    run_id = store.create_run("t", {}, [0, 1])
    assert store.last_epoch(run_id) == -1
    assert store.metrics(run_id).empty
    assert list(store.metrics(run_id).columns) == ["arch", "seed", "epoch", "name", "value"]
    rows = [("cwrnn", seed, epoch, "loss", 10.0 * epoch + seed) for epoch in (2, 0, 1) for seed in (0, 1)]
    store.add_metrics(run_id, rows)
    numpy_row = ("srn", np.int64(1), np.int64(3), "loss", np.float32(0.5))
    store.add_metrics(run_id, [("lstm", 0, 1, "nmse", float("nan")), numpy_row])

    frame = store.metrics(run_id)
    assert frame["epoch"].tolist() == [0, 0, 1, 1, 1, 2, 2, 3]
    expected = sorted(rows + [("lstm", 0, 1, "nmse", float("nan")), ("srn", 1, 3, "loss", 0.5)], key=lambda r: r[2])
    assert frame[["arch", "seed", "epoch", "name"]].values.tolist() == [list(r[:4]) for r in expected]
    np.testing.assert_array_equal(frame["value"].to_numpy(), [r[4] for r in expected])  # NaN kept as NaN
    assert str(frame["seed"].dtype) == str(frame["epoch"].dtype) == "int64" and frame["value"].dtype == np.float64

    assert store.last_epoch(run_id) == 3
    newer = store.metrics(run_id, after_epoch=1)
    assert newer["epoch"].tolist() == [2, 2, 3]
    assert store.metrics(run_id, after_epoch=store.last_epoch(run_id)).empty


@pytest.mark.parametrize(
    "row, message",
    [
        (("cwrnn", 0, 0, "loss"), "metric rows are tuples"),
        (("", 0, 0, "loss", 1.0), "non-empty arch"),
        (("cwrnn", 0, -1, "loss", 1.0), "epoch must be an integer >= 0"),
        (("cwrnn", 0.5, 0, "loss", 1.0), "seed must be an integer"),
        (("cwrnn", 0, 0, "loss", "low"), "could not convert"),
    ],
)
def test_add_metrics_rejects_bad_rows_and_writes_nothing(store, row, message):
    run_id = store.create_run("t", {}, [0])
    with pytest.raises(ValueError, match=message):
        store.add_metrics(run_id, [("cwrnn", 0, 0, "loss", 1.0), row])
    assert store.metrics(run_id).empty


# ---- snapshots -------------------------------------------------------------------------------


def test_snapshot_round_trip_latest_and_missing(store):
    run_id = store.create_run("t", {}, [0])
    assert store.load_snapshot(run_id) is None
    arrays = {  # "file" would clash with np.savez's own argument
        "hidden": np.arange(12, dtype=np.float32).reshape(3, 4),
        "file": np.array([True, False]),
        "names": np.array(["a", "bc"]),
    }
    store.add_snapshot(run_id, 5, arrays, {"loss": 0.5})
    store.add_snapshot(run_id, 2, {"hidden": np.ones(2)}, {"loss": 0.9})
    epoch, loaded, meta = store.load_snapshot(run_id)
    assert epoch == 5 and meta == {"loss": 0.5} and loaded.keys() == arrays.keys()
    for key in arrays:
        np.testing.assert_array_equal(loaded[key], arrays[key])
        assert loaded[key].dtype == arrays[key].dtype
    assert store.load_snapshot(run_id, 2)[2] == {"loss": 0.9}
    assert store.load_snapshot(run_id, 3) is None
    store.add_snapshot(run_id, 5, {"hidden": np.zeros(1)}, {"loss": 0.1})  # replaces epoch 5
    assert store.snapshot_epochs(run_id) == [2, 5] and store.load_snapshot(run_id)[2] == {"loss": 0.1}


def test_snapshot_rejects_object_arrays_and_bad_meta(store):
    run_id = store.create_run("t", {}, [0])
    with pytest.raises(ValueError, match="dtype object"):
        store.add_snapshot(run_id, 0, {"x": np.array([None, 1])}, {})
    with pytest.raises(ValueError, match="snapshot meta must hold only"):
        store.add_snapshot(run_id, 0, {"x": np.zeros(1)}, {"f": object()})
    with pytest.raises(ValueError, match="epoch must be an integer >= 0"):
        store.add_snapshot(run_id, -1, {"x": np.zeros(1)}, {})
    assert store.snapshot_epochs(run_id) == []


@pytest.mark.parametrize(
    "epochs, sizes, max_count, max_bytes, kept",
    [
        ([0, 1, 2, 3, 10], [1] * 5, 5, 99, [0, 1, 2, 3, 10]),  # within both caps
        ([0, 1, 2, 3, 10], [1] * 5, 4, 99, [0, 2, 3, 10]),  # 1 and 2 tie (gap 2 each): the older goes
        ([0, 1, 2, 3, 10], [1] * 5, 3, 99, [0, 3, 10]),
        ([0, 5, 10], [1, 1, 8], 9, 9, [0, 10]),  # bytes: a middle one goes first
        ([0, 10], [5, 8], 9, 9, [10]),  # the latest is kept over the first
        ([0, 10], [5, 12], 9, 9, [10]),  # even when it alone is over the budget
    ],
)
def test_snapshots_to_keep(epochs, sizes, max_count, max_bytes, kept):
    assert snapshots_to_keep(epochs, sizes, max_count, max_bytes) == kept


def test_snapshots_are_thinned_to_the_count_cap_keeping_first_latest_and_a_spread(tmp_path):
    store = RunStore(tmp_path, max_snapshots=8)
    run_id = store.create_run("t", {}, [0])
    for epoch in range(200):
        store.add_snapshot(run_id, epoch, {"h": np.full(4, epoch)}, {"epoch": epoch})
        kept = store.snapshot_epochs(run_id)
        assert len(kept) == min(epoch + 1, 8)
        assert kept[0] == 0 and kept[-1] == epoch
    # Evenly spaced would be 28.4 epochs apart; thinning one snapshot at a time stays within twice that.
    assert max(np.diff(kept)) <= 2 * 199 / 7
    with raw(store) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 8
    epoch, arrays, meta = store.load_snapshot(run_id, kept[3])
    np.testing.assert_array_equal(arrays["h"], np.full(4, kept[3]))
    assert meta == {"epoch": kept[3]}


def test_snapshots_are_thinned_to_the_byte_cap(tmp_path):
    measure = RunStore(tmp_path)
    measure.add_snapshot(measure.create_run("t", {}, [0]), 0, {"h": np.zeros(1000)}, {})
    with raw(measure) as conn:
        one = conn.execute("SELECT length(arrays) FROM snapshots").fetchone()[0]
    store = RunStore(tmp_path, max_snapshots=60, max_snapshot_bytes=5 * one + 10)
    run_id = store.create_run("t", {}, [0])
    for epoch in range(0, 100, 3):
        store.add_snapshot(run_id, epoch, {"h": np.zeros(1000)}, {})
        kept = store.snapshot_epochs(run_id)
        assert kept[0] == 0 and kept[-1] == epoch and len(kept) == min(epoch // 3 + 1, 5)
    with raw(store) as conn:
        stored = conn.execute("SELECT sum(length(arrays)) FROM snapshots WHERE run_id = ?", (run_id,)).fetchone()[0]
    assert stored <= 5 * one + 10
    with pytest.raises(ValueError, match="larger than the per-run snapshot budget"):
        store.add_snapshot(run_id, 200, {"h": np.zeros(10_000)}, {})


# ---- artifacts, export, delete ---------------------------------------------------------------


def test_weights_round_trip_and_only_plain_tensors_load(store):
    import torch

    run_id = store.create_run("t", {}, [0])
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(3, dtype=torch.float64)}
    path = store.save_weights(run_id, "cwrnn-seed0", state)
    assert path == store.home / "artifacts" / str(run_id) / "cwrnn-seed0.pt"
    loaded = store.load_weights(run_id, "cwrnn-seed0")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)

    torch.save({"w": torch.zeros(1), "evil": Path("x")}, store.artifact_dir(run_id) / "pickled.pt")
    with pytest.raises(StoreError, match="weights_only=True"):
        store.load_weights(run_id, "pickled")
    with pytest.raises(StoreError, match=r"no weights named 'lstm'; it has \['cwrnn-seed0', 'pickled'\]"):
        store.load_weights(run_id, "lstm")
    with pytest.raises(ValueError, match="weights name '../x' is not allowed"):
        store.save_weights(run_id, "../x", state)


@pytest.mark.parametrize("bad", ["", "a/b", "../up", ".hidden", "a\\b", "-flag", "x" * 129])
def test_artifact_file_names_with_paths_are_refused(store, bad):
    run_id = store.create_run("t", {}, [0])
    with pytest.raises(ValueError, match="is not allowed.*no path separators"):
        store.save_artifact_bytes(run_id, bad, b"x")
    assert not (store.home / "artifacts").exists()


def test_artifact_bytes_are_listed_and_exported_with_config_metrics_and_summary(store, tmp_path):
    run_id = store.create_run("t", {"lr": 0.1}, [0, 1], name="demo")
    store.claim_next(1)
    store.add_metrics(run_id, [("cwrnn", s, e, "loss", 1.0 / (e + 1)) for e in range(3) for s in (0, 1)])
    store.save_artifact_bytes(run_id, "cwrnn.wav", b"RIFF fake wav")
    store.save_artifact_bytes(run_id, "config.json", b"an artifact that must not clobber the export's")
    store.set_status(run_id, "completed", summary={"nmse": 0.007})
    assert store.list_artifacts(run_id) == ["config.json", "cwrnn.wav"]

    out = store.export_run(run_id, tmp_path / "exports")
    assert out == tmp_path / "exports" / f"run-{run_id}"
    record = json.loads((out / "config.json").read_text())
    assert (record["task"], record["config"], record["seeds"], record["name"]) == ("t", {"lr": 0.1}, [0, 1], "demo")
    assert json.loads((out / "summary.json").read_text()) == {"nmse": 0.007}
    pd.testing.assert_frame_equal(pd.read_csv(out / "metrics.csv"), store.metrics(run_id), check_dtype=False)
    assert (out / "artifacts" / "cwrnn.wav").read_bytes() == b"RIFF fake wav"
    assert (out / "artifacts" / "config.json").read_bytes().startswith(b"an artifact")
    with pytest.raises(StoreError, match="already exists and is not empty"):
        store.export_run(run_id, tmp_path / "exports")


def test_delete_run_refuses_a_running_run_then_removes_everything(store):
    other = store.create_run("t", {}, [1])
    run_id = store.create_run("t", {}, [0])
    store.set_status(run_id, "running")
    store.add_metrics(run_id, [("cwrnn", 0, 0, "loss", 1.0)])
    store.add_metrics(other, [("cwrnn", 0, 0, "loss", 1.0)])
    store.add_snapshot(run_id, 0, {"h": np.zeros(2)}, {})
    store.save_artifact_bytes(run_id, "a.bin", b"1")
    store.append_log(run_id, "something happened")
    with pytest.raises(StoreError, match=f"run {run_id} is still running; cancel it"):
        store.delete_run(run_id)
    assert store.metrics(run_id).shape[0] == 1

    store.set_status(run_id, "cancelled")
    store.delete_run(run_id)
    with pytest.raises(RunNotFound):
        store.get_run(run_id)
    with raw(store) as conn:
        assert conn.execute("SELECT run_id FROM metrics").fetchall() == [(other,)]
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    assert not (store.home / "artifacts" / str(run_id)).exists()
    assert not store.log_path(run_id).exists()
    assert store.create_run("t", {}, [0]) == run_id + 1  # the deleted newest id is not reused
