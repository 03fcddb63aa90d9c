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


def status_line(run: dict) -> None:
    """The run's state, progress bar and, when it ended badly, why."""
    text, fraction = status_text(run)
    st.markdown(text)
    st.progress(fraction)
    if run.get("error"):
        (st.warning if run["status"] in ("cancelled", "interrupted") else st.error)(plain(run["error"]))
