"""What every page shares: the cached run store, whether a run is live, and a run's status line.

Streamlit-only helpers live here, beside the pages: the library (cwrnn/) never imports Streamlit.
"""

import streamlit as st

from cwrnn.app.runs_view import status_text
from cwrnn.app.text import plain
from cwrnn.runs.store import LIVE_STATUSES, RunStore, default_home


@st.cache_resource(show_spinner=False)
def _open_store(home: str) -> RunStore:
    return RunStore(home)


def store() -> RunStore:
    """One store per home and process: each RunStore() re-reads the database file's header."""
    return _open_store(str(default_home()))


def is_live(run: dict | None) -> bool:
    """Whether a run may still change (queued or training), so its view refreshes on a timer."""
    return run is not None and run["status"] in LIVE_STATUSES


def curve_options(key: str) -> dict:
    """How the curves are drawn, chosen above them: the loss axis log or linear, and TensorBoard's
    smoothing (0: the raw curve)."""
    left, right = st.columns(2)
    scale = left.radio(
        "Loss axis",
        ["log", "linear"],
        horizontal=True,
        key=f"{key}_loss_axis",
        help="log: every decade of improvement looks alike (labels at the decades); linear: the values as they are",
    )
    smoothing = right.slider(
        "Smoothing",
        0.0,
        0.99,
        0.0,
        0.01,
        key=f"{key}_smoothing",
        help="An exponential moving average over epochs, as TensorBoard's: 0 shows the raw curves, 0.9 and "
        "above smooth away the noise (the final evaluation's point stays as measured)",
    )
    return {"log_y": scale == "log", "smoothing": smoothing}


def status_line(run: dict) -> None:
    """The run's state, progress bar and, when it ended badly, why."""
    text, fraction = status_text(run)
    st.markdown(text)
    st.progress(fraction)
    if run.get("error"):
        (st.warning if run["status"] in ("cancelled", "interrupted") else st.error)(plain(run["error"]))
