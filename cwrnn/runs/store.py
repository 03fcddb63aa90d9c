"""The run store: every training run, its metrics, snapshots and files, in one home folder.

Layout of the home folder (see `default_home`)::

    runs.db                  runs, metrics and snapshots (SQLite in WAL mode)
    artifacts/<run_id>/      weights (torch.save) and other files of a run
    logs/run-<run_id>.log    tracebacks and reasons of failed workers

Several processes use one home at once (workers write, the UI reads). Every thread and process
opens its own connection, writes take the write lock up front (BEGIN IMMEDIATE) so two writers
never deadlock, and a lock held by another process is retried with backoff before giving up.
Nothing but SQLite may open runs.db while the lab runs (no open(), no shutil.copy): closing
any descriptor of it drops this process's locks on it, and WAL then corrupts the database.
"""

from __future__ import annotations

import io
import json
import operator
import os
import pickle
import random
import re
import shutil
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("queued", "running", "completed", "failed", "cancelled", "diverged", "interrupted")
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "diverged", "interrupted"})
LIVE_STATUSES = frozenset({"queued", "running"})  # a run that may still change
METRIC_COLUMNS = ("arch", "seed", "epoch", "name", "value")
DB_FILENAME = "runs.db"
# Written into the file header (PRAGMA application_id) so that another program's SQLite file
# is recognised as such and never migrated into ours. The bytes spell "CWLB".
APPLICATION_ID = 0x43574C42
_SMALLEST_DATABASE = 512  # bytes: SQLite writes whole pages, and the smallest page is 512 bytes

# _MIGRATIONS[i] takes a database from schema version i to i + 1 (PRAGMA user_version).
# Append new steps; never edit a released one, databases in the field were built by it.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs and their per-epoch metrics.
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: links to a run stay valid
            name TEXT,
            task TEXT NOT NULL,
            config TEXT NOT NULL,
            seeds TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            device TEXT,
            versions TEXT,
            error TEXT,
            progress TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            worker_pid INTEGER,
            summary TEXT
        )""",
        "CREATE INDEX runs_by_status ON runs (status, id)",
        """CREATE TABLE metrics (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            arch TEXT NOT NULL,
            seed INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL  -- SQLite stores NaN as NULL; it reads back as NaN
        )""",
    ),
    # 2: snapshots of model state for replaying training; an index for incremental metric reads.
    (
        """CREATE TABLE snapshots (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            arrays BLOB NOT NULL,
            nbytes INTEGER NOT NULL,
            meta TEXT NOT NULL,
            PRIMARY KEY (run_id, epoch)
        )""",
        "CREATE INDEX metrics_by_run_epoch ON metrics (run_id, epoch)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_JSON_FIELDS = ("config", "seeds", "versions", "progress", "summary")
_SAFE_FILENAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_T = TypeVar("_T")


#: Run ids are SQLite row ids, from 1 up to SQLite's largest INTEGER; no larger number names a run.
MAX_RUN_ID = 2**63 - 1


class StoreError(RuntimeError):
    """The run store cannot do what was asked; the message says why and what to do instead."""


class RunNotFound(StoreError, KeyError):
    """There is no run with the given id."""

    def __str__(self) -> str:  # KeyError's own __str__ would wrap the message in quotes
        return str(self.args[0])


def default_home() -> Path:
    """The store's folder: $CWRNN_HOME, else $XDG_DATA_HOME/cwrnn, else ~/.local/share/cwrnn."""
    if os.environ.get("CWRNN_HOME"):
        return Path(os.environ["CWRNN_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "cwrnn"


class RunStore:
    """Runs, metrics, snapshots and artifacts of one home folder; safe to share across threads.

    Every method returns plain data (dicts, lists, numpy arrays, pandas DataFrames); JSON fields
    (config, seeds, versions, progress, summary) come back decoded.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        max_snapshots: int = 60,
        max_snapshot_bytes: int = 64 * 2**20,
        timeout: float = 5.0,
        retries: int = 5,
    ) -> None:
        """Open (creating or migrating) `home/runs.db`.

        `timeout` is SQLite's own wait for a lock; after it, the operation is retried up to
        `retries` times with growing pauses before a StoreError is raised.
        """
        if max_snapshots < 1 or max_snapshot_bytes < 1:
            raise ValueError(
                f"max_snapshots and max_snapshot_bytes must be at least 1, got {max_snapshots} and {max_snapshot_bytes}"
            )
        if timeout <= 0 or retries < 0:
            raise ValueError(f"timeout must be > 0 and retries >= 0, got {timeout} and {retries}")
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.path = self.home / DB_FILENAME
        self.max_snapshots = max_snapshots
        self.max_snapshot_bytes = max_snapshot_bytes
        self._timeout = timeout
        self._retries = retries
        self._local = threading.local()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the run store folder {self.home}: {exc}") from exc
        self._check_size()
        if self._retrying(self._inspect) < SCHEMA_VERSION:
            self._transact(self._migrate, write=True)

    # ---- connections, transactions, schema -------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (one per thread and process: SQLite connections are not shared)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            # isolation_level=None: transactions are ours to open (BEGIN IMMEDIATE for writes)
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _retrying(self, attempt: Callable[[], _T]) -> _T:
        """Run `attempt`, retrying with backoff while another process holds the database lock."""
        started, pause, failures = time.monotonic(), 0.05, 0
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if not _is_lock_error(exc):
                    raise
                failures += 1
                if failures > self._retries:
                    raise StoreError(
                        f"the run database {self.path} stayed locked by another process for "
                        f"{time.monotonic() - started:.1f} s ({failures} tries); a process may be "
                        f"stuck inside a write. Try again, or stop that process."
                    ) from exc
            time.sleep(pause * random.uniform(0.5, 1.0))  # jitter: waiting writers do not retry in step
            pause = min(pause * 2, 2.0)

    def _transact(self, body: Callable[[sqlite3.Connection], _T], *, write: bool = False) -> _T:
        """Run `body(conn)` in one transaction (retried whole if the database is locked)."""

        def attempt() -> _T:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = body(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        return self._retrying(attempt)

    def _check_size(self) -> None:
        """Refuse a file too small to be a database, which SQLite would take for an empty one.

        Only stat, never open: closing any descriptor of the file would drop the POSIX locks
        that this process's SQLite connections hold on it, and with them WAL's safety.
        Anything larger SQLite checks itself (its header), without writing to it.
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot read the run database {self.path}: {exc}") from exc
        if 0 < size < _SMALLEST_DATABASE:
            raise self._not_ours("it is not an SQLite file")

    def _not_ours(self, why: str) -> StoreError:
        return StoreError(
            f"{self.path} is not a Clockwork Lab run database ({why}). It was left untouched; "
            f"move it away or set CWRNN_HOME to another folder."
        )

    def _inspect(self) -> int:
        """Check the file is ours and not from a newer version; switch to WAL. Returns its schema version."""
        try:
            conn = self._connection()
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_lock_error(exc):
                raise
            self.close()
            raise self._not_ours(f"SQLite cannot read it: {exc}") from exc
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and (has_tables or version)):
            self.close()
            raise self._not_ours("it is the SQLite database of another program")
        if version > SCHEMA_VERSION:
            self.close()
            raise StoreError(
                f"{self.path} was written by a newer version of Clockwork Lab (schema version "
                f"{version}; this version reads up to {SCHEMA_VERSION}). It was left untouched; "
                f"upgrade cwrnn to open it, or set CWRNN_HOME to another folder."
            )
        conn.execute("PRAGMA journal_mode = WAL")  # persistent: readers no longer block the writer
        return version

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        # Re-read inside the write lock: another process may have migrated since _inspect.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in _MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _require_run(self, conn: sqlite3.Connection, run_id: int) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM runs WHERE id = ?", (_run_id(run_id),)).fetchone()
        if row is None:
            raise RunNotFound(f"there is no run with id {run_id} in {self.path}")
        return row

    def _update(self, run_id: int, assignments: Mapping[str, Any]) -> None:
        columns = ", ".join(f"{column} = ?" for column in assignments)

        def update(conn: sqlite3.Connection) -> None:
            query = f"UPDATE runs SET {columns} WHERE id = ?"
            if conn.execute(query, (*assignments.values(), _run_id(run_id))).rowcount == 0:
                raise RunNotFound(f"there is no run with id {run_id} in {self.path}")

        self._transact(update, write=True)

    # ---- runs ------------------------------------------------------------------------------

    def create_run(
        self,
        task: str,
        config: Mapping[str, Any],
        seeds: Sequence[int],
        name: str | None = None,
        worker_pid: int | None = None,
    ) -> int:
        """Queue a new run; returns its id. With `worker_pid` the run starts out running in that process
        (one that trains it itself), so no lab's worker can claim it in between."""
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"task must be a non-empty string naming the task, got {task!r}")
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a dict, got {type(config).__name__}")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string or None, got {type(name).__name__}")
        values = (name, task, _to_json(dict(config), "config"), _to_json(_check_seeds(seeds), "seeds"))
        pid = None if worker_pid is None else _as_int(worker_pid, "worker pid", minimum=1)
        status = "queued" if pid is None else "running"

        def insert(conn: sqlite3.Connection) -> int:
            now = time.time()
            cursor = conn.execute(
                "INSERT INTO runs (name, task, config, seeds, status, created_at, started_at, worker_pid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, status, now, None if pid is None else now, pid),
            )
            return int(cursor.lastrowid)

        return self._transact(insert, write=True)

    def get_run(self, run_id: int) -> dict[str, Any]:
        """The run's record; raises RunNotFound if there is none."""
        return _decode_run(self._transact(lambda conn: self._require_run(conn, run_id)))

    def list_runs(self, status: str | None = None) -> list[dict[str, Any]]:
        """All runs (or those with `status`), newest first."""
        if status is None:
            query, params = "SELECT * FROM runs ORDER BY id DESC", ()
        else:
            query, params = "SELECT * FROM runs WHERE status = ? ORDER BY id DESC", (_check_status(status),)
        rows = self._transact(lambda conn: conn.execute(query, params).fetchall())
        return [_decode_run(row) for row in rows]

    def claim_next(self, worker_pid: int) -> dict[str, Any] | None:
        """Atomically move the oldest queued run to running for `worker_pid`; None if none is queued."""
        pid = _as_int(worker_pid, "worker pid", minimum=1)

        def claim(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT id FROM runs WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE runs SET status = 'running', started_at = ?, worker_pid = ? WHERE id = ?",
                (time.time(), pid, row["id"]),
            )
            return _decode_run(self._require_run(conn, row["id"]))

        return self._transact(claim, write=True)

    def set_status(
        self,
        run_id: int,
        status: str,
        *,
        error: str | None = None,
        device: str | None = None,
        summary: Mapping[str, Any] | None = None,
        if_status: str | None = None,
    ) -> bool:
        """Set the run's status (and error, device, summary when given).

        Terminal statuses set finished_at. With `if_status`, change only a run whose status is
        still `if_status` (atomically); returns whether the run was changed.
        """
        _check_status(status)
        if if_status is not None:
            _check_status(if_status)
        summary_json = None if summary is None else _to_json(dict(summary), "summary")
        finished_at = time.time() if status in TERMINAL_STATUSES else None

        def update(conn: sqlite3.Connection) -> bool:
            if if_status is not None and self._require_run(conn, run_id)["status"] != if_status:
                return False
            cursor = conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = COALESCE(?, error), "
                "device = COALESCE(?, device), summary = COALESCE(?, summary) WHERE id = ?",
                (status, finished_at, error, device, summary_json, _run_id(run_id)),
            )
            if cursor.rowcount == 0:
                raise RunNotFound(f"there is no run with id {run_id} in {self.path}")
            return True

        return self._transact(update, write=True)

    def set_worker_pid(self, run_id: int, worker_pid: int) -> None:
        """Record which process trains the run (checked by mark_interrupted_on_startup)."""
        self._update(run_id, {"worker_pid": _as_int(worker_pid, "worker pid", minimum=1)})

    def set_versions(self, run_id: int, versions: Mapping[str, Any]) -> None:
        """Record the library versions the run trains with (torch, numpy, python, cwrnn)."""
        self._update(run_id, {"versions": _to_json(dict(versions), "versions")})

    def update_progress(self, run_id: int, progress: Mapping[str, Any]) -> None:
        """Replace the run's progress record (epoch, total_epochs, losses, elapsed_s, eta_s, ...)."""
        self._update(run_id, {"progress": _to_json(dict(progress), "progress")})

    def request_cancel(self, run_id: int) -> None:
        """Ask the run's job to stop at its next epoch boundary."""
        self._update(run_id, {"cancel_requested": 1})

    def cancel_requested(self, run_id: int) -> bool:
        """Whether someone asked the run to stop (jobs poll this once per epoch)."""
        return bool(self._transact(lambda conn: self._require_run(conn, run_id))["cancel_requested"])

    def remove_queued(self, run_id: int) -> None:
        """Delete a run that has not started yet."""

        def remove(conn: sqlite3.Connection) -> None:
            status = self._require_run(conn, run_id)["status"]
            if status != "queued":
                raise StoreError(
                    f"run {run_id} is {status}, not queued; only queued runs can be removed from the "
                    f"queue (cancel a running run, or delete a finished one)"
                )
            conn.execute("DELETE FROM runs WHERE id = ?", (_run_id(run_id),))

        self._transact(remove, write=True)

    def mark_interrupted_on_startup(self) -> list[int]:
        """Mark runs left 'running' by a worker process that no longer exists as 'interrupted'.

        Interrupted runs are not resumed: their metrics, snapshots and files stay as they were,
        and the same configuration can be queued again. Returns the ids marked.
        """

        def mark(conn: sqlite3.Connection) -> list[int]:
            rows = conn.execute("SELECT id, worker_pid FROM runs WHERE status = 'running'").fetchall()
            orphans = [row for row in rows if not _pid_alive(row["worker_pid"])]
            now = time.time()
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?",
                [
                    (
                        now,
                        f"the worker process (pid {row['worker_pid']}) ended without finishing this "
                        f"run (the lab was shut down or crashed); it was not resumed",
                        row["id"],
                    )
                    for row in orphans
                ],
            )
            return [row["id"] for row in orphans]

        return self._transact(mark, write=True)

    def delete_run(self, run_id: int) -> None:
        """Delete the run, its metrics, snapshots, files and log. A running run must be cancelled first."""

        def delete(conn: sqlite3.Connection) -> None:
            if self._require_run(conn, run_id)["status"] == "running":
                raise StoreError(
                    f"run {run_id} is still running; cancel it and wait until it has stopped before deleting it"
                )
            conn.execute("DELETE FROM runs WHERE id = ?", (_run_id(run_id),))  # cascades

        self._transact(delete, write=True)
        shutil.rmtree(self._artifact_path(run_id), ignore_errors=True)
        self.log_path(run_id).unlink(missing_ok=True)

    # ---- metrics ---------------------------------------------------------------------------

    def add_metrics(self, run_id: int, rows: Iterable[Sequence[Any]]) -> None:
        """Append rows (arch, seed, epoch, name, value) in one transaction.

        Write all rows of an epoch in one call: readers poll with `metrics(after_epoch=...)`.
        """
        clean = [(_run_id(run_id), *_metric_row(row)) for row in rows]

        def insert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.executemany(
                "INSERT INTO metrics (run_id, arch, seed, epoch, name, value) VALUES (?, ?, ?, ?, ?, ?)",
                clean,
            )

        self._transact(insert, write=True)

    def metrics(self, run_id: int, after_epoch: int = -1) -> pd.DataFrame:
        """Metric rows with epoch > after_epoch, sorted by epoch (then by insertion)."""
        # Imported here, not at the top: workers never read metrics, and pandas adds a third
        # of a second to every worker process start.
        import pandas as pd

        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            self._require_run(conn, run_id)
            return conn.execute(
                "SELECT arch, seed, epoch, name, value FROM metrics WHERE run_id = ? AND epoch > ? "
                "ORDER BY epoch, rowid",
                (_run_id(run_id), _as_int(after_epoch, "after_epoch")),
            ).fetchall()

        frame = pd.DataFrame([tuple(row) for row in self._transact(read)], columns=list(METRIC_COLUMNS))
        return frame.astype({"seed": "int64", "epoch": "int64", "value": "float64"})

    def last_epoch(self, run_id: int) -> int:
        """The highest epoch with metrics, or -1 when there are none yet (a valid `after_epoch`)."""

        def read(conn: sqlite3.Connection) -> int | None:
            self._require_run(conn, run_id)
            return conn.execute("SELECT MAX(epoch) FROM metrics WHERE run_id = ?", (_run_id(run_id),)).fetchone()[0]

        last = self._transact(read)
        return -1 if last is None else int(last)

    # ---- snapshots -------------------------------------------------------------------------

    def add_snapshot(self, run_id: int, epoch: int, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        """Store the arrays and meta of one epoch (replacing any of that epoch), then thin the run's
        snapshots to at most `max_snapshots` and `max_snapshot_bytes`."""
        epoch = _non_negative_int(epoch, "epoch")
        blob = _pack_arrays(arrays)
        if not isinstance(meta, Mapping):
            raise ValueError(f"snapshot meta must be a dict, got {type(meta).__name__}")
        meta_json = _to_json(dict(meta), "snapshot meta")
        if len(blob) > self.max_snapshot_bytes:
            raise ValueError(
                f"a snapshot of {len(blob)} bytes is larger than the per-run snapshot budget of "
                f"{self.max_snapshot_bytes} bytes; store fewer or smaller arrays, or raise max_snapshot_bytes"
            )

        def insert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            rid = _run_id(run_id)
            conn.execute(
                "INSERT OR REPLACE INTO snapshots (run_id, epoch, arrays, nbytes, meta) VALUES (?, ?, ?, ?, ?)",
                (rid, epoch, blob, len(blob), meta_json),
            )
            stored = conn.execute(
                "SELECT epoch, nbytes FROM snapshots WHERE run_id = ? ORDER BY epoch", (rid,)
            ).fetchall()
            keep = set(
                snapshots_to_keep(
                    [row["epoch"] for row in stored],
                    [row["nbytes"] for row in stored],
                    self.max_snapshots,
                    self.max_snapshot_bytes,
                )
            )
            conn.executemany(
                "DELETE FROM snapshots WHERE run_id = ? AND epoch = ?",
                [(rid, row["epoch"]) for row in stored if row["epoch"] not in keep],
            )

        self._transact(insert, write=True)

    def snapshot_epochs(self, run_id: int) -> list[int]:
        """Epochs that have a snapshot, ascending."""

        def read(conn: sqlite3.Connection) -> list[int]:
            self._require_run(conn, run_id)
            rows = conn.execute("SELECT epoch FROM snapshots WHERE run_id = ? ORDER BY epoch", (_run_id(run_id),))
            return [row["epoch"] for row in rows]

        return self._transact(read)

    def load_snapshot(
        self, run_id: int, epoch: int | None = None
    ) -> tuple[int, dict[str, np.ndarray], dict[str, Any]] | None:
        """(epoch, arrays, meta) of the given epoch, or of the latest when epoch is None;
        None if there is no such snapshot (thinning may have removed it, see snapshot_epochs)."""

        def read(conn: sqlite3.Connection) -> sqlite3.Row | None:
            self._require_run(conn, run_id)
            if epoch is None:
                query = "SELECT * FROM snapshots WHERE run_id = ? ORDER BY epoch DESC LIMIT 1"
                return conn.execute(query, (_run_id(run_id),)).fetchone()
            query = "SELECT * FROM snapshots WHERE run_id = ? AND epoch = ?"
            return conn.execute(query, (_run_id(run_id), _non_negative_int(epoch, "epoch"))).fetchone()

        row = self._transact(read)
        if row is None:
            return None
        with np.load(io.BytesIO(row["arrays"]), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return int(row["epoch"]), arrays, json.loads(row["meta"])

    # ---- artifacts and logs ----------------------------------------------------------------

    def _artifact_path(self, run_id: int) -> Path:
        return self.home / "artifacts" / str(_run_id(run_id))

    def artifact_dir(self, run_id: int) -> Path:
        """The run's folder for files (it may not exist yet); raises RunNotFound for unknown runs."""
        self.get_run(run_id)
        return self._artifact_path(run_id)

    def save_artifact_bytes(self, run_id: int, filename: str, data: bytes) -> Path:
        """Write `data` as `filename` (no folders) in the run's artifact folder; returns the path."""
        _check_filename(filename, "artifact file name")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"artifact data must be bytes, got {type(data).__name__}")
        return _write_atomically(self.artifact_dir(run_id) / filename, lambda file: file.write(data))

    def save_weights(self, run_id: int, name: str, state_dict: Mapping[str, Any]) -> Path:
        """Save a model's state_dict as `<name>.pt` in the run's artifact folder; returns the path."""
        import torch  # imported here: a worker start must not pay for torch unless it uses it

        _check_filename(name, "weights name")
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"state_dict must be a dict of tensors, got {type(state_dict).__name__}")
        return _write_atomically(self.artifact_dir(run_id) / f"{name}.pt", lambda file: torch.save(state_dict, file))

    def load_weights(self, run_id: int, name: str) -> dict[str, Any]:
        """Load `<name>.pt` saved by save_weights, onto the CPU. Only tensors and plain containers
        are accepted (torch.load with weights_only=True): a file cannot run code when loaded."""
        import torch

        _check_filename(name, "weights name")
        path = self.artifact_dir(run_id) / f"{name}.pt"
        if not path.is_file():
            have = [item[:-3] for item in self.list_artifacts(run_id) if item.endswith(".pt")]
            raise StoreError(f"run {run_id} has no weights named {name!r}; it has {have}")
        try:
            return torch.load(path, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as exc:
            raise StoreError(
                f"{path} holds more than tensors and plain containers, so it was not loaded "
                f"(weights load with weights_only=True for safety): {exc}"
            ) from exc

    def list_artifacts(self, run_id: int) -> list[str]:
        """File names in the run's artifact folder, sorted."""
        folder = self.artifact_dir(run_id)
        if not folder.is_dir():
            return []
        return sorted(item.name for item in folder.iterdir() if item.is_file() and not item.name.startswith("."))

    def log_path(self, run_id: int) -> Path:
        """Where the run's worker log goes (home/logs/run-<id>.log)."""
        return self.home / "logs" / f"run-{_run_id(run_id)}.log"

    def append_log(self, run_id: int, text: str) -> Path:
        """Append a time-stamped entry to the run's log; returns the log's path."""
        path = self.log_path(run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as file:
            file.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {text.rstrip()}\n")
        return path

    def export_run(self, run_id: int, dest_dir: str | Path) -> Path:
        """Write the run to `dest_dir/run-<id>/`: config.json (the run record), metrics.csv,
        summary.json, run.log if any, and a copy of its artifacts under artifacts/. Returns the folder."""
        run = self.get_run(run_id)
        out = Path(dest_dir).expanduser() / f"run-{run['id']}"
        if out.exists() and any(out.iterdir()):
            raise StoreError(f"{out} already exists and is not empty; export to another folder")
        out.mkdir(parents=True, exist_ok=True)
        record = {key: value for key, value in run.items() if key not in ("summary", "progress")}
        (out / "config.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        (out / "summary.json").write_text(json.dumps(run["summary"], indent=2) + "\n", encoding="utf-8")
        self.metrics(run_id).to_csv(out / "metrics.csv", index=False)
        if self.log_path(run_id).is_file():
            shutil.copy2(self.log_path(run_id), out / "run.log")
        names = self.list_artifacts(run_id)
        if names:
            (out / "artifacts").mkdir()
            for name in names:
                shutil.copy2(self._artifact_path(run_id) / name, out / "artifacts" / name)
        return out


def snapshots_to_keep(epochs: Sequence[int], sizes: Sequence[int], max_count: int, max_bytes: int) -> list[int]:
    """Which snapshots of a run to keep, given their sorted epochs and sizes in bytes.

    While over `max_count` or `max_bytes`, drop the snapshot whose neighbours are closest
    together, never the first or the latest: the survivors stay spread over the whole of
    training, with ties thinning the older part. If even the first and the latest do not fit,
    only the latest is kept.
    """
    keep = list(epochs)
    size_of = dict(zip(epochs, sizes))
    total = sum(sizes)
    while len(keep) > 1 and (len(keep) > max_count or total > max_bytes):
        if len(keep) == 2:
            drop_at = 0
        else:
            merged_gaps = [keep[i + 1] - keep[i - 1] for i in range(1, len(keep) - 1)]
            drop_at = 1 + merged_gaps.index(min(merged_gaps))
        total -= size_of[keep.pop(drop_at)]
    return keep


# ---- small validators and codecs ---------------------------------------------------------


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def _pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:  # 0 and negative pids would address process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def _as_int(value: Any, what: str, *, minimum: int | None = None) -> int:
    if not isinstance(value, bool):  # True would pass as 1
        try:
            number = operator.index(value)
        except TypeError:
            number = None
        if number is not None and (minimum is None or number >= minimum):
            return number
    bound = "" if minimum is None else f" >= {minimum}"
    raise ValueError(f"{what} must be an integer{bound}, got {value!r}")


def _run_id(value: Any) -> int:
    run_id = _as_int(value, "run id")
    if not 1 <= run_id <= MAX_RUN_ID:  # SQLite cannot even be asked about a larger one
        raise RunNotFound(f"there is no run {run_id}; run ids are whole numbers from 1 to {MAX_RUN_ID}")
    return run_id


def _non_negative_int(value: Any, what: str) -> int:
    return _as_int(value, what, minimum=0)


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; allowed: {', '.join(STATUSES)}")
    return status


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    problem = f"seeds must be a non-empty list of distinct non-negative integers, got {seeds!r}"
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ValueError(problem)
    try:
        clean = [_non_negative_int(seed, "a seed") for seed in seeds]
    except ValueError:
        raise ValueError(problem) from None
    if not clean or len(set(clean)) != len(clean):
        raise ValueError(problem)
    return clean


def _check_filename(name: str, what: str) -> None:
    if not isinstance(name, str) or not _SAFE_FILENAME.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} is not allowed: use 1 to 128 letters, digits, '_', '-' or '.', "
            f"not starting with '.' or '-', and no path separators"
        )


def _metric_row(row: Sequence[Any]) -> tuple[str, int, int, str, float]:
    shape = "metric rows are tuples (arch: str, seed: int, epoch: int, name: str, value: float)"
    if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 5:
        raise ValueError(f"{shape}, got {row!r}")
    arch, seed, epoch, name, value = row
    if not isinstance(arch, str) or not arch or not isinstance(name, str) or not name:
        raise ValueError(f"{shape} with non-empty arch and name, got {row!r}")
    try:
        return arch, _non_negative_int(seed, "seed"), _non_negative_int(epoch, "epoch"), name, float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{shape}, got {row!r}: {exc}") from None


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays turn up in configs and scores; store them as plain numbers and lists
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must hold only numbers, strings, booleans, None, lists and dicts: {exc}") from None


def _decode_run(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    for field in _JSON_FIELDS:
        if run[field] is not None:
            run[field] = json.loads(run[field])
    run["cancel_requested"] = bool(run["cancel_requested"])
    return run


def _pack_arrays(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The arrays as one .npz blob, written without pickle so that loading needs none."""
    if not isinstance(arrays, Mapping):
        raise ValueError(f"snapshot arrays must be a dict of name -> numpy array, got {type(arrays).__name__}")
    buffer = io.BytesIO()
    # Written entry by entry as np.savez does; np.savez(**arrays) would break on keys such as "file".
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, value in arrays.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"snapshot array names must be non-empty strings, got {key!r}")
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise ValueError(
                    f"snapshot array {key!r} has dtype object; only numeric, boolean and string "
                    f"arrays can be stored (snapshots load without pickle)"
                )
            with archive.open(f"{key}.npy", "w") as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return buffer.getvalue()


def _write_atomically(path: Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write through a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with temporary.open("wb") as file:
            write(file)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
