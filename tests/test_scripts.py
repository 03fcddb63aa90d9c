"""scripts/start.sh and scripts/test.sh as a new user runs them: they make .venv, install into it, run from it,
reinstall only when the requirements change, and stop loudly on a missing or too-old Python or a failing pip.

The scripts run for real, in a copy of the project. Its .venv is made here beforehand, layered over the
environment running these tests (a .pth file naming this interpreter's site-packages), so that the scripts'
own pip finds the requirements already installed instead of installing torch again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from app_server import free_port, serve, stop

ROOT = Path(__file__).resolve().parent.parent
PROJECT = [
    "app.py",
    "pages",
    "cwrnn",
    "scripts",
    "pyproject.toml",
    "requirements.txt",
    "requirements-ray.txt",
    "requirements-test.txt",
]
MIN_PYTHON = re.search(r'^requires-python = ">=([0-9.]+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]


def copy_project(dest: Path) -> Path:
    dest.mkdir(exist_ok=True)
    for name in PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def layered_venv(project: Path) -> None:
    """A .venv without pip of its own that sees this environment's packages, as the scripts' pip will."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    here = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (inner,) = (project / ".venv" / "lib").glob("python*/site-packages")
    (inner / "_tests_outer_env.pth").write_text("".join(f"{path}\n" for path in here))


def script_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    return {**os.environ, "CWRNN_HOME": str(tmp_path / "home"), "PYTHON": sys.executable, **changes}


def run(project: Path, script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(project / "scripts" / script), *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def fake_python(path: Path, answers: str) -> Path:
    """A stand-in interpreter: `answers` is a shell `case` on what it is asked, the code of `-c` or the module of
    `-m`, for the cases no real Python on the test machine can show."""
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'#!/bin/sh\ncase "$2" in\n{answers}esac\n')
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("project"))
    layered_venv(project)
    return project


def test_start_installs_into_the_venv_and_serves_the_app_from_it(project, tmp_path):
    port = free_port()
    log = tmp_path / "start.log"
    process, _ = serve(
        [
            "bash",
            str(project / "scripts" / "start.sh"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        port,
        cwd=tmp_path,
        env=script_env(tmp_path),
        log=log,
        timeout=240,
    )
    try:
        # start.sh execs streamlit: the server is the script's own process, on the venv's Python.
        command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert command[:4] == [str(project / ".venv" / "bin" / "python").encode(), b"-m", b"streamlit", b"run"]
    finally:
        stop(process)
    assert process.returncode is not None
    assert "installing requirements.txt and the project into .venv" in log.read_text()
    assert (project / ".venv" / ".installed-requirements.txt").is_file()


def test_test_sh_reuses_the_venv_and_reinstalls_only_after_a_requirement_change(project, tmp_path):
    env = script_env(tmp_path)
    first = run(project, "test.sh", "--version", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "installing requirements-test.txt" in first.stdout
    assert "pytest" in first.stdout + first.stderr  # pytest --version, run from the venv
    marker = project / ".venv" / "made-before"
    marker.touch()

    again = run(project, "test.sh", "--version", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "installing" not in again.stdout and "making .venv" not in again.stdout
    assert marker.exists()

    requirements = project / "requirements-test.txt"
    requirements.write_text(requirements.read_text() + "# changed\n")
    changed = run(project, "test.sh", "--version", env=env)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "installing requirements-test.txt" in changed.stdout
    assert marker.exists()  # updated in place, not remade


def test_a_missing_python_stops_with_what_to_do(tmp_path):
    project = copy_project(tmp_path / "project")
    result = run(project, "start.sh", env=script_env(tmp_path, PYTHON=str(tmp_path / "no-such-python")))
    assert result.returncode != 0
    assert f"PYTHON={tmp_path / 'no-such-python'}: no such interpreter" in result.stderr
    assert f"Python {MIN_PYTHON}+" in result.stderr
    assert not (project / ".venv").exists()
    assert "streamlit" not in result.stdout.lower()


def test_a_too_old_python_stops_naming_the_versions_that_work(tmp_path):
    project = copy_project(tmp_path / "project")
    old = fake_python(tmp_path / "python3.8", "  *) echo 3.8 ;;\n")
    result = run(project, "test.sh", env=script_env(tmp_path, PYTHON=str(old)))
    assert result.returncode != 0
    assert f"{old} is Python 3.8; Clockwork Lab needs Python {MIN_PYTHON} or newer" in result.stderr
    assert not (project / ".venv").exists()


def test_a_failing_pip_stops_with_its_own_error_and_leaves_no_stamp(tmp_path):
    project = copy_project(tmp_path / "project")
    layered_venv(project)
    (project / "requirements.txt").write_text("streamlit===\n")  # no version: pip refuses it without a network
    result = run(project, "start.sh", env=script_env(tmp_path))
    assert result.returncode != 0
    assert "streamlit===" in result.stderr  # pip's own message, not swallowed
    assert "error: pip could not install requirements.txt into .venv" in result.stderr
    assert not (project / ".venv" / ".installed-requirements.txt").exists()
    assert "You can now view" not in result.stdout


def test_a_python_without_venv_names_debians_package(tmp_path):
    """Debian's own Python without python3.X-venv: as root the script installs it with apt-get, else it says how."""
    project = copy_project(tmp_path / "project")
    bin_dir = tmp_path / "bin"
    debian_python = fake_python(
        bin_dir / "python3",  # Debian's /usr/bin/python3.11 lacking python3.11-venv
        "  *ensurepip*) echo 'No module named ensurepip' >&2; exit 1 ;;\n"
        "  *base_prefix*) echo /usr ;;\n"
        "  *) echo 3.11 ;;\n",
    )
    apt_calls = tmp_path / "apt-get.log"
    apt = bin_dir / "apt-get"
    apt.write_text(
        f'#!/bin/sh\necho "$*" >> {apt_calls}\n'  # update works, install fails as offline
        '[ "$1" = update ] || { echo "E: no network" >&2; exit 100; }\n'
    )
    apt.chmod(0o755)
    env = script_env(tmp_path, PYTHON=str(debian_python), PATH=f"{bin_dir}:{os.environ['PATH']}")
    result = run(project, "start.sh", env=env)
    assert result.returncode != 0
    if os.geteuid() == 0:
        assert apt_calls.read_text().splitlines()[-1] == "install -y -qq python3.11-venv"
        assert "E: no network" in result.stderr  # apt-get's own error, then the script's
        assert "error: apt-get could not install python3.11-venv" in result.stderr
    else:
        assert not apt_calls.exists()
        assert "Install it with: sudo apt-get install python3.11-venv" in result.stderr
    assert not (project / ".venv").exists()


def test_another_python_remakes_the_venv_and_a_failing_venv_stops(tmp_path):
    project = copy_project(tmp_path / "project")
    layered_venv(project)
    other = fake_python(
        tmp_path / "bin" / "python3",  # a Python 3.11 elsewhere whose venv module fails
        "  *base_prefix*) echo /opt/other 3 11 ;;\n"
        "  venv) echo 'Error: [Errno 28] No space left on device' >&2; exit 1 ;;\n"
        "  *) echo 3.11 ;;\n",
    )
    result = run(project, "start.sh", env=script_env(tmp_path, PYTHON=str(other)))
    assert result.returncode != 0
    assert f"note: .venv was made with another Python; remaking it with {other}" in result.stdout
    assert "No space left on device" in result.stderr
    assert f"error: {other} -m venv .venv failed" in result.stderr
    assert not (project / ".venv").exists()  # no half-made venv left to be mistaken for a good one
