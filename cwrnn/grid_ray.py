"""The grid runner's Ray backend: every cell a Ray task on a cluster, results as the cells finish.

Ray is imported here only, and only when a grid goes to a cluster. The cluster runs this checkout's code:
the project folder (the package and its assets) is shipped with the job, so the nodes need Ray and the
requirements installed, not the project.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The cluster the app's grid jobs run on when set (an address as `--ray` takes it).
ADDRESS_ENV = "CWRNN_RAY_ADDRESS"
#: How often a cell is started again when its node dies under it. A cell that fails by itself (a bad
#: config, an exception) is reported at once and never retried: it would fail the same way every time.
NODE_LOSS_RETRIES = 3
PROBE_TIMEOUT_S = 3.0
_PROJECT = Path(__file__).resolve().parents[1]
# The HTTP/2 connection preface and an empty SETTINGS frame: a Ray head's port speaks gRPC and answers
# with its own SETTINGS frame (type 4), anything else (a web page, a database) does not.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS = 4


class RayUnavailable(RuntimeError):
    """No Ray cluster can be used at the given address; the message names it and says what to do."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("Ray is not installed here: pip install -r requirements-ray.txt (ray==2.60.0)") from None
    return ray


def check_address(address: str, timeout: float = PROBE_TIMEOUT_S) -> str:
    """The HOST:PORT of the Ray head at `address` ('auto': the cluster this machine joined with `ray start`,
    or $RAY_ADDRESS); fails fast, naming the address, when no Ray head answers there.

    ray.init() on a wrong address retries for many minutes and ignores SIGTERM meanwhile, so the usual
    mistakes (a typo, nothing started, a firewall, another service's port) are caught here, in seconds.
    """
    if address == "auto":
        _import_ray()  # a clear message, not an ImportError, where Ray is not installed
        from ray._private.services import canonicalize_bootstrap_address_or_die  # what ray.init does with it

        try:
            address = canonicalize_bootstrap_address_or_die("auto")
        except ConnectionError as e:
            raise RayUnavailable(f"no Ray cluster found for --ray auto: {e}") from None
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayUnavailable(
            f"Ray address {address!r} is not HOST:PORT (the head's, e.g. 10.0.0.5:6379) or 'auto' (the "
            "cluster this machine joined with `ray start`)"
        )
    where = f"no Ray cluster answers at {address}"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(_HTTP2_HELLO)
            reply = s.recv(9)
    except socket.gaierror:
        raise RayUnavailable(f"{where}: unknown host {host!r}") from None
    except ConnectionRefusedError:
        raise RayUnavailable(
            f"{where}: nothing listens on port {port}; start the head there with `ray start --head --port={port}`"
        ) from None
    except TimeoutError:
        raise RayUnavailable(f"{where}: no reply within {timeout:g} s (is a firewall in the way?)") from None
    except OSError as e:
        raise RayUnavailable(f"{where}: {e.strerror or e}") from None
    if len(reply) < 9 or reply[3] != _SETTINGS:
        raise RayUnavailable(
            f"{where}: the service on port {port} is not a Ray head (the head's port is the "
            "one given to `ray start --head --port=...`, 6379 by default)"
        )
    return address


def _shipped_code() -> dict:
    """The runtime_env that ships this checkout to the nodes ({} when the package is installed without
    its assets, as a wheel: then the nodes must have it installed)."""
    if not (_PROJECT / "assets").is_dir():
        return {}
    return {
        "working_dir": str(_PROJECT),
        "excludes": [".git", ".venv", ".cwrnn-home", "tests", "benchmarks", "docs", "scripts", "**/__pycache__"],
    }


@contextmanager
def ray_session(address: str) -> Iterator[dict]:
    """Connected to the Ray cluster at `address` (HOST:PORT or 'auto') for the duration; yields its resources
    ({"CPU": 32.0, "GPU": 2.0, ...})."""
    ray = _import_ray()
    head = check_address(address)
    try:
        ray.init(address=head, runtime_env=_shipped_code(), log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise RayUnavailable(f"cannot use the Ray cluster at {address}: {e}") from None
    try:
        yield ray.cluster_resources()
    finally:
        ray.shutdown()  # the driver disconnects; the cluster goes on


def as_finished_on_ray(fn: Callable, jobs: Sequence[tuple], needs: Sequence[dict]) -> Iterator[tuple[int, Any]]:
    """Run fn(*jobs[i]) for every i as a Ray task reserving needs[i] ({"num_cpus": 1, "num_gpus": 0});
    yield (i, result) as each finishes. A task whose node dies is started again elsewhere (up to
    NODE_LOSS_RETRIES times); a task that raises raises here, its own exception, and the rest are cancelled."""
    ray = _import_ray()
    from ray.exceptions import RayError, RayTaskError

    task = ray.remote(max_retries=NODE_LOSS_RETRIES, retry_exceptions=False)(fn)
    index = {task.options(**need).remote(*args): i for i, (args, need) in enumerate(zip(jobs, needs))}
    pending = list(index)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(done[0])
            except RayTaskError as e:  # the cell's own failure: its exception, as the local backend gives it
                raise (e.cause if isinstance(e.cause, Exception) else RuntimeError(str(e))) from None
            except RayError as e:
                raise RuntimeError(
                    f"cell {index[done[0]] + 1} of {len(jobs)} was lost "
                    f"{NODE_LOSS_RETRIES + 1} times (its node died or was removed): "
                    f"{type(e).__name__}"
                ) from None
            yield index[done[0]], result
    finally:  # on an error or Ctrl+C, the cluster does not go on training cells nobody will read
        for ref in pending:
            ray.cancel(ref, force=True)


def cluster_from_env() -> str | None:
    """The address in CWRNN_RAY_ADDRESS, or None (grids run in local processes)."""
    return os.environ.get(ADDRESS_ENV) or None
