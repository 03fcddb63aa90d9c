"""Learning-rate sweeps, as the paper tuned its baselines ("optimized separately for each method").

Every (rate, momentum) setting x seed of an architecture is one member of a single stacked model
(TrainConfig.member_lr), so a sweep of L rates x S seeds costs one batched training per architecture,
and the architectures are independent cells of cwrnn.grid's runner (processes in parallel). The table
reports each setting's metric over seeds (and, in Experiment 1, over target clips) with grid's
`summarize`: members that diverged are counted and left out of the mean and spread.

Experiment 1 has no held-out data (fitting the sequence is the task), so its sweep reads the NMSE of
the fit. Experiment 2's task has only train and test speakers; tuning on test would leak, so the sweep
holds out training speakers as a validation split and never looks at the test speakers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from . import paper
from .config import BASELINES, LIMITS, RunConfig, validate
from .data.speech_data import SpeechDataset, SpeechSplit
from .experiment import build_specs, build_task, train_config
from .grid import Backend, Cell, CellSpec, local_processes, run_cells, summarize
from .models import ArchSpec
from .tasks.base import Task
from .tasks.words import WordsTask
from .train import Callback, TrainConfig, TrainResult, train

MAX_SETTINGS = 16  # rates x momenta in one sweep: each is a full set of seeds in the stacked model
ARCHS = ("cwrnn", *BASELINES)
#: the task's metric a sweep ranks by (lower is better) and the name its rows give it: on the validation
#: task the words task's "test" split is the held-out training speakers
METRICS = {"generation": ("nmse", "nmse"), "words": ("test_error", "validation_error")}


def check_values(name: str, values, ok, allowed: str) -> list[float]:
    """A non-empty list of at most MAX_SETTINGS distinct finite numbers passing `ok`, or a ValueError."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of {allowed}, got {values!r}")
    bad = [
        v for v in values if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v)
    ]
    if bad:
        raise ValueError(f"{name} must be {allowed}; these are not: {bad}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} has repeats: {list(values)}")
    if len(values) > MAX_SETTINGS:
        raise ValueError(f"at most {MAX_SETTINGS} {name} in one sweep, got {len(values)}")
    return [float(v) for v in values]


def validation_split(data: SpeechDataset, speakers: int = 1) -> SpeechDataset:
    """Train on all but the last `speakers` training speakers and validate on those; the test speakers
    stay unseen. (The features keep the scaling fitted on every training speaker.)"""
    names = sorted(set(data.train.speakers))
    if not 1 <= speakers < len(names):
        raise ValueError(
            f"a validation split needs 1 to {len(names) - 1} of the {len(names)} training speakers, got {speakers}"
        )
    held = set(names[-speakers:])

    def part(keep: bool) -> SpeechSplit:
        idx = [i for i, s in enumerate(data.train.speakers) if (s in held) != keep]
        t = data.train
        return SpeechSplit(
            [t.features[i] for i in idx], t.targets[idx], [t.speakers[i] for i in idx], [t.paths[i] for i in idx]
        )

    return replace(data, train=part(True), test=part(False))


def check_sweep(
    config: RunConfig | dict,
    archs: Sequence[str],
    rates: Sequence[float],
    seeds: Sequence[int],
    momenta: Sequence[float] | None = None,
) -> tuple[RunConfig, list[tuple[float, float]]]:
    """The validated config and the (rate, momentum) settings of a sweep; a ValueError says what is wrong."""
    cfg = config if isinstance(config, RunConfig) else validate(config)
    rates = check_values("rates", rates, lambda v: 0 < v <= 10, "finite numbers in (0, 10]")
    momenta = (
        [train_config(cfg).momentum]
        if momenta is None
        else check_values("momenta", momenta, lambda v: 0 <= v < 1, "numbers in [0, 1)")
    )
    if isinstance(archs, str) or not archs or any(a not in ARCHS for a in archs) or len(set(archs)) != len(archs):
        raise ValueError(f"archs must be a list drawn from {', '.join(ARCHS)} without repeats, got {archs!r}")
    if isinstance(seeds, (str, bytes)) or not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds!r}")
    settings = [(lr, m) for lr in rates for m in momenta]
    if len(settings) > MAX_SETTINGS:
        raise ValueError(
            f"{len(rates)} rates x {len(momenta)} momenta make {len(settings)} settings; "
            f"at most {MAX_SETTINGS} in one sweep"
        )
    return cfg, settings


def sweep(
    config: RunConfig | dict,
    archs: Sequence[str],
    rates: Sequence[float],
    seeds: Sequence[int],
    momenta: Sequence[float] | None = None,
    *,
    workers: int | None = None,
    backend: Backend = local_processes,
    callbacks: Sequence[Callback] = (),
) -> list[dict]:
    """Each architecture of `archs` (sized by `config`'s budget) at every rate x momentum, every seed.

    Rates are absolute (the preset's per-architecture lr_scale is not applied; its per-architecture clip
    is); momenta default to the preset's; `seeds` are the init seeds (the config's seeds and seed fields
    are not used). The architectures train as independent cells on `backend` (`workers` processes);
    with `callbacks` they train in this process, one after another, so that the callbacks hear every
    epoch. Returns one row per architecture, rate and momentum: the setting, `summarize`'s statistics,
    each member's value and `best`.
    """
    cfg, settings = check_sweep(config, archs, rates, seeds, momenta)
    cells = sweep_cells(cfg, archs, settings, seeds)
    if callbacks:
        done = [(cell, train_sweep_cell(cell, callbacks)) for cell in cells]
    else:
        done = sorted(run_cells(cells, workers, backend), key=lambda d: list(archs).index(d[0].arch))
    return sweep_rows(done, METRICS[cfg.task][1])


def sweep_cells(
    cfg: RunConfig, archs: Sequence[str], settings: Sequence[tuple[float, float]], seeds: Sequence[int]
) -> list[CellSpec]:
    """One grid cell per architecture: all its settings x seeds in one stacked model."""
    plan = {"settings": [list(s) for s in settings], "seeds": [int(s) for s in seeds]}
    return [CellSpec(cfg.to_dict(), arch, METRICS[cfg.task][0], "cwrnn.sweep:train_sweep_cell", plan) for arch in archs]


def train_sweep_cell(cell: CellSpec, callbacks: Sequence[Callback] = ()) -> Cell:
    """Train one architecture's sweep (grid.run_cell's work for a sweep cell). Its values are the members'
    metric, replica-major over setting-major seed slots (see `train_members`)."""
    cfg = validate(cell.config)
    settings, seeds = [tuple(s) for s in cell.plan["settings"]], cell.plan["seeds"]
    stacked = replace(cfg, seeds=len(settings) * len(seeds), baselines=[cell.arch] if cell.arch != "cwrnn" else [])
    task = build_task(stacked)
    if isinstance(task, WordsTask):
        task = WordsTask(validation_split(task.data), readout=task.readout, dataset=f"{task.dataset}, validation")
    spec = next(s for s in build_specs(stacked, task.input_size, task.output_size) if s.arch == cell.arch)
    tc = replace(train_config(cfg), lr_scale={}, snapshot_every=10**9)
    result = train_members(task, spec, settings, seeds, tc, callbacks)
    return Cell(
        cell.arch,
        cfg.budget,
        spec.hidden_size,
        spec.parameters(task.input_size, task.output_size),
        [float(v) for v in result.final[cell.arch][cell.metric]],
        None,
        result.outcome,
        result.elapsed,
    )


def train_members(
    task: Task,
    spec: ArchSpec,
    settings: Sequence[tuple[float, float]],
    seeds: Sequence[int],
    cfg: TrainConfig,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """One stacked training of `spec` whose members are setting-major (all seeds of the first (rate,
    momentum), then the next). The task must have been built for len(settings) * len(seeds) seeds."""
    cfg = replace(
        cfg,
        member_lr=[lr for lr, _ in settings for _ in seeds],
        member_momentum=[m for _, m in settings for _ in seeds],
    )
    return train(task, [spec], [int(s) for _ in settings for s in seeds], cfg, callbacks)


def setting_rows(cell: Cell, settings: Sequence[tuple[float, float]], seeds: int, name: str) -> list[dict]:
    """A trained sweep cell's rows, one per setting."""
    # members are replica-major over the seed slots (train.member_seeds): column = slot
    values = np.asarray(cell.values, dtype=float).reshape(-1, len(settings) * seeds)
    rows = []
    for i, (lr, momentum) in enumerate(settings):
        mine = values[:, i * seeds : (i + 1) * seeds].ravel()
        rows.append(
            {
                "arch": cell.arch,
                "hidden_size": cell.hidden_size,
                "lr": lr,
                "momentum": momentum,
                "metric": name,
                **summarize(mine),
                "values": [float(v) if np.isfinite(v) else None for v in mine],
            }
        )
    return rows


def sweep_rows(done: Sequence[tuple[CellSpec, Cell]], name: str) -> list[dict]:
    """The rows of trained sweep cells, in the cells' order, each architecture's best marked."""
    rows = []
    for spec, cell in done:
        settings = [tuple(s) for s in spec.plan["settings"]]
        rows += setting_rows(cell, settings, len(spec.plan["seeds"]), name)
    return mark_best(rows)


def sweep_specs(
    task: Task,
    specs: Sequence[ArchSpec],
    settings: Sequence[tuple[float, float]],
    seeds: Sequence[int],
    cfg: TrainConfig,
    metric: str,
    name: str | None = None,
    *,
    callbacks: Sequence[Callback] = (),
) -> list[dict]:
    """A sweep of any task and architectures in this process, one stacked training per architecture (an
    architecture dead at every setting does not stop the others). Rows call the task's `metric` `name`."""
    rows = []
    for spec in specs:
        result = train_members(task, spec, settings, seeds, cfg, callbacks)
        cell = Cell(spec.arch, 0, spec.hidden_size, 0, list(result.final[spec.arch][metric]), None, "", 0.0)
        rows += setting_rows(cell, settings, len(seeds), name or metric)
    return mark_best(rows)


def mark_best(rows: list[dict]) -> list[dict]:
    """Flag each architecture's row with the lowest mean among the settings where no member diverged (a
    mean over the few survivors of an unstable rate would flatter it); if every setting lost members,
    among those with any survivor."""
    for row in rows:
        row["best"] = False
    for arch in dict.fromkeys(r["arch"] for r in rows):
        mine = [r for r in rows if r["arch"] == arch]
        alive = [r for r in mine if r["n"] and not r["diverged"]] or [r for r in mine if r["n"]]
        if alive:
            min(alive, key=lambda r: r["mean"])["best"] = True
    return rows


def _number(value: float | None, scale: float, fmt: str) -> str:
    return "diverged" if value is None else format(value * scale, fmt)


def format_sweep(rows: Sequence[dict], label: str | None = None, scale: float = 1.0) -> str:
    """A plain-text table: one line per architecture and setting, the best marked with *."""
    label = label or rows[0]["metric"]
    lines = [
        f"{'arch':6} {'hidden':>6} {'lr':>9} {'momentum':>8}  {label + ' mean ± std':24} "
        f"{'median':>9} {'n':>4} {'diverged':>8}"
    ]
    for r in rows:
        ms = "diverged" if r["mean"] is None else f"{r['mean'] * scale:.4g} ± {r['std'] * scale:.2g}"
        ms += " *" if r["best"] else ""
        lines.append(
            f"{r['arch']:6} {r['hidden_size']:>6} {r['lr']:>9.3g} {r['momentum']:>8.3g}  {ms:24} "
            f"{_number(r['median'], scale, '.4g'):>9} {r['n']:>4} {r['diverged']:>8}"
        )
    return "\n".join(lines)


# ---- a sweep as one stored run (`cwrnn sweep`, the Paper page's background job) ----------------------

#: the stored run's task of a sweep of each task
SWEEP_TASKS = {"generation": "generation-sweep", "words": "words-sweep"}
#: the paper's settings a sweep of each task starts from (the rates and seeds are the sweep's)
SWEEP_SETTINGS = {
    "generation": {"task": "generation", "periods": list(paper.GENERATION_PERIODS), "preset": "paper-generation"},
    "words": {
        "task": "words",
        "dataset": "synthetic",
        "periods": list(paper.WORDS_PERIODS),
        "preset": "paper-words",
    },
}


def sweep_request(
    task: str,
    budget: int,
    archs: Sequence[str],
    rates: Sequence[float],
    seeds: int,
    momenta: Sequence[float] | None = None,
    epochs: int = 2000,
) -> dict:
    """The stored config of a sweep run, checked (`plan_of` raises a ValueError saying what is wrong)."""
    raw = {
        "sweep": task,
        "budget": budget,
        "archs": list(archs),
        "rates": list(rates),
        "momenta": None if momenta is None else list(momenta),
        "seeds": seeds,
        "epochs": epochs,
    }
    plan_of(raw)
    return raw


def plan_of(raw: dict) -> tuple[RunConfig, list[str], list[tuple[float, float]], list[int]]:
    """A stored sweep config's RunConfig, architectures, settings and seeds; a ValueError (ConfigError)
    lists what is wrong and what is allowed."""
    if not isinstance(raw, dict) or raw.get("sweep") not in SWEEP_SETTINGS:
        raise ValueError(f"a sweep's task must be one of {', '.join(SWEEP_SETTINGS)}, got {raw.get('sweep')!r}")
    seeds = raw.get("seeds")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= LIMITS["seeds"]:
        raise ValueError(f"seeds must be a whole number from 1 to {LIMITS['seeds']}, got {seeds!r}")
    cfg = validate(
        {
            **SWEEP_SETTINGS[raw["sweep"]],
            "budget": raw.get("budget"),
            "epochs": raw.get("epochs"),
            "baselines": [a for a in raw.get("archs") or [] if a in BASELINES],
            "snapshot_every": LIMITS["snapshot_every"],
        }
    )
    cfg, settings = check_sweep(cfg, raw.get("archs"), raw.get("rates"), list(range(seeds)), raw.get("momenta"))
    return cfg, list(raw["archs"]), settings, list(range(seeds))


class _StopWhenAsked(Callback):
    """Stops the training once the run's Stop was pressed (the store is read at most once a second)."""

    def __init__(self, store, run_id: int):
        self.store, self.run_id, self.asked, self.checked = store, run_id, False, 0.0

    def should_stop(self) -> bool:
        if not self.asked and time.monotonic() - self.checked >= 1.0:
            self.asked, self.checked = self.store.cancel_requested(self.run_id), time.monotonic()
        return self.asked


def execute_sweep(run_id: int, home: str, workers: int | None = 1, ray: str | None = None) -> None:
    """The sweep job: train sweep run `run_id` of the store at `home` (in the background, one architecture
    after another in this worker, which holds one training slot of the manager; `cwrnn sweep` here passes
    its own `workers`) and store its rows as the run's summary. With `ray` (an address; in the app
    CWRNN_RAY_ADDRESS) the architectures train as tasks on that Ray cluster instead."""
    from .grid import backend_for
    from .grid_ray import cluster_from_env
    from .runs.jobs import versions
    from .runs.store import RunStore
    from .train import pick_device

    store = RunStore(home)
    raw = store.get_run(run_id)["config"]
    cfg, archs, settings, seeds = plan_of(raw)
    store.set_versions(run_id, versions())
    address = ray or cluster_from_env()
    device = f"the Ray cluster at {address}" if address else str(pick_device(cfg.device))
    cells, done, start, outcome = sweep_cells(cfg, archs, settings, seeds), [], time.perf_counter(), "completed"

    def report() -> None:
        elapsed = time.perf_counter() - start
        left = [paper.arch_label(c.arch) for c in cells if c.arch not in {s.arch for s, _ in done}]
        store.update_progress(
            run_id,
            {
                "epoch": len(done),
                "total_epochs": len(cells),
                "elapsed_s": elapsed,
                "device": device,
                "eta_s": elapsed / len(done) * len(left) if done else None,
                **({"cell": f"{', '.join(left)} at {cfg.budget} parameters"} if left else {}),
            },
        )

    report()
    if store.cancel_requested(run_id):
        outcome = "cancelled"
    elif not address and workers is not None and workers <= 1:
        # Trained in this worker, so Stop is heard between epochs, not only after a whole architecture.
        stop = _StopWhenAsked(store, run_id)
        for cell in cells:
            cell_result = train_sweep_cell(cell, [stop])
            if stop.asked:  # a half-trained architecture's numbers are not a sweep's
                outcome = "cancelled"
                break
            done.append((cell, cell_result))
            report()
    else:
        # every seed of an architecture is a member of its one cell, so no seed batches here
        with backend_for(address, len(cells), len(seeds), len(seeds)) as (backend, _, _):
            trained = run_cells(cells, workers, backend)
            for pair in trained:
                done.append(pair)
                report()
                if len(done) < len(cells) and store.cancel_requested(run_id):
                    trained.close()
                    outcome = "cancelled"
                    break
    done.sort(key=lambda d: archs.index(d[0].arch))
    name = METRICS[cfg.task][1]
    summary = {
        "sweep": raw["sweep"],
        "metric": name,
        "rows": sweep_rows(done, name),
        "seconds": {spec.arch: cell.seconds for spec, cell in done},
        "elapsed_s": time.perf_counter() - start,
    }
    error = f"stopped by request after {len(done)} of {len(cells)} architectures" if outcome == "cancelled" else None
    store.set_status(run_id, outcome, error=error, device=device, summary=summary)
