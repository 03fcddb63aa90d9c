"""What streaming a run into the store costs: training time with and without the store callback, and
the latency from a metric being produced to it being readable by another connection.
    python benchmarks/store_overhead.py [--epochs 300]
"""

import argparse
import datetime
import statistics
import tempfile
import threading
import time

from common import machine

from cwrnn.config import validate
from cwrnn.experiment import build_specs, build_task, train_config
from cwrnn.runs.store import RunStore
from cwrnn.runs.worker import StoreCallback
from cwrnn.train import train


class Stamped(StoreCallback):
    """Records when each epoch's metrics were produced."""

    def __init__(self, *args):
        super().__init__(*args)
        self.produced = {}

    def on_epoch(self, epoch, metrics, elapsed):
        self.produced[epoch] = time.perf_counter()
        super().on_epoch(epoch, metrics, elapsed)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    cfg = validate({"clips": [0], "budget": 250, "epochs": a.epochs, "seeds": 4, "snapshot_every": 25})
    task = build_task(cfg)
    specs = build_specs(cfg, task.input_size, task.output_size)
    bare, streamed, latencies = [], [], []

    def timed_training(streaming: bool) -> float:
        callbacks = []
        if streaming:
            store = RunStore(tempfile.mkdtemp())
            callbacks = [StoreCallback(store, store.create_run(cfg.task, cfg.to_dict(), cfg.seed_list))]
        start = time.perf_counter()
        train(task, specs, cfg.seed_list, train_config(cfg), callbacks)
        return time.perf_counter() - start

    for repeat in range(a.repeats):
        for streaming in (False, True) if repeat % 2 == 0 else (True, False):  # neither always goes first
            (streamed if streaming else bare).append(timed_training(streaming))

        # Latency, measured separately: the polling reader shares this process (and its GIL).
        store = RunStore(tempfile.mkdtemp())
        run_id = store.create_run(cfg.task, cfg.to_dict(), cfg.seed_list)
        callback, seen, done = Stamped(store, run_id), {}, threading.Event()

        def watch():
            reader = RunStore(store.home)
            while not done.is_set():
                last = reader.last_epoch(run_id)
                now = time.perf_counter()
                for e in range(max(seen, default=0) + 1, last + 1):
                    seen[e] = now
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        train(task, specs, cfg.seed_list, train_config(cfg), [callback])
        time.sleep(0.1)
        done.set()
        watcher.join()
        latencies += [seen[e] - callback.produced[e] for e in seen if e in callback.produced]
    b, s = statistics.median(bare), statistics.median(streamed)
    lat = sorted(latencies)
    print(
        f"Store overhead, {a.epochs} epochs x 3 models x 4 seeds, snapshots every 25 epochs; {machine('cpu')}; "
        f"{datetime.date.today()}\n"
    )
    print("| bare loop (s) | with store (s) | overhead | metric -> readable: median | 95th percentile | max |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {b:.2f} | {s:.2f} | {100 * (s / b - 1):+.1f}% | {1e3 * statistics.median(lat):.0f} ms | "
        f"{1e3 * lat[int(0.95 * (len(lat) - 1))]:.0f} ms | {1e3 * lat[-1]:.0f} ms |"
    )


if __name__ == "__main__":
    main()
