"""Shared pytest fixtures."""

from __future__ import annotations

import pytest

from cwrnn.runs.store import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    """A RunStore in a fresh folder, which is also CWRNN_HOME for anything the test starts."""
    monkeypatch.setenv("CWRNN_HOME", str(tmp_path))
    return RunStore(tmp_path)


@pytest.fixture
def one_thread():
    """Tiny models: intra-op threads only add synchronisation, and on a busy 2-core machine they made
    training tests several times slower."""
    import torch  # here, so that tests that never train do not pay for importing torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=["kernels", "torch ops"])
def scan_path(request):
    """Run the test once through the compiled CPU kernels and once through the torch ops (the path CUDA and
    wide networks take): both must meet every reference."""
    from cwrnn.models import kernels

    if request.param == "torch ops":
        with kernels.torch_ops():
            yield request.param
    else:
        if kernels.problem():
            pytest.skip(f"scan kernels unavailable: {kernels.problem()}")
        yield request.param
