"""Learning-rate sweeps, as the paper tuned its baselines ("optimized separately for each method").

Every (rate, momentum) setting x seed of an architecture is one member of a single stacked model
(TrainConfig.member_lr), so a sweep of L rates x S seeds costs one batched training per architecture.
The table reports each setting's metric over seeds (and, in Experiment 1, over target clips): members
that diverged are counted and left out of the mean and spread.

Experiment 1 has no held-out data (fitting the sequence is the task), so its sweep reads the NMSE of
the fit. Experiment 2's task has only train and test speakers; tuning on test would leak, so the sweep
holds out training speakers as a validation split and never looks at the test speakers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .config import BASELINES, RunConfig, validate
from .data.speech_data import SpeechDataset, SpeechSplit
from .experiment import build_specs, build_task, train_config
from .models import ArchSpec
from .tasks.base import Task
from .tasks.words import WordsTask
from .train import Callback, TrainConfig, train

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


def sweep(
    config: RunConfig | dict,
    archs: Sequence[str],
    rates: Sequence[float],
    seeds: Sequence[int],
    momenta: Sequence[float] | None = None,
    *,
    callbacks: Sequence[Callback] = (),
) -> list[dict]:
    """Each architecture of `archs` (sized by `config`'s budget) at every rate x momentum, every seed.

    Rates are absolute (the preset's per-architecture lr_scale is not applied); momenta default to the
    preset's; `seeds` are the init seeds (the config's seeds and seed fields are not used). Returns one
    row per architecture, rate and momentum: the setting, `summarise`'s statistics and `best`.
    """
    cfg = config if isinstance(config, RunConfig) else validate(config)
    rates = check_values("rates", rates, lambda v: 0 < v <= 10, "finite numbers in (0, 10]")
    base = train_config(cfg)
    momenta = (
        [base.momentum]
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
    stacked = replace(cfg, seeds=len(settings) * len(seeds), baselines=[a for a in archs if a != "cwrnn"])
    task = build_task(stacked)
    if isinstance(task, WordsTask):
        task = WordsTask(validation_split(task.data), readout=task.readout, dataset=f"{task.dataset}, validation")
    specs = [s for s in build_specs(stacked, task.input_size, task.output_size) if s.arch in archs]
    tc = replace(base, lr_scale={}, snapshot_every=10**9)
    return sweep_specs(task, specs, settings, seeds, tc, *METRICS[cfg.task], callbacks=callbacks)


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
    """The sweep itself, for any task and architectures: one stacked training per architecture, whose
    members are setting-major (all seeds of the first (rate, momentum), then the next). The task must
    have been built for len(settings) * len(seeds) seeds. Rows call the task's `metric` `name`."""
    slots = [int(s) for _ in settings for s in seeds]
    cfg = replace(
        cfg,
        member_lr=[lr for lr, _ in settings for _ in seeds],
        member_momentum=[m for _, m in settings for _ in seeds],
    )
    rows = []
    for spec in specs:  # one at a time: an architecture dead at every setting must not stop the others
        result = train(task, [spec], slots, cfg, callbacks)
        # members are replica-major over the seed slots (train.member_seeds): column = slot
        values = np.asarray(result.final[spec.arch][metric], dtype=float).reshape(-1, len(slots))
        for i, (lr, momentum) in enumerate(settings):
            rows.append(
                {
                    "arch": spec.arch,
                    "hidden_size": spec.hidden_size,
                    "lr": lr,
                    "momentum": momentum,
                    "metric": name or metric,
                    **summarise(values[:, i * len(seeds) : (i + 1) * len(seeds)].ravel()),
                }
            )
    return mark_best(rows)


def summarise(values: np.ndarray) -> dict:
    """Mean, spread and median of the finite values; non-finite ones are counted as diverged."""
    finite = values[np.isfinite(values)]
    stat = (lambda f: float(f(finite))) if finite.size else (lambda f: float("nan"))
    return {
        "mean": stat(np.mean),
        "std": stat(np.std),
        "median": stat(np.median),
        "n": int(finite.size),
        "diverged": int(values.size - finite.size),
        "values": values.tolist(),
    }


def mark_best(rows: list[dict]) -> list[dict]:
    """Flag each architecture's row with the lowest mean (ignoring settings where every member diverged)."""
    for row in rows:
        row["best"] = False
    for arch in dict.fromkeys(r["arch"] for r in rows):
        alive = [r for r in rows if r["arch"] == arch and r["n"]]
        if alive:
            min(alive, key=lambda r: r["mean"])["best"] = True
    return rows


def format_sweep(rows: Sequence[dict], label: str | None = None, scale: float = 1.0) -> str:
    """A plain-text table: one line per architecture and setting, the best marked with *."""
    label = label or rows[0]["metric"]
    lines = [
        f"{'arch':6} {'hidden':>6} {'lr':>9} {'momentum':>8}  {label + ' mean ± std':24} "
        f"{'median':>9} {'n':>4} {'diverged':>8}"
    ]
    for r in rows:
        ms = f"{r['mean'] * scale:.4g} ± {r['std'] * scale:.2g}" + (" *" if r["best"] else "")
        lines.append(
            f"{r['arch']:6} {r['hidden_size']:>6} {r['lr']:>9.3g} {r['momentum']:>8.3g}  {ms:24} "
            f"{r['median'] * scale:>9.4g} {r['n']:>4} {r['diverged']:>8}"
        )
    return "\n".join(lines)
