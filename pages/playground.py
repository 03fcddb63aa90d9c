"""Playground: design a CW-RNN, press Train, and watch it learn one of the paper's experiments against an SRN
and an LSTM: generating music (Experiment 1), telling spoken words apart (Experiment 2) or reading online
handwriting (Experiment 3)."""

import streamlit as st

from cwrnn.app import handwriting_view as hv
from cwrnn.app import playground_state as ps
from cwrnn.app import runs_view, viz
from cwrnn.app import uploads as up
from cwrnn.app import word_view as wv
from cwrnn.app.run_figures import RunWatcher, looped
from cwrnn.app.text import bullets, plain
from cwrnn.config import SHIPPED_UNIPEN, ConfigError
from cwrnn.data import audio
from cwrnn.experiment import build_task
from cwrnn.runs.manager import ensure_manager
from cwrnn.runs.store import RunNotFound
from pages._common import curve_options, is_live, status_line, store

REFRESH_S = 1.0
TASK_LABELS = {"generation": "1: generate music", "words": "2: spoken words", "handwriting": "3: online handwriting"}
UNIPEN_LABELS = {"shipped": "shipped UNIPEN lines", "folder": "a UNIPEN folder"}
SOURCE_LABELS = {"clips": "shipped clips", "tone": "synthetic tone", "wav": "your WAV file"}
DATASET_LABELS = {
    "synthetic": "synthetic speech (25 words)",
    "fsdd": "FSDD digits (real recordings)",
    "folder": "your recordings",
}
READOUT_LABELS = {"last": "last step", "mean": "mean over steps"}
INK_INPUT_LABELS = {"paper": "position, time (paper)", "offsets": "pen movement"}
SCHEDULE_LABELS = {
    "exponential": "exponential (paper)",
    "linear": "linear",
    "fibonacci": "Fibonacci",
    "custom": "custom",
}
PRESET_LABELS = {
    "paper-generation": "paper (SGD, momentum)",
    "paper-words": "paper (SGD, momentum, early stop)",
    "tuned-generation": "tuned (each architecture at its best swept rate)",
    "tuned-words": "tuned (SGD, momentum, early stop, each at its best swept rate)",
    "tuned-handwriting": "tuned (Adam, early stop; tuned on pen movement)",
    "paper-handwriting": "paper (SGD, momentum, early stop on validation)",
    "adam": "Adam",
}
ss = st.session_state


def labelled_radio(label: str, labels: dict[str, str], key: str, help: str) -> None:
    """A horizontal radio over the keys of `labels`, each shown by its label."""
    st.radio(label, list(labels), format_func=labels.get, key=key, horizontal=True, help=help)


def uploads():
    """The lab's folder of uploaded WAVs and recordings."""
    return store().home / "uploads"


# ---- state: the URL, the widgets and the last good configuration -----------------------------------


def url_params() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params}


def load_url() -> None:
    """Set every widget from the link (bad values fall back to defaults, with notes)."""
    cfg, notes = ps.from_query(url_params(), uploads())
    run_id, note = None, None
    if "run" in st.query_params:
        try:
            (run_id,) = runs_view.parse_run_ids(st.query_params["run"], store())
        except runs_view.RunLinkError as e:
            note = f"{e}; no run is shown"
        else:
            shown = store().get_run(run_id)
            if set(url_params()) == {"run"} and shown["task"] in ps.TASK_DEFAULTS:  # ?run=N alone: its settings
                cfg, notes = ps.from_query(runs_view.playground_params(shown["config"]), uploads())
    ss.update(ps.widget_state(cfg))
    ss.pg_config, ss.pg_loaded, ss.pg_notes = cfg, ps.widget_state(cfg), notes + ([note] if note else [])
    ss.pg_periods, ss.pg_wav_path, ss.pg_run = list(cfg.periods), cfg.wav_path, run_id
    ss.pop("pg_periods_error", None)


def set_periods(periods: list[int]) -> None:
    ss.pg_periods = periods
    for i, p in enumerate(periods):
        ss[ps.period_key(i)] = p
    ss.periods_text = ps.format_ints(periods)
    ss.pop("pg_periods_error", None)


def on_modules() -> None:
    g = ss.modules
    if ss.schedule == "custom":
        set_periods(ps.resize_periods(ss.pg_periods, g))
    else:
        set_periods(ps.schedule_periods(ss.schedule, g))


def on_schedule() -> None:
    if ss.schedule != "custom":
        set_periods(ps.schedule_periods(ss.schedule, ss.modules))


def on_period_slider() -> None:
    set_periods([ss[ps.period_key(i)] for i in range(ss.modules)])
    ss.schedule = ps.schedule_of(ss.pg_periods)


def on_periods_text() -> None:
    try:
        periods = ps.parse_periods(ss.periods_text)
    except ps.PlaygroundInputError as e:
        ss.pg_periods_error = str(e)
        return
    ss.modules = len(periods)
    set_periods(periods)
    ss.schedule = ps.schedule_of(periods)


def on_preset() -> None:
    ss.lr = ps.preset_lr(ss.preset)


def on_task() -> None:
    """Each experiment starts from its own design (the paper's, or for handwriting the tuned one): periods,
    budget and optimiser."""
    ss.update(ps.task_switch_state(ss.task))
    ss.pg_periods = ps.TASK_DEFAULTS[ss.task].periods
    ss.pop("pg_periods_error", None)


def on_wav() -> None:
    """Keep an uploaded WAV in the lab's uploads folder (a file that cannot be read is not kept)."""
    upload = ss.wav_upload
    ss.pop("pg_wav_error", None)
    if upload is None:
        return
    try:
        ss.pg_wav_path = str(up.save_wav(upload.getvalue(), uploads()))
    except up.UploadError as e:
        ss.pg_wav_error = f"{upload.name} was not used: {e}"


def on_zip() -> None:
    """Unpack an uploaded zip of recordings into the lab's uploads folder and point the folder at it; a zip
    whose recordings cannot be used is deleted again."""
    upload = ss.words_zip
    ss.pop("pg_zip_error", None)
    if upload is None:
        return
    try:
        folder = up.extract_recordings(
            upload.getvalue(), uploads(), check=lambda path: wv.load_dataset("folder", str(path), store().home)
        )
    except up.UploadError as e:
        ss.pg_zip_error = f"{upload.name} was not used: {e}"
    else:
        ss.folder = wv.shown_path(folder, store().home)  # relative to the data home: no server path shown


def sync_with_link() -> None:
    """A link opened in this session (or "Open in Playground") replaces the settings; an empty URL, as after a
    visit to another page, keeps them."""
    first_visit = "pg_config" not in ss
    link = {k: v for k, v in st.query_params.to_dict().items() if k != "run"}
    if first_visit or (link and link != ss.get("pg_query")):
        load_url()
    for key, value in ps.widget_state(ss.pg_config).items():
        ss.setdefault(key, value)  # widgets hidden on the last run lose their state; give it back


def load_data() -> tuple[list[str], object, list[str], tuple[int, int]]:
    """The datasets offered here, and Experiment 2's recordings or Experiment 3's lines with their problems
    and input/output sizes."""
    datasets = [d for d in DATASET_LABELS if d != "fsdd" or wv.fsdd_folder()]
    if ss.dataset not in datasets:  # a run's link from a lab where FSDD is installed
        ss.dataset = ps.WORDS_DEFAULTS.dataset
    if ss.preset not in ps.TASK_PRESETS[ss.task]:
        ss.preset = ps.TASK_DEFAULTS[ss.task].preset
    speech, speech_problems, io_sizes = None, [], (0, 1)  # Experiment 1: no input, one output
    if ss.task == "words":
        try:
            speech = wv.load_dataset(ss.dataset, ss.folder, store().home)
            io_sizes = (speech.n_channels, len(speech.labels))
        except ConfigError as e:  # an empty folder, one speaker only, unreadable files...
            speech_problems = [f"the recordings cannot be used: {p}" for p in e.problems]
    elif ss.task == "handwriting":
        folder = ss.unipen_folder.strip()
        try:
            if ss.unipen_source == "folder" and not folder:
                raise ConfigError(["give the path of a UNIPEN folder on this server, or use the shipped lines"])
            if ss.unipen_source == "folder":
                folder = str(wv.resolve_folder(folder, store().home, holding=hv.UNIPEN_HOLDING, files_too=True))
            speech = hv.load_data(folder if ss.unipen_source == "folder" else SHIPPED_UNIPEN, ss.ink_input)
            io_sizes = (speech.train[0].features.shape[1], speech.n_classes)
        except ConfigError as e:  # a missing folder, one without UNIPEN text lines...
            speech_problems = list(e.problems)
    return datasets, speech, speech_problems, io_sizes


def sidebar(datasets: list[str], io_sizes: tuple[int, int]) -> None:
    """Every setting: the data, the CW-RNN's design, the comparison and the training."""
    with st.sidebar:
        st.header("Data")
        st.radio(
            "Experiment",
            list(TASK_LABELS),
            format_func=TASK_LABELS.get,
            key="task",
            horizontal=True,
            on_change=on_task,
            help="1: generate a 7 ms piece of music from no input (the paper's Experiment 1); 2: hear a "
            "spoken word as MFCC frames and say which word it was (its Experiment 2); 3: read a handwritten "
            "line from its pen trajectory, with bidirectional networks and CTC (its Experiment 3). Switching "
            "sets that experiment's paper design",
        )
        if ss.task == "words":
            st.radio(
                "Recordings",
                datasets,
                format_func=DATASET_LABELS.get,
                key="dataset",
                help="synthetic speech: the paper's 25 words spoken by 7 synthetic voices (espeak-ng, varied "
                "in rate, pitch, vocal tract and noise), 5 voices to train and 2 unseen to test; FSDD: "
                "real recordings of the digits 0-9 by 6 speakers; yours: a folder or zip of "
                "`{label}_{speaker}_{take}.wav` files. Test speakers are never heard in training",
            )
            if ss.dataset == "folder":
                st.file_uploader(
                    "Zip of recordings",
                    type=["zip"],
                    key="words_zip",
                    on_change=on_zip,
                    help="A zip of `{label}_{speaker}_{take}.wav` files (at the top or in one folder), "
                    f"at most {up.MAX_ZIP_BYTES // 2**20} MiB; unpacked into the lab's uploads "
                    "folder, which the path below then names",
                )
                if ss.get("pg_zip_error"):
                    st.error(plain(ss.pg_zip_error))
                st.text_input(
                    "Folder on this server",
                    key="folder",
                    placeholder="uploads/recordings-...",
                    help="A folder of `{label}_{speaker}_{take}.wav` files, e.g. `7_jackson_32.wav`; "
                    "two speakers are held out for testing, so it needs at least three. Relative to "
                    "the lab's data folder (a zip uploaded above lands in uploads/), or under a "
                    "folder the lab's operator allows in `$CWRNN_DATA_ROOTS`",
                )
            labelled_radio(
                "Prediction read at",
                READOUT_LABELS,
                "readout",
                "Where the network's answer is read: its output at the word's last frame (the paper's), "
                "or its output averaged over every frame of the word",
            )
        elif ss.task == "handwriting":
            labelled_radio(
                "Lines",
                UNIPEN_LABELS,
                "unipen_source",
                "shipped: 3,135 text lines from UNIPEN (six contributors, more than 120 writers, CC BY 4.0), "
                "split by writer so validation and test writers are never trained on; a folder: any UNIPEN "
                "distribution on this server (its .SEGMENT TEXT lines), split by writer the same way",
            )
            if ss.unipen_source == "folder":
                st.text_input(
                    "UNIPEN folder on this server",
                    key="unipen_folder",
                    placeholder="/path/to/unipen",
                    help="A folder holding a UNIPEN distribution (include/ and data/, or part of one), "
                    "or a .npz of lines made by scripts/make_handwriting.py",
                )
            labelled_radio(
                "Input per point",
                INK_INPUT_LABELS,
                "ink_input",
                "position, time (paper): x and y from the line's top-left corner, time since its start and "
                "pen-up, standardised; from these the networks do not learn to read UNIPEN's lines. "
                "pen movement: how far the pen moved since the previous point (dx, dy) and pen-up, which "
                "the networks learn from (see docs/handwriting.md)",
            )
        else:
            labelled_radio(
                "Target",
                SOURCE_LABELS,
                "source",
                "What the networks learn to generate: 320 samples (7 ms at 44.1 kHz), scaled to [-1, 1]",
            )
            if ss.source == "clips":
                st.multiselect(
                    "Clips",
                    list(range(ps.CLIP_COUNT)),
                    key="clips",
                    format_func=lambda i: f"clip {i + 1}",
                    help="The paper's five pieces of a music recording; one network per clip. One clip trains fastest",
                )
            elif ss.source == "wav":
                st.file_uploader(
                    "WAV file",
                    type=["wav"],
                    key="wav_upload",
                    on_change=on_wav,
                    help="Any PCM or float WAV up to 10 minutes; it is resampled to 44.1 kHz "
                    "and 320 samples are cut at the start time below. Kept in the lab's "
                    "uploads folder so the link keeps working here",
                )
                if ss.get("pg_wav_error"):
                    st.error(plain(ss.pg_wav_error))
                st.number_input(
                    "Start (s)",
                    min_value=0.0,
                    step=0.01,
                    format="%.3f",
                    key="wav_start",
                    help="Where in the recording the 320-sample target begins, in seconds",
                )

        st.header("CW-RNN design")
        st.slider(
            "Modules",
            1,
            ps.MAX_MODULES,
            key="modules",
            on_change=on_modules,
            help="How many clocked modules the hidden layer is split into; the paper uses 9",
        )
        st.selectbox(
            "Period schedule",
            list(SCHEDULE_LABELS),
            format_func=SCHEDULE_LABELS.get,
            key="schedule",
            on_change=on_schedule,
            help="exponential: 1, 2, 4, 8, ... as in the paper; linear: 1, 2, 3, ...; Fibonacci: "
            "1, 2, 3, 5, 8, ...; custom: set each period yourself",
        )
        with st.expander("Periods, one per module", expanded=ss.schedule == "custom"):
            for i in range(ss.modules):
                st.slider(
                    f"Module {i + 1}",
                    1,
                    ps.MAX_PERIOD,
                    key=ps.period_key(i),
                    on_change=on_period_slider,
                    help=f"Module {i + 1} updates at steps that are multiples of this period and holds its "
                    "value in between; periods must increase from module to module",
                )
            st.text_input(
                "Or type them",
                key="periods_text",
                on_change=on_periods_text,
                help=f"Comma-separated, fastest first, e.g. 1, 3, 9, 27 (at most {ps.MAX_MODULES} "
                f"periods from 1 to {ps.MAX_PERIOD}); press Enter to apply",
            )
            if ss.get("pg_periods_error"):
                st.error(plain(f"These periods cannot be used: {ss.pg_periods_error}"))
        st.radio(
            "Module sizes",
            ["equal", "custom"],
            key="sizes_mode",
            horizontal=True,
            help="equal: the budget's hidden units split evenly, leftovers to the fast modules (the paper's); "
            "custom: type the units of each module",
        )
        if ss.sizes_mode == "custom":
            ss.setdefault(
                "sizes_text", ps.format_ints(ps.equal_module_sizes(ss.budget, ss.modules, ss.connectivity, *io_sizes))
            )
            st.text_input(
                "Units per module",
                key="sizes_text",
                help="Comma-separated, fastest module first, one number per module. The CW-RNN's size "
                "is then fixed by these, not by the budget",
            )
        st.selectbox(
            "Connectivity",
            ["slow_to_fast", "fast_to_slow", "full"],
            key="connectivity",
            help="slow_to_fast (the paper's): each module reads itself and every slower module; "
            "fast_to_slow: the reverse; full: every module reads every module",
        )

        st.header("Comparison")
        st.number_input(
            "Parameter budget",
            *ps.BUDGET_RANGE,
            step=50,
            key="budget",
            help="Every model gets about this many weights; the hidden sizes below are matched to it. "
            "The paper uses 100 to 1000 for music, 500 to 10,000 for words, 10k to 100k for handwriting "
            "(the Paper page runs the larger sizes)",
        )
        st.checkbox("SRN (simple RNN)", key="srn", help="A tanh RNN whose units all update every step")
        st.checkbox("LSTM", key="lstm", help="A gated RNN (peepholes, forget-gate bias 5 as in the paper)")
        st.checkbox(
            "GRU",
            key="gru",
            help="A gated RNN with fewer gates than the LSTM (Cho et al. 2014); not in "
            "the paper, trained at the same rate as the CW-RNN",
        )

        st.header("Training")
        st.selectbox(
            "Optimiser",
            ps.TASK_PRESETS[ss.task],
            format_func=PRESET_LABELS.get,
            key="preset",
            on_change=on_preset,
            help="paper, music: SGD with Nesterov momentum 0.95 on the summed squared error, the LSTM at a "
            "tenth of the rate (as the paper trains it); paper, words: SGD with momentum 0.9, input "
            "noise 0.6, each network stopped once its training error has not fallen for 5 epochs; "
            "tuned, music: the same SGD with each architecture at its best rate of a sweep at 1000 parameters "
            "(CW-RNN 1e-3, LSTM 3e-4, SRN 3e-3 with every gradient clipped at 1; the rate below is the "
            "CW-RNN's); tuned, words: as the paper's with the CW-RNN and LSTM at 1e-3, their best in a "
            "sweep at 10k; "
            "paper, handwriting: SGD with momentum 0.9 on the CTC loss summed over a batch's lines, the LSTM "
            "(and GRU) at ten times the rate, each network stopped once its validation character error has "
            "not improved for 50 epochs; tuned, handwriting: Adam at 1e-2 for every network, the LSTM "
            "started from the paper's N(0, 0.1) read as a variance, each stopped after 20 epochs without a "
            "better validation character error, tuned with the pen-movement input and CW-RNN periods 1, 2, 4, "
            "8 (this task's defaults); Adam: adaptive steps, often faster",
        )
        st.number_input(
            "Learning rate",
            *ps.LR_RANGE,
            format="%.1e",
            step=1e-4,
            key="lr",
            help="The optimiser's step size (the paper's: 3e-4); changing the optimiser resets it",
        )
        st.number_input(
            "Epochs",
            *ps.EPOCHS_RANGE,
            step=100,
            key="epochs",
            help="Training passes over the data. Music: the paper trains 2000. Words and handwriting: the "
            "most allowed; the paper's optimiser usually stops each network earlier",
        )
        if ss.task in ps.BATCH_TASKS:
            st.number_input(
                "Batch size",
                *ps.BATCH_RANGE,
                step=1,
                key="batch_size",
                help="Sequences per weight update; the loss is summed over them (the paper gives no batch size)",
            )
        st.slider(
            "Seeds",
            *ps.SEEDS_RANGE,
            key="seeds",
            help="Independent initialisations of every model, trained side by side; the charts show a band "
            "from the best to the worst",
        )
        st.number_input(
            "First seed",
            *ps.SEED_RANGE,
            step=1,
            key="seed",
            help="Seeds are this and the next ones; the same seed and settings give the same run",
        )


def introduction() -> None:
    st.title("Playground")
    if ss.task == "handwriting":
        st.markdown(
            "Bidirectional recurrent networks with the same number of weights read a whole line of handwriting, "
            "one point at a time (the pen's movement since the last point and whether the pen lifts, or as in "
            "the paper its position and time), forwards and backwards, and "
            "must spell out what was written. They learn with CTC, which needs no alignment of characters to "
            "points, and read by emitting the most likely character at each point (best path). The "
            "**Clockwork RNN**'s slower modules update only every few points; the **SRN** and the **LSTM** "
            "update every unit at every point. In the paper this is the one task where the CW-RNN loses to "
            "the LSTM. Press **Train** and watch each network's reading of a line by an unseen writer improve."
        )
    elif ss.task == "words":
        st.markdown(
            "Recurrent networks with the same number of weights hear spoken words, one 10 ms frame of 13 MFCCs "
            "at a time, and must say at the end which word it was. Words ending alike (mak*ing*, walk*ing*, ...) "
            "are told apart only by their beginnings, so a network must remember far back. The **Clockwork "
            "RNN**'s slow modules update rarely and hold what they heard; the **SRN** and the **LSTM** (and the "
            "optional **GRU**) update every unit every frame. Press **Train** and watch the error on unseen "
            "speakers fall, where the mistakes land in the confusion matrix, and how each module follows a word."
        )
    else:
        st.markdown(
            "Recurrent networks with the same number of weights learn to play a 7 ms piece of music from "
            "memory, with no input at all. The **Clockwork RNN** splits its hidden units into modules that update "
            "only every *T* steps, so slow modules hold their value and keep time while fast ones add the detail; "
            "the **SRN** and the **LSTM** (and the optional **GRU**) update every unit at every step. Press "
            "**Train** and watch the loss fall, the generated waveform close in on the grey target, and the "
            "activity timeline, where slow modules show as long flat plateaus."
        )


def configuration(speech_problems: list[str], io_sizes: tuple[int, int]):
    """The configuration the settings describe, its problems, and Experiment 1's target."""
    problems = [ss.pg_periods_error] if ss.get("pg_periods_error") else []
    if ss.task == "generation" and ss.source == "wav" and not ss.pg_wav_path:
        problems.append("upload a WAV file, or pick the shipped clips or the synthetic tone")
    problems += speech_problems
    cfg = raw = None
    try:
        raw = ps.config_from_widgets(ss.to_dict(), wav_path=ss.pg_wav_path if ss.source == "wav" else None)
    except ps.PlaygroundInputError as e:
        problems.append(f"module sizes: {e}")
    if raw is not None and not problems:
        cfg, problems = ps.check_config(raw, *io_sizes)
    if cfg is not None:
        ss.pg_config = cfg
    if any(ss.get(key) != value for key, value in ss.pg_loaded.items()):
        ss.pg_notes = []  # the notes were about the link, and the settings have moved on

    if ss.pg_notes:
        st.warning("Some settings in the link could not be used:\n\n" + bullets(ss.pg_notes))

    target = None
    if cfg is not None and not problems and cfg.task == "generation":
        try:
            target = build_task(cfg).targets_np[0]
        except ConfigError as e:  # e.g. an unreadable WAV or a start past its end
            problems += e.problems
    if problems:
        st.error("This configuration cannot be trained:\n\n" + bullets(problems))
    return cfg, raw, problems, target


def train_controls(cfg, raw, problems: list[str], io_sizes: tuple[int, int]):
    """The comparison table and the Train and Stop buttons; returns the watched run and whether it is live."""
    run = None
    if ss.pg_run is not None:
        try:
            run = store().get_run(ss.pg_run)
        except RunNotFound:
            ss.pg_run = None
    live = is_live(run)

    table_col, buttons_col = st.columns([3, 1])
    if cfg is not None and not problems:
        table_col.dataframe(ps.comparison_rows(cfg, *io_sizes), hide_index=True, key="comparison_table")
        table_col.caption(
            "Hidden sizes matched to the budget. Multiply-adds: recurrent ones per step, averaged over "
            "time; the CW-RNN skips modules whose clock does not tick."
        )
    manager = ensure_manager()
    if buttons_col.button(
        "Train",
        key="train",
        type="primary",
        disabled=bool(problems) or live,
        help="Train the CW-RNN and the baselines on these settings in the background",
    ):
        # The worker reads the folder itself, wherever it runs from; the data step checked it already.
        if cfg.task == "words" and raw["folder"]:
            raw = {**raw, "folder": str(wv.resolve_folder(raw["folder"], store().home))}
        if cfg.task == "handwriting" and raw["unipen"] != SHIPPED_UNIPEN:
            raw = {**raw, "unipen": str(wv.resolve_folder(raw["unipen"], store().home, files_too=True))}
        ss.pg_run = manager.submit(cfg.task, raw, cfg.seed_list)
        st.rerun()  # redraw the buttons (Train off, Stop on) and the link with the new run
    if buttons_col.button(
        "Stop",
        key="stop",
        disabled=not live,
        help="Stop the run at the end of the current epoch; what it learnt so far is kept",
    ):
        manager.cancel(ss.pg_run)
        st.rerun()

    # Written after the buttons, so the link names the run just started; but not a run the settings no longer
    # describe, or the link would promise settings whose charts it does not show.
    differ = settings_differ(run)
    ss.pg_query = ps.to_query(ss.pg_config)
    link = ss.pg_query | ({"run": str(ss.pg_run)} if ss.pg_run is not None and not differ else {})
    if link != st.query_params.to_dict():
        st.query_params.from_dict(link)
    if differ:
        st.info(
            f"The charts below show run {ss.pg_run}; your settings differ in {', '.join(differ)}. "
            "Press **Train** to train them."
        )
    return run, live


def settings_differ(run: dict | None) -> list[str]:
    """The settings in which the controls differ from the shown run's ([] without a Playground run)."""
    if run is None or run["task"] not in ps.TASK_DEFAULTS:
        return []
    shown, _ = ps.from_query(runs_view.playground_params(run["config"]), uploads())
    return ps.differing_settings(shown, ss.pg_config)


# ---- the run, live ---------------------------------------------------------------------------------


def watcher(run_id: int) -> RunWatcher:
    if ss.get("pg_watcher") is None or ss.pg_watcher.run_id != run_id:
        ss.pg_watcher = RunWatcher(store(), run_id)
    return ss.pg_watcher


def show_run(run_id: int, was_live: bool) -> None:
    """Status, charts and players of the run; on a 1 s timer while it trains."""
    w = watcher(run_id)
    w.refresh()
    status_line(w.run)
    if note := runs_view.early_note(w.run):
        st.info(note)
    if speed := runs_view.speed_rows(w.run):
        with st.expander("Speed: work per step against measured time per epoch"):
            st.dataframe(speed, hide_index=True, key="speed_table")
            st.caption(
                "Multiply-adds: recurrent ones per step, averaged over time (the CW-RNN skips the modules whose "
                "clock does not tick). Time: the median over recent epochs of each model's updates on this "
                "machine, metrics not included. Fixed costs per step weigh more in small networks, so the times "
                "need not follow the multiply-adds."
            )
    figures = w.figures(**curve_options("pg"))
    if w.task == "words":
        show_words_run(w, figures)
    elif w.task == "handwriting":
        show_handwriting_run(w, figures)
    else:
        show_generation_run(w, figures)
    if was_live and w.finished:
        st.rerun()  # the whole page: the timer stops and the buttons come back


def show_generation_run(w: RunWatcher, figures: dict) -> None:
    left, right = st.columns(2)
    left.plotly_chart(figures["loss"], key="loss_chart")
    right.plotly_chart(figures["waveform"], key="waveform_chart")
    left, right = st.columns([3, 2])
    left.plotly_chart(figures["activity"], key="activity_chart")
    right.plotly_chart(figures["weights"], key="weights_chart")
    sounds = w.audio()
    if sounds:
        st.caption("Listen: each 7 ms sequence looped for a second, all on one loudness scale")
        for column, (name, wav) in zip(st.columns(len(sounds)), sounds.items()):
            column.markdown(f"**{'target' if name == 'target' else viz.arch_label(name)}**")
            column.audio(wav, format="audio/wav")


def show_words_run(w: RunWatcher, figures: dict) -> None:
    left, right = st.columns(2)
    left.plotly_chart(figures["accuracy"], key="accuracy_chart")
    right.plotly_chart(figures["loss"], key="loss_chart")
    st.caption(
        "Error in % of the words each model gets wrong: dashed on the training speakers (heard without "
        "noise), solid on the held-out test speakers; the dotted line is guessing, 1 - 1/(number of words). "
        "A diamond is a model's final evaluation."
    )
    left, right = st.columns([3, 2])
    confusions = [name for name in figures if name.startswith("confusion")]
    for tab, name in zip(left.tabs([viz.arch_label(n.partition("_")[2] or "cwrnn") for n in confusions]), confusions):
        tab.plotly_chart(figures[name], key=f"{name}_chart")
    right.plotly_chart(figures["weights"], key="weights_chart")
    config = w.run["config"]
    try:
        data = wv.load_dataset(config.get("dataset", "synthetic"), config.get("folder"), store().home)
    except ConfigError as e:
        st.warning(
            plain("This run's recordings can no longer be read, so its words cannot be shown: " + "; ".join(e.problems))
        )
        st.plotly_chart(figures["activity"], key="activity_chart")
        return
    show_word(w, data, figures["activity"])


def show_handwriting_run(w: RunWatcher, figures: dict) -> None:
    """The line and each network's reading, the curves, where each character is emitted, and the CW-RNN's
    two layers along the line."""
    st.plotly_chart(figures["ink"], key="ink_chart")
    left, right = st.columns(2)
    left.plotly_chart(figures["loss"], key="loss_chart")
    right.plotly_chart(figures["cer"], key="cer_chart")
    st.caption(
        "Character error rate: edit distance from the best-path reading to the transcription, summed over "
        "lines, over the transcriptions' length; validation and test writers never appear in training."
    )
    st.subheader("The line up close")
    if w.snapshot is None:
        st.plotly_chart(figures["emissions"], key="emissions_chart")
    else:
        archs = hv.archs_of(w.snapshot[1])
        arch = st.radio(
            "Network",
            archs,
            index=archs.index("cwrnn"),
            format_func=viz.arch_label,
            key="hw_closeup",
            horizontal=True,
            help="Whose output to follow along the line: each character sits on the point where best path emits it",
        )
        data = w.handwriting()
        alphabet = data.alphabet if data else None
        st.plotly_chart(hv.closeup_figure(w.snapshot, arch, alphabet), key="emissions_chart")
        st.plotly_chart(hv.timeline_figure(w.snapshot, arch, alphabet), key="outputs_chart")
    left, right = st.columns(2)
    left.plotly_chart(figures["activity"], key="activity_chart")
    right.plotly_chart(figures["activity_backward"], key="activity_backward_chart")
    st.caption(
        "Ticks mark the points at which a module updates; between them it holds its value. Dotted lines "
        "mark where a stroke ends, so a slow module's stripe shows which strokes it took in at once."
    )
    st.plotly_chart(figures["weights"], key="weights_chart")


def show_word(w: RunWatcher | None, data, snapshot_activity=None) -> None:
    """One test word: a player, its MFCCs and, with a run, how the CW-RNN's modules follow it."""
    names = wv.word_names(data)
    st.subheader("One word, up close")
    index = st.selectbox(
        "Test word",
        range(len(names)),
        format_func=names.__getitem__,
        key="word",
        help="A recording by a speaker the networks never heard in training; the first one "
        "is the word the live activity chart follows while a run trains",
    )
    st.audio(wv.word_audio(data, index), format="audio/wav")
    activity = wv.word_activity(store(), w.run, data, index) if w is not None and w.finished else None
    figures = wv.word_figures(data, index, activity)
    # One above the other, on one axis of steps: what the network hears, how its modules follow, what it thinks.
    st.plotly_chart(figures["features"], key="features_chart")
    if w is None:
        return
    if activity is not None:
        st.plotly_chart(figures["activity"], key="activity_chart")
        st.plotly_chart(figures["probabilities"], key="probabilities_chart")
        st.caption(
            f"The trained CW-RNN (first seed) hears this word and answers {wv.verdict(data, index, activity)}. "
            "The lines are its probability of each word at every step: the slow modules carry the word's "
            "beginning to the end, where words ending alike are told apart."
        )
    else:
        st.plotly_chart(snapshot_activity, key="activity_chart")
        st.caption(
            "While training runs this shows the first test word at the latest snapshot; once the run "
            "has finished, the activity over any chosen word is shown."
        )


def main() -> None:
    sync_with_link()
    datasets, speech, speech_problems, io_sizes = load_data()
    sidebar(datasets, io_sizes)
    introduction()
    cfg, raw, problems, target = configuration(speech_problems, io_sizes)
    run, live = train_controls(cfg, raw, problems, io_sizes)
    if run is not None:
        st.fragment(show_run, run_every=REFRESH_S if live else None)(run["id"], live)
    elif ss.task == "handwriting" and speech is not None:
        st.info(
            f"Press **Train** to start. {hv.summary(speech)} Every epoch reads all the training lines, so the "
            "charts move on once per epoch: every few tens of seconds on a CPU."
        )
        st.plotly_chart(hv.preview_figure(speech.val[0]), key="ink_chart")
    elif speech is not None and not speech_problems:
        train_speakers, test_speakers = len(set(speech.train.speakers)), len(set(speech.test.speakers))
        st.info(
            ("" if problems else "Press **Train** to start. ")  # not beside "cannot be trained"
            + f"{len(speech.labels)} words: {len(speech.train)} recordings by {train_speakers} speakers to learn "
            f"from, {len(speech.test)} by {test_speakers} other speakers to test on."
            + (" The speech is synthetic (espeak-ng voices), not recorded." if ss.dataset == "synthetic" else "")
        )
        show_word(None, speech)
    elif target is not None:
        st.info("Press **Train** to start. Below is the target the networks will learn to generate.")
        st.plotly_chart(viz.waveform_figure(target, {}, title="The target sequence"), key="target_chart")
        st.audio(audio.wav_bytes(looped(target), audio.SHIPPED_RATE), format="audio/wav")


main()
