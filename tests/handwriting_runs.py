"""Handwriting snapshots and runs made up from a real shipped line, shaped as the task's contract says, so
the app's views and pages are tested without training a bidirectional network."""

from __future__ import annotations

import numpy as np

from cwrnn.clock import active_mask
from cwrnn.data.handwriting import InkLine, save_lines
from cwrnn.runs.store import RunStore

ARCHS = ("cwrnn", "srn", "lstm")
MODULE_SIZES = [5] * 9
PERIODS = [2**i for i in range(9)]
HIDDEN = {"cwrnn": 45, "srn": 40, "lstm": 25}


def snapshot(line, alphabet: str, *, seed: int = 0, readings: dict[str, str] | None = None) -> tuple[dict, dict]:
    """(arrays, meta) of one snapshot of `line`: each architecture "reads" `readings[arch]` (default: the
    line's text, spelled out evenly along it), emitted at evenly spread steps."""
    rng = np.random.default_rng(seed)
    T = len(line.ink)
    arrays = {
        "input": line.features.astype(np.float32),
        "ink": line.ink.astype(np.float32),
        "pen_up": line.pen_up.copy(),
    }
    for arch in ARCHS:
        text = (readings or {}).get(arch, line.text)
        labels = np.array([alphabet.index(c) + 1 for c in text], dtype=np.int32)
        probs = rng.dirichlet(np.ones(len(alphabet) + 1), size=T).astype(np.float32)
        arrays |= {
            f"hidden/{arch}": rng.uniform(-1, 1, (T, 2 * HIDDEN[arch])).astype(np.float32),
            f"probs/{arch}": probs,
            f"emit_steps/{arch}": np.linspace(0, T - 1, len(labels)).round().astype(np.int32),
            f"emit_labels/{arch}": labels,
        }
    forward = active_mask(PERIODS, T)
    arrays |= {
        "active": forward,
        "active_backward": forward[:, ::-1].copy(),  # its clock starts at the line's last point
        "weights/cwrnn": rng.normal(0, 0.1, (45, 45)).astype(np.float32),
    }
    return arrays, {"archs": list(ARCHS), "periods": PERIODS, "module_sizes": MODULE_SIZES}


def stored_run(store: RunStore, line, alphabet: str, *, epochs: int = 3, unipen: str = "shipped") -> int:
    """A finished handwriting run in `store`: CTC losses and error rates falling over `epochs`, and a
    snapshot at every epoch whose readings come closer to the line's text."""
    config = {"task": "handwriting", "unipen": unipen, "budget": 10000, "batch_size": 16, "epochs": epochs}
    run_id = store.create_run("handwriting", config, [0, 1])
    for epoch in range(1, epochs + 1):
        store.add_metrics(
            run_id,
            [
                (arch, seed, epoch, name, value / epoch)
                for arch in ARCHS
                for seed in (0, 1)
                for name, value in (("loss", 80.0), ("val_loss", 90.0), ("val_cer", 0.9), ("test_cer", 0.95))
            ],
        )
        cut = len(line.text) * epoch // epochs
        arrays, meta = snapshot(line, alphabet, seed=epoch, readings={a: line.text[:cut] for a in ARCHS})
        store.add_snapshot(run_id, epoch, arrays, {**meta, "epoch": epoch})
    store.set_status(run_id, "completed", device="cpu")
    return run_id


def tiny_lines(path) -> str:
    """A .npz of 16 short made-up lines of "a" and "b" strokes by 8 writers (12 lines to train on, 2 to
    validate, 2 to test), in the shipped file's format: a handwriting run on it trains in seconds."""
    rng = np.random.default_rng(0)
    lines, splits = [], []
    for i in range(16):
        text = "".join(rng.choice(["a", "b"], 4))
        # one stroke per character: a small loop for "a", a tall one for "b"
        strokes = [
            np.column_stack([np.cos(np.linspace(0, 6, 8)), (3 if c == "b" else 1) * np.sin(np.linspace(0, 6, 8))]) * 20
            + [60 * k, 30]
            for k, c in enumerate(text)
        ]
        ink = np.concatenate(strokes).round().astype(np.int16)
        pen_up = np.zeros(len(ink), dtype=bool)
        pen_up[np.cumsum([len(s) for s in strokes]) - 1] = True
        times = np.arange(len(ink), dtype=np.float32) / 100
        lines.append(InkLine(ink, pen_up, times, text, f"writer{i // 2}", f"tiny.dat:{i}"))
        splits.append("train" if i < 12 else "val" if i < 14 else "test")
    save_lines(path, lines, splits)
    return str(path)
