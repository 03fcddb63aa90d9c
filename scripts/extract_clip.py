"""Make assets/generation/ from the music21 10.5.0 wheel: the recording excerpt and music21's licence.

Usage:
    pip download --no-deps music21==10.5.0 -d /tmp/m21
    python scripts/extract_clip.py /tmp/m21/music21-10.5.0-py3-none-any.whl

The excerpt's samples are copied byte for byte (no decoding or re-encoding); the script prints the
SHA-256 that assets/generation/README.md records.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import wave
import zipfile
from pathlib import Path

from cwrnn.data.audio import EXCERPT_START, EXCERPT_STOP, RECORDING_PATH, SHIPPED_RATE

WAV_MEMBER = "music21/audioSearch/test_audio.wav"
LICENSE_MEMBER = "music21-10.5.0.dist-info/licenses/LICENSE"
LICENSE_OUT = RECORDING_PATH.parent / "LICENSE-music21.txt"


def excerpt(wav: bytes, start: int, stop: int) -> bytes:
    """WAV bytes holding frames [start, stop) of a 16-bit mono 44.1 kHz WAV, samples unchanged."""
    with wave.open(io.BytesIO(wav)) as source:
        layout = (source.getnchannels(), source.getsampwidth(), source.getframerate())
        if layout != (1, 2, SHIPPED_RATE):
            sys.exit(
                f"{WAV_MEMBER}: expected (channels, bytes per sample, rate) = (1, 2, {SHIPPED_RATE}), found {layout}"
            )
        if stop > source.getnframes():
            sys.exit(f"{WAV_MEMBER} has {source.getnframes()} frames; the excerpt needs {stop}")
        source.setpos(start)
        frames = source.readframes(stop - start)
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(SHIPPED_RATE)
        target.writeframes(frames)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="path to music21-10.5.0-py3-none-any.whl")
    args = parser.parse_args()
    try:
        with zipfile.ZipFile(args.wheel) as wheel:
            wav = wheel.read(WAV_MEMBER)
            licence = wheel.read(LICENSE_MEMBER)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        sys.exit(f"cannot read {WAV_MEMBER} and {LICENSE_MEMBER} from {args.wheel}: {exc}")

    clip = excerpt(wav, EXCERPT_START, EXCERPT_STOP)
    RECORDING_PATH.parent.mkdir(parents=True, exist_ok=True)
    RECORDING_PATH.write_bytes(clip)
    LICENSE_OUT.write_bytes(licence)
    print(f"wrote {RECORDING_PATH} (samples {EXCERPT_START}..{EXCERPT_STOP} of {WAV_MEMBER}, {len(clip)} bytes)")
    print(f"sha256 {hashlib.sha256(clip).hexdigest()}")
    print(f"wrote {LICENSE_OUT}")


if __name__ == "__main__":
    main()
