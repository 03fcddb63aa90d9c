"""Reader for the UNIPEN 1.0 online-handwriting format (Guyon et al., ICPR 1994).

A UNIPEN file is a stream of statements: a line starting with `.KEYWORD`, continued by every following
line that does not start with a dot. `.INCLUDE name` splices another file (found under the include
root) into the stream. Pen data come as `.PEN_DOWN` / `.PEN_UP` blocks of coordinate rows; every
non-empty block is one *component*, numbered from 0 in stream order across includes. A statement
`.SEGMENT <level> <delineation> [<quality>] ["<label>"]` names a stretch of ink by its components:
`5`, `0-44`, `3,5-7`, and with point indices `2:10-4:3` (from point 10 of component 2 to point 3 of
component 4, inclusive). A segment's strokes are its pen-down components; pen-up components are
movements in the air and only advance the clock.

UNIPEN's y axis grows upward (mathematical orientation); this reader keeps it.

Problems never raise out of `read_unipen`: each is a warning "file:line: what is wrong", and a file
that cannot be read is skipped without stopping the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# Every keyword of the UNIPEN 1.0 definition; others are reported and ignored.
KEYWORDS = frozenset(
    """KEYWORD RESERVE COMMENT INCLUDE VERSION DATA_SOURCE DATA_ID COORD HIERARCHY DATA_CONTACT DATA_INFO
    SETUP PAD ALPHABET ALPHABET_FREQ LEXICON_SOURCE LEXICON_ID LEXICON_CONTACT LEXICON_INFO LEXICON
    LEXICON_FREQ X_DIM Y_DIM H_LINE V_LINE X_POINTS_PER_INCH Y_POINTS_PER_INCH Z_POINTS_PER_INCH
    X_POINTS_PER_MM Y_POINTS_PER_MM Z_POINTS_PER_MM POINTS_PER_GRAM POINTS_PER_SECOND PEN_DOWN PEN_UP DT
    DATE STYLE WRITER_ID COUNTRY HAND AGE SEX SKILL WRITER_INFO SEGMENT START_SET START_BOX REC_SOURCE
    REC_ID REC_CONTACT REC_INFO IMPLEMENT TRAINING_SET TEST_SET ADAPT_SET LEXICON_SET REC_TIME REC_LABELS
    REC_SCORES""".split()
)
QUALITIES = frozenset({"?", "BAD", "OK", "GOOD"})
MAX_INCLUDE_DEPTH = 16
_MM_PER_INCH = 25.4

_BOUND = r"(\d+)(?::(\d+))?"
_PIECE_RE = re.compile(rf"^{_BOUND}(?:-{_BOUND})?$")
_SEGMENT_RE = re.compile(r'^(\S+)\s+(\S+)(?:\s+(\S+))?\s*(?:"((?:[^"\\]|\\.)*)")?\s*$', re.DOTALL)


class UnipenError(ValueError):
    """A UNIPEN file or folder that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Segment:
    """One `.SEGMENT`: its ink as pen-down strokes, with the recording settings in force."""

    level: str  # hierarchy level, e.g. TEXT, WORD, CHARACTER
    label: str
    strokes: tuple[np.ndarray, ...]  # each (n, 2) float64 x, y in tablet points, y upward
    times: tuple[np.ndarray, ...]  # seconds since the stream's first point, aligned with strokes
    writer: str  # .WRITER_ID, "" when none was given
    points_per_second: float | None
    points_per_inch: tuple[float | None, float | None]  # x, y
    quality: str  # ?, BAD, OK or GOOD
    source: str  # "file:line" of the .SEGMENT statement


@dataclass(frozen=True)
class UnipenSet:
    segments: list[Segment]
    warnings: list[str]


@dataclass
class _Component:
    points: np.ndarray  # (n, 2) x, y
    times: np.ndarray  # (n,) seconds
    pen_down: bool


@dataclass
class _State:
    """What a stream has set so far; a .SEGMENT takes the values in force where it stands."""

    coord: tuple[str, ...] = ("X", "Y")
    points_per_second: float | None = None
    x_ppi: float | None = None
    y_ppi: float | None = None
    writer: str = ""
    clock: float = 0.0  # seconds; advanced by each component's points and by .DT


def _statements(path: Path) -> list[tuple[int, str, str]]:
    """(line number, KEYWORD, argument text) for each statement; text before the first one is ignored."""
    text = path.read_bytes().decode("latin-1")  # UNIPEN predates Unicode; every byte is a Latin-1 char
    statements: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("."):
            keyword, _, rest = line[1:].replace("\t", " ").partition(" ")
            statements.append((number, keyword, [rest]))
        elif statements:
            statements[-1][2].append(line)
    return [(n, k, "\n".join(parts).strip()) for n, k, parts in statements]


def _number(text: str, what: str) -> float:
    try:
        value = float(text.split()[0])
    except (ValueError, IndexError):
        raise ValueError(f"{what} needs a number; got {text!r}") from None
    if not value > 0:
        raise ValueError(f"{what} must be positive; got {text!r}")
    return value


def _unescape(label: str) -> str:
    return re.sub(r"\\(.)", r"\1", label)


def parse_delineation(text: str) -> list[tuple[int, int | None, int, int | None]]:
    """`3,5-7`, `2:10-4:3` ... as (first component, first point, last component, last point) pieces.

    A point of None means the component's first point (for a start) or last point (for an end).
    """
    pieces = []
    for part in text.split(","):
        m = _PIECE_RE.match(part.strip())
        if not m:
            raise ValueError(
                f"bad component list {text!r}: use numbers, ranges and lists such as 0-44, 3,5-7 or 2:10-4:3"
            )
        c0, p0, c1, p1 = m.groups()
        first = int(c0)
        last = int(c1) if c1 is not None else first
        start = int(p0) if p0 is not None else None
        end = int(p1) if p1 is not None else (start if c1 is None else None)
        if last < first or (last == first and start is not None and end is not None and end < start):
            raise ValueError(f"bad component range {part.strip()!r} in {text!r}: it runs backwards")
        pieces.append((first, start, last, end))
    return pieces


class _FileReader:
    """One segment file with its includes: builds the component list, then resolves the segments."""

    def __init__(self, path: Path, include_root: Path | None, warnings: list[str]):
        self.path = path
        self.include_roots = [r for r in (include_root, path.parent) if r is not None]
        self.warnings = warnings
        self.state = _State()
        self.components: list[_Component] = []
        self.pending: list[tuple[str, str, _State]] = []  # (arguments, "file:line", settings in force)

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")

    def read(self, path: Path, depth: int = 0) -> None:
        for line, keyword, args in _statements(path):
            where = f"{path}:{line}"
            try:
                self.statement(keyword, args, where, depth)
            except ValueError as exc:
                self.warn(where, f".{keyword}: {exc}")

    def statement(self, keyword: str, args: str, where: str, depth: int) -> None:
        s = self.state
        if keyword not in KEYWORDS:
            self.warn(where, f"unknown keyword .{keyword} ignored (not part of UNIPEN 1.0)")
        elif keyword == "INCLUDE":
            self.include(args, where, depth)
        elif keyword in ("PEN_DOWN", "PEN_UP"):
            self.pen(args, keyword == "PEN_DOWN")
        elif keyword == "SEGMENT":
            self.pending.append((args, where, replace(s)))
        elif keyword == "COORD":
            s.coord = tuple(args.split())
            if "X" not in s.coord or "Y" not in s.coord:
                s.coord = ("X", "Y")
                raise ValueError(f"needs X and Y among its channels; got {args!r}; reading X Y")
        elif keyword == "POINTS_PER_SECOND":
            s.points_per_second = _number(args, "points per second")
        elif keyword in ("X_POINTS_PER_INCH", "Y_POINTS_PER_INCH"):
            setattr(s, keyword[0].lower() + "_ppi", _number(args, keyword.lower().replace("_", " ")))
        elif keyword in ("X_POINTS_PER_MM", "Y_POINTS_PER_MM"):
            setattr(s, keyword[0].lower() + "_ppi", _MM_PER_INCH * _number(args, keyword.lower().replace("_", " ")))
        elif keyword == "WRITER_ID":
            s.writer = args.split("\n")[0].strip()
        elif keyword == "DT":
            s.clock += _number(args, "DT (milliseconds between components)") / 1000.0

    def include(self, name: str, where: str, depth: int) -> None:
        if depth >= MAX_INCLUDE_DEPTH:
            raise ValueError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} (a cycle?); {name!r} skipped")
        for root in self.include_roots:
            if (root / name).is_file():
                self.read(root / name, depth + 1)
                return
        looked = " or ".join(str(r / name) for r in self.include_roots)
        raise ValueError(f"included file {name!r} not found (looked for {looked})")

    def pen(self, args: str, pen_down: bool) -> None:
        s = self.state
        width = len(s.coord)
        try:
            values = np.array(args.split(), dtype=np.float64)
        except ValueError:
            bad = next(v for v in args.split() if not _is_number(v))
            raise ValueError(f"pen data must be numbers; found {bad!r}") from None
        if values.size % width:
            raise ValueError(f"{values.size} numbers do not make whole rows of {width} ({' '.join(s.coord)})")
        rows = values.reshape(-1, width)
        if not len(rows):
            return  # an empty block is a pen state marker, not a component
        points = rows[:, [s.coord.index("X"), s.coord.index("Y")]]
        step = 1.0 / s.points_per_second if s.points_per_second else 1.0
        times = s.clock + step * np.arange(len(points))
        s.clock = float(times[-1]) + step
        self.components.append(_Component(points, times, pen_down))

    def segments(self) -> list[Segment]:
        out = []
        for args, where, state in self.pending:
            try:
                segment = self.segment(args, where, state)
            except ValueError as exc:
                self.warn(where, f".SEGMENT skipped: {exc}")
                continue
            out.append(segment)
        return out

    def segment(self, args: str, where: str, state: _State) -> Segment:
        m = _SEGMENT_RE.match(args)
        if not m:
            raise ValueError(f'expected .SEGMENT <level> <components> [<quality>] ["<label>"]; got {args!r}')
        level, delineation, quality, label = m.groups()
        quality = quality or "?"
        if quality not in QUALITIES:
            raise ValueError(f"quality {quality!r} is not one of {', '.join(sorted(QUALITIES))}")
        strokes, times = [], []
        for first, start, last, end in parse_delineation(delineation):
            if last >= len(self.components):
                raise ValueError(
                    f"component {last} does not exist; the file and its includes hold {len(self.components)} "
                    f"(numbered 0-{len(self.components) - 1})"
                )
            for c in range(first, last + 1):
                comp = self.components[c]
                lo = start if c == first and start is not None else 0
                hi = end + 1 if c == last and end is not None else len(comp.points)
                if lo >= len(comp.points) or hi > len(comp.points):
                    raise ValueError(f"component {c} has {len(comp.points)} points; {delineation!r} asks for more")
                if comp.pen_down and hi > lo:
                    strokes.append(comp.points[lo:hi])
                    times.append(comp.times[lo:hi])
        if not strokes:
            raise ValueError(f"components {delineation} hold no pen-down ink")
        return Segment(
            level=level,
            label=_unescape(label or ""),
            strokes=tuple(strokes),
            times=tuple(times),
            writer=state.writer,
            points_per_second=state.points_per_second,
            points_per_inch=(state.x_ppi, state.y_ppi),
            quality=quality,
            source=where,
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_file(path: str | Path, include_root: str | Path | None = None) -> UnipenSet:
    """The segments of one UNIPEN file; includes are looked for under `include_root`, then beside the file."""
    path = Path(path)
    found: list[str] = []
    reader = _FileReader(path, Path(include_root) if include_root else None, found)
    try:
        reader.read(path)
    except (OSError, UnicodeError) as exc:
        return UnipenSet([], [f"{path}: cannot be read ({exc}); file skipped"])
    segments = reader.segments()
    if not segments and not reader.pending:
        found.append(f"{path}: no .SEGMENT statements")
    return UnipenSet(segments, found)


def find_include_root(folder: Path) -> Path | None:
    """The `include` folder of the distribution holding `folder` (UNIPEN puts it beside `data`)."""
    for candidate in (folder, *folder.parents):
        if (candidate / "include").is_dir():
            return candidate / "include"
    return None


def read_unipen(
    folder: str | Path, include_root: str | Path | None = None, levels: tuple[str, ...] | None = None
) -> UnipenSet:
    """Every segment (of the given hierarchy `levels`, or all) in the files under `folder`.

    `folder` may be a distribution root (with `data/` and `include/`) or any folder inside `data/`.
    The include root defaults to the distribution's `include/` folder. Raises UnipenError only when
    the folder itself is unusable; every per-file problem is a warning.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UnipenError(f"UNIPEN folder {folder} does not exist or is not a folder")
    root = Path(include_root) if include_root else find_include_root(folder)
    data = folder / "data" if (folder / "data").is_dir() else folder
    files = sorted(p for p in data.rglob("*") if p.is_file() and not p.name.startswith("."))
    if root is not None and root.resolve() not in {data.resolve(), *data.resolve().parents}:
        files = [p for p in files if root.resolve() not in p.resolve().parents]
    if not files:
        raise UnipenError(f"no files in {data}; a UNIPEN folder holds data/<category>/<contributor>/... files")
    segments: list[Segment] = []
    warnings: list[str] = []
    for path in files:
        result = read_file(path, root)
        segments.extend(s for s in result.segments if levels is None or s.level in levels)
        warnings.extend(result.warnings)
    return UnipenSet(segments, warnings)
