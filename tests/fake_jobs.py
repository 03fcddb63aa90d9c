"""Stand-in job functions for the WorkerManager tests, each playing one way a training job ends.

The manager runs `play`, which calls the function named by the run's config["play"]; so one
manager can run every kind at once. Each writes a metric row first, so tests can check that
what a job wrote survives its end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from cwrnn.runs.store import RunStore


def play(run_id: int, home: str) -> None:
    """Run the fake job named by config["play"]."""
    globals()[RunStore(home).get_run(run_id)["config"]["play"]](run_id, home)


def complete(run_id: int, home: str) -> None:
    """Three epochs of a loss per seed (config["sleep_s"] apart), then completed."""
    store = RunStore(home)
    run = store.get_run(run_id)
    for epoch in range(3):
        store.add_metrics(run_id, [("cwrnn", seed, epoch, "loss", 1.0 / (epoch + 1)) for seed in run["seeds"]])
        store.update_progress(run_id, {"epoch": epoch, "total_epochs": 3})
        time.sleep(run["config"].get("sleep_s", 0.0) / 3)
    store.set_status(run_id, "completed", device="cpu", summary={"nmse": 0.25})


def until_cancelled(run_id: int, home: str) -> None:
    """An endless training loop that checks for a cancel request at every epoch boundary."""
    store = RunStore(home)
    epoch = 0
    while not store.cancel_requested(run_id):
        store.add_metrics(run_id, [("cwrnn", 0, epoch, "loss", 1.0)])
        epoch += 1
        time.sleep(0.05)
    store.set_status(run_id, "cancelled")


def raise_error(run_id: int, home: str) -> None:
    RunStore(home).add_metrics(run_id, [("cwrnn", 0, 0, "loss", 1.0)])
    raise ValueError("learning rate -1 is negative\nsecond line only in the log")


def kill_self(run_id: int, home: str) -> None:
    """Die by SIGKILL, as the kernel's out-of-memory killer would do it."""
    store = RunStore(home)
    store.add_metrics(run_id, [("cwrnn", 0, 0, "loss", 1.0)])
    store.update_progress(run_id, {"killed_at": time.time()})
    os.kill(os.getpid(), signal.SIGKILL)


def exit_abruptly(run_id: int, home: str) -> None:
    RunStore(home).add_metrics(run_id, [("cwrnn", 0, 0, "loss", 1.0)])
    os._exit(3)


def forget_status(run_id: int, home: str) -> None:
    """Return normally without setting a final status (a buggy job)."""
    RunStore(home).add_metrics(run_id, [("cwrnn", 0, 0, "loss", 1.0)])


def diverge(run_id: int, home: str) -> None:
    store = RunStore(home)
    store.add_metrics(run_id, [("cwrnn", 0, 0, "loss", 1.0), ("cwrnn", 0, 1, "loss", float("nan"))])
    store.set_status(run_id, "diverged", error="loss became NaN at epoch 1")


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped (not a job: a helper for tests)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
