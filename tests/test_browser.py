"""The app in a real browser: Debian's chromium driven by Playwright against `streamlit run app.py`.

Run with `pytest -m browser`; skipped when chromium or Playwright is missing. A screenshot of the
Playground while it trains is saved in test-artifacts/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_server import free_port, serve, stop
from handwriting_runs import stored_run

from cwrnn.app import handwriting_view
from cwrnn.runs.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"),
    pytest.mark.skipif(
        sync_playwright is None, reason="Playwright for Python is not installed (pip install playwright)"
    ),
]


def start_app(home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free port with its own run store; returns once it answers /_stcore/health."""
    port = free_port()
    return serve(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        port,
        cwd=ROOT,
        env={**os.environ, "CWRNN_HOME": str(home)},
        log=log,
    )


#: Two tiny finished runs the lab starts with, trained in this process before the app starts (so its
#: workers cannot claim them first): runs 1 and 2, Experiment 1 at budgets 100 and 120.
FINISHED_BUDGETS = (100, 120)


@pytest.fixture(scope="module")
def app_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cwrnn-home")


@pytest.fixture(scope="module")
def app_url(app_home):
    from cwrnn.config import RunConfig
    from cwrnn.runs.store import RunStore
    from cwrnn.runs.worker import execute

    home = app_home
    store = RunStore(home)
    for budget in FINISHED_BUDGETS:
        run_id = store.create_run("generation", RunConfig(epochs=3, budget=budget, clips=[0]).to_dict(), [0])
        store.claim_next(1)
        execute(run_id, str(home))
    process, url = start_app(home, home / "streamlit.log")
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture
def page(app_url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 2000})
        finally:
            browser.close()


def trace_points(page, key: str) -> list[int] | None:
    """Points per trace of the Plotly chart with the element key `key`, as the browser holds them."""
    return page.evaluate(
        """key => {
        const plot = document.querySelector(`.st-key-${key} .js-plotly-plot`);
        // _fullData: the traces as drawn, with binary-encoded arrays decoded
        return plot && plot._fullData ? plot._fullData.map(t => (t.x && t.x.length) || 0) : null;
    }""",
        key,
    )


def wait_until(page, condition, timeout: float, what: str, poll_ms: int = 250):
    """Poll `condition` while the browser keeps running (Playwright handles its events only in its own calls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(poll_ms)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_train_from_the_playground_watch_it_live_and_find_it_on_runs(app_url, page):
    # A small configuration from the link, then a period slider moved by hand.
    page.goto(f"{app_url}/?budget=100&seeds=1&epochs=4000")  # long enough to watch: the kernels train 400 in 2 s
    train = page.locator(".st-key-train button").first  # by key: Streamlit's own status bar has buttons too
    train.wait_for(timeout=30_000)
    page.get_by_text("Periods, one per module").click()
    slowest = page.get_by_role("slider", name="Module 9")
    slowest.wait_for(state="visible", timeout=10_000)
    slowest.focus()
    page.keyboard.press("End")  # 256 -> 512
    wait_until(
        page, lambda: "periods=1%2C2%2C4%2C8%2C16%2C32%2C64%2C128%2C512" in page.url, 20, "the moved slider in the link"
    )

    train.click()
    wait_until(page, lambda: "run=" in page.url, 20, "the run id in the link")
    run_id = page.url.rsplit("run=", 1)[1].split("&")[0]

    # The loss chart grows at least twice while the run trains, without a reload.
    seen: list[int] = []

    def grew_twice() -> bool:
        points = trace_points(page, "loss_chart")
        total = sum(points or [])
        if total and (not seen or total > seen[-1]):
            seen.append(total)
        return len(seen) >= 3

    wait_until(page, grew_twice, 60, "the loss chart to update twice")
    assert seen == sorted(seen) and len(set(seen)) >= 3
    assert "heatmap" in page.evaluate(
        "() => document.querySelector('.st-key-activity_chart .js-plotly-plot')._fullData.map(t => t.type)"
    )
    assert page.locator("audio").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground-training.png"), full_page=True)

    page.get_by_role("link", name="Runs").click()

    def listed() -> bool:
        # The data grid keeps an accessible table of its cells; read every row's first cell in one go in
        # the page, because the grid re-renders rows while it loads (a row handle can go stale).
        return run_id in page.evaluate(
            "() => [...document.querySelectorAll('table tr')].map(r => r.querySelector('td')?.innerText.trim())"
        )

    wait_until(page, listed, 30, f"run {run_id} in the runs table")
    page.screenshot(path=str(ARTIFACTS / "runs.png"), full_page=True)


def page_text(page) -> str:
    return page.evaluate("() => document.body.innerText")


def line_colours(page, key: str) -> dict[str, str]:
    """Trace name -> line colour of a drawn Plotly chart's lines (the target and the seed bands left out)."""
    return page.evaluate(
        """key => {
        const plot = document.querySelector(`.st-key-${key} .js-plotly-plot`);
        const lines = plot ? plot._fullData.filter(t => t.showlegend !== false && t.name !== "target") : [];
        return Object.fromEntries(lines.map(t => [t.name, t.line.color]));
    }""",
        key,
    )


def test_what_a_first_time_user_tripped_over(app_url, page):
    """Issue 14 in a real browser: a huge run id, the file-name rule, a comparison's colours, a run's settings."""
    huge = "9" * 25
    page.goto(f"{app_url}/?run={huge}")
    wait_until(page, lambda: f"there is no run {huge} in this lab" in page_text(page), 30, "the no-such-run note")
    assert page.locator(".stException").count() == 0  # no traceback

    page.goto(f"{app_url}/?task=words&dataset=folder&folder=nowhere")
    error = page.locator(".stAlert", has_text="cannot be trained")
    error.wait_for(timeout=30_000)
    # rendered as written: the underscores are not eaten by Markdown italics
    assert "{label}_{speaker}_{take}.wav" in error.inner_text() and error.locator("em").count() == 0

    page.goto(f"{app_url}/runs?compare=1,2")
    wait_until(page, lambda: len(line_colours(page, "compare_waveform_chart")) == 2, 30, "the comparison's charts")
    loss, wave = line_colours(page, "compare_loss_chart"), line_colours(page, "compare_waveform_chart")
    assert set(loss) == set(wave) == {"run 1 · CW-RNN", "run 2 · CW-RNN"}
    assert loss == wave and len(set(loss.values())) == 2  # one colour per run, the same in every chart

    page.goto(f"{app_url}/runs?run=1")

    def settings() -> list[str]:
        return page.evaluate("() => [...document.querySelectorAll('table td')].map(c => c.innerText.trim())")

    wait_until(page, lambda: "0.0003 (LSTM x 0.1)" in settings(), 30, "the run's settings table")
    cells = settings()
    assert cells[cells.index("learning rate") + 1] == "0.0003 (LSTM x 0.1)"
    assert cells[cells.index("momentum") + 1] == "0.95" and cells[cells.index("parameter budget") + 1] == "100"


def test_a_handwriting_run_draws_its_line_as_ink_with_each_reading(app_home, app_url, page):
    data = handwriting_view.load_data()
    line = data.val[0]
    run_id = stored_run(RunStore(app_home), line, data.alphabet, epochs=2)
    page.goto(f"{app_url}/?run={run_id}")

    def ink():
        return page.evaluate(
            """() => {
            const plot = document.querySelector('.st-key-ink_chart .js-plotly-plot');
            return plot && plot._fullData && plot._fullData.length
                ? {points: plot._fullData[0].x.length, notes: plot._fullLayout.annotations.map(a => a.text)}
                : null;
        }"""
        )

    drawn = wait_until(page, ink, 60, "the ink chart")
    strokes = int(line.pen_up[:-1].sum()) + 1
    assert drawn["points"] == len(line.ink) + strokes - 1  # one gap between strokes, no pen jumps drawn
    assert len(drawn["notes"]) == 4 and drawn["notes"][0].startswith("<b>written</b>")
    wait_until(
        page,
        lambda: page.locator(".st-key-activity_backward_chart .js-plotly-plot").count() == 1,
        30,
        "the backward layer's timeline",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground-handwriting.png"), full_page=True)
