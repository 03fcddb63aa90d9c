"""Runs: the SQLite run store and the background worker processes that fill it."""

from .manager import WorkerManager, default_max_workers, ensure_manager
from .store import (
    STATUSES,
    TERMINAL_STATUSES,
    RunNotFound,
    RunStore,
    StoreError,
    default_home,
)

__all__ = [
    "STATUSES",
    "TERMINAL_STATUSES",
    "RunNotFound",
    "RunStore",
    "StoreError",
    "WorkerManager",
    "default_home",
    "default_max_workers",
    "ensure_manager",
]
