"""The training job: train one stored configuration, streaming everything to the store.

The manager calls `execute(run_id, home)` in a spawned process. Progress and metrics reach the store
at least every FLUSH_SECONDS, so a killed worker loses at most that much; cancellation is checked at
the same rhythm and honoured at the next epoch boundary.
"""

from __future__ import annotations

import json
import time

import numpy as np

from ..config import as_trained, validate
from ..experiment import build_specs, build_task, train_config
from ..grid import summarize
from ..pace import Pace
from .jobs import versions
from .store import RunStore

FLUSH_SECONDS = 0.5
MS_WINDOW = 20  # epochs in the measured time per epoch


class StoreCallback:
    """Streams a training run into the store; see cwrnn.train.Callback for the hooks."""

    def __init__(self, store: RunStore, run_id: int):
        self.store, self.run_id = store, run_id
        self.rows: list[tuple] = []
        self.last_flush = time.monotonic()
        self.cancel = False
        self.total = 0
        self.epoch = 0
        self.latest: dict = {}
        self.seconds: dict[str, list[float]] = {}

    def on_start(self, info: dict) -> None:
        self.total = info["epochs"]
        self.pace = Pace(self.total)
        self.store.update_progress(
            self.run_id,
            {
                "epoch": 0,
                "total_epochs": self.total,
                "elapsed_s": 0.0,
                "eta_s": None,
                "device": info["device"],
                "models": info["models"],
            },
        )
        self.info = info

    def on_epoch_seconds(self, epoch: int, seconds: dict[str, float]) -> None:
        for arch, s in seconds.items():
            self.seconds.setdefault(arch, []).append(s)

    def ms_per_epoch(self) -> dict[str, float]:
        """Each model's typical epoch of updates: the median of its last epochs, the first left out once there
        are others (it pays for warming up: allocations, plans, caches)."""
        recent = {a: s[1:][-MS_WINDOW:] or s for a, s in self.seconds.items()}
        return {a: 1000 * float(np.median(s)) for a, s in recent.items()}

    def on_epoch(self, epoch: int, metrics: dict, elapsed: float) -> None:
        self.epoch = epoch
        self.pace.add(epoch, elapsed)
        for arch, named in metrics.items():
            for name, values in named.items():
                self.rows.extend((arch, r, epoch, name, float(v)) for r, v in enumerate(values))
        self.latest = {a: {k: float(np.mean(v)) for k, v in m.items()} for a, m in metrics.items()}
        if epoch in (1, self.total) or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush(elapsed)

    def flush(self, elapsed: float) -> None:
        if self.rows:
            self.store.add_metrics(self.run_id, self.rows)
            self.rows = []
        eta = self.pace.eta() if self.epoch < self.total else 0.0
        self.store.update_progress(
            self.run_id,
            {
                "epoch": self.epoch,
                "total_epochs": self.total,
                "elapsed_s": elapsed,
                "eta_s": eta,
                "latest": self.latest,
                "ms_per_epoch": self.ms_per_epoch(),
                "device": self.info["device"],
                "models": self.info["models"],
            },
        )
        self.cancel = self.store.cancel_requested(self.run_id)
        self.last_flush = time.monotonic()

    def on_snapshot(self, epoch: int, arrays: dict, meta: dict) -> None:
        self.store.add_snapshot(self.run_id, epoch, arrays, meta)

    def should_stop(self) -> bool:
        return self.cancel

    def on_end(self, result) -> None:
        self.flush(result.elapsed)


def execute(run_id: int, home: str) -> None:
    """Train run `run_id` of the store at `home`; set its final status, summary and artifacts."""
    from ..train import train

    store = RunStore(home)
    run = store.get_run(run_id)
    store.set_versions(run_id, versions())
    cfg = validate(run["config"])
    task = build_task(cfg)
    specs = build_specs(cfg, task.input_size, task.output_size)
    callback = StoreCallback(store, run_id)
    result = train(task, specs, run["seeds"], train_config(cfg), [callback])
    seeds = run["seeds"]
    summary = {
        "final": {a: {k: summarize(v) for k, v in m.items()} for a, m in result.final.items()},
        "epochs": result.epochs,
        "elapsed_s": result.elapsed,
        "ms_per_epoch": callback.ms_per_epoch(),
        # the metrics' "seed" column is this member index
        "members": [
            {"member": r, "seed": seeds[r % len(seeds)], "target": r // len(seeds)}
            for r in range(len(seeds) * task.replicas())
        ],
        "models": [{**s.to_dict(), "parameters": s.parameters(task.input_size, task.output_size)} for s in specs],
    }
    # Artifacts are saved one by one: a failure in one loses neither the others nor the run's status.
    savers = {
        f"{arch} weights": (
            lambda m=model, a=arch: store.save_weights(run_id, a, {k: v.cpu() for k, v in m.state_dict().items()})
        )
        for arch, model in result.models.items()
    }
    savers["config"] = lambda: store.save_artifact_bytes(
        run_id, "config.json", json.dumps(as_trained(cfg), indent=2).encode()
    )
    if cfg.task == "generation":
        savers["audio"] = lambda: _save_audio(store, run_id, task, result.models)
    problems = []
    for name, save in savers.items():
        try:
            save()
        except Exception as e:  # noqa: BLE001 - reported in the run's message, never lost silently
            problems.append(f"could not save the {name}: {e}")
    message = "; ".join(filter(None, [result.message, *problems])) or None
    store.set_status(run_id, result.outcome, error=message, device=result.device, summary=summary)


def _save_audio(store: RunStore, run_id: int, task, models) -> None:
    """Target and each model's first-member output as 44.1 kHz WAVs on one loudness scale."""
    import torch

    from ..data import audio

    with torch.no_grad():
        outputs = {arch: task.generate(m)[0][0].cpu().numpy() for arch, m in models.items()}
    for name, signal in {"target": task.targets_np[0], **outputs}.items():
        clean = np.clip(np.nan_to_num(signal, nan=0.0, posinf=1.0, neginf=-1.0), -1, 1)  # a diverged seed
        store.save_artifact_bytes(run_id, f"{name}.wav", audio.wav_bytes(clean, audio.SHIPPED_RATE))


def warm_up() -> None:
    """What `execute` imports, done ahead by a standby worker (torch alone takes seconds)."""
    import torch

    from .. import train  # noqa: F401
    from ..data import audio  # noqa: F401
    from ..tasks import generation, handwriting, words  # noqa: F401

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # the first optimiser imports torch._dynamo
