"""The scans' CPU kernels (kernels.cpp, which says why they exist), built with the system's C++ compiler
and called through ctypes.

Not a torch C++ extension: compiling against torch's headers takes minutes on a small machine and needs
ninja; kernels.cpp includes only the standard library and builds in about two seconds. It is built on
first use (or by `python -m cwrnn.models.kernels`, which the install scripts run) into a cache folder,
under a name made of a hash of the source, the flags and the CPU, since it is compiled for the CPU it
runs on (-march=native). Without a compiler, or if the build fails, the scans use torch ops (the path
that CUDA and wide networks always take) and `problem()` says why.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("kernels.cpp")
#: Widest hidden layer the kernels take. They are fast while a network's weights (the CW-RNN's: eight
#: members') stay in the core's caches; wider networks are matmul-bound, where torch's (MKL) matmuls win.
MAX_HIDDEN = 128
FLAGS = [
    *("-O3", "-funroll-loops", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-std=c++17", "-shared", "-fPIC"),
    # GCC turns the copies of a module's few rows into memcpy calls, which cost more than the copies
    # (6-10 % of a CW-RNN's or SRN's forward)
    "-fno-tree-loop-distribute-patterns",
]
#: glibc's vector tanhf and expf (libmvec); where the build with them fails, it is retried without.
VECTOR_MATH = ["-DCWRNN_LIBMVEC", "-lmvec"]
DTYPES = {torch.float32: "f32", torch.float64: "f64"}

_library: ctypes.CDLL | None = None
_problem: str | None = None
_enabled = True


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cwrnn"


def _cpu() -> str:
    """The CPU's feature flags (what -march=native compiles for), or its name where Linux does not say."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def _build(compiler: str) -> Path:
    key = hashlib.sha256(b"\0".join(s.encode() for s in [SOURCE.read_text(), *FLAGS, compiler, _cpu()])).hexdigest()
    target = cache_dir() / f"kernels-{key[:16]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for extra in (VECTOR_MATH, []):
        # Built under a temporary name and renamed: parallel worker processes may build at the same time.
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        cmd = [compiler, *FLAGS, str(SOURCE), "-o", tmp, *extra]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode == 0:
            os.replace(tmp, target)
            return target
        os.unlink(tmp)
        errors.append(f"{' '.join(cmd)}:\n{done.stderr.strip()}")
    raise RuntimeError("\n".join(errors))


def library() -> ctypes.CDLL | None:
    """The compiled kernels, built on first call; None where they cannot be (see `problem`)."""
    global _library, _problem
    if _library is None and _problem is None:
        compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
        if compiler is None:
            _problem = "no C++ compiler found (install g++, or set CXX)"
        else:
            try:
                _library = ctypes.CDLL(str(_build(compiler)))
            except (OSError, RuntimeError) as e:
                _problem = f"building the scan kernels failed: {e}"
        if _problem:
            warnings.warn(f"{_problem}; the CPU scans fall back to torch ops (slower)", stacklevel=2)
    return _library


def problem() -> str | None:
    """Why the kernels are not available, or None."""
    library()
    return _problem


def usable(W: torch.Tensor, hidden_size: int) -> bool:
    """Whether a scan with these weights runs in the kernels."""
    return (
        _enabled
        and W.device.type == "cpu"
        and W.dtype in DTYPES
        and hidden_size <= MAX_HIDDEN
        and library() is not None
    )


@contextmanager
def torch_ops():
    """Run the scans with torch ops in this block (tests of that path; benchmarks comparing the two)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def _call(name: str, dtype: torch.dtype | None, *args) -> int:
    """The kernel `name` for `dtype` (None: one for every dtype), with tensors passed as addresses: checked
    here, since a wrong layout would be read as garbage (or crash) rather than raise."""
    converted = []
    for a in args:
        if isinstance(a, torch.Tensor):
            if not a.is_contiguous() or a.device.type != "cpu" or (a.is_floating_point() and a.dtype != dtype):
                raise ValueError(f"{name}: every tensor must be contiguous, on the CPU and of {dtype}")
            converted.append(ctypes.c_void_p(a.data_ptr()))
        elif a is None or isinstance(a, ctypes.c_void_p):
            converted.append(a)
        else:
            converted.append(ctypes.c_int64(a))
    function = getattr(library(), name if dtype is None else f"{name}_{DTYPES[dtype]}")
    function.restype = ctypes.c_int64
    return function(*converted)


def _drive(drive: torch.Tensor) -> tuple:
    """A (R, B, T, rows) input term as its address and its member, batch and time strides (0 where
    expanded): a network without input passes its bias, expanded over batch and time without a copy."""
    if drive.stride(-1) != 1:
        raise ValueError("the drive's rows must be contiguous")
    return (ctypes.c_void_p(drive.data_ptr()), *drive.stride()[:3])


def _readout(W_O, b_O=None) -> tuple:
    """The kernels' readout arguments: its width, weights (R, O, n) and bias (R, O); none: (0, None, None)."""
    return (0, None, None) if W_O is None else (W_O.shape[1], W_O, b_O)


def _schedule(plan) -> tuple:
    """A StepPlan as the kernels read it: modules, active modules per step, their offsets, unit bounds, the
    units each module reads."""
    return len(plan.bounds) - 1, plan.active, plan.starts, plan.bounds, plan.reads


def clockwork_forward(W, drive, h0, plan, W_O=None, b_O=None):
    """(states, y, tape) of the CW-RNN (shapes in kernel_scan.py) on a StepPlan's schedule, member-major:
    states (R, B, T, n), y (R, B, T, O) the readout W_O h_t + b_O when W_O is given (else None); tape what
    clockwork_backward reads (kernels.cpp, cw_forward)."""
    R, B, n = h0.shape
    T = len(plan.starts) - 1
    out = h0.new_empty(R, B, T, n)
    y = None if W_O is None else h0.new_empty(R, B, T, W_O.shape[1])
    tape = h0.new_empty(_call("cw_tape_size", None, R * B, T, n, *_schedule(plan)))
    if tape.data_ptr() % 64:  # the kernels read it as whole vectors (torch's CPU allocator aligns to 64 bytes)
        raise RuntimeError("the scan kernels' tape is not aligned to 64 bytes")
    _call(
        "cw_forward",
        W.dtype,
        *(R, B, T, n, W, *_drive(drive), h0, *_schedule(plan), out, tape),
        *_readout(W_O, b_O),
        y,
    )
    return out, y, tape


def clockwork_backward(W, tape, grad_out, plan, batch: int, *, pre_grads: bool, W_O=None, grad_y=None):
    """(dW, db, G, dh0, dW_O, db_O) from clockwork_forward's tape and the gradients of the states (grad_out,
    member-major, or None) and of the readout (grad_y, or None); `batch` sequences per network. G, when
    pre_grads, holds the pre-activation gradients (R, B, T, n), zero for held units."""
    (R, n, _), T, B = W.shape, len(plan.starts) - 1, batch
    dW, db, dh0 = torch.zeros_like(W), W.new_zeros(R, n), W.new_empty(R, B, n)
    G = W.new_zeros(R, B, T, n) if pre_grads else None
    dW_O, db_O = _readout_grads(W_O, grad_y)
    _call(
        "cw_backward",
        W.dtype,
        *(R, B, T, n, W, tape, grad_out, *_schedule(plan), dW, db, G, dh0),
        *_readout_backward(W_O, grad_y, dW_O, db_O),
    )
    return dW, db, G, dh0, dW_O, db_O


def lstm_forward(W, drive, peep, h0, steps: int, W_O=None, b_O=None):
    """(out, cells, tanh_cells, gates, y) of the peephole LSTM, member-major (R, B, T, n); gates
    (R, B, T, 4n) after their nonlinearities; y as in clockwork_forward."""
    R, B, n = h0.shape
    out, cells, tanh_cells = (h0.new_empty(R, B, steps, n) for _ in range(3))
    gates = h0.new_empty(R, B, steps, 4 * n)
    y = None if W_O is None else h0.new_empty(R, B, steps, W_O.shape[1])
    _call(
        "lstm_forward",
        W.dtype,
        *(R, B, steps, n, W, *_drive(drive), peep, h0, out, cells, tanh_cells, gates),
        *_readout(W_O, b_O),
        y,
    )
    return out, cells, tanh_cells, gates, y


def lstm_backward(W, peep, h0, out, cells, tanh_cells, gates, grad_out, *, pre_grads: bool, W_O=None, grad_y=None):
    """(dW, db, dpeep, G, dh0, dW_O, db_O), member-major like lstm_forward; G (R, B, T, 4n) the gates'
    pre-activation gradients, when pre_grads; grad_out and grad_y as in clockwork_backward."""
    R, B, T, n = out.shape
    dW, db, dh0 = torch.zeros_like(W), W.new_zeros(R, 4 * n), torch.empty_like(h0)
    dpeep = torch.zeros_like(peep) if peep is not None else None
    G = torch.empty_like(gates) if pre_grads else None
    dW_O, db_O = _readout_grads(W_O, grad_y)
    _call(
        "lstm_backward",
        W.dtype,
        *(R, B, T, n, W, peep, h0, out, cells, tanh_cells, gates, grad_out, dW, db, dpeep, G, dh0),
        *_readout_backward(W_O, grad_y, dW_O, db_O),
    )
    return dW, db, dpeep, G, dh0, dW_O, db_O


def _readout_grads(W_O, grad_y) -> tuple:
    """Zeroed (dW_O, db_O) for the kernels to accumulate into; (None, None) when no gradient reaches y."""
    if W_O is None or grad_y is None:
        return None, None
    return torch.zeros_like(W_O), W_O.new_zeros(W_O.shape[:2])


def _readout_backward(W_O, grad_y, dW_O, db_O) -> tuple:
    """The backward kernels' readout arguments: O, W_O, grad_y, dW_O, db_O; all off when dW_O is None."""
    if dW_O is None:
        return 0, None, None, None, None
    return W_O.shape[1], W_O, grad_y, dW_O, db_O


if __name__ == "__main__":  # the install scripts build the kernels here, so that errors show at install
    lib = library()
    print(f"scan kernels: {problem() or 'built'}", file=sys.stderr if lib is None else sys.stdout)
