"""A run's configuration and every limit on it: RunConfig, LIMITS, ConfigError and `validate`.

The CLI, the background workers and the app all go through `validate`, so a configuration means the same
thing everywhere and every problem is reported at once, each saying what is allowed. Plain Python, no
torch: the pages check what a user types without loading the models.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass, field, fields

from . import clock
from .paper import GENERATION_PERIODS

TASKS = ("generation", "words", "handwriting")
SOURCES = ("clips", "tone", "wav")
DATASETS = ("synthetic", "fsdd", "folder")
READOUTS = ("last", "mean")
#: Experiment 3's input per point (cwrnn/data/handwriting.py, docs/handwriting.md): "paper" (x, y, time,
#: pen-up; standardised) or "offsets" (the pen's movement dx, dy since the previous point, and pen-up)
INK_INPUTS = ("paper", "offsets")
BASELINES = ("srn", "lstm", "gru")
PAPER_BASELINES = ("srn", "lstm")  # the default comparison; the GRU is not in the paper
CLIP_COUNT = 5  # the shipped clips of Experiment 1
CLIP_STEPS = 320  # samples in each shipped clip

# The paper's settings. Learning rates are for the classical error 1/2 sum over time steps of the squared
# error (docs/conventions.md). The paper mentions no clipping; without it about one seed in ten explodes
# within 200 epochs at the paper's rate, so [our choice] each seed's gradient norm is clipped at 100, far
# above the norms of healthy training.
PRESETS = {
    "paper-generation": dict(optimizer="sgd", lr=3e-4, momentum=0.95, lr_scale={"lstm": 0.1}, clip_norm=100.0),
    "paper-words": dict(optimizer="sgd", lr=3e-4, momentum=0.9, lr_scale={}, patience=5),
    # Experiment 1 with each architecture at its best swept rate and clipping at 1000 parameters
    # (docs/baselines.md): CW-RNN 1e-3, LSTM 3e-4, each clipped at 100; SRN 3e-3 clipped at 1.
    "tuned-generation": dict(
        optimizer="sgd",
        lr=1e-3,
        momentum=0.95,
        lr_scale={"lstm": 0.3, "srn": 3.0},
        clip_norm=100.0,
        clip_by_arch={"srn": 1.0},
    ),
    # Experiment 2 at 10k parameters (benchmarks/results/lr_sweep_words_10000_*; 3 seeds, one held-out
    # training speaker): CW-RNN and LSTM best at 1e-3; the SRN tied at 3e-4 and 1e-3, so it keeps the paper's
    "tuned-words": dict(optimizer="sgd", lr=1e-3, momentum=0.9, lr_scale={"srn": 0.3}, patience=5),
    "adam": dict(optimizer="adam", lr=3e-3, momentum=0.0, lr_scale={}),
    # Experiment 3 (Sect. 4.3): the LSTM at ten times the others' rate; [our choice] the GRU, the other
    # gated network (not in the paper), likewise. Early stopping after 50 epochs without a better
    # validation CER. The rates assume the CTC loss summed over a batch's lines (tasks/handwriting.py).
    "paper-handwriting": dict(
        optimizer="sgd", lr=3e-4, momentum=0.9, lr_scale={"lstm": 10.0, "gru": 10.0}, patience=50
    ),
    # Experiment 3 on the "offsets" input with the CW-RNN clock of TUNED_DESIGNS, tuned on the validation
    # writers at 10k parameters (docs/handwriting.md): Adam at 1e-2, as SGD at the paper's rates leaves every
    # network on CTC's blank plateau for tens of epochs (the LSTM at 3e-3 stayed on it for 6 epochs; the
    # CW-RNN at 3e-2 stalled at a higher loss than at 1e-2, 3 seeds x 25 epochs); the LSTM from N(0, 0.1)
    # read as a variance (left the plateau by epoch 6, with the standard deviation 0.1 by epoch 14; the SRN
    # and CW-RNN train unstably from it). The clip only catches the rare spike of a summed CTC loss.
    # Patience 20: a CW-RNN's best validation CER can stand still for ten epochs and then fall again.
    "tuned-handwriting": dict(
        optimizer="adam",
        lr=1e-2,
        momentum=0.0,
        lr_scale={},
        init_by_arch={"lstm": "paper-variance"},
        clip_norm=100.0,
        patience=20,
    ),
}
#: each task's preset of per-architecture tuned settings (`reproduce --tuned`); a task without one was not tuned
TUNED_PRESETS = {"generation": "tuned-generation", "words": "tuned-words", "handwriting": "tuned-handwriting"}
#: the input and CW-RNN clock a task's tuned preset was tuned with, where they are not the paper's
#: (`reproduce --tuned`, the Paper page's tuned grids and the Playground train them): Experiment 3 reads pen
#: movement, and its CW-RNN has four modules of periods up to 8 kept points, about a letter
#: (docs/handwriting.md)
TUNED_DESIGNS = {"handwriting": {"ink_input": "offsets", "periods": [1, 2, 4, 8]}}


def tuned_settings(task: str) -> dict:
    """The RunConfig fields that make a run of `task` the tuned comparison: the task's tuned preset, and the
    input and clock it was tuned with."""
    return {"preset": TUNED_PRESETS[task], **copy.deepcopy(TUNED_DESIGNS.get(task, {}))}


#: Experiment 3's data: the shipped lines, or else a path (a UNIPEN folder or a .npz of lines)
SHIPPED_UNIPEN = "shipped"

#: Limits that keep one user from exhausting a shared machine (the CLI, the workers, the Clock explorer).
LIMITS = dict(
    modules=16,
    period=4096,
    hidden=1024,
    budget=200_000,
    epochs=20_000,
    seeds=100,
    steps=8192,
    snapshot_every=10_000,
    batch_size=1024,
)
#: The Playground's tighter ranges. Its sequences are 320 steps, so a module with a period above that
#: fires once, at step 0; 512 leaves room for one doubling past the paper's 9 modules (1..256), and 10
#: such modules fit.
PLAYGROUND_LIMITS = dict(
    modules=10,
    period=512,
    budget=(50, 20_000),
    epochs=(1, LIMITS["epochs"]),
    seeds=(1, 10),
    seed=(0, 2**31 - 1),
    lr=(1e-6, 1.0),
)


class ConfigError(ValueError):
    """Every problem with a configuration, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n- " + "\n- ".join(problems))

    def __reduce__(self):  # crosses process pools intact (the default would rebuild it from the text)
        return ConfigError, (self.problems,)


@dataclass
class RunConfig:
    """One training run: a task, the CW-RNN's design, its baselines and the optimiser's settings."""

    #: which experiment: "generation" (Experiment 1, music), "words" (Experiment 2, spoken words) or
    #: "handwriting" (Experiment 3, online handwriting; its networks are bidirectional)
    task: str = "generation"
    #: Experiment 1's target: "clips" (the shipped five), "tone" (synthetic) or "wav" (wav_path)
    source: str = "clips"
    #: which shipped clips (0 to 4, distinct); one network per clip
    clips: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    #: a WAV file, for source "wav"
    wav_path: str | None = None
    #: where in the WAV the target starts, seconds >= 0
    wav_start: float = 0.0
    #: Experiment 1's sequence length, 2 to LIMITS["steps"] (the shipped clips: at most 320)
    steps: int = 320
    #: Experiment 2's recordings: "synthetic" (shipped), "fsdd" (installed digits) or "folder"
    dataset: str = "synthetic"
    #: a folder of {label}_{speaker}_{take}.wav files, for dataset "folder"
    folder: str | None = None
    #: where a word's answer is read: "last" frame (the paper's) or the "mean" over its frames
    readout: str = "last"
    #: Experiment 3's lines: "shipped" (assets/handwriting) or the path of a UNIPEN folder (or of a .npz
    #: made by scripts/make_handwriting.py)
    unipen: str = SHIPPED_UNIPEN
    #: Experiment 3's input per point, one of INK_INPUTS: "paper" (x, y from the line's top-left corner,
    #: time, pen-up, as Sect. 4.3) or "offsets" (the pen's movement since the previous point and pen-up;
    #: the paper's input does not learn on UNIPEN, docs/handwriting.md)
    ink_input: str = "paper"
    #: sequences per training mini-batch of Experiments 2 and 3, 1 to LIMITS["batch_size"]; the paper
    #: gives none. 16: updates stay frequent under the summed loss while a batch keeps the per-step
    #: overhead of the recurrent scans and of CTC shared by 16 lines
    batch_size: int = 16
    #: the CW-RNN's clock periods, fastest first: distinct integers 1 to LIMITS["period"], at most
    #: LIMITS["modules"] of them
    periods: list[int] = field(default_factory=lambda: list(GENERATION_PERIODS))
    #: units per module, fastest first (None: the budget's units split equally, leftovers to the fast ones)
    module_sizes: list[int] | None = None
    #: which modules feed which: "slow_to_fast" (the paper's), "fast_to_slow" or "full"
    connectivity: str = "slow_to_fast"
    #: parameters every model is matched to, 10 to LIMITS["budget"]
    budget: int = 1000
    #: the CW-RNN's comparison, any of BASELINES without repeats
    baselines: list[str] = field(default_factory=lambda: list(PAPER_BASELINES))
    #: optimiser settings, a name of PRESETS
    preset: str = "paper-generation"
    #: training epochs (a cap where the preset stops early), 1 to LIMITS["epochs"]
    epochs: int = 2000
    #: learning rate in (0, 10] (None: the preset's)
    lr: float | None = None
    #: momentum in [0, 1) (None: the preset's)
    momentum: float | None = None
    #: each seed's gradient norm is clipped to this, in (0, 1e6] (None: the preset's)
    clip_norm: float | None = None
    #: how many seeds, trained side by side, 1 to LIMITS["seeds"]
    seeds: int = 1
    #: the first seed, 0 to 2**31 - 1; the run trains seed, seed + 1, ...
    seed: int = 0
    #: epochs between snapshots of outputs and weights, 1 to LIMITS["snapshot_every"]
    snapshot_every: int = 50
    #: "cpu", "cuda" or None (cuda when available)
    device: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))


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
    for name, allowed in (
        ("task", TASKS),
        ("source", SOURCES),
        ("connectivity", clock.CONNECTIVITY),
        ("preset", tuple(PRESETS)),
        ("readout", READOUTS),
        ("dataset", DATASETS),
        ("ink_input", INK_INPUTS),
    ):
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
    _int_field(merged, "batch_size", 1, L["batch_size"], problems)
    base = merged["baselines"]
    if not isinstance(base, list) or any(b not in BASELINES for b in base) or len(set(base)) != len(base):
        problems.append(f"baselines must be a list drawn from {', '.join(BASELINES)} without repeats, got {base!r}")
    for name, top in (("lr", 10), ("clip_norm", 1e6)):
        v = merged[name]
        if v is not None and not (
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 < v <= top
        ):
            problems.append(f"{name} must be a finite number in (0, {top:g}] or null, got {v!r}")
    mom = merged["momentum"]
    if mom is not None and not (isinstance(mom, (int, float)) and 0 <= mom < 1):
        problems.append(f"momentum must be a number in [0, 1) or null, got {mom!r}")
    if merged["device"] not in (None, "cpu", "cuda"):
        problems.append(f"device must be cpu, cuda or null (automatic), got {merged['device']!r}")
    clips = merged["clips"]
    shipped_clips = merged["task"] == "generation" and merged["source"] == "clips"
    if shipped_clips and (
        not isinstance(clips, list)
        or not clips
        or not all(_is_int(c) and 0 <= c < CLIP_COUNT for c in clips)
        or len(set(clips)) != len(clips)
    ):
        problems.append(f"clips must be a non-empty list of distinct clip numbers 0 to {CLIP_COUNT - 1}, got {clips!r}")
    if shipped_clips and _is_int(merged["steps"]) and merged["steps"] > CLIP_STEPS:
        problems.append(
            f"the shipped clips are {CLIP_STEPS} samples long: steps must be at most {CLIP_STEPS}, "
            f"got {merged['steps']}"
        )
    if merged["task"] == "generation" and merged["source"] == "wav" and not merged["wav_path"]:
        problems.append("source 'wav' needs wav_path, the path of a WAV file")
    ws = merged["wav_start"]
    if not isinstance(ws, (int, float)) or isinstance(ws, bool) or not math.isfinite(ws) or ws < 0:
        problems.append(f"wav_start must be a non-negative number of seconds, got {ws!r}")
    if merged["task"] == "words" and merged["dataset"] == "folder" and not merged["folder"]:
        problems.append("dataset 'folder' needs folder, the path of a folder of {label}_{speaker}_{take}.wav files")
    if merged["task"] == "handwriting":
        _check_unipen(merged["unipen"], problems)
    if problems:
        raise ConfigError(problems)
    return RunConfig(**merged)


def as_trained(cfg: RunConfig) -> dict:
    """The run's fields with the optimiser settings its preset chose in place of null ("automatic"), as
    `experiment.train_config` resolves them: what a run's config.json records, so it says what was used
    (and trains the same run when read back)."""
    preset = PRESETS[cfg.preset]
    # A preset that clips each architecture its own way has no one clip to write down: null keeps the
    # preset's per-architecture clipping, also when the config is read back.
    names = ("lr", "momentum") + (() if preset.get("clip_by_arch") else ("clip_norm",))
    chosen = {k: preset.get(k) if getattr(cfg, k) is None else getattr(cfg, k) for k in names}
    return {**cfg.to_dict(), **chosen}


def _check_unipen(value, problems: list[str]) -> None:
    allowed = f'unipen must be "{SHIPPED_UNIPEN}" or the path of a readable UNIPEN folder or .npz of lines'
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{allowed}, got {value!r}")
    elif value != SHIPPED_UNIPEN:
        path = os.path.expanduser(value)
        if not os.path.exists(path):
            problems.append(f"{allowed}; {value} does not exist")
        elif not (os.path.isdir(path) or path.endswith(".npz")):
            problems.append(f"{allowed}; {value} is a file but not a .npz")
        elif not os.access(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)):
            problems.append(f"{allowed}; {value} cannot be read (permission denied)")
