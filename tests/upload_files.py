"""Files to upload in tests: a short WAV and zips built from members, symbolic links included."""

import io
import stat
import zipfile

from cwrnn.data import audio

TONE = audio.wav_bytes(audio.synthetic_tone(1600) * 0.5, 16000)


def zipped(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A zip of files, and of symbolic links (name -> target) stored as `zip --symlinks` stores them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()
