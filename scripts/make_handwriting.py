"""Build the shipped handwriting set (assets/handwriting/unipen_lines.npz) from a UNIPEN folder.

Every TEXT line of the folder, subsampled by 3, as int16 ink in 0.1 mm with its pen-up flags, times,
transcription, writer and writer-disjoint split (cwrnn.data.handwriting.split_writers).

    python scripts/make_handwriting.py                      # reads $CWRNN_UNIPEN or ../shared/data/unipen
    python scripts/make_handwriting.py --unipen DIR --out FILE
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from cwrnn.data.handwriting import SHIPPED_FILE, parse_lines, save_lines, split_lines, unipen_dir
from cwrnn.data.unipen import UnipenError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--unipen", type=Path, default=unipen_dir(), help="UNIPEN folder (default: $CWRNN_UNIPEN or %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=SHIPPED_FILE, help="output .npz (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        lines, notes = parse_lines(args.unipen)
    except UnipenError as exc:
        parser.error(str(exc))
    for note in notes:
        print("warning:", note, file=sys.stderr)
    splits = split_lines(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_lines(args.out, lines, splits)
    licence = args.unipen / "LICENSE"
    if licence.is_file():
        shutil.copyfile(licence, args.out.parent / "LICENSE")
    lengths = np.array([len(line.ink) for line in lines])
    print(
        f"wrote {args.out}: {args.out.stat().st_size / 1e6:.2f} MB, {len(lines)} lines, "
        f"points per line mean {lengths.mean():.0f} max {lengths.max()}"
    )
    for side in ("train", "val", "test"):
        chosen = [line for line, s in zip(lines, splits) if s == side]
        contributors = Counter(Path(line.source).parts[-3] for line in chosen)
        print(
            f"  {side}: {len(chosen)} lines, {len({line.writer for line in chosen})} writers, {dict(sorted(contributors.items()))}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
