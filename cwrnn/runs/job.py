"""Entry point of a worker process: `python -m cwrnn.runs.job RUN_ID HOME JOB_TARGET`."""
import sys

from .manager import run_job

if __name__ == "__main__":
    run_job(int(sys.argv[1]), sys.argv[2], sys.argv[3])
