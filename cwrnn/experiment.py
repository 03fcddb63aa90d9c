"""A run's configuration: validated as a whole, then turned into a task, architectures and a TrainConfig.

The CLI, the background workers and the app all go through `validate` and `build`, so a configuration
means the same thing everywhere and every problem is reported at once, each saying what is allowed.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from . import clock
from .models import ArchSpec, matched_specs
from .paper import GENERATION_PERIODS
from .train import PRESETS, TrainConfig

TASKS = ("generation", "words")
SOURCES = ("clips", "tone", "wav")
BASELINES = ("srn", "lstm", "gru")
PAPER_BASELINES = ("srn", "lstm")  # the default comparison; the GRU is not in the paper

#: Limits that keep one user from exhausting a shared machine.
LIMITS = dict(modules=16, period=4096, hidden=1024, budget=200_000, epochs=20_000, seeds=100,
              steps=8192, snapshot_every=10_000)
MAX_ACTIVATION_BYTES = 2 * 2**30  # what one run may hold for backpropagation through time
# Peak floats per network, step and hidden unit during backpropagation, measured: the gated networks
# keep their gates (and the LSTM its cell states) and, in the backward pass, their derivatives.
PEAK_FLOATS = {"cwrnn": 6, "srn": 6, "lstm": 24, "gru": 18}


class ConfigError(ValueError):
    """Every problem with a configuration, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n- " + "\n- ".join(problems))

    def __reduce__(self):  # crosses process pools intact (the default would rebuild it from the text)
        return ConfigError, (self.problems,)


@dataclass
class RunConfig:
    task: str = "generation"
    # Experiment 1 data
    source: str = "clips"
    clips: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    wav_path: str | None = None
    wav_start: float = 0.0
    steps: int = 320
    # Experiment 2 data
    dataset: str = "synthetic"
    folder: str | None = None
    readout: str = "last"
    # the CW-RNN and its comparison
    periods: list[int] = field(default_factory=lambda: list(GENERATION_PERIODS))
    module_sizes: list[int] | None = None
    connectivity: str = "slow_to_fast"
    budget: int = 1000
    baselines: list[str] = field(default_factory=lambda: list(PAPER_BASELINES))
    # training
    preset: str = "paper-generation"
    epochs: int = 2000
    lr: float | None = None
    momentum: float | None = None
    clip_norm: float | None = None
    seeds: int = 1
    seed: int = 0
    snapshot_every: int = 50
    device: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def train_config(self) -> TrainConfig:
        overrides = {k: v for k, v in (("lr", self.lr), ("momentum", self.momentum),
                                       ("clip_norm", self.clip_norm)) if v is not None}
        return TrainConfig.preset(self.preset, epochs=self.epochs, snapshot_every=self.snapshot_every, device=self.device, **overrides)

    def as_trained(self) -> dict:
        """The fields with the optimiser settings the preset chose in place of null ("automatic"): what a
        run's config.json records, so it says what was used."""
        train = self.train_config()
        return {**self.to_dict(), "lr": train.lr, "momentum": train.momentum, "clip_norm": train.clip_norm}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_field(raw, name, lo, hi, problems):
    v = raw.get(name)
    if not _is_int(v) or not lo <= v <= hi:
        problems.append(f"{name} must be an integer from {lo} to {hi}, got {v!r}")


def validate(raw: dict) -> RunConfig:
    """A RunConfig from a JSON-like dict, or ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError([f"a configuration is a mapping of field names to values, got {type(raw).__name__}"])
    known = {f.name for f in fields(RunConfig)}
    problems = [f"unknown field {k!r}; allowed fields: {', '.join(sorted(known))}" for k in raw if k not in known]
    merged = {**RunConfig().to_dict(), **{k: v for k, v in raw.items() if k in known}}
    L = LIMITS
    for name, allowed in (("task", TASKS), ("source", SOURCES), ("connectivity", clock.CONNECTIVITY),
                          ("preset", tuple(PRESETS)), ("readout", ("last", "mean")),
                          ("dataset", ("synthetic", "fsdd", "folder"))):
        if merged[name] not in allowed:
            problems.append(f"{name} must be one of {', '.join(allowed)}, got {merged[name]!r}")
    periods = merged["periods"]
    if not isinstance(periods, list) or not periods:
        problems.append(f"periods must be a non-empty list of integers, got {periods!r}")
    elif len(periods) > L["modules"]:
        problems.append(f"at most {L['modules']} modules are allowed, got {len(periods)}")
    elif not all(_is_int(p) and 1 <= p <= L["period"] for p in periods):
        problems.append(f"periods must be integers from 1 to {L['period']}, got {periods}")
    else:
        try:
            clock.check_periods(periods)
        except ValueError as e:
            problems.append(str(e))
    sizes = merged["module_sizes"]
    if sizes is not None:
        if not isinstance(sizes, list) or not all(_is_int(k) and k >= 1 for k in sizes):
            problems.append(f"module_sizes must be a list of positive integers or null, got {sizes!r}")
        elif isinstance(periods, list) and len(sizes) != len(periods):
            problems.append(f"module_sizes has {len(sizes)} entries but there are {len(periods)} periods")
        elif sum(sizes) > L["hidden"]:
            problems.append(f"at most {L['hidden']} hidden units are allowed, module_sizes add up to {sum(sizes)}")
    _int_field(merged, "budget", 10, L["budget"], problems)
    _int_field(merged, "epochs", 1, L["epochs"], problems)
    _int_field(merged, "seeds", 1, L["seeds"], problems)
    _int_field(merged, "seed", 0, 2**31 - 1, problems)
    _int_field(merged, "steps", 2, L["steps"], problems)
    _int_field(merged, "snapshot_every", 1, L["snapshot_every"], problems)
    base = merged["baselines"]
    if not isinstance(base, list) or any(b not in BASELINES for b in base) or len(set(base)) != len(base):
        problems.append(f"baselines must be a list drawn from {', '.join(BASELINES)} without repeats, got {base!r}")
    for name, top in (("lr", 10), ("clip_norm", 1e6)):
        v = merged[name]
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                  and math.isfinite(v) and 0 < v <= top):
            problems.append(f"{name} must be a finite number in (0, {top:g}] or null, got {v!r}")
    mom = merged["momentum"]
    if mom is not None and not (isinstance(mom, (int, float)) and 0 <= mom < 1):
        problems.append(f"momentum must be a number in [0, 1) or null, got {mom!r}")
    if merged["device"] not in (None, "cpu", "cuda"):
        problems.append(f"device must be cpu, cuda or null (automatic), got {merged['device']!r}")
    clips = merged["clips"]
    if merged["task"] == "generation" and merged["source"] == "clips":
        if not isinstance(clips, list) or not clips or not all(_is_int(c) and 0 <= c <= 4 for c in clips) \
                or len(set(clips)) != len(clips):
            problems.append(f"clips must be a non-empty list of distinct clip numbers 0 to 4, got {clips!r}")
    if merged["task"] == "generation" and merged["source"] == "clips" and _is_int(merged["steps"]) \
            and merged["steps"] > 320:
        problems.append(f"the shipped clips are 320 samples long: steps must be at most 320, got {merged['steps']}")
    if merged["task"] == "generation" and merged["source"] == "wav" and not merged["wav_path"]:
        problems.append("source 'wav' needs wav_path, the path of a WAV file")
    ws = merged["wav_start"]
    if not isinstance(ws, (int, float)) or isinstance(ws, bool) or not math.isfinite(ws) or ws < 0:
        problems.append(f"wav_start must be a non-negative number of seconds, got {ws!r}")
    if merged["task"] == "words" and merged["dataset"] == "folder" and not merged["folder"]:
        problems.append("dataset 'folder' needs folder, the path of a folder of {label}_{speaker}_{take}.wav files")
    if problems:
        raise ConfigError(problems)
    return RunConfig(**merged)


def build_specs(cfg: RunConfig, input_size: int, output_size: int) -> list[ArchSpec]:
    """The CW-RNN and its parameter-matched baselines; raises ConfigError when they cannot be sized."""
    try:
        specs = matched_specs(cfg.budget, input_size, output_size, periods=cfg.periods,
                              module_sizes=cfg.module_sizes, connectivity=cfg.connectivity,
                              baselines=cfg.baselines)
    except ValueError as e:
        raise ConfigError([str(e)]) from e
    networks = cfg.seeds * (len(cfg.clips) if cfg.task == "generation" and cfg.source == "clips" else 1)
    floats = networks * cfg.steps * sum(s.hidden_size * PEAK_FLOATS[s.arch] for s in specs)
    if cfg.task == "generation" and floats * 4 > MAX_ACTIVATION_BYTES:
        raise ConfigError([f"{networks} networks x {cfg.steps} steps at these sizes would hold about "
                           f"{floats * 4 / 2**30:.1f} GiB of activations (limit {MAX_ACTIVATION_BYTES / 2**30:g} "
                           "GiB): use fewer seeds, clips or steps, or a smaller budget"])
    over = [s for s in specs if s.parameters(input_size, output_size) > 1.5 * cfg.budget]
    if over:
        raise ConfigError([f"a budget of {cfg.budget} parameters is too small: the smallest {s.arch} with this "
                           f"design has {s.parameters(input_size, output_size)}; raise the budget or use fewer "
                           "modules" for s in over])
    return specs


def build_task(cfg: RunConfig):
    """The task object for a validated configuration (data errors become ConfigError)."""
    try:
        if cfg.task == "generation":
            from .tasks.generation import generation_task
            return generation_task(cfg)
        from .tasks.words import words_task
        return words_task(cfg)
    except (ValueError, OSError) as e:  # AudioError and DatasetError are ValueErrors with clear messages
        raise ConfigError([str(e)]) from e
