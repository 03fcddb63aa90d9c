"""The grid on Ray: the same table as local processes, a node lost mid-grid, a cell's own failure, bad
addresses. Each test starts the Ray processes it needs, stops them, and checks that none is left.

Ray stays on loopback here. Asked for 127.0.0.1, Ray still advertises and dials the machine's network
address; RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, set before ray is imported, makes it take 127.0.0.1 as
this node's address, and every test checks that it did.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install ray==2.60.0)")

from cwrnn import grid, paper  # noqa: E402 (after the skip)
from cwrnn.app.runs_view import status_text  # noqa: E402 (after the skip)
from cwrnn.cli import main  # noqa: E402 (after the skip)
from cwrnn.config import ConfigError, validate  # noqa: E402 (after the skip)
from cwrnn.grid import CellSpec, format_table, run_cell, run_grid  # noqa: E402 (after the skip)
from cwrnn.grid_ray import ADDRESS_ENV, RayUnavailable, as_finished_on_ray, check_address, ray_session  # noqa: E402 (after the skip)
from cwrnn.runs.store import RunStore  # noqa: E402 (after the skip)

LOOPBACK = ("127.0.0.1", "[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "[::1]")


def ray_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True, check=False).stdout
    return {int(p) for p in out.split()}


def outside_connections() -> list[str]:
    """Established TCP connections of Ray's processes to anything but loopback (`ss`, where installed)."""
    if not shutil.which("ss"):
        return []
    lines = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True, check=False).stdout
    ray_lines = [line for line in lines.splitlines() if any(n in line for n in ("raylet", "gcs_server", "ray::"))]
    return [line for line in ray_lines if not all(f.rpartition(":")[0] in LOOPBACK for f in line.split()[2:4])]


def wait_gone(before: set[int]) -> None:
    deadline = time.monotonic() + 20
    while ray_pids() - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not ray_pids() - before, "Ray processes left running"


@pytest.fixture
def own_ray_only():
    """Fails the test if it leaves a Ray process behind."""
    before = ray_pids()
    yield
    ray.shutdown()
    wait_gone(before)


@pytest.fixture(scope="module")
def head():
    """A one-node cluster on loopback, as `ray start --head` starts one, with 6 CPUs to Ray (more than this
    machine's cores, so that the Paper job splits its cells); stopped, and checked for leftovers, after."""
    from ray.cluster_utils import Cluster

    before = ray_pids()
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 6, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    )
    yield cluster
    cluster.shutdown()
    wait_gone(before)


def on_loopback() -> None:
    addresses = {n["NodeManagerAddress"] for n in ray.nodes()} | {ray.get_runtime_context().gcs_address}
    assert all(a.startswith("127.0.0.1") for a in addresses), addresses
    assert not outside_connections()


GRID = {"metric": "nmse", "paper_table": paper.GENERATION_NMSE, "paper_budgets": paper.GENERATION_BUDGETS}


def test_ray_gives_the_local_processes_table(head):
    base = validate({"epochs": 15, "seeds": 3, "snapshot_every": 10_000})
    local = run_grid(base, [100], ["cwrnn", "srn"], workers=2, seed_batch=2, progress=lambda s: None, **GRID)
    lines = []

    def progress(line):
        lines.append(line)
        if len(lines) == 1:
            on_loopback()  # the session is open while cells stream back

    on_ray = run_grid(base, [100], ["cwrnn", "srn"], ray=head.address, seed_batch=2, progress=progress, **GRID)
    assert format_table(on_ray, "NMSE") == format_table(local, "NMSE")
    for a, b in zip(local, on_ray):
        assert (a.arch, a.budget) == (b.arch, b.budget) and len(a.values) == 3 * 5
        np.testing.assert_array_equal(a.values, b.values)  # bit for bit: the same batches, the same code
    assert lines[0] == f"Ray cluster at {head.address}: 6 CPUs, 0 GPUs; 2 cells in seed batches of 2: 4 tasks"
    assert sorted(line.split("]")[0] for line in lines[1:]) == [f"[{i}/4" for i in range(1, 5)]
    assert sum("seeds 0-1:" in line for line in lines) == sum("seeds 2-2:" in line for line in lines) == 2
    assert not ray.is_initialized()  # disconnected when the grid is done


def test_a_sweep_on_the_cluster_stores_the_local_sweeps_rows(head, tmp_path, capsys):
    tiny = ["sweep", "--budget", "100", "--archs", "cwrnn", "srn", "--seeds", "1", "--epochs", "3", "--lr", "1e-3"]
    rows = {}
    for where, extra in (("local", ["--workers", "1"]), ("ray", ["--ray", head.address])):
        assert main([*tiny, *extra, "--home", str(tmp_path / where)]) == 0
        (run,) = RunStore(tmp_path / where).list_runs()
        assert run["status"] == "completed"
        rows[where] = run["summary"]["rows"]
    assert "on the Ray cluster at" in capsys.readouterr().err
    assert [(r["arch"], r["lr"]) for r in rows["ray"]] == [(r["arch"], r["lr"]) for r in rows["local"]]
    for a, b in zip(rows["local"], rows["ray"]):
        assert a["values"] == b["values"]  # each architecture is one whole cell: the same networks, bit for bit
    assert not ray.is_initialized()


def test_the_paper_job_runs_on_the_cluster_in_cwrnn_ray_address(head, tmp_path, monkeypatch):
    config = {"grid": "generation", "budgets": [100], "seeds": 2, "epochs": 5}
    runs = {}
    for where in ("local", "ray"):
        if where == "ray":
            monkeypatch.setenv(ADDRESS_ENV, head.address)
        store = RunStore(tmp_path / where)
        run_id = store.create_run(grid.GRID_TASK, config, [0])
        store.claim_next(1)
        grid.execute_grid(run_id, str(store.home))
        runs[where] = store.get_run(run_id), store.metrics(run_id).sort_values(["arch", "seed"], ignore_index=True)
    (local, local_rows), (on_ray, ray_rows) = runs.values()
    assert on_ray["status"] == "completed" and on_ray["device"] == f"the Ray cluster at {head.address}"
    assert f"on the Ray cluster at {head.address}, 6 of 6 cells done" in status_text(on_ray)[0]  # the page's line
    assert on_ray["progress"]["epoch"] == on_ray["progress"]["total_epochs"] == 6  # 3 cells x 2 seeds, 6 CPUs
    assert on_ray["summary"]["seed_batch"] == 1 and "seed_batch" not in local["summary"]
    assert [c["networks"] for c in on_ray["summary"]["cells"]] == [10, 10, 10]
    columns = ["arch", "seed", "epoch", "name"]
    assert ray_rows[columns].equals(local_rows[columns])  # every network once, where the local run has it
    np.testing.assert_allclose(ray_rows["value"], local_rows["value"], rtol=1e-5)  # and the same network


def started(log: Path, index: int, spec: CellSpec):
    """A grid cell that notes each start (cell, node) in `log` before it trains (shipped by value)."""
    with open(log, "a") as f:
        f.write(f"{index} {ray.get_runtime_context().get_node_id()}\n")
    return run_cell(spec)


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def starts(log: Path) -> list[tuple[int, str]]:
    return [(int(i), node) for i, node in (line.split() for line in log.read_text().splitlines())]


def test_a_node_lost_mid_grid_loses_nothing_and_counts_nothing_twice(own_ray_only, tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    )
    try:
        worker = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        cells = [
            CellSpec({"budget": 100, "seeds": 1, "seed": s, "epochs": 150, "snapshot_every": 10_000}, arch, "nmse")
            for s in range(2)
            for arch in ("cwrnn", "srn")
        ]
        log = tmp_path / "starts.log"
        log.touch()

        def kill_the_worker_once_it_trains():
            while not any(node == worker.node_id for _, node in starts(log)):
                time.sleep(0.1)
            time.sleep(0.2)  # inside the cell, which trains for a second or more
            cluster.remove_node(worker)

        killer = threading.Thread(target=kill_the_worker_once_it_trains, daemon=True)
        with ray_session(cluster.address):
            on_loopback()
            killer.start()
            results = list(
                as_finished_on_ray(started, [(log, i, c) for i, c in enumerate(cells)], [{"num_cpus": 1}] * len(cells))
            )
            killer.join(timeout=60)
            history = starts(log)
            lost = [i for i, node in history if node == worker.node_id]
            assert lost and all(history.count((i, cluster.head_node.node_id)) == 1 for i in lost)

            # a cell that fails by itself (here a bad config) is reported once, with its own error
            log.write_text("")
            failing = CellSpec({**cells[0].config, "budget": 5}, "cwrnn", "nmse")
            with pytest.raises(ConfigError, match="budget must be an integer from 10"):
                list(as_finished_on_ray(started, [(log, 0, failing)], [{"num_cpus": 1}]))
            assert [i for i, _ in starts(log)] == [0]  # started once: not retried
    finally:
        cluster.shutdown()
    assert sorted(i for i, _ in results) == list(range(len(cells)))  # every cell once
    for i, result in results:  # the retried cell's result is the one it gives alone
        alone = run_cell(cells[i])
        assert (result.values, result.outcome, result.hidden_size) == (alone.values, alone.outcome, alone.hidden_size)


@pytest.fixture
def web_server():
    """A port with a service on it that is not a Ray head (it answers like a web server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(64)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_addresses_fail_fast_naming_the_address(web_server, capsys):
    closed = f"127.0.0.1:{free_port()}"
    for address, message in [
        ("headnode", "is not HOST:PORT"),
        ("10.0.0.5:99999", "is not HOST:PORT"),
        (closed, f"no Ray cluster answers at {closed}: nothing listens on port"),
        (web_server, f"at {web_server}: the service on port .* is not a Ray head"),
    ]:
        start = time.monotonic()
        with pytest.raises(RayUnavailable, match=message):
            check_address(address)
        assert time.monotonic() - start < 20  # seconds, not ray.init's minutes of retrying, even on a busy machine
    start = time.monotonic()
    assert main(["reproduce", "generation", "--sizes", "100", "--runs", "1", "--ray", closed]) == 2
    assert f"no Ray cluster answers at {closed}" in capsys.readouterr().err
    assert time.monotonic() - start < 90 and not ray.is_initialized()  # ray.init alone would retry for 12 min
