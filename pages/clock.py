"""Clock explorer: design a CW-RNN's modules and clocks and see, instantly, when they fire, what feeds
what, and what it costs against an SRN and an LSTM with as many units."""

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from cwrnn import clock
from cwrnn.app import clock_view, viz
from cwrnn.config import LIMITS

SCHEDULE_HELP = (
    "exponential: 1, 2, 4, 8, ... (the paper's); linear: 1, 2, 3, 4, ...; "
    "Fibonacci: 1, 2, 3, 5, 8, ...; custom: type your own list"
)


def introduction() -> None:
    st.title("Clock explorer")
    st.markdown(
        "A **Clockwork RNN** splits its hidden layer into modules, each with its own clock period *T*: a module "
        "updates only at steps that are multiples of *T* and holds its value in between, so slow modules keep "
        "a long memory while fast ones follow the detail. Connections run only from slower modules into faster "
        "ones, so it has about half the recurrent weights of a simple RNN (SRN) with as many units, and since "
        "resting modules are not computed at all it does far fewer multiply-adds per step."
    )


def design() -> dict:
    """The design's controls; returns their values."""
    c1, c2, c3, c4 = st.columns(4)
    schedule = c1.selectbox(
        "Schedule",
        [*clock.SCHEDULES, "custom"],
        key="clock_schedule",
        format_func=lambda s: "Fibonacci" if s == "fibonacci" else s,
        help=SCHEDULE_HELP,
    )
    modules = c2.slider(
        "Modules",
        1,
        clock_view.MAX_MODULES,
        9,
        key="clock_modules",
        disabled=schedule == "custom",
        help="How many modules (clocks) the hidden layer has; the paper uses 9 for Experiment 1",
    )
    hidden = c3.number_input(
        "Hidden units",
        1,
        LIMITS["hidden"],
        40,
        key="clock_hidden",
        help="Units in the whole hidden layer, split equally between modules "
        "(leftovers to the fast ones); the paper's 1000-parameter CW-RNN has 40",
    )
    connectivity = c4.selectbox(
        "Connectivity",
        clock.CONNECTIVITY,
        key="clock_connectivity",
        help="slow_to_fast (the paper's): each module reads itself and every slower "
        "module; fast_to_slow: the reverse; full: every module reads every module",
    )
    custom = ""
    if schedule == "custom":
        custom = st.text_input(
            "Periods",
            "1, 2, 4, 8, 16, 32, 64, 128, 256",
            key="clock_periods",
            help=f"Whole numbers from 1 to {clock_view.MAX_PERIOD}, fastest first, no repeats, at most "
            f"{clock_view.MAX_MODULES} (the Playground's limits), e.g. 1, 3, 9, 27",
        )
    c5, c6 = st.columns(2)
    steps = c5.slider(
        "Steps shown", 16, 512, 128, step=16, key="clock_steps", help="How many time steps the clock chart shows"
    )
    inputs = c6.number_input(
        "Inputs per step",
        0,
        64,
        0,
        key="clock_inputs",
        help="Input channels, for the parameter count: 0 in Experiment 1 (generation), "
        "13 in Experiment 2 (spoken words)",
    )
    return dict(
        schedule=schedule,
        modules=modules,
        hidden=int(hidden),
        connectivity=connectivity,
        custom=custom,
        steps=steps,
        inputs=int(inputs),
    )


def size_and_cost(d: dict) -> tuple[list[int], clock_view.ClockNumbers]:
    """The design's periods and its size and cost; stops the page with the reason when it is unusable."""
    try:
        periods = (
            clock_view.parse_periods(d["custom"])
            if d["schedule"] == "custom"
            else clock.schedule(d["schedule"], d["modules"])
        )
        found = clock_view.clock_numbers(periods, d["hidden"], d["connectivity"], input_size=d["inputs"])
    except ValueError as e:
        st.error(str(e))
        st.stop()
    return periods, found


def charts(d: dict, periods: list[int], numbers: clock_view.ClockNumbers) -> None:
    """When each module fires, what feeds what, and the table of sizes and costs."""
    hidden, inputs, steps, connectivity = d["hidden"], d["inputs"], d["steps"], d["connectivity"]
    st.markdown(
        f"**Periods** {', '.join(map(str, periods))} · **module sizes** {', '.join(map(str, numbers.module_sizes))}"
    )
    m1, m2, m3 = st.columns(3)
    m1.metric(
        "CW-RNN recurrent weights",
        f"{numbers.cwrnn('recurrent weights'):,.0f}",
        f"{numbers.change_vs_srn('recurrent weights'):+.0%} vs SRN",
        delta_color="inverse",
        help="Weights between hidden units; the CW-RNN keeps only those its connectivity allows",
    )
    m2.metric(
        "CW-RNN multiply-adds per step",
        f"{numbers.cwrnn('multiply-adds per step'):,.1f}",
        f"{numbers.change_vs_srn('multiply-adds per step'):+.0%} vs SRN",
        delta_color="inverse",
        help="Recurrent multiply-adds per time step, averaged over time",
    )
    m3.metric(
        "Theoretical speed-up over an SRN",
        f"{numbers.speedup:.1f}×",
        help=f"SRN multiply-adds per step over the CW-RNN's, same units. The paper promises at least "
        f"g/4 = {numbers.paper_bound:.2f}× for exponential periods",
    )

    if measured := clock_view.load_measured_speed():
        with st.expander("Measured speed beside the theoretical one"):
            st.markdown("**One layer, forward and backward: the CW-RNN against an SRN of as many units**")
            st.dataframe(measured.layers, hide_index=True, key="measured_layers")
            st.markdown("**A training epoch of Experiment 1 at 1000 parameters** (milliseconds)")
            st.dataframe(measured.epochs, hide_index=True, key="measured_epochs")
            st.caption(
                f"{measured.source} The theory counts recurrent multiply-adds only; a measured step also pays "
                "fixed costs (reading the step's input, the nonlinearity, the readout, the calls themselves), "
                "which weigh most in small networks. Narrow networks on the CPU run on the lab's compiled "
                "kernels, wide ones and GPUs on torch's ops. These are the benchmark's designs, not yours: "
                "`python benchmarks/forward_backward.py` and `benchmarks/epoch_speed.py` measure again."
            )

    left, right = st.columns([3, 2])
    left.plotly_chart(viz.clock_figure(periods, steps), key="clock_chart")
    right.plotly_chart(
        viz.connectivity_figure(
            clock.unit_mask(numbers.module_sizes, connectivity), numbers.module_sizes, periods=periods
        ),
        key="connectivity_chart",
    )
    st.markdown(f"**Size and cost with {hidden} hidden units** ({inputs} inputs, one linear output)")
    st.dataframe(
        numbers.table,
        hide_index=True,
        column_config={
            "recurrent weights": st.column_config.NumberColumn(help="Hidden-to-hidden weights (an LSTM has four sets)"),
            "parameters": st.column_config.NumberColumn(
                help="All trainable parameters, counted as the paper does (one per CW-RNN period; LSTM with peepholes)"
            ),
            "multiply-adds per step": st.column_config.NumberColumn(
                format="%.1f",
                help="Recurrent multiply-adds per time step, averaged over time: a resting module costs nothing",
            ),
        },
    )


def train_this_design(d: dict, periods: list[int]) -> None:
    """Open the Playground with this design, ready to train."""
    if st.button(
        "Train this design",
        key="clock_train",
        type="primary",
        help="Open the Playground with these periods and connectivity, and a parameter budget that gives its "
        "CW-RNN these hidden units; with inputs, on the spoken words (Experiment 2), else on music",
    ):
        try:
            query = clock_view.playground_link(periods, d["hidden"], d["connectivity"], d["inputs"])
            st.switch_page("pages/playground.py", query_params=query)
        except StreamlitPageNotFoundError:
            st.warning("The Playground is reached from the whole app: start it with `streamlit run app.py`.")


def main() -> None:
    introduction()
    d = design()
    periods, numbers = size_and_cost(d)
    train_this_design(d, periods)
    charts(d, periods, numbers)


main()
