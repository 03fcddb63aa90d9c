"""UNIPEN parsing and Experiment 3's preprocessing, on small files written here and on the shared tree."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from cwrnn.data import handwriting as hw
from cwrnn.data.unipen import UnipenError, parse_delineation, read_file, read_unipen

UNIPEN = hw.unipen_dir()
needs_unipen = pytest.mark.skipif(
    not (UNIPEN / "data").is_dir(), reason=f"UNIPEN tree not found at {UNIPEN} (set CWRNN_UNIPEN to use another)"
)

DOC = """.VERSION 1.0
.COMMENT  a description that runs
          over two lines
.COORD X Y
.HIERARCHY TEXT WORD
.X_POINTS_PER_INCH 127
.Y_POINTS_PER_INCH 254
.POINTS_PER_SECOND 50
"""

# Four components: three pen-down strokes and one pen-up movement between the first two.
PEN = """.WRITER_ID Zoë_Müller
.PEN_DOWN
0 100
10 100
20 110
.PEN_UP
30 120
40 130
.PEN_DOWN
50 90
60 80
.PEN_UP
.PEN_DOWN
70 70
.PEN_UP
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("latin-1"))
    return path


def tree(tmp_path: Path, segments: str, pen: str = PEN, name: str = "w1") -> Path:
    """A distribution root with data/8/xyz/<name>.dat including xyz/doc.doc and xyz/<name>.pen."""
    write(tmp_path / "include/xyz/doc.doc", DOC)
    write(tmp_path / f"include/xyz/{name}.pen", pen)
    write(
        tmp_path / f"data/8/xyz/sub/{name}.dat",
        f".VERSION 1.0\n.INCLUDE xyz/doc.doc\n.INCLUDE xyz/{name}.pen\n{segments}",
    )
    return tmp_path


def test_delineations_follow_the_format():
    assert parse_delineation("0-44") == [(0, None, 44, None)]
    assert parse_delineation("3,5-7") == [(3, None, 3, None), (5, None, 7, None)]
    assert parse_delineation("2:10-4:3") == [(2, 10, 4, 3)]
    assert parse_delineation("6:2") == [(6, 2, 6, 2)]
    for bad in ("7-3", "a-b", "1--2", "", "2:5-2:1"):
        with pytest.raises(ValueError, match="bad component"):
            parse_delineation(bad)


def test_segments_resolve_ranges_lists_and_points_across_includes(tmp_path):
    root = tree(
        tmp_path,
        '.SEGMENT TEXT 0-3 ? "na\\"ïve"\n.SEGMENT WORD 0,2 OK "ab"\n.SEGMENT WORD 0:1-2:0 ? "c"\n.SEGMENT WORD 1 ? "air"\n',
    )
    found = read_unipen(root)
    whole, listed, pointed = found.segments
    # the fourth names only the pen-up movement
    assert found.warnings == [
        f"{root / 'data/8/xyz/sub/w1.dat'}:7: .SEGMENT skipped: components 1 hold no pen-down ink"
    ]
    assert whole.level == "TEXT" and whole.label == 'na"ïve' and whole.writer == "Zoë_Müller"
    assert [s.tolist() for s in whole.strokes] == [[[0, 100], [10, 100], [20, 110]], [[50, 90], [60, 80]], [[70, 70]]]
    assert whole.points_per_second == 50 and whole.points_per_inch == (127, 254)
    # The clock runs through the pen-up component: 3 points, 2 in the air, then the second stroke.
    assert np.concatenate(whole.times) == pytest.approx([0, 0.02, 0.04, 0.1, 0.12, 0.14])
    assert listed.quality == "OK" and [len(s) for s in listed.strokes] == [3, 2]
    assert [s.tolist() for s in pointed.strokes] == [[[10, 100], [20, 110]], [[50, 90]]]
    assert read_unipen(root, levels=("TEXT",)).segments[0].label == 'na"ïve'


def test_delta_times_and_extra_channels(tmp_path):
    pen = ".COORD X Y T\n.POINTS_PER_SECOND 100\n.PEN_DOWN\n1 2 0\n3 4 9\n.PEN_UP\n.DT 500\n.PEN_DOWN\n5 6 0\n.PEN_UP\n"
    root = tree(tmp_path, '.SEGMENT TEXT 0-1 ? "x"\n', pen=pen)
    (segment,) = read_unipen(root).segments
    assert [s.tolist() for s in segment.strokes] == [[[1, 2], [3, 4]], [[5, 6]]]
    assert np.concatenate(segment.times) == pytest.approx([0, 0.01, 0.52])


def test_problems_are_warnings_naming_file_and_line_and_other_files_still_load(tmp_path):
    for copy in range(hw.MIN_CHAR_COUNT):  # enough lines for their characters to enter the alphabet
        root = tree(tmp_path, '.SEGMENT TEXT 0-3 ? "good"\n', name=f"w{copy}")
    bad = write(
        root / "data/8/xyz/sub/bad.dat",
        ".VERSION 1.0\n.INCLUDE xyz/missing.pen\n.INCLUDE xyz/w1.pen\n.SCRIBBLE 3\n"
        '.SEGMENT TEXT 0-9 ? "too far"\n.SEGMENT TEXT 4-2 ? "backwards"\n.SEGMENT TEXT 1 ? "in the air"\n'
        ".SEGMENT TEXT\n",
    )
    write(root / "include/xyz/broken.pen", ".PEN_DOWN\n1 2\n3 x\n.PEN_UP\n")
    write(root / "data/8/xyz/sub/broken.dat", '.INCLUDE xyz/broken.pen\n.DT\n.SEGMENT TEXT 0 ? "b"\n')
    found = read_unipen(root)
    assert [s.label for s in found.segments] == ["good"] * hw.MIN_CHAR_COUNT
    messages = "\n".join(found.warnings)
    broken = root / "data/8/xyz/sub/broken.dat"
    for expected in (
        f"{bad}:2: .INCLUDE: included file 'xyz/missing.pen' not found",
        f"{bad}:4: unknown keyword .SCRIBBLE ignored",
        f"{bad}:5: .SEGMENT skipped: component 9 does not exist; the file and its includes hold 4",
        f"{bad}:6: .SEGMENT skipped: bad component range '4-2'",
        f"{bad}:7: .SEGMENT skipped: components 1 hold no pen-down ink",
        f"{bad}:8: .SEGMENT skipped: expected .SEGMENT <level> <components>",
        f"{root / 'include/xyz/broken.pen'}:1: .PEN_DOWN: pen data must be numbers; found 'x'",
        f"{broken}:2: .DT: DT (milliseconds between components) needs a number; got ''",
        f"{broken}:3: .SEGMENT skipped: component 0 does not exist",
    ):
        assert expected in messages
    assert len(found.warnings) == 9
    with pytest.warns(UserWarning, match=f"9 problems while reading {root}"):
        data = hw.load_handwriting(root)
    assert data.notes == found.warnings and [line.text for line in data.train] == ["good"] * hw.MIN_CHAR_COUNT


def test_unusable_folders_are_errors_that_say_what_is_expected(tmp_path):
    with pytest.raises(UnipenError, match="does not exist"):
        read_unipen(tmp_path / "nowhere")
    (tmp_path / "data").mkdir()
    with pytest.raises(UnipenError, match="no files in"):
        read_unipen(tmp_path)
    write(tmp_path / "data/x.dat", ".VERSION 1.0\n")
    with pytest.raises(UnipenError, match="no usable .SEGMENT TEXT lines"):
        hw.load_handwriting(tmp_path)
    with pytest.raises(UnipenError, match="rebuild it with scripts/make_handwriting.py"):
        hw.load_handwriting(tmp_path / "absent.npz")


def test_an_unreadable_file_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "x.dat"
    path.mkdir()  # a folder where a file is expected cannot be read
    assert read_file(path).warnings[0].startswith(f"{path}: cannot be read")


def naive_features(strokes, times, ppi):
    """The paper's description step by step: merge, every third point per stroke plus its end, corner origin."""
    xs, ys, ts, pens = [], [], [], []
    for stroke, t in zip(strokes, times):
        keep = sorted(set(range(0, len(stroke), 3)) | {len(stroke) - 1})
        for i in keep:
            xs.append(stroke[i][0] * 254 / ppi[0])
            ys.append(stroke[i][1] * 254 / ppi[1])
            ts.append(t[i])
            pens.append(1.0 if i == len(stroke) - 1 else 0.0)
    left = min(xs)
    x = np.rint(np.array(xs) - left)
    y_up = np.rint(np.array(ys) - min(ys))
    return np.stack([x, y_up.max() - y_up, np.array(ts) - ts[0], pens], axis=1)


def test_preprocessing_matches_the_papers_description(tmp_path):
    strokes = [[[10 + i, 200 - 2 * i] for i in range(7)], [[40, 150], [41, 149]], [[60, 300]]]
    pen = (
        ".PEN_DOWN\n"
        + "\n.PEN_UP\n.PEN_DOWN\n".join("\n".join(f"{x} {y}" for x, y in s) for s in strokes)
        + "\n.PEN_UP\n"
    )
    root = tree(tmp_path, '.SEGMENT TEXT 0-2 ? " two  words\n"\n', pen=pen)
    (segment,) = read_unipen(root).segments
    line = hw.ink_line(segment)
    assert line.text == "two words"
    # stroke 1 keeps points 0, 3, 6; stroke 2 (two points) keeps both; the dot keeps its one point
    assert line.pen_up.tolist() == [False, False, True, False, True, True]
    assert line.ink[:, 0].min() == 0 and line.ink[:, 1].min() == 0
    times = [np.arange(7) / 50, np.arange(7, 9) / 50, np.array([9 / 50])]  # no pen-up points: the clock runs on
    expected = naive_features(strokes, times, (127, 254))
    assert hw.raw_features(line) == pytest.approx(expected, abs=1e-6)


def small_lines(n_writers=20, per_writer=6):
    rng = np.random.default_rng(0)
    lines = []
    for w in range(n_writers):
        for k in range(per_writer):
            n = 30 + k
            lines.append(
                hw.InkLine(
                    ink=rng.integers(0, 500, size=(n, 2)).astype(np.int16),
                    pen_up=np.arange(n) % 7 == 6,
                    times=np.arange(n, dtype=np.float32) / 20,
                    text=["hello world", "ab ba", "zz top"][k % 3],
                    writer=f"writer{w}",
                    source=f"/d/8/{'ab'[w % 2]}/s/f{w}_{k}.dat:4",
                )
            )
    return lines


def test_the_writer_split_is_disjoint_deterministic_and_near_its_shares():
    lines = small_lines()
    assigned = hw.split_writers(lines)
    assert assigned == hw.split_writers(list(reversed(lines)))
    assert set(assigned.values()) == {"train", "val", "test"}
    shares = {s: sum(assigned[line.writer] == s for line in lines) / len(lines) for s in hw.SPLITS}
    assert shares == pytest.approx(hw.SPLIT_SHARES, abs=0.06)


def test_standardisation_uses_training_lines_only_and_leaves_the_pen_flag():
    lines = small_lines()
    splits = hw.split_lines(lines)
    data = hw.assemble(lines, splits, [])
    raw_train = np.concatenate([hw.raw_features(line)[:, :3] for line, s in zip(lines, splits) if s == "train"])
    train = np.concatenate([line.features for line in data.train])
    assert train[:, :3].mean(axis=0) == pytest.approx(0, abs=1e-4) and train[:, :3].std(axis=0) == pytest.approx(
        1, abs=1e-4
    )
    test_line = data.test[0]
    assert test_line.features[:, :3] == pytest.approx(
        (hw.raw_features(test_line)[:, :3] - raw_train.mean(axis=0)) / raw_train.std(axis=0), abs=1e-5
    )
    assert test_line.features[:, 3].tolist() == test_line.pen_up.astype(float).tolist()


def test_offsets_are_the_pen_movement_on_a_hand_made_line():
    # three points right then down-left, a stroke ends, a dot far right: the pen steps in 0.1 mm
    ink = np.array([[0, 50], [20, 50], [40, 30], [400, 30]], dtype=np.int16)
    pen_up = np.array([False, False, True, True])
    line = hw.InkLine(ink, pen_up, np.arange(4, dtype=np.float32), "a b", "w", "/f:1")
    steps = np.array([[0, 0], [20, 0], [20, 20], [360, 0]])  # y counts downward, as in the paper input
    expected = np.column_stack([np.arcsinh(steps / hw.OFFSET_SCALE), [0, 0, 1, 1]])
    assert hw.offset_features(line) == pytest.approx(expected, abs=1e-6)
    # small steps stay near linear, the 36 mm jump is compressed
    assert hw.offset_features(line)[1, 0] == pytest.approx(1.0, abs=0.15) and hw.offset_features(line)[3, 0] < 4


def test_offsets_are_unchanged_by_where_the_line_lies_and_need_no_training_statistics():
    lines = small_lines()
    splits = hw.split_lines(lines)
    data = hw.assemble(lines, splits, [], "offsets")
    assert data.ink_input == "offsets" and data.train[0].features.shape[1] == 3
    moved = [
        hw.InkLine(line.ink + 7, line.pen_up, line.times + 1, line.text, line.writer, line.source) for line in lines
    ]
    half = [s if s != "train" or k % 2 else "unused" for k, s in enumerate(splits)]  # another training set
    kept = [(m, s) for m, s in zip(moved, half) if s != "unused"]
    other = hw.assemble([m for m, _ in kept], [s for _, s in kept], [], "offsets")
    for split in ("val", "test"):
        for a, b in zip(getattr(data, split), getattr(other, split), strict=True):
            assert a.features == pytest.approx(b.features)
    with pytest.raises(ValueError, match="ink_input must be one of paper, offsets, got 'dxdy'"):
        hw.assemble(lines, splits, [], "dxdy")


def test_alphabet_encoding_and_dropped_lines():
    lines = small_lines()
    lines[0] = hw.InkLine(lines[0].ink[:3], lines[0].pen_up[:3], lines[0].times[:3], "aaaa", "writer0", "/x:1")
    lines[1] = hw.InkLine(lines[1].ink, lines[1].pen_up, lines[1].times, "ab ba\u00e9", "writer0", "/y:1")
    data = hw.assemble(lines, hw.split_lines(lines), [])
    assert data.alphabet == " abdehloprtwz" and data.n_classes == 14  # é is too rare
    assert data.encode("hello") == [6, 5, 7, 7, 8]
    assert data.decode([0, 6, 5, 0, 7, 7, 8]) == "hello"
    assert "/x:1: dropped, 3 points cannot carry the text 'aaaa'" in data.notes
    assert all(line.text != "aaaa" for line in data.train + data.val + data.test)
    assert any(line.source == "/y:1" and line.text == "ab ba" for line in data.train + data.val + data.test)


def test_ctc_needs_a_blank_between_repeats():
    assert hw.ctc_fits(4, [1, 1, 2]) and not hw.ctc_fits(3, [1, 1, 2]) and hw.ctc_fits(3, [1, 2, 3])


def test_the_shipped_set_loads_quickly_with_disjoint_writers():
    start = time.perf_counter()
    data = hw.load_handwriting()
    assert time.perf_counter() - start < 5  # generous for a loaded machine; benchmarks hold the real timing
    assert (len(data.train), len(data.val), len(data.test)) == (2150, 578, 407)
    writers = [{line.writer for line in getattr(data, s)} for s in hw.SPLITS]
    assert not (writers[0] & writers[1] or writers[0] & writers[2] or writers[1] & writers[2])
    assert data.n_classes == 96 and data.alphabet[0] == " "
    line = data.train[0]
    assert line.features.dtype == np.float32 and line.features.shape == (len(line.ink), 4)
    assert line.pen_up[-1] and line.features[-1, 3] == 1


@needs_unipen
def test_the_shared_tree_parses_cleanly():
    found = read_unipen(UNIPEN)
    assert found.warnings == []
    assert len(found.segments) == 3135 and {s.level for s in found.segments} == {"TEXT"}
    assert len({s.writer for s in found.segments}) == 97  # 127 contributor-writer pairs; 30 names write for two
    assert {s.points_per_second for s in found.segments} == {60.0, 80.0}
    first = next(s for s in found.segments if s.source.endswith("apd28/app2823.dat:4"))
    assert first.writer == "Mark_Crawford" and len(first.strokes) == 92
    assert first.strokes[0][0].tolist() == [582, 15754]
    assert first.label.startswith("The Splendid Feast")


@needs_unipen
def test_the_shipped_set_agrees_with_a_fresh_parse_of_the_shared_tree():
    shipped_lines, shipped_splits = hw.read_lines(hw.SHIPPED_FILE)
    fresh, notes = hw.parse_lines(UNIPEN)
    assert notes == [] and len(fresh) == len(shipped_lines)
    assert hw.split_lines(fresh) == shipped_splits
    for i in (0, 1000, 2345, len(fresh) - 1):
        a, b = fresh[i], shipped_lines[i]
        assert (a.source, a.text, a.writer) == (b.source, b.text, b.writer)
        assert np.array_equal(a.ink, b.ink) and np.array_equal(a.pen_up, b.pen_up)
        assert a.times == pytest.approx(b.times, abs=1e-3)  # stored to the millisecond
