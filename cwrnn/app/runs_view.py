"""What the Runs page shows, as plain data built from the store: the runs table, links, downloads,
comparisons and a run's status line.

Pages only lay these out, so every number, table and URL rule here is unit-tested without a browser.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime

import numpy as np
import pandas as pd

from ..config import RunConfig
from ..grid import EXPERIMENTS, is_grid
from ..paper import arch_label, sort_archs
from ..runs.jobs import job_kind
from ..runs.store import RunNotFound, RunStore

#: The final score each task is judged by (lower is better for all).
SCORE_METRICS = {
    "generation": "nmse",
    "words": "test_error",
    "handwriting": "test_cer",
    **{e.task: e.stored for e in EXPERIMENTS.values()},
}
SCORE_ARCHS = ("cwrnn", "srn", "lstm", "gru")
RUNS_COLUMNS = (
    "id",
    "name",
    "task",
    "architectures",
    "budget",
    "status",
    "score",
    *(arch_label(a) for a in SCORE_ARCHS),
    "epochs",
    "date",
)


class RunLinkError(ValueError):
    """A run id in a link is malformed or names no stored run."""


# ---- the runs table --------------------------------------------------------------------------


def _final_scores(run: dict) -> dict[str, float]:
    """arch -> the run's final score: the summary's when finished, else the latest from progress."""
    metric = SCORE_METRICS.get(run["task"])
    summary, progress = run.get("summary") or {}, run.get("progress") or {}
    if is_grid(run):  # the cells at the largest budget, the one the table shows
        cells = summary.get("cells") or []
        top = max((c["budget"] for c in cells), default=None)
        return {c["arch"]: c["mean"] for c in cells if c["budget"] == top}
    if summary.get("final"):
        return {a: m[metric]["mean"] for a, m in summary["final"].items() if metric in m}
    return {a: m[metric] for a, m in (progress.get("latest") or {}).items() if metric in m}


def _architectures(run: dict) -> list[str]:
    config = run["config"]
    if is_grid(run):
        return list(SCORE_ARCHS)
    return ["cwrnn", *config.get("baselines", RunConfig().baselines)]


def _budget(run: dict) -> int | None:
    config = run["config"]
    return max(config["budgets"]) if is_grid(run) else config.get("budget")


def runs_table(runs: Sequence[dict]) -> pd.DataFrame:
    """One row per run (as RunStore.list_runs returns them), in RUNS_COLUMNS order.

    The score columns hold each architecture's final mean of the task's SCORE_METRICS metric (for a
    paper grid, at its largest budget, which the budget column shows); `score` names that metric.
    """
    rows = []
    for run in runs:
        scores, progress = _final_scores(run), run.get("progress") or {}
        rows.append(
            {
                "id": run["id"],
                "name": run.get("name") or "",
                "task": run["task"],
                "architectures": ", ".join(arch_label(a) for a in sort_archs(_architectures(run))),
                "budget": _budget(run),
                "status": run["status"],
                "score": SCORE_METRICS.get(run["task"], ""),
                **{arch_label(a): scores.get(a, np.nan) for a in SCORE_ARCHS},
                # a grid's progress counts cells; its networks each train the configured epochs
                "epochs": run["config"]["epochs"] if is_grid(run) else progress.get("epoch"),
                "date": datetime.fromtimestamp(run["created_at"]),
            }
        )
    table = pd.DataFrame(rows, columns=list(RUNS_COLUMNS))
    return table.astype({"id": int, "epochs": "Int64", "budget": "Int64"})


def filter_runs(
    table: pd.DataFrame, tasks: Sequence[str] | None = None, statuses: Sequence[str] | None = None
) -> pd.DataFrame:
    """Rows whose task and status are among those given (None keeps every value)."""
    keep = np.ones(len(table), dtype=bool)
    if tasks is not None:
        keep &= table["task"].isin(tasks).to_numpy()
    if statuses is not None:
        keep &= table["status"].isin(statuses).to_numpy()
    return table[keep]


def selection_params(ids: Sequence[int], rows: Sequence[int]) -> dict[str, str]:
    """Query parameters for rows selected in the table: ?run=ID for one, ?compare=ID,ID for several."""
    chosen = [int(ids[r]) for r in rows if 0 <= r < len(ids)]
    if not chosen:
        return {}
    if len(chosen) == 1:
        return {"run": str(chosen[0])}
    return {"compare": ",".join(map(str, chosen))}


# ---- links ------------------------------------------------------------------------------------


def parse_run_ids(text: str, store: RunStore, *, param: str = "run") -> list[int]:
    """The stored runs named by a link: ?run=3 (exactly one) or ?compare=3,5 (several).

    RunLinkError says what is wrong: a malformed id, several ids for ?run, or an id with no stored run.
    """
    parts = [p.strip() for p in str(text).split(",")]
    bad = [p for p in parts if not re.fullmatch(r"[0-9]{1,18}", p)]
    if bad:
        raise RunLinkError(
            f"?{param}={text} is not a valid link: run ids are whole numbers, as in ?run=3 "
            f"or ?compare=3,5; got {', '.join(repr(b) for b in bad)}"
        )
    ids = list(dict.fromkeys(int(p) for p in parts))
    if param == "run" and len(ids) > 1:
        raise RunLinkError(f"?run={text} names several runs; ?run takes one id, ?compare=3,5 compares several")
    missing = []
    for run_id in ids:
        try:
            store.get_run(run_id)
        except RunNotFound:
            missing.append(str(run_id))
    if missing:
        raise RunLinkError(
            f"there is no run {', '.join(missing)} in this lab (it may have been deleted); choose a run from the table"
        )
    return ids


def playground_params(config: Mapping) -> dict[str, str]:
    """The Playground's query parameters for a run configuration.

    Convention: one parameter per RunConfig field, named as the field; lists are comma-separated
    (periods=1,2,4); fields that are None (automatic) are left out.
    """
    names = {f.name for f in fields(RunConfig)}
    params = {}
    for name, value in config.items():
        if name not in names or value is None:
            continue
        params[name] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return params


# ---- one run: downloads -------------------------------------------------------------------------

ARTIFACT_KINDS = {".wav": ("audio", "audio/wav"), ".pt": ("weights", "application/octet-stream")}


def metrics_csv(store: RunStore, run_id: int) -> bytes:
    """Every metric row of the run as CSV (arch, seed, epoch, name, value)."""
    return store.metrics(run_id).to_csv(index=False).encode()


def config_json(run: Mapping) -> bytes:
    """The run's configuration as indented JSON (RunConfig fields; `experiment.validate` reads it back)."""
    return (json.dumps(run["config"], indent=2) + "\n").encode()


def downloadable_files(store: RunStore, run_id: int) -> list[tuple[str, str, str]]:
    """(kind, file name, MIME type) of each artifact worth downloading: generated audio and weights."""
    files = []
    for name in store.list_artifacts(run_id):
        for suffix, (kind, mime) in ARTIFACT_KINDS.items():
            if name.endswith(suffix):
                files.append((kind, name, mime))
    return files


def artifact_bytes(store: RunStore, run_id: int, name: str) -> bytes:
    """The contents of one of the run's artifact files."""
    if name not in store.list_artifacts(run_id):
        raise FileNotFoundError(f"run {run_id} has no file {name!r}; it has {store.list_artifacts(run_id)}")
    return (store.artifact_dir(run_id) / name).read_bytes()


# ---- comparing runs ----------------------------------------------------------------------------


def run_label(run: Mapping) -> str:
    return f"run {run['id']}" + (f" ({run['name']})" if run.get("name") else "")


def comparison_metrics(store: RunStore, runs: Sequence[Mapping]) -> pd.DataFrame:
    """All metric rows of the runs, with a `run` column holding each run's label (for group_col="run")."""
    frames = [store.metrics(run["id"]).assign(run=run_label(run)) for run in runs]
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["arch", "seed", "epoch", "name", "value", "run"])
    )


def metric_choices(metrics: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(architectures logged by every run, metric names logged by every run) of comparison_metrics."""
    runs = metrics["run"].unique()
    archs = [
        a
        for a in sort_archs(metrics["arch"].unique())
        if all((metrics["run"][metrics["arch"] == a] == r).any() for r in runs)
    ]
    names = sorted(
        n for n in metrics["name"].unique() if all((metrics["run"][metrics["name"] == n] == r).any() for r in runs)
    )
    return archs, names


def comparison_waveforms(
    store: RunStore, runs: Sequence[Mapping], arch: str
) -> tuple[np.ndarray | None, dict[str, np.ndarray], list[str]]:
    """(target, {run label: arch's output}, notes) from the runs' latest snapshots.

    Only outputs made for the same target as the first run's can be overlaid; the notes say which
    runs were left out and why.
    """
    target, outputs, notes = None, {}, []
    for run in runs:
        label, snapshot = run_label(run), store.load_snapshot(run["id"])
        if snapshot is None:
            notes.append(f"{label} has no snapshot yet")
            continue
        arrays = snapshot[1]
        if f"output/{arch}" not in arrays or "target" not in arrays:
            notes.append(f"{label} has no generated waveform for {arch_label(arch)}")
            continue
        if target is None:
            target = arrays["target"]
        elif arrays["target"].shape != target.shape or not np.allclose(arrays["target"], target):
            notes.append(f"{label} learned a different target sequence, so it is not overlaid")
            continue
        outputs[label] = arrays[f"output/{arch}"]
    return target, outputs, notes


_UNSET = object()


def shown(value, sep: str = ", ") -> str:
    """A setting as the app writes it: None is "automatic" (the setting's default rule), lists are joined
    by `sep` (a link's lists by ",")."""
    if value is _UNSET:
        return "not set"
    if value is None:
        return "automatic"
    if isinstance(value, (list, tuple)):
        return sep.join(map(str, value))
    return str(value)


def config_diff(runs: Sequence[Mapping]) -> pd.DataFrame:
    """The configuration settings that differ between runs: one row per setting, one column per run.

    None shows as "automatic" (the setting's default rule); a key a run's config lacks, as "not set".
    """
    keys = ["task", *dict.fromkeys(k for run in runs for k in run["config"])]
    values = {
        run_label(run): [shown(run["task"] if k == "task" else run["config"].get(k, _UNSET)) for k in keys]
        for run in runs
    }
    table = pd.DataFrame(values, index=pd.Index(keys, name="setting"))
    return table[table.nunique(axis=1) > 1]


# ---- a run's status line ---------------------------------------------------------------------------


def status_text(run: Mapping) -> tuple[str, float]:
    """A one-line status of a run (state, device, epoch or grid cell, time left) and its progress from 0
    to 1."""
    progress = run.get("progress") or {}
    grid = job_kind(run["config"]) == "grid"
    total = progress.get("total_epochs") or (0 if grid else run["config"].get("epochs")) or 0
    done = progress.get("epoch") or 0
    device = progress.get("device") or run.get("device")
    parts = [f"Run {run['id']}: **{run['status']}**"]
    if device:
        parts.append(f"on {device}")
    if total:
        parts.append(f"{done} of {total} cells done" if grid else f"epoch {done} of {total}")
    eta = progress.get("eta_s")
    if run["status"] == "running" and grid and progress.get("cell"):
        parts.append(f"training {progress['cell']}")
    if run["status"] == "running" and eta is not None:
        parts.append(f"about {math.ceil(eta)} s left")
    elif run["status"] == "completed" and progress.get("elapsed_s") is not None:
        parts.append(f"took {progress['elapsed_s']:.1f} s")
    return ", ".join(parts), (min(done / total, 1.0) if total else 0.0)
