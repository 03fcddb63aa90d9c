"""How live the Playground is: Train to first point on screen, server CPU per live update, and chart
building with 20,000 epochs of history. Prints a markdown table.

    python benchmarks/app_latency.py [--repeats 3] [--window 10] [--no-browser]

The browser parts start `streamlit run app.py` on a fresh run store and drive Debian's chromium with
Playwright, as tests/test_browser.py does.
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from cwrnn.app.run_figures import RunWatcher, run_figures  # noqa: E402
from cwrnn.runs.store import RunStore  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HISTORY_EPOCHS = 20_000
#: Small enough that a run's epochs keep coming for the whole measurement on a 2-core CPU.
LIVE_QUERY = "?budget=100&seeds=1&epochs=20000"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)


def loss_points(page) -> int:
    return page.evaluate("""() => {
        const plot = document.querySelector('.st-key-loss_chart .js-plotly-plot');
        return plot && plot._fullData ? plot._fullData.reduce((n, t) => n + ((t.x && t.x.length) || 0), 0) : 0;
    }""")


def run_in_link(page) -> str | None:
    return page.url.split("run=", 1)[1].split("&")[0] if "run=" in page.url else None


def watch_store(home: Path, stamps: dict, stop: threading.Event) -> None:
    """Record when the newest run is created, claimed by a worker, and has its first metrics."""
    store = RunStore(home)
    while not stop.is_set():
        runs = store.list_runs()
        if runs:
            run = runs[0]
            stamps.setdefault(run["id"], {"created": run["created_at"]})
            if run["started_at"]:
                stamps[run["id"]].setdefault("claimed", run["started_at"])
            if "first metrics" not in stamps[run["id"]] and store.last_epoch(run["id"]) >= 1:
                stamps[run["id"]]["first metrics"] = time.time()
        time.sleep(0.02)


def browser_rows(repeats: int, window: float) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

    home = Path(tempfile.mkdtemp(prefix="cwrnn-bench-"))
    server, url = start_app(home, home / "streamlit.log")
    stamps: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_store, args=(home, stamps, stop), daemon=True)
    watcher.start()
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(url + "/" + LIVE_QUERY)
            train, stop_button = page.locator(".st-key-train button").first, page.locator(".st-key-stop button").first
            train.wait_for(timeout=60_000)
            latencies, clicks = [], []
            for attempt in range(repeats + 1):  # the first one warms the app up and is not counted
                before = run_in_link(page)
                clicked = time.time()
                train.click()
                while (run_id := run_in_link(page)) in (before, None):
                    page.wait_for_timeout(20)
                # The new run's status line with its empty loss chart (until then the last run's chart is
                # still on screen), then the first point on it.
                while not (page.get_by_text(f"Run {run_id}:").count() and loss_points(page) == 0):
                    page.wait_for_timeout(20)
                while not loss_points(page):
                    page.wait_for_timeout(20)
                if attempt:
                    latencies.append(time.time() - clicked)
                    clicks.append(clicked)
                if attempt == repeats:
                    break
                stop_button.click()
                while not train.is_enabled():
                    page.wait_for_timeout(100)
            # CPU of the server while it redraws the last run's charts once a second
            page.wait_for_timeout(2000)
            before, started = cpu_seconds(server.pid), time.monotonic()
            page.wait_for_timeout(window * 1000)
            used, elapsed = cpu_seconds(server.pid) - before, time.monotonic() - started
            stop_button.click()
            browser.close()
    finally:
        stop.set()
        stop_app(server)
    runs = sorted(stamps)[-repeats:]
    phase = {
        name: [
            stamps[r][name] - (stamps[r]["created"] if name != "created" else c)
            for r, c in zip(runs, clicks)
            if name in stamps[r]
        ]
        for name in ("created", "claimed", "first metrics")
    }
    rows.append(
        (
            f"Train → first loss point on screen (warm app), median [min–max] of {repeats}",
            f"{statistics.median(latencies):.2f} s [{min(latencies):.2f}–{max(latencies):.2f}]",
        )
    )
    rows.append(("  of which: click → run queued (page rerun)", _median(phase["created"])))
    rows.append(("  queued → claimed by a worker", _median(phase["claimed"])))
    rows.append(("  queued → first epoch in the store (worker start, data, epoch 1)", _median(phase["first metrics"])))
    updates = elapsed / 1.0  # the live fragment reruns once a second
    rows.append(
        (
            f"Server CPU per live update (1 s timer, {window:.0f} s window)",
            f"{1000 * used / updates:.0f} ms ({100 * used / elapsed:.0f}% of one core)",
        )
    )
    return rows


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s" if values else "n/a"


def history_rows() -> list[tuple[str, str]]:
    """A run with 20,000 epochs of metrics (3 models, 2 seeds, mse and nmse) and one snapshot."""
    home = Path(tempfile.mkdtemp(prefix="cwrnn-bench-history-"))
    store = RunStore(home)
    run_id = store.create_run("generation", {"baselines": ["srn", "lstm"]}, [0, 1])
    rng = np.random.default_rng(0)
    rows = [
        (arch, seed, epoch, name, float(v))
        for epoch in range(1, HISTORY_EPOCHS + 1)
        for arch in ("cwrnn", "srn", "lstm")
        for seed in (0, 1)
        for name, v in (("mse", rng.uniform()), ("nmse", rng.uniform(0.01, 1) / epoch**0.3))
    ]
    store.add_metrics(run_id, rows)
    steps, sizes, periods = 320, [3, 2, 2, 2, 2, 2, 2, 2, 2], [2**i for i in range(9)]
    t = np.arange(steps)
    store.add_snapshot(
        run_id,
        HISTORY_EPOCHS,
        {
            "target": np.sin(t / 5),
            "hidden/cwrnn": rng.uniform(-1, 1, (steps, 19)),
            "weights/cwrnn": rng.normal(size=(19, 19)),
            "active": t[None, :] % np.array(periods)[:, None] == 0,
            **{f"output/{a}": np.sin(t / 5) * 0.5 for a in ("cwrnn", "srn", "lstm")},
        },
        {"epoch": HISTORY_EPOCHS, "archs": ["cwrnn", "srn", "lstm"], "periods": periods, "module_sizes": sizes},
    )

    def timed(fn, repeats=3):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times), result

    cold, figures = timed(lambda: run_figures(store, run_id))
    watcher = RunWatcher(store, run_id)
    watcher.refresh()
    watcher.figures()
    epoch = [HISTORY_EPOCHS]

    def one_more_epoch():
        epoch[0] += 1
        store.add_metrics(run_id, [(a, s, epoch[0], "nmse", 0.01) for a in ("cwrnn", "srn", "lstm") for s in (0, 1)])
        start = time.perf_counter()
        watcher.refresh()
        watcher.figures()
        return time.perf_counter() - start

    incremental = statistics.median(one_more_epoch() for _ in range(5))
    idle, _ = timed(lambda: (watcher.refresh(), watcher.figures()))
    loss_json = len(figures["loss"].to_json())
    all_json = sum(len(f.to_json()) for f in figures.values())
    points = max(len(tr.x) for tr in figures["loss"].data)
    return [
        (f"Charts from the store, {HISTORY_EPOCHS:,} epochs × 3 models × 2 seeds (read + build)", f"{cold:.2f} s"),
        (
            "  live redraw after one new epoch (read the new rows, rebuild the loss chart)",
            f"{1000 * incremental:.0f} ms",
        ),
        ("  live redraw with nothing new (figures reused)", f"{1000 * idle:.0f} ms"),
        ("  loss chart: points per line after downsampling / JSON sent", f"{points} / {loss_json / 1e3:.0f} kB"),
        ("  all four charts: JSON sent per redraw", f"{all_json / 1e3:.0f} kB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed Train presses (after one warm-up)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds of live updates to measure CPU over")
    parser.add_argument("--no-browser", action="store_true", help="only the chart-building measurements")
    args = parser.parse_args()
    rows = history_rows()
    if not args.no_browser:
        rows = browser_rows(args.repeats, args.window) + rows
    cores = len(os.sched_getaffinity(0))
    print(f"Playground latency; {cores} CPU cores, load average {os.getloadavg()[0]:.1f}; {datetime.date.today()}\n")
    print("| measurement | result |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
