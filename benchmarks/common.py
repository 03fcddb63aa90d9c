"""Timing helpers shared by the benchmarks."""

import datetime
import platform
import statistics
import time

import torch


def timed(fn, *, repeats: int = 5, warmup: int = 1, device: str = "cpu") -> float:
    """Median wall time of fn() in seconds (synchronising CUDA so queued kernels are counted)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict, *, repeats: int = 7, device: str = "cpu") -> dict[str, list[float]]:
    """Wall times of each fn() in seconds, the fns taking turns so that every one meets the same
    conditions on a shared machine (one warm-up call each first)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, repeats=1, warmup=0, device=device))
    return times


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads (torch {torch.__version__})"


def update_json(path: str, key: str, value: dict, device: str = "cpu") -> None:
    """Set `key` in the JSON file at `path` (made when absent) to `value`, stamped with the machine (the CPU,
    or the GPU for a CUDA device) and date, leaving the other keys as they were: several benchmarks write
    their part of one results file."""
    import json
    from pathlib import Path

    target = Path(path)
    data = json.loads(target.read_text()) if target.exists() else {}
    where = torch.cuda.get_device_name() if device.startswith("cuda") else cpu_name()
    data[key] = {"machine": where, "torch": torch.__version__, "date": str(datetime.date.today()), **value}
    target.write_text(json.dumps(data, indent=1) + "\n")


def cpu_name() -> str:
    """The CPU's model name and core count (Linux), else what platform knows."""
    import os
    from pathlib import Path

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
