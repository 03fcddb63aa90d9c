"""Forward + backward time: CW-RNN against an SRN on the same code path and against torch.nn.RNN.

n in {64, 256, 1024}, 8 modules with periods 1..128, batch 32, 256 steps. Prints a markdown table with
the theoretical ratio (recurrent multiply-adds, cwrnn.clock.theoretical_speedup) beside the measured one. The three
models take turns, and each time is the minimum over the repeats: on a shared machine the fastest run
is the one least disturbed by other work (the ratio of medians is shown too). On the CPU, n <= 128 runs
on the compiled kernels (cwrnn/models/kernels.py) and wider networks on torch ops; the "path" column says.
    python benchmarks/forward_backward.py [--device cuda] [--sizes 64 256 1024] [--threads 1] [--json PATH]
"""

import argparse
import datetime
import statistics

import torch
from common import interleaved, machine, update_json

from cwrnn import SRN, ClockworkRNN
from cwrnn.clock import split_units, theoretical_speedup
from cwrnn.models import kernels


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the project's machine shares 2 cores)")
    p.add_argument("--json", help="merge the results into this JSON file (key 'forward_backward')")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dev, g = a.device, 8
    periods = [2**i for i in range(g)]
    print(
        f"Forward + backward, batch {a.batch}, {a.steps} steps, input 1, {g} modules; {machine(dev)}; "
        f"{datetime.date.today()}\n"
    )
    print(
        "| n | path | CW-RNN (ms) | SRN same path (ms) | torch.nn.RNN (ms) | SRN / CW-RNN measured | (medians) "
        "| theory | nn.RNN / CW-RNN |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for n in a.sizes:
        x = torch.randn(a.batch, a.steps, 1, device=dev)
        cw = ClockworkRNN(1, n, num_modules=g, periods=periods).to(dev)
        srn = SRN(1, n).to(dev)
        ref = torch.nn.RNN(1, n, batch_first=True).to(dev)

        def step(model):
            return lambda: model(x)[0].sum().backward()

        times = interleaved({"cw": step(cw), "srn": step(srn), "ref": step(ref)}, repeats=a.repeats, device=dev)
        t_cw, t_srn, t_ref = (min(times[k]) for k in ("cw", "srn", "ref"))
        medians = statistics.median(times["srn"]) / statistics.median(times["cw"])
        theory = theoretical_speedup(split_units(n, g), periods)
        path = "kernels" if kernels.usable(cw.W_H, n) else "torch ops"
        print(
            f"| {n} | {path} | {t_cw * 1e3:.1f} | {t_srn * 1e3:.1f} | {t_ref * 1e3:.1f} | {t_srn / t_cw:.2f}x | "
            f"{medians:.2f}x | {theory:.2f}x | {t_ref / t_cw:.2f}x |",
            flush=True,
        )
        rows.append(
            dict(
                n=n,
                path=path,
                cwrnn_ms=t_cw * 1e3,
                srn_ms=t_srn * 1e3,
                torch_rnn_ms=t_ref * 1e3,
                speedup=t_srn / t_cw,
                speedup_medians=medians,
                theory=theory,
            )
        )
    if a.json:
        setting = dict(device=dev, threads=a.threads, batch=a.batch, steps=a.steps, modules=g, periods=periods)
        update_json(a.json, "forward_backward", {**setting, "sizes": rows}, device=dev)


if __name__ == "__main__":
    main()
