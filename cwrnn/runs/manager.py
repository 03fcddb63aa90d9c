"""Background training: worker processes that take queued runs from the store, one run each.

A job is a function named "package.module:function", called as `fn(run_id, home)` in a fresh
Python process (`python -m cwrnn.runs.job`, so CUDA and threads start clean). Not multiprocessing's
spawn: it re-imports the parent's main module in every child, and under Streamlit that module is
the running page, which would start a second manager inside the worker. The job trains,
writes progress and metrics, and sets the run's final status itself: completed, cancelled (it
checks `RunStore.cancel_requested` at every epoch boundary) or diverged. The manager records
what a job cannot report itself:

- an exception escaping the job: the run is failed with a one-line message, and the full
  traceback goes to `home/logs/run-<id>.log`;
- a worker process that died (killed, out of memory, os._exit) while its run was still running:
  the run is failed with the reason; metrics and files written so far stay.

One manager caps its own workers at `max_workers`; two managers on one home (say the UI and a
command line) share the queue safely, each with its own cap.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .store import TERMINAL_STATUSES, RunStore, default_home

log = logging.getLogger(__name__)

DEFAULT_JOB = "cwrnn.runs.jobs:execute"  # every job type, registered in cwrnn.runs.jobs
POLL_INTERVAL_S = 0.5  # how often the dispatcher looks for dead workers and queued runs


def default_max_workers(cores: int | None = None) -> int:
    """How many runs train at once by default: half the CPU cores, at least 1 and at most 4.

    A GPU does not raise this: runs sharing it still need a core each to feed it.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores // 2, 4))


class WorkerManager:
    """Starts a worker process for each queued run of one store, at most `max_workers` at a time."""

    def __init__(
        self,
        store_home: str | Path | None = None,
        max_workers: int | None = None,
        job_target: str = DEFAULT_JOB,
        *,
        standby: bool = True,
    ) -> None:
        """`standby` keeps one worker process started ahead, its imports (torch) done, so a submitted
        run starts training at once instead of after the seconds a fresh interpreter needs."""
        if max_workers is None:
            max_workers = default_max_workers()
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive integer, got {max_workers!r}")
        _check_job_target(job_target)
        self.store = RunStore(store_home)
        self.home = self.store.home
        self.max_workers = max_workers
        self.job_target = job_target
        self._workers: dict[int, subprocess.Popen] = {}
        self._use_standby = standby
        self._standby: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopped(self) -> bool:
        """Whether stop() was called (a stopped manager takes no more runs)."""
        return self._stopping.is_set()

    def start(self) -> list[int]:
        """Mark runs orphaned by an earlier process as interrupted, then start taking queued runs.

        Returns the ids of the runs marked interrupted.
        """
        if self._thread is not None:
            raise RuntimeError("this WorkerManager was already started; create a new one")
        interrupted = self.store.mark_interrupted_on_startup()
        self._thread = threading.Thread(target=self._loop, name=f"cwrnn-workers {self.home}", daemon=True)
        self._thread.start()
        # A lab that exits ends its workers and marks their runs interrupted, rather than leaving
        # orphans that train on with nobody watching them.
        atexit.register(self._stop_at_exit)
        return interrupted

    def submit(self, task: str, config: dict[str, Any], seeds: list[int], name: str | None = None) -> int:
        """Queue a run and wake the dispatcher; returns the run id."""
        run_id = self.store.create_run(task, config, seeds, name)
        self._wake.set()
        return run_id

    def cancel(self, run_id: int) -> None:
        """Cancel a run. A queued run is marked cancelled at once; a running one is asked to stop
        and its job stops at its next epoch boundary. A finished run is left as it is."""
        if self.store.set_status(run_id, "cancelled", if_status="queued"):
            return
        if self.store.get_run(run_id)["status"] == "running":
            self.store.request_cancel(run_id)

    def active(self) -> list[int]:
        """Ids of the runs this manager's workers are training."""
        with self._lock:
            return sorted(self._workers)

    def wait(self, run_ids: int | Iterable[int], timeout: float | None = None) -> bool:
        """Block until every given run has a terminal status; False if `timeout` s pass first."""
        ids = list(run_ids) if isinstance(run_ids, Iterable) else [run_ids]
        deadline = None if timeout is None else time.monotonic() + timeout
        while not all(self.store.get_run(run_id)["status"] in TERMINAL_STATUSES for run_id in ids):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self, timeout: float = 10.0, *, terminate: bool = False) -> bool:
        """Stop taking queued runs.

        Running jobs are left to finish (and still watched) unless `terminate`, which ends them
        now and marks their runs interrupted. Waits up to `timeout` s for running jobs to end;
        returns True if none is left.
        """
        self._stopping.set()
        atexit.unregister(self._stop_at_exit)
        if terminate:
            with self._lock:
                workers = dict(self._workers)
            for run_id, process in workers.items():
                # Marked first, so the dispatcher does not report the SIGTERM as a crash.
                self.store.set_status(
                    run_id,
                    "interrupted",
                    error="stopped because the lab was shut down while this run was training",
                    if_status="running",
                )
                process.terminate()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if terminate and self._thread.is_alive():
                for process in self._live_processes():  # ignored SIGTERM
                    process.kill()
                self._thread.join(2 * POLL_INTERVAL_S)
        return not self.active()

    def _stop_at_exit(self) -> None:
        self.stop(timeout=5.0, terminate=True)

    def _live_processes(self) -> list[subprocess.Popen]:
        with self._lock:
            return list(self._workers.values())

    def _loop(self) -> None:
        while True:
            try:
                self._reap()
                self._dispatch()
                self._refill_standby()
            except Exception:  # keep dispatching: a locked database now may be free next time
                log.exception("worker dispatcher for %s hit an error; retrying", self.home)
            if self._stopping.is_set():
                self._drop_standby()
                if not self.active():
                    return
            self._wake.wait(POLL_INTERVAL_S)
            self._wake.clear()

    def _dispatch(self) -> None:
        while not self._stopping.is_set() and len(self.active()) < self.max_workers:
            run = self.store.claim_next(os.getpid())
            if run is None:
                return
            self._launch(run["id"])

    def _spawn(self, *args: str, **kwargs) -> subprocess.Popen:
        # The child sees the modules this process sees (a job may live outside the package).
        path = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
        return subprocess.Popen(
            [sys.executable, "-m", "cwrnn.runs.job", *args], env={**os.environ, "PYTHONPATH": path}, **kwargs
        )

    def _take_standby(self, run_id: int) -> subprocess.Popen | None:
        """Hand the run to the waiting standby worker, if there is a live one."""
        standby, self._standby = self._standby, None
        if standby is None or standby.poll() is not None:
            return None
        try:
            standby.stdin.write(f"{run_id}\n".encode())
            standby.stdin.close()
        except OSError:  # it died just now
            standby.kill()
            return None
        return standby

    def _refill_standby(self) -> None:
        if self._use_standby and self._standby is None and not self._stopping.is_set():
            try:
                self._standby = self._spawn("--standby", str(self.home), self.job_target, stdin=subprocess.PIPE)
            except OSError:
                log.exception("could not start a standby worker; runs will start cold")

    def _drop_standby(self) -> None:
        standby, self._standby = self._standby, None
        if standby is not None:
            standby.kill()
            standby.wait()

    def _launch(self, run_id: int) -> None:
        try:
            process = self._take_standby(run_id) or self._spawn(str(run_id), str(self.home), self.job_target)
        except OSError as exc:
            self.store.set_status(
                run_id, "failed", error=f"could not start a worker process: {_one_line(exc)}", if_status="running"
            )
            return
        with self._lock:
            self._workers[run_id] = process
        self.store.set_worker_pid(run_id, process.pid)

    def _reap(self) -> None:
        """Forget workers that ended; fail the runs of those that died without a final status."""
        with self._lock:
            ended = {run_id: p for run_id, p in self._workers.items() if p.poll() is not None}
            for run_id in ended:
                del self._workers[run_id]
        for run_id, process in ended.items():
            reason = _death_reason(process.returncode)
            if self.store.set_status(run_id, "failed", error=reason, if_status="running"):
                self.store.append_log(run_id, reason)


def run_job(run_id: int, home: str, job_target: str) -> None:
    """Body of a worker process: run the job, and record a failure it could not record itself."""
    # Ctrl+C in a terminal reaches the whole process group; the manager decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = RunStore(home)
    try:
        _load_job(job_target)(run_id, home)
    except Exception as exc:
        log_path = store.append_log(run_id, f"run {run_id} failed in {job_target}:\n{traceback.format_exc()}")
        store.set_status(run_id, "failed", error=f"{_one_line(exc)} (traceback in {log_path})", if_status="running")
        return
    store.set_status(
        run_id,
        "failed",
        error=f"the job {job_target} returned without setting a final status (a bug in the job)",
        if_status="running",
    )


_managers: dict[Path, WorkerManager] = {}
_managers_lock = threading.Lock()


def ensure_manager(
    home: str | Path | None = None, *, max_workers: int | None = None, job_target: str = DEFAULT_JOB
) -> WorkerManager:
    """This process's running WorkerManager for `home`, created and started on first use.

    Safe to call on every Streamlit rerun and from any thread: one manager per home per process.
    Asking again with a different max_workers or job_target is an error, not a silent mismatch.
    """
    key = (Path(home) if home is not None else default_home()).expanduser().resolve()
    with _managers_lock:
        manager = _managers.get(key)
        if manager is None or manager.stopped:
            manager = WorkerManager(key, max_workers=max_workers, job_target=job_target)
            manager.start()
            _managers[key] = manager
        elif job_target != manager.job_target or max_workers not in (None, manager.max_workers):
            raise ValueError(
                f"the worker manager for {key} already runs with job_target={manager.job_target!r} "
                f"and max_workers={manager.max_workers}; got job_target={job_target!r} and "
                f"max_workers={max_workers!r}"
            )
        return manager


def _split_job_target(job_target: str) -> tuple[str, str]:
    module, _, function = job_target.partition(":") if isinstance(job_target, str) else ("", "", "")
    if not module or not function.isidentifier():
        raise ValueError(f"job_target must look like 'package.module:function', got {job_target!r}")
    return module, function


def _check_job_target(job_target: str) -> None:
    """Fail early on a job module that does not exist (without importing it: it may import torch)."""
    module, _ = _split_job_target(job_target)
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise ValueError(f"job_target {job_target!r}: there is no module named {module!r}")


def _load_job(job_target: str) -> Callable[[int, str], None]:
    module, function = _split_job_target(job_target)
    job = getattr(importlib.import_module(module), function, None)
    if not callable(job):
        raise ValueError(f"job_target {job_target!r}: module {module} has no function {function}")
    return job


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _death_reason(exitcode: int) -> str:
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        hint = "; the system may have run out of memory" if -exitcode == signal.SIGKILL else ""
        how = f"was killed (signal {-exitcode}, {name}){hint}"
    else:
        how = f"exited with code {exitcode}"
    return f"worker process {how} before the run finished; what it wrote so far is kept"
