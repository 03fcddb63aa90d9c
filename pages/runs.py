"""Runs: every stored run in a table; open one to see its charts and files, or lay several side by side."""

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from cwrnn.app import runs_view as rv
from cwrnn.app import viz
from cwrnn.app.paper_results import grid_figure, grid_kind, grid_results, grid_table
from cwrnn.app.run_figures import run_audio, run_figures
from cwrnn.app.sweep_view import is_sweep, sweep_figure, sweep_table
from cwrnn.app.text import plain
from cwrnn.grid import is_grid
from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import STATUSES, TERMINAL_STATUSES, StoreError
from pages._common import curve_options, is_live, status_line, store

DOWNLOAD_KINDS = {"data": "metrics and configuration", "audio": "generated audio", "weights": "weights"}
DOWNLOAD_HELP = {
    "data": "metrics: every logged value (arch, seed, epoch, name, value) as CSV; config: the run's settings as JSON",
    "audio": "WAV at 44.1 kHz; target and models on one loudness scale, so they compare by ear",
    "weights": "trained weights of every seed (a PyTorch state_dict, load with torch.load)",
}


def on_select() -> None:
    """A table selection becomes the link: ?run=ID for one row, ?compare=ID,ID for several."""
    rows = st.session_state["runs_table"]["selection"]["rows"]
    st.query_params.clear()
    st.query_params.update(rv.selection_params(st.session_state["runs_table_ids"], rows))


def draw_run(run_id: int, was_live: bool) -> None:
    """Status, charts and audio of one run, redrawn every 2 s while it trains."""
    run = store().get_run(run_id)
    status_line(run)
    if is_grid(run):
        kind, budgets = grid_kind(run), run["config"]["budgets"]
        results = grid_results(store().metrics(run_id), kind)
        st.plotly_chart(grid_figure(results, budgets, kind), key="run_grid_chart")
        st.dataframe(grid_table(results, budgets, kind), hide_index=True)
    elif is_sweep(run):
        rows, task = (run.get("summary") or {}).get("rows") or [], run["config"]["sweep"]
        st.plotly_chart(sweep_figure(rows, task), key="run_sweep_chart")
        st.dataframe(sweep_table(rows, task), hide_index=True, key="run_sweep_table")
    else:
        figures = list(run_figures(store(), run_id, **curve_options("run")).items())
        for pair in range(0, len(figures), 2):
            for column, (name, fig) in zip(st.columns(2), figures[pair : pair + 2]):
                column.plotly_chart(fig, key=f"run_{name}_chart")
        sounds = run_audio(store(), run_id)
        if sounds:
            for column, (name, wav) in zip(st.columns(len(sounds)), sounds.items()):
                column.caption(viz.arch_label(name))
                column.audio(wav, format="audio/wav")
    if was_live and run["status"] in TERMINAL_STATUSES:
        st.rerun()  # the whole page: the timer stops and the finished run's files appear


def actions(run: dict) -> None:
    """Open in Playground, stop, downloads and delete."""
    run_id, live = run["id"], is_live(run)
    left, right = st.columns(2)
    if left.button(
        "Open in Playground",
        key="open_in_playground",
        disabled=is_grid(run) or is_sweep(run),
        help="Show this run in the Playground (for spoken words: any test word up close, with "
        "the trained CW-RNN's modules over it), its settings loaded to change and train again",
    ):
        try:
            st.switch_page("pages/playground.py", query_params={"run": str(run_id)})
        except StreamlitPageNotFoundError:
            st.warning("The Playground is reached from the whole app: start it with `streamlit run app.py`.")
    if live and right.button(
        "Stop", key="runs_stop", help="Stop training at the next epoch; what it learned so far is kept"
    ):
        ensure_manager().cancel(run_id)
        st.rerun()
    files = [
        ("data", f"run-{run_id}-metrics.csv", "text/csv", lambda: rv.metrics_csv(store(), run_id)),
        ("data", f"run-{run_id}-config.json", "application/json", rv.config_json(run)),
    ]
    if not live:  # saved as run-<id>-<name>, so two runs' files never collide in a downloads folder
        files += [
            (kind, f"run-{run_id}-{name}", mime, lambda name=name: rv.artifact_bytes(store(), run_id, name))
            for kind, name, mime in rv.downloadable_files(store(), run_id)
        ]
    for kind, label in DOWNLOAD_KINDS.items():
        group = [f for f in files if f[0] == kind]
        if group:
            st.markdown(f"**Download {label}**")
        for column, (_, name, mime, data) in zip(st.columns(max(len(group), 4)), group):
            column.download_button(
                name.removeprefix(f"run-{run_id}-"),
                data,
                file_name=name,
                mime=mime,
                key=f"download_{name}",
                on_click="ignore",
                help=DOWNLOAD_HELP[kind],
            )
    with st.expander("Delete this run"):
        sure = st.checkbox(
            f"Delete {rv.run_label(run)} with its metrics, snapshots and files; this cannot be undone",
            key=f"delete_confirm_{run_id}",
            disabled=live,
            help="Stop a training run before deleting it",
        )
        if st.button("Delete", key="delete_run", type="primary", disabled=not sure, help="Tick the box above first"):
            try:
                store().delete_run(run_id)
            except StoreError as e:
                st.error(str(e))
            else:
                st.query_params.clear()
                st.session_state["runs_deleted"] = run_id
                st.rerun()


def open_run(run_id: int) -> None:
    run = store().get_run(run_id)
    st.subheader(f"{rv.run_label(run)}: {run['task']}")
    live = is_live(run)
    st.fragment(draw_run, run_every=2 if live else None)(run_id, live)
    if not is_grid(run) and not is_sweep(run):
        with st.expander("Settings", expanded=True):
            st.dataframe(rv.settings_table(run, store().home), hide_index=True, key="run_settings_table")
            st.caption(
                "The values this run was trained with: where the optimiser preset chose the learning "
                "rate, momentum or clipping, its choice."
            )
    actions(run)


def compare_task(task: str, runs: list[dict], colors: dict[str, str], suffix: str) -> None:
    """Curves and waveforms of several models of runs of one task: colour names the run, dash the model."""
    metrics = rv.comparison_metrics(store(), runs)
    archs, names = rv.metric_choices(metrics)
    if not archs or not names:
        st.info("These runs have logged nothing to overlay yet.")
        return
    left, right = st.columns(2)
    chosen = left.multiselect(
        "Models",
        archs,
        default=["cwrnn"] if "cwrnn" in archs else archs[:1],
        format_func=viz.arch_label,
        key=f"compare_archs{suffix}",
        help="Whose curves and waveforms to overlay: colour is the run, line style "
        "the model (solid CW-RNN, dotted SRN, dashed LSTM, dash-dot GRU)",
    )
    score = rv.SCORE_METRICS.get(task)
    name = right.selectbox(
        "Metric",
        names,
        index=names.index(score) if score in names else 0,
        key=f"compare_metric{suffix}",
        help="nmse: error divided by the target's variance",
    )
    if not chosen:
        st.info("Choose at least one model.")
        return
    rows, labels = rv.comparison_series(metrics, chosen)
    line_colors, dashes = rv.series_style(labels, colors)
    st.plotly_chart(
        viz.loss_figure(
            rows,
            name,
            group_col="series",
            colors=line_colors,
            dashes=dashes,
            title=f"{name} per run and model",
            uirevision="compare",
        ),
        key=f"compare_loss_chart{suffix}",
    )
    if task != "generation":
        return
    target, outputs, labels, notes = rv.comparison_waveforms(store(), runs, chosen)
    if outputs:
        line_colors, dashes = rv.series_style(labels, colors)
        st.plotly_chart(
            viz.waveform_figure(
                target,
                outputs,
                colors=line_colors,
                dashes=dashes,
                title="Generated waveform per run and model (latest snapshot)",
            ),
            key=f"compare_waveform_chart{suffix}",
        )
    for note in notes:
        st.caption(note)


def compare(run_ids: list[int]) -> None:
    runs = [store().get_run(i) for i in run_ids]
    grids = [rv.run_label(r) for r in runs if is_grid(r) or is_sweep(r)]
    if grids:
        st.warning(f"Paper grids and sweeps cannot be compared here: {', '.join(grids)} left out (see the Paper page).")
        runs = [r for r in runs if not is_grid(r) and not is_sweep(r)]
    if len(runs) < 2:
        st.info("Select two or more training runs to compare them.")
        return
    st.subheader("Comparing " + ", ".join(rv.run_label(r) for r in runs))
    colors = rv.run_colors(runs)  # one colour per run in every chart below
    groups = rv.by_task(runs)
    if len(groups) > 1:
        st.info("Runs compare within a task: each task's runs are shown as a group below.")
    for task, group in groups.items():
        if len(groups) > 1:
            st.markdown(f"**{task}**: " + ", ".join(rv.run_label(r) for r in group))
        compare_task(task, group, colors, suffix="" if len(groups) == 1 else f"_{task}")
    diff = rv.config_diff(runs, store().home)
    st.markdown("**Settings that differ**")
    if diff.empty:
        st.info("These runs have the same configuration.")
    else:
        st.dataframe(diff)


def linked() -> tuple[list[int], rv.RunLinkError | None]:
    """The runs the link names (?run=ID, ?compare=ID,ID) and, when it names none that can be shown, why."""
    params = st.query_params
    try:
        if "compare" in params:
            return rv.parse_run_ids(params["compare"], store(), param="compare"), None
        if "run" in params:
            return rv.parse_run_ids(params["run"], store()), None
    except rv.RunLinkError as e:
        return [], e
    return [], None


def runs_list(chosen: list[int]) -> None:
    """The table of every run, filtered by task and status, the `chosen` ones ticked; selecting rows opens
    or compares them."""
    st.title("Runs")
    st.caption(
        "Every training run is kept here. Select one row to open a run (its charts, audio and files), "
        "or several rows to compare them. The address bar then holds a link to what you see."
    )
    if "runs_deleted" in st.session_state:
        st.success(f"Run {st.session_state.pop('runs_deleted')} was deleted.")

    table = rv.runs_table(store().list_runs())
    left, right = st.columns(2)
    tasks = left.multiselect(
        "Task",
        sorted(table["task"].unique()),
        key="runs_tasks",
        placeholder="all tasks",
        help="Show only runs of these tasks (empty: all)",
    )
    statuses = right.multiselect(
        "Status",
        STATUSES,
        key="runs_statuses",
        placeholder="all statuses",
        help="Show only runs with these statuses (empty: all)",
    )
    shown = rv.filter_runs(table, tasks or None, statuses or None)
    st.session_state["runs_table_ids"] = shown["id"].tolist()
    if table.empty:
        st.info("No runs yet: train one in the Playground, or run the grid on the Paper page.")
    else:
        st.dataframe(
            shown,
            key="runs_table",
            on_select=on_select,
            selection_mode="multi-row",
            hide_index=True,
            selection_default={"selection": {"rows": rv.rows_of(shown["id"].tolist(), chosen)}},
            column_config={
                "id": st.column_config.NumberColumn("run", help="Run id; links use ?run=ID"),
                "budget": st.column_config.NumberColumn(help="Parameter budget every model is matched to"),
                "score": st.column_config.TextColumn(
                    help="The metric in the model columns: the final value, mean over seeds; lower is better"
                ),
                **{viz.arch_label(a): st.column_config.NumberColumn(format="%.4g") for a in rv.SCORE_ARCHS},
                "date": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
            },
        )


def linked_runs(chosen: list[int], error: rv.RunLinkError | None) -> None:
    """The run (?run=ID) or runs (?compare=ID,ID) the link names, or why it names none."""
    if error is not None:
        st.error(plain(error))
    elif "compare" in st.query_params:
        compare(chosen)
    elif chosen:
        open_run(chosen[0])


def main() -> None:
    chosen, error = linked()
    runs_list(chosen)
    linked_runs(chosen, error)


main()
