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
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import PRESETS, ConfigError, RunConfig, as_trained, validate
from ..grid import EXPERIMENTS, GRID_ARCHS, is_grid
from ..paper import arch_label, sort_archs
from ..runs.jobs import job_kind
from ..runs.store import MAX_RUN_ID, RunNotFound, RunStore
from . import word_view
from .sweep_view import is_sweep
from .viz.viz_style import ARCH_DASHES, GROUP_PALETTE

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
        return list(GRID_ARCHS)
    if is_sweep(run):
        return list(config["archs"])
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
                "epochs": run["config"]["epochs"] if is_grid(run) or is_sweep(run) else progress.get("epoch"),
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


def rows_of(ids: Sequence[int], chosen: Sequence[int]) -> list[int]:
    """The table rows (positions in `ids`) of the runs a link chose, so the table shows them ticked."""
    return [row for row, run_id in enumerate(ids) if run_id in set(chosen)]


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

    RunLinkError says what is wrong: a malformed id, several ids for ?run, or an id with no stored run
    (any whole number past MAX_RUN_ID is one; it is never converted, so no length of digits can fail).
    """
    parts = [p.strip() for p in str(text).split(",")]
    bad = [p for p in parts if not re.fullmatch(r"[0-9]+", p)]
    if bad:
        raise RunLinkError(
            f"?{param}={_clipped(text)} is not a valid link: run ids are whole numbers, as in "
            f"?run=3 or ?compare=3,5; got {', '.join(repr(_clipped(b)) for b in bad)}"
        )
    digits = list(dict.fromkeys(p.lstrip("0") or "0" for p in parts))
    if param == "run" and len(digits) > 1:
        raise RunLinkError(
            f"?run={_clipped(text)} names several runs; ?run takes one id, ?compare=3,5 compares several"
        )
    missing = []
    for number in digits:
        try:
            if len(number) > len(str(MAX_RUN_ID)):
                raise RunNotFound(number)
            store.get_run(int(number))
        except RunNotFound:
            missing.append(_clipped(number))
    if missing:
        raise RunLinkError(f"there is no run {', '.join(missing)} in this lab (it may have been deleted)")
    return [int(number) for number in digits]


def _clipped(text: str, most: int = 40) -> str:
    """Text from a link, cut short: a message need not repeat 5000 characters back."""
    return text if len(text) <= most else f"{text[:most]}... ({len(text)} characters)"


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


def config_used(run: Mapping) -> dict:
    """The run's configuration with the optimiser settings its preset chose in place of "automatic"
    (`config.as_trained`); a grid's, or one this version no longer accepts, as stored."""
    try:
        return as_trained(validate(run["config"]))
    except ConfigError:
        return dict(run["config"])


def config_json(run: Mapping) -> bytes:
    """The run's configuration as trained, as indented JSON (RunConfig fields; `experiment.validate` reads
    it back and trains the same run)."""
    return (json.dumps(config_used(run), indent=2) + "\n").encode()


#: The settings table's rows: RunConfig field -> what the row is called; only the fields of the run's task.
SETTING_NAMES = {
    "task": "task",
    "source": "target",
    "clips": "clips",
    "wav_path": "WAV file",
    "wav_start": "WAV start (s)",
    "steps": "steps",
    "dataset": "recordings",
    "folder": "folder",
    "readout": "prediction read at",
    "periods": "periods",
    "module_sizes": "units per module",
    "connectivity": "connectivity",
    "budget": "parameter budget",
    "baselines": "baselines",
    "preset": "optimiser",
    "lr": "learning rate",
    "momentum": "momentum",
    "clip_norm": "gradient norm clipped at",
    "epochs": "epochs (most)",
    "seeds": "seeds",
    "seed": "first seed",
    "device": "device",
}
_TASK_FIELDS = {
    "generation": ("dataset", "folder", "readout"),
    "words": ("source", "clips", "wav_path", "wav_start", "steps"),
}


def _preset_clip(preset: str | None) -> str:
    """A run without its own clip: the preset's clipping, per architecture where it has one."""
    chosen = PRESETS.get(preset, {})
    if not chosen.get("clip_norm"):
        return "none"
    by_arch = chosen.get("clip_by_arch") or {}
    return f"{chosen['clip_norm']:g}" + "".join(f", {arch_label(a)} at {c:g}" for a, c in by_arch.items())


def settings_table(run: Mapping, home: Path | None = None) -> pd.DataFrame:
    """One row per setting of a training run, with the values it was trained with (the preset's learning
    rate, momentum and clipping, not "automatic"), its models' sizes and, once finished, its epochs and
    device. Paths inside the data `home` are shown relative to it."""
    config, summary = config_used(run), run.get("summary") or {}
    skip = _TASK_FIELDS.get(config.get("task", run["task"]), ())
    rows = []
    for name, label in SETTING_NAMES.items():
        if name in skip or name not in config or (name in ("wav_path", "wav_start") and config.get("source") != "wav"):
            continue
        value = config[name] if (name, config[name]) != ("clip_norm", None) else _preset_clip(config.get("preset"))
        if name in ("folder", "wav_path") and value and home is not None:  # no server path of the lab's
            value = word_view.shown_path(value, home)
        if name == "lr" and config.get("preset") in PRESETS and PRESETS[config["preset"]]["lr_scale"]:
            scales = PRESETS[config["preset"]]["lr_scale"]
            value = f"{value:g} (" + ", ".join(f"{arch_label(a)} x {s:g}" for a, s in scales.items()) + ")"
        rows.append((label, shown(value)))
    for model in summary.get("models") or (run.get("progress") or {}).get("models") or []:
        rows.append(
            (
                f"{arch_label(model['arch'])} size",
                f"{model['hidden_size']} hidden units"
                + (f", {model['parameters']} parameters" if "parameters" in model else ""),
            )
        )
    if summary.get("epochs") is not None:
        rows.append(("epochs trained", shown(summary["epochs"])))
    if run.get("device"):
        rows.append(("trained on", run["device"]))
    return pd.DataFrame(rows, columns=["setting", "value"])


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


def by_task(runs: Sequence[Mapping]) -> dict[str, list[Mapping]]:
    """The runs grouped by task, in the order each task first appears: runs compare within a task."""
    groups: dict[str, list[Mapping]] = {}
    for run in runs:
        groups.setdefault(run["task"], []).append(run)
    return groups


def run_colors(runs: Sequence[Mapping]) -> dict[str, str]:
    """One colour per run label, in selection order: a run keeps its colour in every chart of a comparison."""
    return {run_label(run): GROUP_PALETTE[i % len(GROUP_PALETTE)] for i, run in enumerate(runs)}


def series_label(run: str, arch: str) -> str:
    """The legend name of one model of one run in a comparison."""
    return f"{run} · {arch_label(arch)}"


def series_style(
    labels: Mapping[str, tuple[str, str]], colors: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(colour, dash) of each series label -> (run label, arch): its run's colour, its model's dash."""
    return (
        {s: colors[run] for s, (run, _) in labels.items()},
        {s: ARCH_DASHES.get(arch, "solid") for s, (_, arch) in labels.items()},
    )


def metric_choices(metrics: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(architectures logged by any run, metric names logged by every run) of comparison_metrics."""
    runs = metrics["run"].unique()
    names = sorted(
        n for n in metrics["name"].unique() if all((metrics["run"][metrics["name"] == n] == r).any() for r in runs)
    )
    return sort_archs(metrics["arch"].unique()), names


def comparison_series(metrics: pd.DataFrame, archs: Sequence[str]) -> tuple[pd.DataFrame, dict[str, tuple]]:
    """The metric rows of the chosen models with a `series` column (run · model), and each series' (run,
    arch), for `loss_figure(group_col="series")` styled by `series_style`."""
    rows = metrics[metrics["arch"].isin(archs)]
    labels = {series_label(r, a): (r, a) for r, a in zip(rows["run"], rows["arch"])}
    series = [series_label(r, a) for r, a in zip(rows["run"], rows["arch"])]
    return rows.assign(series=series), labels


def comparison_waveforms(
    store: RunStore, runs: Sequence[Mapping], archs: Sequence[str]
) -> tuple[np.ndarray | None, dict[str, np.ndarray], dict[str, tuple], list[str]]:
    """(target, {series label: output}, {series label: (run label, arch)}, notes) from the runs' latest
    snapshots, for each chosen model.

    Only outputs made for the same target as the first run's can be overlaid; the notes say which
    runs were left out and why.
    """
    target, outputs, labels, notes = None, {}, {}, []
    for run in runs:
        label, snapshot = run_label(run), store.load_snapshot(run["id"])
        if snapshot is None:
            notes.append(f"{label} has no snapshot yet")
            continue
        arrays = snapshot[1]
        present = [a for a in archs if f"output/{a}" in arrays]
        if not present or "target" not in arrays:
            notes.append(f"{label} has no generated waveform for {', '.join(map(arch_label, archs))}")
            continue
        if target is None:
            target = arrays["target"]
        elif arrays["target"].shape != target.shape or not np.allclose(arrays["target"], target):
            notes.append(f"{label} learned a different target sequence, so it is not overlaid")
            continue
        for arch in present:
            outputs[series_label(label, arch)] = arrays[f"output/{arch}"]
            labels[series_label(label, arch)] = (label, arch)
    return target, outputs, labels, notes


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
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_diff(runs: Sequence[Mapping], home: Path | None = None) -> pd.DataFrame:
    """The configuration settings that differ between runs: one row per setting, one column per run.

    None shows as "automatic" (the setting's default rule); a key a run's config lacks, as "not set";
    a folder or WAV file inside the data `home`, relative to it.
    """

    def value(run: Mapping, key: str) -> str:
        v = run["task"] if key == "task" else run["config"].get(key, _UNSET)
        if key in ("folder", "wav_path") and isinstance(v, str) and home is not None:
            v = word_view.shown_path(v, home)
        return shown(v)

    keys = list(dict.fromkeys(["task", *(k for run in runs for k in run["config"])]))
    values = {run_label(run): [value(run, k) for k in keys] for run in runs}
    table = pd.DataFrame(values, index=pd.Index(keys, name="setting"))
    return table[table.nunique(axis=1) > 1]


# ---- a run's status line ---------------------------------------------------------------------------


def status_text(run: Mapping) -> tuple[str, float]:
    """A one-line status of a run (state, device, epoch or grid cell, time left) and its progress from 0
    to 1."""
    progress = run.get("progress") or {}
    grid = job_kind(run["config"]) in ("grid", "sweep")  # both count cells
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
    elif run["status"] == "running" and done and not grid:
        parts.append("estimating the time left")
    elif run["status"] == "completed" and progress.get("elapsed_s") is not None:
        parts.append(f"took {progress['elapsed_s']:.1f} s")
    return ", ".join(parts), (min(done / total, 1.0) if total else 0.0)


SPEED_COLUMNS = ("architecture", "multiply-adds per step", "measured ms per epoch", "time / CW-RNN's")


def speed_rows(run: Mapping) -> list[dict]:
    """Per model of a training run: its recurrent multiply-adds per step beside the time its updates took per
    epoch as measured by the run (the models take turns in one process, so the times compare); [] before
    the first epoch's time is known."""
    progress = run.get("progress") or {}
    ms = progress.get("ms_per_epoch") or {}
    macs = {m["arch"]: m["macs_per_step"] for m in progress.get("models") or [] if m.get("arch") in ms}
    reference = ms.get("cwrnn")
    return [
        dict(
            zip(
                SPEED_COLUMNS,
                (
                    arch_label(arch),
                    round(macs[arch], 1),
                    round(ms[arch], 1),
                    f"{ms[arch] / reference:.2f}x" if reference else "",
                ),
            )
        )
        for arch in sort_archs(macs)
    ]


#: At the paper's rate (SGD, 3e-4) every model of Experiment 1 sits near NMSE 1 (a flat line at the mean)
#: for its first couple of hundred epochs before the CW-RNN falls away (a first-time user saw every model
#: at 1 until about epoch 200 with the Playground's defaults), so a short run looks like plain failure.
PLATEAU_EPOCHS = 250


def early_note(run: Mapping) -> str | None:
    """What to expect of an Experiment 1 run trained with the paper's optimiser that is still inside the
    plateau where every model's NMSE stays near 1; None otherwise."""
    config, progress = run["config"], run.get("progress") or {}
    if run["task"] != "generation" or config.get("preset") != "paper-generation":
        return None
    done = progress.get("epoch") or 0
    if done >= PLATEAU_EPOCHS or run["status"] not in ("running", "completed", "cancelled"):
        return None
    if run["status"] == "running":
        return (
            f"Epoch {done}: at the paper's learning rate every model stays near NMSE 1 (no better than a flat "
            f"line) for about the first {PLATEAU_EPOCHS - 50} epochs, then the CW-RNN falls away. This is normal; "
            "give it time."
        )
    return (
        f"This run stopped at epoch {done}, inside the first {PLATEAU_EPOCHS - 50} or so epochs in which the "
        "paper's optimiser leaves every model near NMSE 1: train longer (the Playground's default is 400) "
        "or try Adam to see the CW-RNN pull ahead."
    )
