"""Experiment 3's data: UNIPEN text lines as point sequences, split by writer.

The strokes of a line form one sequence, subsampled by 3. Two inputs per point (`INK_INPUTS`):
"paper" (Sect. 4.3): x and y relative to the line's top-left corner, time since the line's first point,
and a pen-up flag that is 1 at the last point of each stroke; x, y and time are standardised with
training-set statistics only. "offsets": the pen's movement since the previous kept point (dx, dy,
compressed by asinh at OFFSET_SCALE) and the same pen-up flag; these learn, the paper's do not here.
docs/handwriting.md explains each decision; the shipped set is assets/handwriting/unipen_lines.npz,
made by scripts/make_handwriting.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import INK_INPUTS
from .unipen import Segment, UnipenError, find_include_root, read_unipen

SHIPPED_FILE = Path(__file__).resolve().parents[2] / "assets" / "handwriting" / "unipen_lines.npz"
SHARED_UNIPEN_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "unipen"
SUBSAMPLE = 3
INK_UNITS_PER_INCH = 254  # ink is stored in tenths of a millimetre, whatever the tablet's resolution
MIN_CHAR_COUNT = 20  # rarer characters (in the training lines) are dropped from the transcriptions
SPLIT_SHARES = {"train": 0.7, "val": 0.15, "test": 0.15}  # of lines
SPLITS = ("train", "val", "test")
TEXT_LEVEL = "TEXT"
#: ink units (0.1 mm) at which asinh turns an offset from linear to logarithmic: 2 mm, about a small
#: letter's height, so pen movement within a letter stays linear while the jumps between words and back
#: to the left margin (up to 20 cm) stay within about 6
OFFSET_SCALE = 20.0


@dataclass(frozen=True)
class InkLine:
    """A line after subsampling, before standardisation; what the shipped file stores."""

    ink: np.ndarray  # (T, 2) int16 x, y in 0.1 mm from the line's lower-left corner, y upward
    pen_up: np.ndarray  # (T,) bool, True at the last kept point of each stroke
    times: np.ndarray  # (T,) float32 seconds since the line's first point
    text: str
    writer: str
    source: str  # "file:line" of its .SEGMENT


@dataclass(frozen=True)
class HandwritingLine:
    features: np.ndarray  # (T, 4) "paper" or (T, 3) "offsets" float32 inputs (INK_INPUTS)
    ink: np.ndarray  # (T, 2) int16, as InkLine: draw with y upward and it reads right side up
    pen_up: np.ndarray
    times: np.ndarray
    text: str  # only alphabet characters
    writer: str
    source: str


@dataclass(frozen=True)
class HandwritingData:
    """Writer-disjoint train/val/test lines and the alphabet; CTC index 0 is the blank."""

    train: list[HandwritingLine]
    val: list[HandwritingLine]
    test: list[HandwritingLine]
    alphabet: str  # class i (1-based) is alphabet[i - 1]
    ink_input: str  # which of INK_INPUTS the features are
    notes: list[str]  # what was dropped while loading, and parser warnings

    @property
    def n_classes(self) -> int:
        return len(self.alphabet) + 1

    def encode(self, text: str) -> list[int]:
        """Class indices (1..len(alphabet)); characters outside the alphabet are skipped."""
        index = {c: i + 1 for i, c in enumerate(self.alphabet)}
        return [index[c] for c in text if c in index]

    def decode(self, indices) -> str:
        """Text of class indices; blanks (0) are skipped, repeats are kept (collapsing is the decoder's job)."""
        return "".join(self.alphabet[i - 1] for i in map(int, indices) if i > 0)


def unipen_dir() -> Path:
    """The full UNIPEN tree: $CWRNN_UNIPEN, else ../shared/data/unipen beside the checkout."""
    return Path(os.environ.get("CWRNN_UNIPEN") or SHARED_UNIPEN_DIR)


def normalise_text(label: str) -> str:
    """Whitespace runs (the vertical lists' line breaks among them) become one space; ends are trimmed."""
    return re.sub(r"\s+", " ", label).strip()


def subsample_indices(lengths: list[int], step: int = SUBSAMPLE) -> list[np.ndarray]:
    """Per stroke: every `step`-th point from its first, and always its last, so no pen-up flag is lost."""
    out = []
    for n in lengths:
        keep = np.arange(0, n, step)
        out.append(keep if keep[-1] == n - 1 else np.append(keep, n - 1))
    return out


def ink_line(segment: Segment) -> InkLine:
    """Merge a segment's strokes into one subsampled sequence in 0.1 mm from its lower-left corner."""
    x_ppi, y_ppi = segment.points_per_inch
    scale = np.array(
        [INK_UNITS_PER_INCH / (x_ppi or INK_UNITS_PER_INCH), INK_UNITS_PER_INCH / (y_ppi or INK_UNITS_PER_INCH)]
    )
    kept = subsample_indices([len(s) for s in segment.strokes])
    points = np.concatenate([s[k] for s, k in zip(segment.strokes, kept)])
    times = np.concatenate([t[k] for t, k in zip(segment.times, kept)])
    pen_up = np.concatenate([np.arange(len(k)) == len(k) - 1 for k in kept])
    ink = np.rint((points - points.min(axis=0)) * scale)
    if ink.max() > np.iinfo(np.int16).max:
        raise ValueError(f"{segment.source}: the line spans {ink.max() / INK_UNITS_PER_INCH:.0f} inches; too large")
    return InkLine(
        ink=ink.astype(np.int16),
        pen_up=pen_up,
        times=(times - times[0]).astype(np.float32),
        text=normalise_text(segment.label),
        writer=segment.writer,
        source=segment.source,
    )


def raw_features(line: InkLine) -> np.ndarray:
    """(T, 4) float32 x, y, t, pen before standardisation; y counts down from the line's top edge."""
    x = line.ink[:, 0].astype(np.float32)
    y = line.ink[:, 1].max() - line.ink[:, 1].astype(np.float32)
    return np.stack([x, y, line.times, line.pen_up.astype(np.float32)], axis=1)


def offset_features(line: InkLine) -> np.ndarray:
    """(T, 3) float32: asinh of the pen's movement since the previous kept point (0 at the first) in
    units of OFFSET_SCALE, x rightward and y downward as in raw_features, and the pen-up flag."""
    ink = line.ink.astype(np.float32)
    step = np.diff(ink, axis=0, prepend=ink[:1]) * np.array([1, -1], dtype=np.float32)
    return np.concatenate([np.arcsinh(step / OFFSET_SCALE), line.pen_up[:, None].astype(np.float32)], axis=1)


def contributor(source: str) -> str:
    """The contributor folder of a segment file (UNIPEN lays them out data/<category>/<contributor>/.../file)."""
    parts = Path(source.rsplit(":", 1)[0]).parts
    return parts[-3] if len(parts) >= 3 else ""


def split_writers(lines: list[InkLine]) -> dict[str, str]:
    """Writer -> split, writer-disjoint and stratified by contributor (each has its own style and tablet).

    A writer belongs to the contributor holding most of its lines. Within each contributor, writers in
    the order of the SHA-256 of their id each go to the split furthest below its share (70/15/15) of
    that contributor's lines. Fixed by ids and folders alone, so a folder splits the same way every time.
    """
    counts = Counter(line.writer for line in lines)
    homes: dict[str, Counter] = {}
    for line in lines:
        homes.setdefault(line.writer, Counter())[contributor(line.source)] += 1
    home = {w: min(c, key=lambda k: (-c[k], k)) for w, c in homes.items()}
    assigned = {}
    for group in sorted(set(home.values())):
        members = sorted((w for w in home if home[w] == group), key=lambda w: hashlib.sha256(w.encode()).hexdigest())
        total = sum(counts[w] for w in members)
        filled = dict.fromkeys(SPLITS, 0)
        for writer in members:
            side = max(SPLITS, key=lambda s: SPLIT_SHARES[s] * total - filled[s])  # the one furthest below its share
            assigned[writer] = side
            filled[side] += counts[writer]
    return assigned


def alphabet_of(texts: list[str], min_count: int = MIN_CHAR_COUNT) -> str:
    """Characters seen at least `min_count` times, in code-point order."""
    counts = Counter("".join(texts))
    return "".join(sorted(c for c, n in counts.items() if n >= min_count))


def ctc_fits(n_points: int, target: list[int]) -> bool:
    """CTC needs a step per label, plus a blank between each pair of equal neighbours."""
    repeats = sum(a == b for a, b in zip(target, target[1:]))
    return n_points >= len(target) + repeats


def parse_lines(folder: str | Path) -> tuple[list[InkLine], list[str]]:
    """The TEXT segments of any UNIPEN folder as ink lines, with every parser warning."""
    found = read_unipen(folder, levels=(TEXT_LEVEL,))
    notes = list(found.warnings)
    # Sources are kept relative to the distribution root, so they name the contributor wherever it lies.
    root = find_include_root(Path(folder).expanduser())
    base = (root.parent if root else Path(folder).expanduser()).resolve()
    lines = []
    for segment in found.segments:
        try:
            line = ink_line(segment)
        except ValueError as exc:
            notes.append(str(exc))
            continue
        file, _, number = segment.source.rpartition(":")
        relative = Path(file).resolve().relative_to(base) if base in Path(file).resolve().parents else Path(file)
        lines.append(replace(line, source=f"{relative.as_posix()}:{number}"))
    if not lines:
        raise UnipenError(f"no usable .SEGMENT {TEXT_LEVEL} lines under {folder}; first problems: {notes[:3]}")
    return lines, notes


def save_lines(path: str | Path, lines: list[InkLine], splits: list[str]) -> None:
    """One compressed .npz: points of all lines concatenated, per-line lengths, texts, writers, splits."""
    np.savez_compressed(
        path,
        ink=np.concatenate([line.ink for line in lines]),
        pen_up=np.concatenate([line.pen_up for line in lines]),
        time_ms=np.concatenate([np.rint(line.times * 1000) for line in lines]).astype(np.int32),
        lengths=np.array([len(line.ink) for line in lines], dtype=np.int32),
        text=np.array([line.text for line in lines]),
        writer=np.array([line.writer for line in lines]),
        source=np.array([line.source for line in lines]),
        split=np.array(splits),
    )


def read_lines(path: str | Path) -> tuple[list[InkLine], list[str]]:
    try:
        with np.load(path) as f:
            cuts = np.cumsum(f["lengths"])[:-1]
            parts = zip(
                np.split(f["ink"], cuts),
                np.split(f["pen_up"], cuts),
                np.split(f["time_ms"].astype(np.float32) / 1000, cuts),
                f["text"],
                f["writer"],
                f["source"],
            )
            lines = [InkLine(i, p, t, str(x), str(w), str(s)) for i, p, t, x, w, s in parts]
            splits = [str(s) for s in f["split"]]
    except (OSError, KeyError, ValueError) as exc:
        raise UnipenError(
            f"cannot read the handwriting file {path} ({exc}); rebuild it with scripts/make_handwriting.py"
        )
    return lines, splits


def assemble(lines: list[InkLine], splits: list[str], notes: list[str], ink_input: str = "paper") -> HandwritingData:
    """Alphabet and the paper input's standardisation from the training lines; lines CTC cannot align
    are dropped."""
    if ink_input not in INK_INPUTS:
        raise ValueError(f"ink_input must be one of {', '.join(INK_INPUTS)}, got {ink_input!r}")
    notes = list(notes)
    alphabet = alphabet_of([line.text for line, s in zip(lines, splits) if s == "train"])
    rare = sorted(set("".join(line.text for line in lines)) - set(alphabet))
    if rare:
        notes.append(f"characters dropped from the transcriptions as too rare: {''.join(rare)!r}")
    kept: dict[str, list[tuple[InkLine, np.ndarray]]] = {s: [] for s in SPLITS}
    for line, side in zip(lines, splits):
        text = "".join(c for c in line.text if c in alphabet).strip()
        target = [alphabet.index(c) for c in text]
        if not text or not ctc_fits(len(line.ink), target):
            notes.append(f"{line.source}: dropped, {len(line.ink)} points cannot carry the text {line.text!r}")
            continue
        features = raw_features(line) if ink_input == "paper" else offset_features(line)
        kept[side].append((InkLine(line.ink, line.pen_up, line.times, text, line.writer, line.source), features))
    if not kept["train"]:
        raise UnipenError("no training lines left; a handwriting set needs lines from several writers")
    if ink_input == "paper":
        train_xyt = np.concatenate([f[:, :3] for _, f in kept["train"]])
        mean, std = train_xyt.mean(axis=0), train_xyt.std(axis=0)
        std[std == 0] = 1.0
        for _, f in (pair for side in SPLITS for pair in kept[side]):
            f[:, :3] = (f[:, :3] - mean) / std

    def as_lines(pairs):
        return [HandwritingLine(f, i.ink, i.pen_up, i.times, i.text, i.writer, i.source) for i, f in pairs]

    return HandwritingData(*(as_lines(kept[s]) for s in SPLITS), alphabet=alphabet, ink_input=ink_input, notes=notes)


def split_lines(lines: list[InkLine]) -> list[str]:
    by_writer = split_writers(lines)
    return [by_writer[line.writer] for line in lines]


def load_handwriting(source: str | Path | None = None, ink_input: str = "paper") -> HandwritingData:
    """The handwriting set read as `ink_input` (INK_INPUTS): source None = the shipped file; a `.npz` =
    one made by scripts/make_handwriting.py; a folder = any UNIPEN distribution (or part of one), parsed
    and split by writer with the same rule."""
    if source is None or Path(source).suffix == ".npz":
        path = Path(source) if source is not None else SHIPPED_FILE
        lines, splits = read_lines(path)
        return assemble(lines, splits, [], ink_input)
    lines, notes = parse_lines(source)
    if notes:
        warnings.warn(f"{len(notes)} problems while reading {source}, first: {notes[0]} (all in .notes)")
    return assemble(lines, split_lines(lines), notes, ink_input)
