"""A real Streamlit server for tests: started in its own process group, ready once /_stcore/health says ok."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(
    command: list[str], port: int, *, cwd: Path, env: dict[str, str], log: Path, timeout: float = 60
) -> tuple[subprocess.Popen, str]:
    """Runs `command`, a Streamlit server on `port`; returns it and its URL once it answers /_stcore/health."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )  # its own process group: its children are stopped with it
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return process, url
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise RuntimeError(f"the server did not answer on {url} within {timeout:.0f} s:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stops the server's whole process group: TERM, then KILL for what outlives 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
