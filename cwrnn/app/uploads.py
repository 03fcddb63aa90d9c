"""Files users upload into the lab: one WAV (Experiment 1's target) or a zip of recordings (Experiment 2).

Uploads live in one folder under the data home, each named by its content (the same file uploaded twice
is kept once), so a link names an upload by that name, never by a server path. An upload is checked
before it is kept: one that fails is not left behind. The folder has a quota, so one user cannot fill the
machine's disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..config import ConfigError
from ..data import audio
from ..data.speech_data import FILE_PATTERN

#: A zip upload is refused past these: Streamlit's own upload limit, a generous unpacked size for an
#: hour of 16-bit audio per thousand files, and a member count no honest speech folder reaches.
MAX_ZIP_BYTES = 200 * 2**20
MAX_UNPACKED_BYTES = 1024 * 2**20
MAX_ZIP_MEMBERS = 20_000
#: All uploads together: room for a few zips of recordings; past it an upload is refused until the lab's
#: operator clears old ones.
QUOTA_BYTES = 4 * 2**30


class UploadError(ValueError):
    """An upload that is not kept; the message says why and what is accepted."""


def used_bytes(uploads: Path) -> int:
    """Bytes held by the uploads folder (0 when there is none yet)."""
    if not uploads.is_dir():
        return 0
    return sum(p.stat().st_size for p in uploads.rglob("*") if p.is_file() and not p.is_symlink())


def _check_room(uploads: Path, incoming: int) -> None:
    used = used_bytes(uploads)
    if used + incoming > QUOTA_BYTES:
        raise UploadError(
            f"the lab's uploads folder is full: it holds {used / 2**20:.0f} MiB of its "
            f"{QUOTA_BYTES / 2**20:.0f} MiB, and this upload needs {incoming / 2**20:.1f} MiB more; "
            "use a file already uploaded, or ask the lab's operator to clear old uploads"
        )


def save_wav(data: bytes, uploads: Path) -> Path:
    """Keep an uploaded WAV, named by its content; UploadError (nothing kept) if it is not a readable WAV
    or the uploads folder has no room for it."""
    try:
        audio.read_wav(data)
    except audio.AudioError as e:
        raise UploadError(str(e)) from None
    path = uploads / f"{hashlib.sha256(data).hexdigest()[:16]}.wav"
    if not path.exists():
        _check_room(uploads, len(data))
        uploads.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def _wav_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's WAV files; UploadError for any member that could land outside the target folder."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadError(f"the zip holds {len(infos)} entries; at most {MAX_ZIP_MEMBERS} are accepted")
    wavs, names = [], set()
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise UploadError(
                f"the zip member {info.filename!r} points outside the archive's folder "
                "(an absolute path or '..'); such archives are refused"
            )
        if stat.S_ISLNK(info.external_attr >> 16):  # unpacked as a file, it would hold the link's target path
            raise UploadError(
                f"the zip member {info.filename!r} is a symbolic link; archives with links are "
                "refused, zip the recordings themselves"
            )
        if info.is_dir() or path.suffix.lower() != ".wav" or "__MACOSX" in path.parts or path.name.startswith("."):
            continue
        if path.name in names:
            raise UploadError(
                f"the zip holds two files named {path.name!r}; recordings are read from one "
                f"folder, so every {FILE_PATTERN} name must be unique"
            )
        names.add(path.name)
        wavs.append(info)
    if not wavs:
        raise UploadError(
            f"the zip holds no .wav files; it should hold {FILE_PATTERN} recordings (at the top or in one folder)"
        )
    unpacked = sum(info.file_size for info in wavs)
    if unpacked > MAX_UNPACKED_BYTES:
        raise UploadError(
            f"the zip's WAV files unpack to {unpacked / 2**20:.0f} MiB; at most "
            f"{MAX_UNPACKED_BYTES // 2**20} MiB are accepted"
        )
    return wavs


def extract_recordings(data: bytes, uploads: Path, check: Callable[[Path], object] | None = None) -> Path:
    """Unpack the WAV files of a zip upload into one folder under `uploads`, named by the archive's content
    (the same zip uploaded twice is kept once); returns that folder.

    Only `.wav` members are written, flattened into the folder. Archives with absolute or `..` member
    paths or symbolic links, more than MAX_ZIP_MEMBERS entries, over MAX_ZIP_BYTES, unpacking past
    MAX_UNPACKED_BYTES or past the quota are refused with UploadError before anything is written.
    `check` (e.g. loading the folder as a dataset) runs on the unpacked folder; if it raises ConfigError
    the folder is deleted again and UploadError gives its problems.
    """
    if len(data) > MAX_ZIP_BYTES:
        raise UploadError(f"the zip is {len(data) / 2**20:.0f} MiB; at most {MAX_ZIP_BYTES // 2**20} MiB are accepted")
    target = uploads / f"recordings-{hashlib.sha256(data).hexdigest()[:16]}"
    if target.is_dir():
        return target
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UploadError(f"the upload is not a readable zip archive ({exc})") from None
    with archive:
        members = _wav_members(archive)
        _check_room(uploads, sum(info.file_size for info in members))
        uploads.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=uploads))
        try:
            for info in members:
                # Each file is written by its own name only, so no member path can choose where it goes.
                name = PurePosixPath(info.filename.replace("\\", "/")).name
                with archive.open(info) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            os.replace(staging, target)  # all or nothing: a half-unpacked folder is never seen
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if target.is_dir():  # another session unpacked the same archive first
                return target
            raise UploadError(f"the zip could not be unpacked ({exc})") from None
    if check is not None:
        try:
            check(target)
        except ConfigError as e:
            shutil.rmtree(target, ignore_errors=True)
            raise UploadError("; ".join(e.problems)) from None
    return target
