"""Uploads: a WAV or a zip of recordings is checked before it is kept, stays within a quota, and is named by
its content, never by a server path."""

import pytest
from upload_files import TONE, zipped

from cwrnn.app import playground_state as ps
from cwrnn.app import uploads as up
from cwrnn.config import ConfigError
from cwrnn.data import audio

# ---- one WAV -----------------------------------------------------------------------------------------


def test_a_wav_is_kept_once_under_a_name_the_link_can_use(tmp_path):
    uploads = tmp_path / "uploads"
    path = up.save_wav(TONE, uploads)
    assert path.parent == uploads and path.read_bytes() == TONE
    assert up.save_wav(TONE, uploads) == path and len(list(uploads.iterdir())) == 1
    other = audio.wav_bytes(audio.synthetic_tone(800), 16000)
    assert up.save_wav(other, uploads) != path
    cfg, notes = ps.from_query({"source": "wav", "wav_path": path.name}, uploads)
    assert cfg.wav_path == str(path.resolve()) and notes == []
    assert ps.to_query(cfg)["wav_path"] == path.name  # the link names the upload, not where the server keeps it


def test_a_wav_that_cannot_be_read_is_not_kept(tmp_path):
    uploads = tmp_path / "uploads"
    with pytest.raises(up.UploadError, match="not a readable WAV file"):
        up.save_wav(b"RIFF, but nothing else", uploads)
    with pytest.raises(up.UploadError, match="empty"):
        up.save_wav(b"", uploads)
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_uploads_stop_at_the_quota_with_a_message_saying_so(tmp_path, monkeypatch):
    uploads = tmp_path / "uploads"
    up.save_wav(TONE, uploads)
    monkeypatch.setattr(up, "QUOTA_BYTES", len(TONE) + 100)
    other = audio.wav_bytes(audio.synthetic_tone(800), 16000)
    with pytest.raises(up.UploadError, match="uploads folder is full: it holds 0 MiB of its 0 MiB"):
        up.save_wav(other, uploads)
    with pytest.raises(up.UploadError, match="uploads folder is full"):
        up.extract_recordings(zipped({"a_b_0.wav": TONE}), uploads)
    assert up.used_bytes(uploads) == len(TONE) and up.save_wav(TONE, uploads)  # one already kept still works


# ---- a zip of recordings -------------------------------------------------------------------------------


def test_a_zip_of_recordings_is_unpacked_flat_into_one_content_named_folder(tmp_path):
    data = zipped(
        {
            "rec/yes_ann_0.wav": TONE,
            "rec/no_bob_1.wav": TONE,
            "rec/README.txt": b"hi",
            "__MACOSX/rec/._yes_ann_0.wav": b"junk",
        }
    )
    folder = up.extract_recordings(data, tmp_path)
    assert folder.parent == tmp_path and sorted(p.name for p in folder.iterdir()) == ["no_bob_1.wav", "yes_ann_0.wav"]
    assert (folder / "yes_ann_0.wav").read_bytes() == TONE
    assert up.extract_recordings(data, tmp_path) == folder  # the same archive again: kept once
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging folder left behind


@pytest.mark.parametrize(
    "name", ["../evil_x_0.wav", "/tmp/evil_x_0.wav", "a/../../evil_x_0.wav", "..\\evil_x_0.wav", "C:/evil_x_0.wav"]
)
def test_a_zip_member_that_escapes_its_folder_refuses_the_whole_archive(tmp_path, name):
    uploads = tmp_path / "uploads"
    with pytest.raises(up.UploadError, match="points outside the archive's folder"):
        up.extract_recordings(zipped({"ok_ann_0.wav": TONE, name: TONE}), uploads)
    assert not uploads.exists()  # refused before anything is written


def test_oversized_empty_duplicate_and_broken_archives_are_refused(tmp_path, monkeypatch):
    with pytest.raises(up.UploadError, match="not a readable zip archive"):
        up.extract_recordings(b"PK but not really", tmp_path)
    with pytest.raises(up.UploadError, match="holds no .wav files"):
        up.extract_recordings(zipped({"notes.txt": b"x"}), tmp_path)
    with pytest.raises(up.UploadError, match="two files named 'a_b_0.wav'"):
        up.extract_recordings(zipped({"x/a_b_0.wav": TONE, "y/a_b_0.wav": TONE}), tmp_path)
    monkeypatch.setattr(up, "MAX_UNPACKED_BYTES", len(TONE))
    with pytest.raises(up.UploadError, match="unpack to .* MiB; at most 0 MiB"):
        up.extract_recordings(zipped({"a_b_0.wav": TONE, "a_c_0.wav": TONE}), tmp_path)
    monkeypatch.setattr(up, "MAX_ZIP_BYTES", 10)
    with pytest.raises(up.UploadError, match="at most 0 MiB"):
        up.extract_recordings(zipped({"a_b_0.wav": TONE}), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_zip_holding_a_symbolic_link_is_refused(tmp_path):
    uploads = tmp_path / "uploads"
    with pytest.raises(up.UploadError, match="'passwd_x_0.wav' is a symbolic link"):
        up.extract_recordings(zipped({"a_b_0.wav": TONE}, links={"passwd_x_0.wav": "/etc/passwd"}), uploads)
    assert not uploads.exists()


def test_a_zip_whose_recordings_cannot_be_used_is_deleted_again(tmp_path):
    uploads = tmp_path / "uploads"

    def one_speaker(folder):
        raise ConfigError([f"{folder.name} has one speaker (b); a speaker split needs at least 2"])

    with pytest.raises(up.UploadError, match="has one speaker"):
        up.extract_recordings(zipped({"a_b_0.wav": TONE, "c_b_0.wav": TONE}), uploads, check=one_speaker)
    assert list(uploads.iterdir()) == []
