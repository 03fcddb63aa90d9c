"""Clockwork Lab: `streamlit run app.py`. The router: one page per file in pages/, the Playground first."""

import gc

import streamlit as st

from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import StoreError

st.set_page_config(page_title="Clockwork Lab", page_icon=":material/schedule:", layout="wide")


@st.cache_resource(show_spinner=False)
def freeze_library_objects() -> None:
    """Streamlit runs a full garbage collection after every run, a live chart's timed reruns included; with
    torch loaded that walks millions of objects, about 0.1 s of CPU per live update. The library's objects
    live as long as the process, so they are loaded once and frozen out of the collector's way."""
    import cwrnn.app.run_figures  # noqa: F401 (pandas, plotly)
    import cwrnn.train  # noqa: F401 (torch)

    gc.freeze()


freeze_library_objects()

pages = st.navigation(
    [
        st.Page("pages/playground.py", title="Playground", icon=":material/tune:", default=True),
        st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
        st.Page("pages/clock.py", title="Clock explorer", icon=":material/schedule:"),
        st.Page("pages/paper.py", title="Paper", icon=":material/description:"),
    ]
)

try:
    # Every rerun: the manager is created once per process and picks up runs queued by anyone.
    ensure_manager()
except StoreError as e:
    st.error(f"The run store cannot be opened: {e}")
    st.stop()

pages.run()
# Not the folder's path: a visitor has no business with the server's file system.
st.sidebar.caption("Runs are kept in the lab's data folder on the server (`$CWRNN_HOME`).")
