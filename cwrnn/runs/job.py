"""Entry point of a worker process.

    python -m cwrnn.runs.job RUN_ID HOME JOB_TARGET        run one job now
    python -m cwrnn.runs.job --standby HOME JOB_TARGET     import everything, then wait for a run id on stdin

A standby worker does its slow imports (torch) before any run exists, so a run handed to it starts at
once. The job's module may offer `warm_up()` for imports it would otherwise do lazily.
"""

import sys

from .manager import _load_job, run_job


def main(argv: list[str]) -> None:
    if argv[0] != "--standby":
        run_job(int(argv[0]), argv[1], argv[2])
        return
    home, job_target = argv[1], argv[2]
    job = _load_job(job_target)
    warm_up = getattr(sys.modules[job.__module__], "warm_up", None)
    if warm_up is not None:
        warm_up()
    line = sys.stdin.readline().strip()
    if line:  # an empty read means the manager stopped without needing this worker
        run_job(int(line), home, job_target)


if __name__ == "__main__":
    main(sys.argv[1:])
