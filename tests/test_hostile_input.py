"""Hostile input, as a first-time user or an attacker would send it: links, uploads and zips against the
Playground and the Runs page. Each row must end in a message, never a traceback (an exception element),
write nothing outside the data home, and never show the server's own paths or what a folder outside the
allowed roots holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from upload_files import TONE, zipped

from cwrnn.runs.manager import ensure_manager

ROOT = Path(__file__).resolve().parent.parent
HUGE = "9" * 25


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A data home beside a folder that is not the lab's, holding a file the lab must never name."""
    home, outside = tmp_path / "home", tmp_path / "outside"
    home.mkdir()
    outside.mkdir()
    (outside / "secret-notes.txt").write_text("not the lab's")
    monkeypatch.setenv("CWRNN_HOME", str(home))
    monkeypatch.delenv("CWRNN_DATA_ROOTS", raising=False)
    yield home, outside
    ensure_manager(home).stop(timeout=10, terminate=True)


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def shown_text(at: AppTest) -> str:
    return "\n".join(
        str(e.value)
        for kind in ("error", "warning", "info", "caption", "markdown", "success")
        for e in getattr(at, kind)
    )


def check(at: AppTest, lab, before: set[Path]) -> str:
    home, outside = lab
    assert not at.exception, at.exception[0].message if at.exception else ""
    assert files_under(home.parent) - before <= files_under(home), "a file was written outside the data home"
    text = shown_text(at)
    assert str(home) not in text and "secret-notes" not in text
    assert str(home) not in str(dict(at.query_params))
    return text


PLAYGROUND_LINKS = [
    {"run": HUGE},
    {"run": "-1"},
    {"run": "1e3"},
    {"run": "1,2"},
    {"run": "0"},
    {"run": "9223372036854775808"},
    {"task": "words", "dataset": "folder", "folder": "/etc"},
    {"task": "words", "dataset": "folder", "folder": "../outside"},
    {"task": "words", "dataset": "folder", "folder": "/"},
    {"task": "words", "dataset": "folder", "folder": "x" * 5000},
    {"task": "words", "dataset": "folder", "folder": "uploads/../../outside"},
    {"source": "wav", "wav_path": "/etc/passwd"},
    {"source": "wav", "wav_path": "../outside/a.wav"},
    {"periods": "1," * 300},
    {"periods": "9" * 40},
    {"periods": "1, " + "9" * 5000},
    {"module_sizes": "4, " + "9" * 5000, "periods": "1,2"},
    {"budget": HUGE},
    {"seed": HUGE},
    {"lr": "nan"},
    {"lr": "1e999"},
    {"epochs": "-5"},
    {"clips": "0,0,9"},
    {"task": "<script>"},
    {"module_sizes": "1,x"},
    {"baselines": "rnn,rnn"},
    {"unknown": "[x](javascript:alert(1))"},
]


@pytest.mark.parametrize("query", PLAYGROUND_LINKS, ids=lambda q: "&".join(f"{k}={v[:20]}" for k, v in q.items()))
def test_a_hostile_playground_link_gets_a_message(lab, query):
    before = files_under(lab[0].parent)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(query)
    at.run()
    text = check(at, lab, before)
    assert at.warning or at.error, f"{query} was taken without a word:\n{text}"


@pytest.mark.parametrize(
    "query",
    [
        {"run": HUGE},
        {"compare": f"1,{HUGE}"},
        {"run": "abc"},
        {"compare": ","},
        {"run": "1" * 5000},
        {"compare": "-1,-2"},
    ],
    ids=lambda q: "&".join(f"{k}={v[:20]}" for k, v in q.items()),
)
def test_a_hostile_runs_link_gets_a_message(lab, query):
    before = files_under(lab[0].parent)
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60)
    at.query_params.update(query)
    at.run()
    check(at, lab, before)
    assert at.error


UPLOADS = {
    "not a wav": ("wav", "x.wav", b"RIFF, but nothing else", "not a readable WAV file"),
    "empty wav": ("wav", "x.wav", b"", "empty"),
    "zip escaping with ..": ("zip", "w.zip", zipped({"a_b_0.wav": TONE, "../../x_b_0.wav": TONE}), "points outside"),
    "zip with an absolute member": ("zip", "w.zip", zipped({"/tmp/x_b_0.wav": TONE}), "points outside"),
    "zip with a symbolic link": (
        "zip",
        "w.zip",
        zipped({"a_b_0.wav": TONE}, {"p_b_0.wav": "/etc/passwd"}),
        "is a symbolic link",
    ),
    "zip of one speaker": (
        "zip",
        "w.zip",
        zipped({"a_b_0.wav": TONE, "a_b_1.wav": TONE, "c_b_0.wav": TONE, "c_b_1.wav": TONE}),
        "one speaker",
    ),
    "zip of no wavs": ("zip", "w.zip", zipped({"notes.txt": b"x"}), "no .wav files"),
    "not a zip": ("zip", "w.zip", b"PK\x03\x04 not really", "not a readable zip archive"),
}


@pytest.mark.parametrize("kind, name, data, message", UPLOADS.values(), ids=list(UPLOADS))
def test_a_hostile_upload_is_refused_and_not_kept(lab, kind, name, data, message):
    home, _ = lab
    before = files_under(home.parent)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if kind == "zip":
        at.query_params["task"] = "words"
    at.run()
    at.radio(key="source" if kind == "wav" else "dataset").set_value("wav" if kind == "wav" else "folder").run()
    key, mime = ("wav_upload", "audio/wav") if kind == "wav" else ("words_zip", "application/zip")
    at.file_uploader(key=key).set_value((name, data, mime)).run()
    text = check(at, lab, before)
    assert f"{name} was not used" in text and message in text
    uploads = home / "uploads"
    assert not uploads.exists() or [p for p in uploads.rglob("*") if p.is_file()] == []  # nothing kept
