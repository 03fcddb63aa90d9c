"""One training loop for every model and every task.

All architectures of a comparison train in lockstep, one epoch each in turn, so a live chart shows
them side by side. Each architecture is a SequenceModel holding every seed (and, for Experiment 1,
every target sequence) as one stacked network.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .config import PRESETS
from .models import ArchSpec, SequenceModel, build_network
from .models.ensemble import INITS
from .optim import MemberSGD
from .tasks.base import Task

OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainConfig:
    epochs: int = 2000
    optimizer: str = "sgd"
    lr: float = 3e-4
    momentum: float = 0.95
    #: per-architecture multiplier of lr (the paper trains its LSTM at a tenth of the rate)
    lr_scale: dict[str, float] = field(default_factory=dict)
    #: SGD only: one rate (momentum) per seed given to `train`, replacing lr (momentum) for that seed's
    #: networks, so a sweep of rates x seeds trains as one stacked model; lr_scale still applies
    member_lr: list[float] | None = None
    member_momentum: list[float] | None = None
    #: Nesterov momentum (the paper's); False: classical momentum
    nesterov: bool = True
    #: clip each member's gradient norm to this (None: no clipping; the paper mentions none)
    clip_norm: float | None = None
    #: per-architecture clip_norm in its place (the tuned SRN steps best with every gradient clipped at 1)
    clip_by_arch: dict[str, float] = field(default_factory=dict)
    snapshot_every: int = 50
    #: early stopping: a member stops after this many epochs without improving the task's stop metric
    patience: int | None = None
    device: str | None = None
    init: str = "paper"
    #: per-architecture init in its place (the tuned handwriting LSTM leaves CTC's blank plateau sooner
    #: from the paper's N(0, 0.1) read as a variance, where the SRN and CW-RNN then train unstably)
    init_by_arch: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            problems.append(f"learning rate must be a finite positive number, got {self.lr!r}")
        if not (0 <= self.momentum < 1):
            problems.append(f"momentum must be in [0, 1), got {self.momentum}")
        for name, values, ok, allowed in (
            ("member_lr", self.member_lr, lambda v: math.isfinite(v) and v > 0, "finite positive numbers"),
            ("member_momentum", self.member_momentum, lambda v: 0 <= v < 1, "numbers in [0, 1)"),
        ):
            if values is None:
                continue
            if self.optimizer != "sgd":
                problems.append(f"{name} needs optimizer 'sgd', got {self.optimizer!r}")
            elif not values or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and ok(v) for v in values
            ):
                problems.append(f"{name} must be a non-empty list of {allowed}, got {values!r}")
        if self.epochs < 1:
            problems.append(f"epochs must be at least 1, got {self.epochs}")
        if self.clip_norm is not None and not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            problems.append(f"clip_norm must be a finite positive number or None, got {self.clip_norm!r}")
        bad_clips = {
            a: v
            for a, v in self.clip_by_arch.items()
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0)
        }
        if bad_clips:
            problems.append(f"clip_by_arch values must be finite positive numbers, got {bad_clips!r}")
        bad_inits = [v for v in (self.init, *self.init_by_arch.values()) if v not in INITS]
        if bad_inits:
            problems.append(f"init must be one of {', '.join(INITS)}, got {bad_inits[0]!r}")
        if self.snapshot_every < 1:
            problems.append(f"snapshot_every must be at least 1, got {self.snapshot_every}")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def preset(cls, name: str, **overrides) -> "TrainConfig":
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
        return cls(**{**copy.deepcopy(PRESETS[name]), **overrides})


class Callback:
    """Hooks of the training loop. Override what you need."""

    def on_start(self, info: dict) -> None: ...

    def on_epoch(self, epoch: int, metrics: dict[str, dict[str, np.ndarray]], elapsed: float) -> None:
        """metrics[arch][name] is an array over members (seeds x replicas)."""

    def on_epoch_seconds(self, epoch: int, seconds: dict[str, float]) -> None:
        """seconds[arch]: wall time of the model's updates this epoch, its metrics not included; called
        just before on_epoch. The architectures take turns in one process, so these compare."""

    def on_snapshot(self, epoch: int, arrays: dict[str, np.ndarray], meta: dict) -> None: ...

    def should_stop(self) -> bool:
        return False

    def on_end(self, result: "TrainResult") -> None: ...


@dataclass
class TrainResult:
    outcome: str  # completed, cancelled or diverged
    epochs: int
    elapsed: float
    device: str
    final: dict[str, dict[str, np.ndarray]]
    models: dict[str, SequenceModel]
    message: str = ""


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use 'cpu'")
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def member_seeds(seeds: Sequence[int], replicas: int) -> list[int]:
    """Init seed of each member: member r = replica r // len(seeds), seed r % len(seeds).

    Replica 0 of seed s is exactly a seed-s network; replica j > 0 draws from a stream derived from
    (s, j), so one network per target sequence still starts from independent weights.
    """

    def derived(s: int, j: int) -> int:
        return int(np.random.SeedSequence([s, j]).generate_state(1)[0])

    return [derived(s, j) if j else s for j in range(replicas) for s in seeds]


def _optimizer(cfg: TrainConfig, params, arch: str, num_seeds: int, members: int):
    scale = cfg.lr_scale.get(arch, 1.0)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr * scale)
    rates = cfg.member_lr or [cfg.lr] * num_seeds
    momenta = cfg.member_momentum or [cfg.momentum] * num_seeds
    # member r is seed r % num_seeds (see member_seeds)
    return MemberSGD(
        params,
        [rates[r % num_seeds] * scale for r in range(members)],
        [momenta[r % num_seeds] for r in range(members)],
        nesterov=cfg.nesterov,
    )


def _silence(model: SequenceModel, dead: np.ndarray) -> None:
    """Zero the gradients of dead members (index_fill_, since NaN * 0 is still NaN)."""
    if dead.any():
        idx = torch.as_tensor(np.flatnonzero(dead), device=next(model.parameters()).device)
        for p in model.parameters():
            if p.grad is not None:
                p.grad.index_fill_(0, idx, 0.0)


def _clip_per_member(model: SequenceModel, max_norm: float) -> None:
    """Clip each member's own gradient norm, so one exploding seed cannot shrink the others' steps."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norms = torch.sqrt(sum(g.pow(2).flatten(1).sum(1) for g in grads))
    scale = torch.clamp(max_norm / (norms + 1e-12), max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))


class _EarlyStop:
    """Per-member patience on a lower-is-better metric; stopped members are frozen in place."""

    def __init__(self, models: dict[str, SequenceModel], patience: int):
        self.patience = patience
        self.best = {a: np.full(m.members, np.inf) for a, m in models.items()}
        self.waited = {a: np.zeros(m.members, dtype=int) for a, m in models.items()}
        self.frozen = {a: {} for a in models}  # arch -> member -> saved parameters

    def update(self, arch: str, model: SequenceModel, values: np.ndarray) -> None:
        improved = values < self.best[arch]
        self.best[arch] = np.where(improved, values, self.best[arch])
        self.waited[arch] = np.where(improved, 0, self.waited[arch] + 1)
        for r in np.flatnonzero(self.waited[arch] >= self.patience):
            if r not in self.frozen[arch]:
                self.frozen[arch][r] = [p.detach()[r].clone() for p in model.parameters()]

    def restore(self, arch: str, model: SequenceModel) -> None:
        """Undo any optimiser movement of frozen members (momentum would otherwise carry them on)."""
        with torch.no_grad():
            for r, saved in self.frozen[arch].items():
                for p, s in zip(model.parameters(), saved):
                    p[r] = s

    def all_stopped(self, models) -> bool:
        return all(len(self.frozen[a]) == m.members for a, m in models.items())


SMALL_HIDDEN = 128


@contextmanager
def _threads_for(specs: Sequence[ArchSpec], device: torch.device):
    """One CPU thread for small models, restored afterwards.

    A step of a small recurrent net is a handful of tiny ops; splitting them over threads costs more
    than it saves (measured on 2 cores: 3x to 20x slower with 2 threads than with 1 at 1000 parameters).
    """
    before = torch.get_num_threads()
    small = device.type == "cpu" and max(s.hidden_size for s in specs) <= SMALL_HIDDEN
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(before)


def train(
    task: Task, specs: Sequence[ArchSpec], seeds: Sequence[int], cfg: TrainConfig, callbacks: Sequence[Callback] = ()
) -> TrainResult:
    """Train every architecture in `specs` on `task`, every seed at once, with `cfg`."""
    if not specs:
        raise ValueError("nothing to train: give at least one architecture")
    device = pick_device(cfg.device)
    with _threads_for(specs, device):
        return _train(task, specs, seeds, cfg, callbacks, device)


def _train(task, specs, seeds, cfg, callbacks, device) -> TrainResult:
    if not seeds:
        raise ValueError("give at least one seed")
    for name in ("member_lr", "member_momentum"):
        values = getattr(cfg, name)
        if values is not None and len(values) != len(seeds):
            raise ValueError(f"{name} needs one value per seed: got {len(values)} for {len(seeds)} seeds")
    task.to(device)
    members = member_seeds(seeds, task.replicas())
    inits = {s.arch: cfg.init_by_arch.get(s.arch, cfg.init) for s in specs}
    models = {s.arch: build_network(s, task.input_size, task.output_size, members, inits[s.arch]) for s in specs}
    models = {arch: model.to(device) for arch, model in models.items()}
    opts = {a: _optimizer(cfg, m.parameters(), a, len(seeds), len(members)) for a, m in models.items()}
    stopper = _EarlyStop(models, cfg.patience) if cfg.patience and task.stop_metric else None
    info = {
        "device": str(device),
        "epochs": cfg.epochs,
        "members": len(members),
        "seeds": list(seeds),
        "task": task.describe(),
        "config": asdict(cfg),
        "models": [
            {**s.to_dict(), "parameters": s.parameters(task.input_size, task.output_size), "macs_per_step": s.macs()}
            for s in specs
        ],
    }
    for cb in callbacks:
        cb.on_start(info)
    start, outcome, message, epoch, final = time.perf_counter(), "completed", "", 0, {}
    # A member whose loss turns NaN or infinite is dead: it stops learning and reports NaN, and the
    # others go on exactly as they would alone. Only when every member of a model is dead does the run stop.
    dead = {a: np.zeros(m.members, dtype=bool) for a, m in models.items()}
    for epoch in range(1, cfg.epochs + 1):
        metrics, seconds = {}, {}
        for arch, model in models.items():
            losses, began = [], time.perf_counter()
            for batch in task.batches(epoch, members):
                loss = task.loss(model, batch)
                dead[arch] |= ~torch.isfinite(loss.detach()).cpu().numpy()
                opts[arch].zero_grad(set_to_none=True)
                loss.sum().backward()
                _silence(model, dead[arch])
                clip = cfg.clip_by_arch.get(arch, cfg.clip_norm)
                if clip:
                    _clip_per_member(model, clip)
                opts[arch].step()
                if stopper:
                    stopper.restore(arch, model)
                losses.append(loss.detach())
            if device.type == "cuda":  # the updates were only queued
                torch.cuda.synchronize(device)
            seconds[arch] = time.perf_counter() - began
            metrics[arch] = task.metrics(model, losses)
            for v in metrics[arch].values():
                dead[arch] |= ~np.isfinite(v)
            metrics[arch] = {k: np.where(dead[arch], np.nan, v) for k, v in metrics[arch].items()}
            if stopper:
                stopper.update(arch, model, np.where(dead[arch], np.inf, metrics[arch][task.stop_metric]))
        final = metrics
        elapsed = time.perf_counter() - start
        for cb in callbacks:
            cb.on_epoch_seconds(epoch, seconds)
            cb.on_epoch(epoch, metrics, elapsed)
        gone = [a for a, d in dead.items() if d.all()]
        if gone:
            outcome = "diverged"
            message = (
                f"{', '.join(gone)} diverged at epoch {epoch}: the loss of every seed became NaN or "
                "infinite; try a smaller learning rate or gradient clipping"
            )
            break
        last = epoch == cfg.epochs or (stopper is not None and stopper.all_stopped(models))
        if epoch == 1 or epoch % cfg.snapshot_every == 0 or last:
            arrays, meta = _snapshot(task, models, epoch)
            for cb in callbacks:
                cb.on_snapshot(epoch, arrays, meta)
        if last:
            break
        if any(cb.should_stop() for cb in callbacks):
            outcome, message = "cancelled", f"stopped by request after epoch {epoch}"
            break
    if outcome != "diverged":
        # Measured on the noise of the epoch after the last planned one, whenever the run ended: a network's
        # final score must not depend on when the other networks it trained with stopped early (a cell
        # trained in seed batches ends each batch at its own epoch).
        final = _evaluate(task, models, members, cfg.epochs + 1)
        final = {a: {k: np.where(dead[a], np.nan, v) for k, v in m.items()} for a, m in final.items()}
        partly = [
            f"{int(d.sum())} of {d.size} {a} networks diverged (init seeds "
            f"{', '.join(str(members[r]) for r in np.flatnonzero(d))}) and are left out"
            for a, d in dead.items()
            if d.any()
        ]
        if partly:
            message = "; ".join(partly)
    result = TrainResult(outcome, epoch, time.perf_counter() - start, str(device), final, models, message)
    for cb in callbacks:
        cb.on_end(result)
    return result


def _evaluate(task: Task, models: dict[str, SequenceModel], members: list[int], epoch: int) -> dict:
    """Metrics of the final weights (the per-epoch ones were measured before each update)."""
    with torch.no_grad():
        return {
            arch: task.metrics(model, [task.loss(model, b) for b in task.batches(epoch, members)])
            for arch, model in models.items()
        }


def _snapshot(task: Task, models: dict[str, SequenceModel], epoch: int) -> tuple[dict, dict]:
    arrays: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for arch, model in models.items():
            for key, value in task.snapshot(model).items():
                arrays[key if key in task.shared_snapshot_keys else f"{key}/{arch}"] = value
    meta = {"epoch": epoch, "archs": list(models)}
    cw = models.get("cwrnn")
    if cw is not None:
        meta.update(periods=cw.spec.periods, module_sizes=cw.spec.module_sizes)
        steps = arrays["hidden/cwrnn"].shape[0]
        arrays["active"] = cw.core.activity(steps)
        if cw.spec.bidirectional:  # the backward layer's clock counts from 0 at the line's last point
            arrays["active_backward"] = cw.reverse_core.activity(steps)[:, ::-1].copy()
        arrays["weights/cwrnn"] = cw.core.dense_weights()["W_H"][0].cpu().numpy()
    return arrays, meta
