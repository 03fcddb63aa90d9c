"""Paper: run the paper's grids (Experiment 1, music; Experiment 2, spoken words; Experiment 3, online
handwriting) in the background and lay our results beside the paper's."""

import streamlit as st

from cwrnn import grid
from cwrnn.app import paper_results, sweep_view
from cwrnn.config import LIMITS
from cwrnn.grid_ray import cluster_from_env
from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import TERMINAL_STATUSES
from pages._common import is_live, status_line, store

EXPERIMENT_LABELS = {
    "generation": "Experiment 1: sequence generation",
    "words": "Experiment 2: spoken words",
    "handwriting": "Experiment 3: online handwriting",
}
#: Widget keys of each experiment's controls, so each keeps its settings while another is shown.
PREFIX = {"generation": "paper", "words": "paper_words", "handwriting": "paper_handwriting"}
INTRO = {
    "generation": (
        "The paper trains each network to play back five 320-sample pieces of music (7 ms each) from no input "
        "at all, with 100 to 1000 parameters, and plots the normalised error of 100 runs per size: the SRN "
        "learns only the mean, the LSTM a smoothed copy, the CW-RNN the fine detail."
    ),
    "words": (
        "The paper classifies 25 spoken words in five groups that share a suffix (mak*ing*, walk*ing*, ...), "
        "from 13 MFCCs per 10 ms frame, with 500 to 10,000 parameters, testing on speakers never heard in "
        "training. It used TIMIT recordings; here the same 25 words are **synthetic speech** shipped with the "
        "lab (7 espeak-ng voices, 5 to train and 2 to test), so our numbers answer the same question on "
        "easier-to-get data. The paper gives all three architectures' errors only at 10k parameters."
    ),
    "handwriting": (
        "The paper reads whole lines of online handwriting (pen positions over time) with **bidirectional** "
        "networks trained with CTC, at 10k, 50k and 100k parameters, and scores them by character error rate "
        "with best-path decoding, no dictionary. It is the one experiment where the CW-RNN loses to the LSTM. "
        "It used IAM-OnDB, which needs a registration; here the lines are UNIPEN's (3,135 lines by more than "
        "120 writers, CC BY 4.0), split by writer, so the test writers are never seen in training. Table 1's "
        "sizes assume 82 outputs; the shipped lines' alphabet has 95 characters and the blank, which leaves a "
        "few units fewer at the same budget."
    ),
}
#: Experiment 3 starts on the tuned recipe: from the paper's recipe no network learns the UNIPEN lines
#: (docs/handwriting.md), and its 40 epochs are the shipped table's.
DEFAULTS = {
    "generation": dict(sizes=[100, 1000], epochs=300, recipe="paper"),
    "words": dict(sizes=[1000, 10000], epochs=100, recipe="paper"),
    "handwriting": dict(sizes=[10000], epochs=40, recipe="tuned"),
}
RECIPE_HELP = {
    "generation": "tuned: each architecture at its best rate of a sweep at 1000 parameters (docs/baselines.md)",
    "words": "tuned: the CW-RNN and LSTM at their best rate of a sweep at 10k parameters (docs/baselines.md)",
    "handwriting": "tuned: Adam, on the pen's movement, the CW-RNN with periods 1, 2, 4, 8, all tuned on the "
    "validation writers (docs/handwriting.md); from the paper's recipe no network learns these lines",
}
EPOCHS_HELP = {
    "generation": "Training epochs per network; the paper trains 2000",
    "words": "The most epochs a network trains; as in the paper, each stops earlier once its "
    "noise-free training error has not fallen for 5 epochs",
    "handwriting": "The most epochs a network trains; each stops earlier once its character error on the "
    "validation writers has not improved for 50 epochs (the paper's recipe) or 20 (tuned)",
}
SCALE_NOTE = {
    "generation": (
        "At 1000 parameters 300 epochs already set the CW-RNN well apart from the others; the paper's "
        "2000 epochs take minutes per cell on a CPU."
    ),
    "words": ("On a 2-core CPU a cell of one seed at 10k parameters takes a minute or two; small sizes take seconds."),
    "handwriting": (
        "Every epoch reads all 2,150 training lines, so on a CPU a cell trains for tens of minutes or more "
        "(the tuned 10k grid with 3 seeds and 40 epochs: 29 min on one core; BENCHMARKS.md); a machine with "
        "a GPU is faster."
    ),
}


def grid_label(run: dict) -> str:
    c = run["config"]
    # no status here: a select box keeps showing an option's first label while the run finishes
    sizes = ", ".join(map(str, c["budgets"]))
    return (
        f"run {run['id']}: {sizes} parameters, {c['seeds']} seed(s), {c['epochs']} epochs, {c.get('recipe', 'paper')}"
    )


def draw_grid(run_id: int, was_live: bool) -> None:
    """Progress, box plots and table of one grid run, redrawn every 2 s while it trains."""
    run = store().get_run(run_id)
    kind, budgets = paper_results.grid_kind(run), run["config"]["budgets"]
    status_line(run)
    if is_live(run) and st.button("Stop", key="paper_stop", help="Stop after the cell that is training now"):
        ensure_manager().cancel(run_id)
    results = paper_results.grid_results(store().metrics(run_id), kind)
    st.plotly_chart(paper_results.grid_figure(results, budgets, kind), key="paper_chart")
    name = "NMSE" if kind == "generation" else grid.EXPERIMENTS[kind].unit
    digits = "%.4f" if kind == "generation" else "%.1f"
    st.dataframe(
        paper_results.grid_table(results, budgets, kind),
        hide_index=True,
        column_config={
            "networks": st.column_config.NumberColumn(
                help="Networks trained in this cell: seeds × 5 clips"
                if kind == "generation"
                else "Networks trained in this cell: one per seed"
            ),
            f"{name} (ours)": st.column_config.NumberColumn(format=digits, help="Mean over the networks"),
            "std (ours)": st.column_config.NumberColumn(format=digits),
            f"{name} (paper)": st.column_config.NumberColumn(
                format="%.3f" if kind == "generation" else "%.1f",
                help="Read off the paper's figure (its text gives the means at the largest size); empty where it "
                "gives none",
            ),
        },
    )
    if was_live and run["status"] in TERMINAL_STATUSES:
        st.rerun()  # the whole page: the timer stops


def introduction() -> str:
    """The title, the choice of experiment and what the paper did; returns the experiment's kind."""
    st.title("Paper")
    kind = st.radio(
        "Experiment",
        list(EXPERIMENT_LABELS),
        format_func=EXPERIMENT_LABELS.get,
        key="paper_experiment",
        horizontal=True,
        help="Which of the paper's grids to run and show",
    )
    st.markdown(
        INTRO[kind] + " Run the same grid here; it trains in the background, so you can leave this page "
        "and come back. Black diamonds are the paper's numbers, boxes are ours."
    )
    with st.expander("Hidden units per parameter budget, the paper's and ours"):
        st.dataframe(paper_results.hidden_size_table(kind), hide_index=True)
        st.caption(
            "Ours are matched by exact parameter counts (one per CW-RNN period included), which can differ "
            "by a unit from the paper's rounding."
        )
    return kind


def grid_controls(kind: str) -> None:
    """Sizes, seeds and epochs of a new grid, and the button that queues it."""
    experiment, key = grid.EXPERIMENTS[kind], PREFIX[kind]
    c1, c2, c3, c4 = st.columns(4)
    sizes = c1.multiselect(
        "Parameter budgets",
        experiment.budgets,
        DEFAULTS[kind]["sizes"],
        key=f"{key}_sizes",
        help="Network sizes to train; every architecture gets the same budget",
    )
    seeds = c2.number_input(
        "Seeds",
        1,
        LIMITS["seeds"],
        1,
        key=f"{key}_seeds",
        help="Seeds per cell; each seed trains one network per clip (5), the paper used 100 runs"
        if kind == "generation"
        else "Networks per cell, each from its own seed; the paper used 100",
    )
    epochs = c3.number_input(
        "Epochs", 1, LIMITS["epochs"], DEFAULTS[kind]["epochs"], key=f"{key}_epochs", help=EPOCHS_HELP[kind]
    )
    recipe = c4.radio(
        "Recipe",
        grid.RECIPES,
        grid.RECIPES.index(DEFAULTS[kind]["recipe"]),
        key=f"{key}_recipe",
        horizontal=True,
        help=f"paper: the paper's optimiser, rates and input; {RECIPE_HELP[kind]}",
    )
    networks = int(seeds) * experiment.networks_per_seed
    where = f"at once on the Ray cluster at {cluster}" if (cluster := cluster_from_env()) else "one cell after another"
    st.caption(
        f"{len(sizes) * 3} cells of {networks} network{'s' if networks != 1 else ''} each, trained {where}. "
        f"{SCALE_NOTE[kind]} The grid holds one training slot while it runs, so on a "
        "small machine Playground runs wait in the queue until it is done."
    )
    if st.button(
        "Run the grid",
        key=f"{key}_run",
        type="primary",
        help="Queue the whole grid as one background run; it appears on the Runs page too",
    ):
        try:
            chosen = grid.check_grid(
                {"grid": kind, "budgets": sorted(sizes), "seeds": int(seeds), "epochs": int(epochs), "recipe": recipe}
            )
        except grid.GridConfigError as e:
            st.error(f"Cannot run this grid: {e}")
        else:
            st.session_state[f"{key}_shown"] = ensure_manager().submit(
                experiment.task,
                chosen.config(),
                list(range(chosen.seeds)),
                name=f"paper grid, {EXPERIMENT_LABELS[kind]}",
            )


def shipped_results(kind: str) -> None:
    """Until a grid of this experiment has run here: the results this project's `reproduce` produced."""
    table, made = paper_results.shipped_results(kind)
    if table.empty:
        st.info("No grid has run yet: choose the sizes and press **Run the grid**.")
        return
    versions = ", ".join(f"{k} {v}" for k, v in made["versions"].items())
    st.info(
        "No grid has run yet in this lab: choose the sizes and press **Run the grid**. Until then, here are the "
        f"results this project's `reproduce` produced on {made['date']} ({made['machine']}; {versions}):"
    )
    st.code(made["command"], language="bash")
    if made.get("note"):
        st.caption(made["note"])
    st.dataframe(table, hide_index=True, key="paper_shipped_table")


def grid_runs(kind: str) -> None:
    """The grids of this experiment run so far; the chosen one's progress, box plots and table."""
    experiment, key = grid.EXPERIMENTS[kind], PREFIX[kind]
    grids = {run["id"]: run for run in store().list_runs() if run["task"] == experiment.task}
    if st.session_state.get(f"{key}_shown") not in grids:  # deleted on the Runs page since
        st.session_state.pop(f"{key}_shown", None)
    if not grids:
        shipped_results(kind)
    else:
        shown = st.selectbox(
            "Show results of",
            list(grids),
            format_func=lambda i: grid_label(grids[i]),
            key=f"{key}_shown",
            help="Grids run so far, newest first",
        )
        live = is_live(grids[shown])
        st.fragment(draw_grid, run_every=2 if live else None)(shown, live)


SWEEP_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
SWEEP_DEFAULTS = {
    "generation": dict(rates=[1e-4, 3e-4, 1e-3, 3e-3], epochs=300),
    "words": dict(rates=[3e-4, 1e-3], epochs=30),
}


def sensitivity(kind: str) -> None:
    """Each architecture's metric against the learning rate, per size: the newest sweep of each size run
    here, else the shipped one; and the control that queues a sweep."""
    key = PREFIX[kind]
    st.subheader("Learning-rate sensitivity")
    st.markdown(
        'The paper tuned the learning rate "separately for each method". A sweep trains every architecture at '
        "each rate (every rate × seed one network of a single batched model) and shows how much the "
        "comparison depends on the rate; a star marks each architecture's best. "
        + (
            "Experiment 2 is scored on a training speaker held out for validation, never on the test speakers."
            if kind == "words"
            else ""
        )
    )
    sweeps = sweep_view.latest_sweeps(store().list_runs(), kind)
    if not sweeps:
        st.info("No sweep of this experiment yet: run one below.")
    for budget, found in sweeps.items():
        st.plotly_chart(
            sweep_view.sweep_figure(found["rows"], kind, title=f"{budget} parameters"),
            key=f"{key}_sweep_chart_{budget}",
        )
        st.caption(f"From {found['source']}; error bars: one std over the networks that did not diverge.")
    with st.expander("Run a sweep"):
        c1, c2, c3, c4 = st.columns(4)
        budget = c1.selectbox("Parameter budget", grid.EXPERIMENTS[kind].budgets, key=f"{key}_sweep_budget")
        rates = c2.multiselect(
            "Learning rates",
            SWEEP_RATES,
            SWEEP_DEFAULTS[kind]["rates"],
            key=f"{key}_sweep_rates",
            format_func="{:g}".format,
        )
        seeds = c3.number_input(
            "Seeds",
            1,
            20,
            2,
            key=f"{key}_sweep_seeds",
            help="Seeds per rate (in Experiment 1 each trains one network per clip)",
        )
        epochs = c4.number_input(
            "Epochs", 1, LIMITS["epochs"], SWEEP_DEFAULTS[kind]["epochs"], key=f"{key}_sweep_epochs"
        )
        if st.button(
            "Run the sweep", key=f"{key}_sweep_run", help="Queue it as one background run (see the Runs page)"
        ):
            from cwrnn.sweep import SWEEP_TASKS, sweep_request  # loads torch: only when asked

            try:
                raw = sweep_request(
                    kind, int(budget), list(grid.GRID_ARCHS), sorted(rates), int(seeds), epochs=int(epochs)
                )
            except ValueError as e:
                st.error(f"Cannot run this sweep: {e}")
            else:
                run_id = ensure_manager().submit(
                    SWEEP_TASKS[kind], raw, list(range(int(seeds))), name=f"rate sweep, {EXPERIMENT_LABELS[kind]}"
                )
                st.success(f"Queued sweep run {run_id}; its chart appears here when it is done (progress: Runs page).")


def main() -> None:
    kind = introduction()
    grid_controls(kind)
    grid_runs(kind)
    if kind in SWEEP_DEFAULTS:  # Experiment 3 has no sweep yet: its preset was tuned by hand (docs/handwriting.md)
        sensitivity(kind)


main()
