"""The Playground's settings: its defaults, its URL, its widgets, and the comparison table.

The URL of the Playground is the run configuration itself: one query parameter per RunConfig field,
named as the field, lists comma-separated (``periods=1,2,4``), the convention `runs_view.playground_params`
writes for "Open in Playground". Values from a URL are checked here, one by one; a malformed or
out-of-range value falls back to the Playground's default and leaves a note saying why.

The widgets are not bound to the URL with Streamlit's ``bind="query-params"``: a bound widget is seeded
from the URL before the page can look at the value and drops what it cannot parse without a word, while
here every rejected value must fall back with a visible note, and a value Streamlit would accept (an
unsorted list of periods) may still be one the Playground rejects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path

from .. import clock
from ..config import (
    BASELINES,
    CLIP_COUNT,
    DATASETS,
    INK_INPUTS,
    LIMITS,
    PLAYGROUND_LIMITS,
    PRESETS,
    READOUTS,
    SHIPPED_UNIPEN,
    SOURCES,
    TASKS,
    ConfigError,
    RunConfig,
    tuned_settings,
    validate,
)
from ..experiment import build_specs
from ..models.sizing import match_hidden_size
from ..paper import GENERATION_PERIODS, WORDS_PERIODS, arch_label
from . import word_view
from .runs_view import shown

# The Playground's limits (cwrnn.config.PLAYGROUND_LIMITS), by the names its widgets use.
MAX_MODULES = PLAYGROUND_LIMITS["modules"]
MAX_PERIOD = PLAYGROUND_LIMITS["period"]
BUDGET_RANGE = PLAYGROUND_LIMITS["budget"]
EPOCHS_RANGE = PLAYGROUND_LIMITS["epochs"]
SEEDS_RANGE = PLAYGROUND_LIMITS["seeds"]
SEED_RANGE = PLAYGROUND_LIMITS["seed"]
LR_RANGE = PLAYGROUND_LIMITS["lr"]
#: The optimisers offered for each task: the paper's recipe for that experiment, or Adam.
TASK_PRESETS = {
    "generation": ("paper-generation", "tuned-generation", "adam"),
    "words": ("paper-words", "tuned-words", "adam"),
    "handwriting": ("paper-handwriting", "tuned-handwriting", "adam"),
}
#: Sequences per mini-batch, offered where a task has batches (Experiments 2 and 3).
BATCH_RANGE = (1, 256)
BATCH_TASKS = ("words", "handwriting")
#: About this many snapshots per run feed the live waveform and activity charts.
LIVE_SNAPSHOTS = 40

#: Experiment 1 at a small budget: one clip, the paper's 9 modules, 2 seeds for a band. On a 2-core CPU it
#: trains in well under a minute (about 40 s on a busy one), and the CW-RNN ends far below the SRN and the
#: LSTM (NMSE about 0.05 against 1.0 and 0.7).
DEFAULTS = RunConfig(
    task="generation",
    source="clips",
    clips=[0],
    periods=list(GENERATION_PERIODS),
    budget=250,
    preset="paper-generation",
    epochs=400,
    seeds=2,
    seed=0,
)
#: Experiment 2 on the shipped synthetic speech at 2.5k parameters with the paper's recipe, which stops
#: each network once its training error has not fallen for 5 epochs. Measured on a busy 2-core CPU (seeds
#: 0 and 1): it stopped after 89 epochs in 50 s, at 60 % test error for the CW-RNN, 65 % for the LSTM and
#: 90 % for the SRN, against 96 % for guessing among 25 words.
WORDS_DEFAULTS = replace(
    DEFAULTS,
    task="words",
    dataset="synthetic",
    readout="last",
    periods=list(WORDS_PERIODS),
    budget=2500,
    preset="paper-words",
    epochs=150,
)
#: Experiment 3 on the shipped UNIPEN lines at the paper's smallest size (10k parameters), one seed: an
#: epoch reads all 2,150 training lines, so each architecture's snapshot line is redrawn after every epoch.
#: It trains the tuned preset with the input and CW-RNN clock it was tuned with: from the paper's input and
#: optimiser the networks do not learn these lines in 60 epochs, and with the paper's nine periods up to
#: 256 the CW-RNN barely does (docs/handwriting.md); the paper's settings are a few clicks away.
HANDWRITING_DEFAULTS = replace(
    DEFAULTS,
    task="handwriting",
    unipen=SHIPPED_UNIPEN,
    **tuned_settings("handwriting"),
    budget=10000,
    epochs=40,
    seeds=1,
)
TASK_DEFAULTS = {"generation": DEFAULTS, "words": WORDS_DEFAULTS, "handwriting": HANDWRITING_DEFAULTS}
#: Folder paths longer than this in a link are refused (no real path is this long).
MAX_FOLDER_CHARS = 1000

# Streamlit's own URL options, never ours to judge.
_STREAMLIT_PARAMS = frozenset({"embed", "embed_options"})
_RUN_PARAM = "run"
#: RunConfig fields the Playground has no control for: taken silently when they hold RunConfig's
#: default (links from the Runs page carry every field), otherwise ignored with a note.
_NOT_PLAYGROUND = ("steps", "momentum", "clip_norm", "device")


class PlaygroundInputError(ValueError):
    """A value typed into the Playground cannot be used; the message says what is allowed."""


# ---- the clock periods ----------------------------------------------------------------------------


def schedule_periods(name: str, modules: int) -> list[int]:
    """The periods of a named schedule (exponential: 1, 2, 4, ...; linear: 1, 2, 3, ...; fibonacci)."""
    return clock.schedule(name, modules)


def schedule_of(periods: Sequence[int]) -> str:
    """The named schedule these periods follow exactly, else "custom"."""
    for name in clock.SCHEDULES:
        if list(periods) == schedule_periods(name, len(periods)):
            return name
    return "custom"


def resize_periods(periods: Sequence[int], modules: int) -> list[int]:
    """Keep the first `modules` periods; new modules each double the slowest period (capped at MAX_PERIOD)."""
    out = list(periods[:modules])
    while len(out) < modules:
        out.append(min(2 * out[-1], MAX_PERIOD) if out else 1)
    return out


def parse_periods(text: str) -> list[int]:
    """Periods typed as "1, 2, 4", within the Playground's limits."""
    try:
        return clock.parse_periods(text, MAX_MODULES, MAX_PERIOD)
    except clock.PeriodsError as e:
        raise PlaygroundInputError(str(e)) from None


def _module_sizes(text: str) -> list[int]:
    try:
        return clock.parse_ints(text, "module size", "5, 5, 4")
    except clock.PeriodsError as e:
        raise PlaygroundInputError(str(e)) from None


def parse_module_sizes(text: str, modules: int) -> list[int]:
    """Module sizes typed as "5, 5, 4": one whole number >= 1 per module, fastest module first."""
    sizes = _module_sizes(text)
    if len(sizes) != modules:
        raise PlaygroundInputError(f"give one size per module: {modules} modules, got {len(sizes)} sizes")
    if min(sizes) < 1:
        raise PlaygroundInputError(f"every module needs at least 1 unit; got {sizes}")
    if sum(sizes) > LIMITS["hidden"]:
        raise PlaygroundInputError(f"at most {LIMITS['hidden']} hidden units in all; these add up to {sum(sizes)}")
    return sizes


def equal_module_sizes(
    budget: int, modules: int, connectivity: str = "slow_to_fast", input_size: int = 0, output_size: int = 1
) -> list[int]:
    """The module sizes of the budget-matched CW-RNN with equal modules (leftovers to the fast ones)."""
    n = match_hidden_size("cwrnn", budget, input_size, output_size, num_modules=modules, connectivity=connectivity)
    return clock.split_units(n, modules)


def format_ints(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


# ---- the URL ---------------------------------------------------------------------------------------


def preset_lr(preset: str) -> float:
    """The learning rate an optimiser preset uses when none is given."""
    return PRESETS[preset]["lr"]


def to_query(cfg: RunConfig) -> dict[str, str]:
    """The Playground's URL parameters for a configuration (every setting it has a control for)."""
    query = {"task": cfg.task}
    if cfg.task == "words":
        query["dataset"] = cfg.dataset
        if cfg.dataset == "folder":
            query["folder"] = str(cfg.folder)
        query["readout"] = cfg.readout
    elif cfg.task == "handwriting":
        query["unipen"] = cfg.unipen
        query["ink_input"] = cfg.ink_input
    else:
        query["source"] = cfg.source
        if cfg.source == "clips":
            query["clips"] = ",".join(map(str, cfg.clips))
        if cfg.source == "wav":
            query.update(wav_path=Path(cfg.wav_path).name, wav_start=f"{cfg.wav_start:g}")  # uploads by name
    if cfg.task in BATCH_TASKS:
        query["batch_size"] = str(cfg.batch_size)
    query["periods"] = ",".join(map(str, cfg.periods))
    if cfg.module_sizes is not None:
        query["module_sizes"] = ",".join(map(str, cfg.module_sizes))
    query.update(
        connectivity=cfg.connectivity,
        budget=str(cfg.budget),
        baselines=",".join(cfg.baselines),
        preset=cfg.preset,
        epochs=str(cfg.epochs),
    )
    if cfg.lr is not None:
        query["lr"] = repr(float(cfg.lr))
    query.update(seeds=str(cfg.seeds), seed=str(cfg.seed))
    return query


#: How the Playground names a setting that differs from a shown run's (the link's name otherwise).
_SETTING_WORDS = {
    "module_sizes": "module sizes",
    "baselines": "models",
    "lr": "learning rate",
    "preset": "optimiser",
    "wav_path": "WAV file",
    "wav_start": "start",
    "seed": "first seed",
    "readout": "prediction",
}


def differing_settings(shown: RunConfig, current: RunConfig) -> list[str]:
    """The settings, in the Playground's words, in which `current` differs from the `shown` run's; changed
    periods count as "modules" when their number changed."""
    a, b = to_query(shown), to_query(current)
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    if "periods" in keys and len(shown.periods) != len(current.periods):
        keys[keys.index("periods")] = "modules"
    return [_SETTING_WORDS.get(k, k.replace("_", " ")) for k in keys]


def _last(value: str | Sequence[str]) -> str:
    """A query value as one string (a repeated parameter counts as its last value, as a browser sends it)."""
    if isinstance(value, str):
        return value
    return str(value[-1]) if value else ""


def _parse_int(text: str, lo: int, hi: int) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise ValueError("not a whole number")
    value = int(text)
    if not lo <= value <= hi:
        raise ValueError("out of range")
    return value


def _parse_float(text: str, lo: float, hi: float) -> float:
    value = float(text)  # ValueError for text that is not a number
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError("out of range")
    return value


def _parse_choice(text: str, allowed: Sequence[str]) -> str:
    if text not in allowed:
        raise ValueError("not a choice")
    return text


def _parse_clips(text: str) -> list[int]:
    clips = [_parse_int(p, 0, CLIP_COUNT - 1) for p in text.split(",")]
    if len(set(clips)) != len(clips):
        raise ValueError("repeated clip")
    return clips


def _parse_baselines(text: str) -> list[str]:
    names = [p for p in text.split(",") if p]
    if any(n not in BASELINES for n in names) or len(set(names)) != len(names):
        raise ValueError("unknown baseline")
    return names


def _wav_in(uploads: Path | None) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if uploads is None:
            raise ValueError("no uploads folder")
        path = Path(text)
        path = path if path.is_absolute() else uploads / path
        if path.resolve().parent != uploads.resolve() or not path.is_file():
            raise ValueError("not an uploaded file")
        return str(path.resolve())

    return parse


def _folder_in(uploads: Path | None) -> Callable[[str], str]:
    """A folder as the Playground holds it: relative to the data home (the uploads folder's parent) when
    inside it, so a run's stored absolute path never reaches the page or its link."""

    def parse(text: str) -> str:
        if not text.strip() or len(text) > MAX_FOLDER_CHARS:
            raise ValueError("not a folder path")
        return word_view.shown_path(text, uploads.parent) if uploads is not None else text

    return parse


def _unipen_path(text: str) -> str:
    if not text.strip() or len(text) > MAX_FOLDER_CHARS:
        raise ValueError("not a folder path")
    return text


def _field_parsers(uploads: Path | None, task: str) -> dict[str, tuple[Callable[[str], object], str]]:
    """URL parameter -> (parser raising ValueError, what is allowed), for a Playground showing `task`."""
    presets = TASK_PRESETS[task]
    datasets = DATASETS if word_view.fsdd_folder() else tuple(d for d in DATASETS if d != "fsdd")
    return {
        "task": (lambda t: _parse_choice(t, TASKS), ", ".join(TASKS)),
        "dataset": (
            lambda t: _parse_choice(t, datasets),
            ", ".join(datasets) + ("" if "fsdd" in datasets else " (FSDD is not installed here)"),
        ),
        "folder": (_folder_in(uploads), f"the path of a folder of {word_view.FILE_PATTERN} files"),
        "readout": (lambda t: _parse_choice(t, READOUTS), " or ".join(READOUTS)),
        "unipen": (_unipen_path, f"{SHIPPED_UNIPEN} or the path of a UNIPEN folder"),
        "ink_input": (lambda t: _parse_choice(t, INK_INPUTS), " or ".join(INK_INPUTS)),
        "batch_size": (
            lambda t: _parse_int(t, *BATCH_RANGE),
            f"a whole number from {BATCH_RANGE[0]} to {BATCH_RANGE[1]}",
        ),
        "source": (lambda t: _parse_choice(t, SOURCES), ", ".join(SOURCES)),
        "clips": (_parse_clips, f"distinct clip numbers from 0 to {CLIP_COUNT - 1}, comma-separated"),
        "wav_path": (_wav_in(uploads), "a WAV file uploaded to this lab"),
        "wav_start": (lambda t: _parse_float(t, 0.0, 1e6), "a number of seconds >= 0"),
        "periods": (parse_periods, f"1 to {MAX_MODULES} distinct periods from 1 to {MAX_PERIOD}, ascending"),
        "module_sizes": (_module_sizes, "whole numbers >= 1, comma-separated"),
        "connectivity": (lambda t: _parse_choice(t, clock.CONNECTIVITY), ", ".join(clock.CONNECTIVITY)),
        "budget": (
            lambda t: _parse_int(t, *BUDGET_RANGE),
            f"a whole number from {BUDGET_RANGE[0]} to {BUDGET_RANGE[1]}",
        ),
        "baselines": (_parse_baselines, "any of srn, lstm, gru, comma-separated (srn,lstm), or none (empty)"),
        "preset": (lambda t: _parse_choice(t, presets), f"{' or '.join(presets)} for the {task} task"),
        "epochs": (
            lambda t: _parse_int(t, *EPOCHS_RANGE),
            f"a whole number from {EPOCHS_RANGE[0]} to {EPOCHS_RANGE[1]}",
        ),
        "lr": (lambda t: _parse_float(t, *LR_RANGE), f"a number from {LR_RANGE[0]:g} to {LR_RANGE[1]:g}"),
        "seeds": (lambda t: _parse_int(t, *SEEDS_RANGE), f"a whole number from {SEEDS_RANGE[0]} to {SEEDS_RANGE[1]}"),
        "seed": (lambda t: _parse_int(t, *SEED_RANGE), f"a whole number from 0 to {SEED_RANGE[1]}"),
    }


def from_query(params: Mapping[str, str | Sequence[str]], uploads: Path | None = None) -> tuple[RunConfig, list[str]]:
    """The configuration a Playground URL describes, and a note for every value that was not used.

    The task comes first, as its defaults are the fallbacks (Experiment 2 has its own periods, budget
    and optimiser). Each bad value falls back to its default alone; `run` (the watched run) and
    Streamlit's own parameters are left to their owners. `uploads`, inside the data home, is the only
    folder a `wav_path` may point into; a folder inside the data home is held relative to it.
    """
    task, notes = DEFAULTS.task, []
    if "task" in params:
        text = _last(params["task"])
        if text in TASKS:
            task = text
        else:
            notes.append(f"task={text!r} in the link is not allowed ({', '.join(TASKS)}); using {task} instead")
    base = TASK_DEFAULTS[task]
    parsers = _field_parsers(uploads, task)
    known = {f.name for f in fields(RunConfig)}
    values: dict = {}
    for key, raw in params.items():
        text = _last(raw)
        if key in _STREAMLIT_PARAMS or key in (_RUN_PARAM, "task", "snapshot_every"):
            continue  # snapshot_every sets how often the live charts refresh; the Playground picks it
        if key in parsers:
            parse, allowed = parsers[key]
            try:
                values[key] = parse(text)
            except ValueError:
                notes.append(
                    f"{key}={text!r} in the link is not allowed ({allowed}); "
                    f"using {shown(getattr(base, key), ',')} instead"
                )
        elif key in _NOT_PLAYGROUND:
            if text != shown(getattr(RunConfig(), key), ","):
                notes.append(f"{key}={text!r} in the link is not a Playground setting and was ignored")
        else:
            why = "" if key in known else " (unknown name)"
            notes.append(f"ignored the link parameter {key}={text!r}{why}")
    cfg = replace(base, **values)
    if cfg.source == "wav" and not cfg.wav_path:
        notes.append("source=wav needs a WAV file uploaded to this lab; using the shipped clips instead")
        cfg = replace(cfg, source=DEFAULTS.source)
    if cfg.task == "words" and cfg.dataset == "folder" and not cfg.folder:
        notes.append("dataset=folder needs folder=PATH, a folder of recordings; using the synthetic speech instead")
        cfg = replace(cfg, dataset=WORDS_DEFAULTS.dataset)
    if cfg.module_sizes is not None:
        try:
            parse_module_sizes(format_ints(cfg.module_sizes), len(cfg.periods))
        except PlaygroundInputError as e:
            notes.append(f"module_sizes in the link cannot be used ({e}); using equal module sizes")
            cfg = replace(cfg, module_sizes=None)
    return cfg, notes


# ---- the widgets -----------------------------------------------------------------------------------


def period_key(module: int) -> str:
    """Session-state key of the period slider of module `module` (0-based)."""
    return f"period_{module + 1}"


def widget_state(cfg: RunConfig) -> dict:
    """The value of every Playground widget, by key, for a configuration."""
    g = len(cfg.periods)
    state = {
        "task": cfg.task,
        "dataset": cfg.dataset,
        "folder": cfg.folder or "",
        "readout": cfg.readout,
        "unipen_source": "shipped" if cfg.unipen == SHIPPED_UNIPEN else "folder",
        "unipen_folder": "" if cfg.unipen == SHIPPED_UNIPEN else cfg.unipen,
        "ink_input": cfg.ink_input,
        "batch_size": cfg.batch_size,
        "source": cfg.source,
        "clips": list(cfg.clips),
        "wav_start": float(cfg.wav_start),
        "modules": g,
        "schedule": schedule_of(cfg.periods),
        "periods_text": format_ints(cfg.periods),
        "sizes_mode": "equal" if cfg.module_sizes is None else "custom",
        "connectivity": cfg.connectivity,
        "budget": cfg.budget,
        **{b: b in cfg.baselines for b in BASELINES},
        "preset": cfg.preset,
        "lr": float(cfg.lr if cfg.lr is not None else preset_lr(cfg.preset)),
        "epochs": cfg.epochs,
        "seeds": cfg.seeds,
        "seed": cfg.seed,
    }
    state.update({period_key(i): p for i, p in enumerate(cfg.periods)})
    if cfg.module_sizes is not None:
        state["sizes_text"] = format_ints(cfg.module_sizes)
    return state


def config_from_widgets(values: Mapping, wav_path: str | None = None) -> dict:
    """A RunConfig dict (for `experiment.validate`) from the widgets' values; raises PlaygroundInputError
    when a typed list is unusable."""
    g = values["modules"]
    periods = [values[period_key(i)] for i in range(g)]
    sizes = parse_module_sizes(values["sizes_text"], g) if values["sizes_mode"] == "custom" else None
    lr = float(values["lr"])
    task = values["task"]
    return {
        **TASK_DEFAULTS[task].to_dict(),
        "task": task,
        "dataset": values["dataset"],
        "folder": (values["folder"].strip() or None) if values["dataset"] == "folder" else None,
        "readout": values["readout"],
        "unipen": values["unipen_folder"].strip() if values["unipen_source"] == "folder" else SHIPPED_UNIPEN,
        "ink_input": values["ink_input"],
        "batch_size": int(values["batch_size"]),
        "source": values["source"],
        "clips": sorted(values["clips"]),
        "wav_path": wav_path,
        "wav_start": float(values["wav_start"]),
        "periods": periods,
        "module_sizes": sizes,
        "connectivity": values["connectivity"],
        "budget": int(values["budget"]),
        "baselines": [b for b in BASELINES if values[b]],
        "preset": values["preset"],
        "lr": None if math.isclose(lr, preset_lr(values["preset"])) else lr,
        "epochs": int(values["epochs"]),
        "seeds": int(values["seeds"]),
        "seed": int(values["seed"]),
        "snapshot_every": live_snapshot_every(int(values["epochs"]), task),
    }


def live_snapshot_every(epochs: int, task: str = "generation") -> int:
    """How often a Playground run snapshots its outputs: about LIVE_SNAPSHOTS times, at most every 5 epochs;
    handwriting every epoch, as one epoch over its lines takes many seconds."""
    return 1 if task == "handwriting" else max(5, epochs // LIVE_SNAPSHOTS)


def task_switch_state(task: str) -> dict:
    """The widget values that change when the Playground switches to `task`: the design, budget and
    training settings of that task's defaults (its data choices, the seeds and the links stay)."""
    keep = (
        "source",
        "clips",
        "wav_start",
        "dataset",
        "folder",
        "readout",
        "unipen_source",
        "unipen_folder",
        "batch_size",
        "connectivity",
        *BASELINES,
        "seeds",
        "seed",
    )
    return {k: v for k, v in widget_state(TASK_DEFAULTS[task]).items() if k not in keep}


def check_config(raw: dict, input_size: int = 0, output_size: int = 1) -> tuple[RunConfig | None, list[str]]:
    """(the validated RunConfig, []) or (None, every problem), the sizing of the models for a task with
    these input and output sizes included (Experiment 1: no input, one output)."""
    try:
        cfg = validate(raw)
        build_specs(cfg, input_size, output_size)
    except ConfigError as e:
        return None, list(e.problems)
    return cfg, []


# ---- the comparison table --------------------------------------------------------------------------

TABLE_COLUMNS = ("architecture", "hidden units", "parameters", "multiply-adds per step")


def comparison_rows(cfg: RunConfig, input_size: int = 0, output_size: int = 1) -> list[dict]:
    """One row per model of the configuration: its hidden units, parameters and recurrent multiply-adds
    per step (averaged over time; the CW-RNN skips the modules whose clock does not tick)."""
    specs = build_specs(cfg, input_size, output_size)
    return [
        dict(
            zip(
                TABLE_COLUMNS,
                (arch_label(s.arch), s.hidden_size, s.parameters(input_size, output_size), round(s.macs(), 1)),
            )
        )
        for s in specs
    ]
