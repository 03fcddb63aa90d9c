"""Shared pytest fixtures."""

from __future__ import annotations

import pytest

from cwrnn.runs.store import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    """A RunStore in a fresh folder, which is also CWRNN_HOME for anything the test starts."""
    monkeypatch.setenv("CWRNN_HOME", str(tmp_path))
    return RunStore(tmp_path)
