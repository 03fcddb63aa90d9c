"""A validated configuration (cwrnn.config) turned into a task, its parameter-matched models and a TrainConfig.

Importing this module loads no torch: the task and the training settings are imported when they are built,
so the pages can size models and check a design instantly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import ConfigError, RunConfig
from .models.sizing import ArchSpec, matched_specs

if TYPE_CHECKING:
    from .train import TrainConfig

MAX_ACTIVATION_BYTES = 2 * 2**30  # what one run may hold for backpropagation through time
# Peak floats per network, step and hidden unit during backpropagation, measured: the gated networks
# keep their gates (and the LSTM its cell states) and, in the backward pass, their derivatives.
PEAK_FLOATS = {"cwrnn": 6, "srn": 6, "lstm": 24, "gru": 18}


def train_config(cfg: RunConfig) -> TrainConfig:
    """The training settings of a run: its preset, with the run's own overrides."""
    from .train import TrainConfig

    overrides = {
        k: v for k, v in (("lr", cfg.lr), ("momentum", cfg.momentum), ("clip_norm", cfg.clip_norm)) if v is not None
    }
    return TrainConfig.preset(
        cfg.preset, epochs=cfg.epochs, snapshot_every=cfg.snapshot_every, device=cfg.device, **overrides
    )


def build_specs(cfg: RunConfig, input_size: int, output_size: int) -> list[ArchSpec]:
    """The CW-RNN and its parameter-matched baselines; raises ConfigError when they cannot be sized."""
    # Experiment 3 reads whole lines in both directions, and its LSTM has no forget-gate bias (Sect. 4.3).
    experiment3 = {"bidirectional": True, "forget_bias": 0.0} if cfg.task == "handwriting" else {}
    try:
        specs = matched_specs(
            cfg.budget,
            input_size,
            output_size,
            periods=cfg.periods,
            module_sizes=cfg.module_sizes,
            connectivity=cfg.connectivity,
            baselines=cfg.baselines,
            **experiment3,
        )
    except ValueError as e:
        raise ConfigError([str(e)]) from e
    networks = cfg.seeds * (len(cfg.clips) if cfg.task == "generation" and cfg.source == "clips" else 1)
    floats = networks * cfg.steps * sum(s.hidden_size * PEAK_FLOATS[s.arch] for s in specs)
    if cfg.task == "generation" and floats * 4 > MAX_ACTIVATION_BYTES:
        raise ConfigError(
            [
                f"{networks} networks x {cfg.steps} steps at these sizes would hold about "
                f"{floats * 4 / 2**30:.1f} GiB of activations (limit {MAX_ACTIVATION_BYTES / 2**30:g} "
                "GiB): use fewer seeds, clips or steps, or a smaller budget"
            ]
        )
    over = [s for s in specs if s.parameters(input_size, output_size) > 1.5 * cfg.budget]
    if over:
        raise ConfigError(
            [
                f"a budget of {cfg.budget} parameters is too small: the smallest {s.arch} with this "
                f"design has {s.parameters(input_size, output_size)}; raise the budget or use fewer "
                "modules"
                for s in over
            ]
        )
    return specs


def build_task(cfg: RunConfig):
    """The task object for a validated configuration (data errors become ConfigError)."""
    try:
        if cfg.task == "generation":
            from .tasks.generation import generation_task

            return generation_task(cfg)
        if cfg.task == "handwriting":
            from .tasks.handwriting import handwriting_task

            return handwriting_task(cfg)
        from .tasks.words import words_task

        return words_task(cfg)
    except (ValueError, OSError) as e:  # AudioError, DatasetError and UnipenError are ValueErrors with clear messages
        raise ConfigError([str(e)]) from e
