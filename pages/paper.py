"""Paper: run Experiment 1's grid in the background and lay our results beside the paper's."""
import streamlit as st

from cwrnn import paper
from cwrnn import paper_job as pj
from cwrnn.experiment import LIMITS
from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import TERMINAL_STATUSES, RunStore

store = RunStore()


def grid_label(run: dict) -> str:
    c = run["config"]
    # no status here: a select box keeps showing an option's first label while the run finishes
    sizes = ", ".join(map(str, c["budgets"]))
    return f"run {run['id']}: {sizes} parameters, {c['seeds']} seed(s), {c['epochs']} epochs"


def draw_grid(run_id: int, was_live: bool) -> None:
    """Progress, box plots and table of one grid run, redrawn every 2 s while it trains."""
    run = store.get_run(run_id)
    progress = run.get("progress") or {}
    done = progress.get("epoch") or 0
    total = progress.get("total_epochs") or len(pj.check_grid(run["config"]).cells())
    if run["status"] in ("queued", "running"):
        now = f"; training {progress['cell']}" if progress.get("cell") else ""
        eta = f", about {progress['eta_s']:.0f} s left" if progress.get("eta_s") else ""
        st.progress(done / total, text=f"{run['status']}: {done} of {total} cells done{now}{eta}")
        if st.button("Stop", key="paper_stop", help="Stop after the cell that is training now"):
            ensure_manager().cancel(run_id)
    elif run.get("error"):
        (st.warning if run["status"] == "cancelled" else st.error)(run["error"])
    results = pj.grid_results(store.metrics(run_id))
    st.plotly_chart(pj.grid_figure(results, run["config"]["budgets"]), key="paper_chart")
    st.dataframe(pj.grid_table(results, run["config"]["budgets"]), hide_index=True, column_config={
        "networks": st.column_config.NumberColumn(help="Networks trained in this cell: seeds × 5 clips"),
        "NMSE (ours)": st.column_config.NumberColumn(format="%.4f", help="Mean normalised MSE after training"),
        "std (ours)": st.column_config.NumberColumn(format="%.4f"),
        "NMSE (paper)": st.column_config.NumberColumn(
            format="%.3f", help="Read off the paper's Figure 3 (the 1000-parameter means are from its text)"),
    })
    if was_live and run["status"] in TERMINAL_STATUSES:
        st.rerun()  # the whole page: the timer stops


st.title("Paper: Experiment 1, sequence generation")
st.markdown(
    "The paper trains each network to play back five 320-sample pieces of music (7 ms each) from no input "
    "at all, with 100 to 1000 parameters, and plots the normalised error of 100 runs per size: the SRN "
    "learns only the mean, the LSTM a smoothed copy, the CW-RNN the fine detail. Run the same grid here; "
    "it trains in the background, so you can leave this page and come back. Black diamonds are the paper's "
    "numbers, boxes are ours."
)
with st.expander("Table 1: hidden units per parameter budget, the paper's and ours"):
    st.dataframe(pj.hidden_size_table(), hide_index=True)
    st.caption("Ours are matched by exact parameter counts (one per CW-RNN period included), which can differ "
               "by a unit from the paper's rounding.")

c1, c2, c3 = st.columns(3)
sizes = c1.multiselect("Parameter budgets", paper.GENERATION_BUDGETS, [100, 1000], key="paper_sizes",
                       help="Network sizes to train; every architecture gets the same budget")
seeds = c2.number_input("Seeds", 1, LIMITS["seeds"], 1, key="paper_seeds",
                        help="Seeds per cell; each seed trains one network per clip (5), the paper used 100 runs")
epochs = c3.number_input("Epochs", 1, LIMITS["epochs"], 300, key="paper_epochs",
                         help="Training epochs per network; the paper trains 2000")
st.caption(f"{len(sizes) * 3} cells of {int(seeds) * pj.CLIPS} networks each, trained one cell after another. "
           "At 1000 parameters 300 epochs already set the CW-RNN well apart from the others; the paper's "
           "2000 epochs take minutes per cell on a CPU. The grid holds one training slot while it runs, so on a "
           "small machine Playground runs wait in the queue until it is done.")
if st.button("Run the grid", key="paper_run", type="primary",
             help="Queue the whole grid as one background run; it appears on the Runs page too"):
    try:
        grid = pj.check_grid({"grid": "generation", "budgets": sorted(sizes), "seeds": int(seeds),
                              "epochs": int(epochs)})
    except pj.GridConfigError as e:
        st.error(f"Cannot run this grid: {e}")
    else:
        st.session_state["paper_shown"] = ensure_manager().submit(
            pj.GRID_TASK, grid.config(), list(range(grid.seeds)), name="paper grid")

grids = {run["id"]: run for run in store.list_runs() if run["task"] == pj.GRID_TASK}
if st.session_state.get("paper_shown") not in grids:  # deleted on the Runs page since
    st.session_state.pop("paper_shown", None)
if not grids:
    st.info("No grid has run yet: choose the sizes and press **Run the grid**.")
else:
    shown = st.selectbox("Show results of", list(grids), format_func=lambda i: grid_label(grids[i]),
                         key="paper_shown", help="Grids run so far, newest first")
    live = grids[shown]["status"] in ("queued", "running")
    st.fragment(draw_grid, run_every=2 if live else None)(shown, live)
