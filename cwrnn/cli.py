"""Command line (`cwrnn` or `python -m cwrnn`): train one configuration, reproduce the paper's tables, list and
export stored runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import grid, paper
from .config import (
    BASELINES,
    INK_INPUTS,
    LIMITS,
    PRESETS,
    SHIPPED_UNIPEN,
    TUNED_DESIGNS,
    TUNED_PRESETS,
    ConfigError,
    RunConfig,
    tuned_settings,
    validate,
)
from .experiment import build_specs, build_task, train_config

TASK_PRESETS = {"generation": "paper-generation", "words": "paper-words", "handwriting": "paper-handwriting"}


def _config_args(p: argparse.ArgumentParser) -> None:
    d = RunConfig()
    p.add_argument(
        "--task", default=d.task, help="generation (Experiment 1), words (Experiment 2) or handwriting (Experiment 3)"
    )
    p.add_argument("--source", default=d.source, help="generation data: clips, tone or wav")
    p.add_argument("--clips", type=int, nargs="+", default=d.clips, help="which shipped clips (0-4)")
    p.add_argument("--wav", dest="wav_path", help="a WAV file for --source wav")
    p.add_argument("--wav-start", type=float, default=d.wav_start, help="start of the window, seconds")
    p.add_argument("--dataset", default=d.dataset, help="words data: synthetic, fsdd or folder")
    p.add_argument("--folder", help="a folder of {label}_{speaker}_{take}.wav files for --dataset folder")
    p.add_argument("--unipen", default=d.unipen, help="handwriting data: shipped, or a UNIPEN folder")
    p.add_argument("--ink-input", default=d.ink_input, help=f"handwriting input per point: {', '.join(INK_INPUTS)}")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="lines or words per mini-batch")
    p.add_argument("--periods", type=int, nargs="+", default=d.periods, help="CW-RNN clock periods, fastest first")
    p.add_argument("--module-sizes", type=int, nargs="+", help="units per module (default: equal split)")
    p.add_argument("--connectivity", default=d.connectivity, help="slow_to_fast (paper), fast_to_slow or full")
    p.add_argument(
        "--budget", type=int, help=f"parameter budget every model is matched to (default {d.budget}; handwriting 10000)"
    )
    p.add_argument("--baselines", nargs="*", default=d.baselines, help=f"any of {', '.join(BASELINES)}")
    p.add_argument("--preset", default=None, help=f"{', '.join(PRESETS)} (default: the task's paper preset)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, help="learning rate (default: the preset's)")
    p.add_argument("--momentum", type=float)
    p.add_argument("--clip-norm", type=float, help="clip each seed's gradient norm (default: the preset's)")
    p.add_argument("--seeds", type=int, default=d.seeds, help="how many seeds, trained as one batch")
    p.add_argument("--seed", type=int, default=d.seed, help="the first seed")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")


def _config_from(args) -> RunConfig:
    raw = {
        k: getattr(args, k)
        for k in (
            "task",
            "source",
            "clips",
            "wav_path",
            "wav_start",
            "dataset",
            "folder",
            "unipen",
            "ink_input",
            "batch_size",
            "periods",
            "module_sizes",
            "connectivity",
            "budget",
            "baselines",
            "epochs",
            "lr",
            "momentum",
            "clip_norm",
            "seeds",
            "seed",
            "device",
        )
    }
    raw["preset"] = args.preset or TASK_PRESETS.get(args.task, "paper-generation")
    if args.task == "words" and args.periods == RunConfig().periods:
        raw["periods"] = list(paper.WORDS_PERIODS)
    if args.task == "handwriting" and args.periods == RunConfig().periods:
        raw["periods"] = list(paper.HANDWRITING_PERIODS)
    if raw["budget"] is None:  # Experiment 3's readout alone (96 outputs from 2n units) outgrows small budgets
        raw["budget"] = paper.HANDWRITING_BUDGETS[0] if args.task == "handwriting" else RunConfig().budget
    return validate(raw)


def cmd_train(args) -> int:
    """`cwrnn train`: train one configuration here (or queue it with --background) and print its result."""
    cfg = _config_from(args)
    if args.background:
        return _train_background(cfg, args)
    from .progress import Progress
    from .train import train

    task = build_task(cfg)
    specs = build_specs(cfg, task.input_size, task.output_size)
    metric = {"generation": "nmse", "words": "test_error"}.get(cfg.task, "val_cer")
    result = train(task, specs, cfg.seed_list, train_config(cfg), [Progress(metric)])
    summary = {a: {k: grid.summarize(v) for k, v in m.items()} for a, m in result.final.items()}
    if args.json:
        print(
            json.dumps(
                {
                    "outcome": result.outcome,
                    "message": result.message,
                    "epochs": result.epochs,
                    "seconds": result.elapsed,
                    "device": result.device,
                    "final": summary,
                },
                indent=2,
            )
        )
    else:
        print(
            f"{result.outcome} after {result.epochs} epochs in {result.elapsed:.1f} s on {result.device}"
            + (f": {result.message}" if result.message else "")
        )
        for arch, m in summary.items():
            print(
                f"  {arch:<6} "
                + "  ".join(
                    f"{k} {v['mean']:.4g} ± {v['std']:.2g}" if v["mean"] is not None else f"{k} diverged"
                    for k, v in m.items()
                )
            )
    return 0 if result.outcome == "completed" else 1


def _train_background(cfg: RunConfig, args) -> int:
    """Queue the run in the store. With --wait this process trains it and reports how it ended;
    without, it waits in the queue for a running lab (the app) to pick it up."""
    from .runs.manager import WorkerManager
    from .runs.store import RunStore

    if not args.wait:
        run_id = RunStore(args.home).create_run(cfg.task, cfg.to_dict(), cfg.seed_list)
        print(
            json.dumps({"run_id": run_id, "status": "queued"})
            if args.json
            else f"queued run {run_id}; it trains when the lab is running (streamlit run app.py), "
            f"or queue it with --wait to train it now"
        )
        return 0
    manager = WorkerManager(args.home, standby=False)
    manager.start()
    run_id = manager.submit(cfg.task, cfg.to_dict(), cfg.seed_list)
    print(f"queued run {run_id}; training in a background worker", file=sys.stderr)
    manager.wait([run_id], timeout=None)
    manager.stop(timeout=5)
    run = manager.store.get_run(run_id)
    if args.json:
        print(
            json.dumps(
                {"run_id": run_id, "status": run["status"], "error": run["error"], "summary": run["summary"]}, indent=2
            )
        )
    else:
        print(f"run {run_id} {run['status']}" + (f": {run['error']}" if run["error"] else ""))
    return 0 if run["status"] == "completed" else 1


def cmd_reproduce(args) -> int:
    """`cwrnn reproduce`: train one of the paper's grids and print it beside the paper's numbers."""
    _check_writable(args.json)
    if args.seed_batch is not None and args.seed_batch < 1:
        raise SystemExit(f"error: --seed-batch must be at least 1, got {args.seed_batch}")
    if args.experiment == "generation":
        cells, table = _reproduce(
            args,
            {},
            metric="nmse",
            paper_table=paper.GENERATION_NMSE,
            paper_budgets=paper.GENERATION_BUDGETS,
            label="NMSE",
        )
    elif args.experiment == "handwriting":
        cells, table = reproduce_handwriting(args)
    else:
        cells, table = reproduce_words(args)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps([c.__dict__ for c in cells], indent=2))
    return 0


def _reproduce(
    args,
    settings: dict,
    *,
    metric: str,
    paper_table: dict,
    paper_budgets: tuple,
    label: str,
    scale=1.0,
    overrides: dict | None = None,
):
    """Train one of the paper's grids with `settings` (a RunConfig's task fields) and the user's `overrides`;
    the cells and their table. With --tuned each architecture trains at its tuned rates, on the input and
    clock they were tuned with (`config.tuned_settings`)."""
    task = settings.get("task", "generation")
    if args.tuned:
        if task not in TUNED_PRESETS:
            raise SystemExit(
                f"error: --tuned: {task} has not been swept yet; tuned presets exist for "
                f"{', '.join(TUNED_PRESETS)} (`cwrnn sweep` finds the rates)"
            )
        settings = {**settings, **tuned_settings(task)}
    settings = {**settings, **(overrides or {})}
    base = validate(
        {
            **settings,
            "epochs": args.epochs,
            "seeds": args.runs,
            "snapshot_every": LIMITS["snapshot_every"],
            "device": args.device,
        }
    )
    cells = grid.run_grid(
        base,
        args.sizes or list(paper_budgets),
        args.archs,
        metric=metric,
        workers=args.workers,
        ray=args.ray,
        seed_batch=args.seed_batch,
        paper_table=paper_table,
        paper_budgets=paper_budgets,
    )
    return cells, grid.format_table(cells, label, scale=scale)


def reproduce_words(args) -> tuple[list[grid.Cell], str]:
    """The paper's Experiment 2 grid (test error per budget and architecture) and its table in percent."""
    settings = {
        "task": "words",
        "dataset": args.dataset,
        "folder": args.folder,
        "periods": list(paper.WORDS_PERIODS),
        "preset": "paper-words",
    }
    # The paper's TIMIT errors sit beside the shipped set, which copies its words and 5/2 speaker split;
    # beside FSDD's digits or another folder they would compare different problems.
    reference = paper.WORDS_ERROR if args.dataset == "synthetic" else {}
    return _reproduce(
        args,
        settings,
        metric="test_error",
        paper_table=reference,
        paper_budgets=paper.WORDS_BUDGETS,
        label="test error %",
        scale=100,
    )


def reproduce_handwriting(args) -> tuple[list[grid.Cell], str]:
    """The paper's Experiment 3 grid (held-out-writer CER per budget and architecture) in percent. The
    paper's numbers are on IAM-OnDB, shown beside ours on UNIPEN as the nearest published reference."""
    settings = {
        "task": "handwriting",
        "unipen": args.unipen,
        "ink_input": "paper",
        "periods": list(paper.HANDWRITING_PERIODS),
        "preset": "paper-handwriting",
    }
    return _reproduce(
        args,
        settings,
        overrides={"ink_input": args.ink_input} if args.ink_input else None,
        metric="test_cer",
        paper_table=paper.HANDWRITING_CER,
        paper_budgets=paper.HANDWRITING_BUDGETS,
        label="test CER %",
        scale=100,
    )


def cmd_sweep(args) -> int:
    """`cwrnn sweep`: a learning-rate sweep stored as one run; trained here (or queued with --background),
    its table printed."""
    from .runs.store import RunStore
    from .sweep import SWEEP_TASKS, execute_sweep, format_sweep, sweep_request

    if args.background and (args.ray or args.json):
        raise SystemExit(
            "error: --ray and --json apply to a sweep trained here; with --background the lab trains it (on "
            "the cluster in CWRNN_RAY_ADDRESS, if set) and its table is stored in the run"
        )
    _check_writable(args.json)
    raw = sweep_request(args.task, args.budget, args.archs, args.lr, args.seeds, args.momentum, args.epochs)
    if args.ray:  # a wrong address fails here, before a run is stored
        from .grid_ray import check_address

        check_address(args.ray)
    store = RunStore(args.home)
    if args.background:
        run_id = store.create_run(SWEEP_TASKS[args.task], raw, list(range(args.seeds)))
        print(f"queued sweep run {run_id}; it trains when the lab is running (streamlit run app.py)")
        return 0
    run_id = store.create_run(SWEEP_TASKS[args.task], raw, list(range(args.seeds)), worker_pid=os.getpid())
    where = f"on the Ray cluster at {args.ray}" if args.ray else "in parallel processes"
    print(f"sweep run {run_id}: training {', '.join(args.archs)} {where}", file=sys.stderr)
    try:
        execute_sweep(run_id, store.home, workers=args.workers, ray=args.ray)
    except BaseException as e:  # the stored run must not stay "running" (Ctrl-C included)
        store.set_status(run_id, "failed", error=str(e) or type(e).__name__, if_status="running")
        raise
    run = store.get_run(run_id)
    rows = run["summary"]["rows"]
    if not rows:
        print(f"run {run_id} {run['status']}: no architecture finished")
        return 1
    scale = 100 if args.task == "words" else 1
    label = rows[0]["metric"] + (" %" if scale != 1 else "")
    for arch in args.archs:
        print(f"\n{paper.arch_label(arch)}\n" + format_sweep([r for r in rows if r["arch"] == arch], label, scale))
    print(f"\nrun {run_id} {run['status']}; * marks each architecture's best rate")
    if args.json:
        Path(args.json).write_text(json.dumps({"run_id": run_id, **run["summary"]}, indent=2))
    return 0 if run["status"] == "completed" else 1


def cmd_runs(args) -> int:
    """`cwrnn runs`: list, show, export or delete the runs of a store."""
    from .runs.store import DB_FILENAME, RunStore, default_home

    home = Path(args.home).expanduser() if args.home else default_home()
    if not (home / DB_FILENAME).exists():  # reading must not create an empty store at a mistyped path
        raise SystemExit(f"error: there is no run store at {home} (use --home or set CWRNN_HOME)")
    store = RunStore(home)
    if args.action == "list":
        runs = store.list_runs()
        if args.json:
            print(json.dumps(runs, indent=2, default=str))
        for r in [] if args.json else runs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"]))
            budget = r["config"].get("budget") or ",".join(map(str, r["config"].get("budgets", []))) or "?"
            print(f"{r['id']:>5}  {r['status']:<11} {r['task']:<15} budget {budget:<7} {when}")
        return 0
    if args.id is None:
        raise SystemExit(f"runs {args.action} needs a run ID")
    if args.action == "show":
        run = store.get_run(args.id)
        print(json.dumps(run, indent=2, default=str))
    elif args.action == "export":
        if not args.dir:
            raise SystemExit("runs export needs a destination folder: runs export ID DIR")
        path = store.export_run(args.id, args.dir)
        print(json.dumps({"exported": str(path)}) if args.json else f"exported run {args.id} to {path}")
    elif args.action == "delete":
        store.delete_run(args.id)
        print(json.dumps({"deleted": args.id}) if args.json else f"deleted run {args.id}")
    return 0


def _cell_args(p: argparse.ArgumentParser) -> None:
    """What every command that trains independent cells (grid.run_cells) takes."""
    p.add_argument(
        "--epochs", type=int, default=2000, help="epochs (words, handwriting: the cap; early stopping decides)"
    )
    p.add_argument("--workers", type=int, help="parallel processes (default: one per core)")


def _check_writable(path: str | None) -> None:
    """Fail now on a --json file that cannot be written, not after the training."""
    if path:
        try:
            Path(path).open("a").close()
        except OSError as e:
            raise SystemExit(f"error: cannot write --json file {path}: {e.strerror}")


def main(argv=None) -> int:
    """Parse the command line and run its command; returns the exit status (2: bad input, said why)."""
    parser = argparse.ArgumentParser(prog="cwrnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one configuration and print its result")
    _config_args(t)
    t.add_argument("--background", action="store_true", help="queue it for the background workers instead")
    t.add_argument("--wait", action="store_true", help="with --background: wait until it finishes")
    t.add_argument("--home", help="run store folder (default: $CWRNN_HOME)")
    t.add_argument("--json", action="store_true", help="machine-readable output")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("reproduce", help="reproduce one of the paper's tables")
    r.add_argument("experiment", choices=["generation", "words", "handwriting"])
    r.add_argument("--sizes", type=int, nargs="+", help="parameter budgets (default: the paper's)")
    r.add_argument("--runs", type=int, help="seeds per cell (default 10, handwriting 3; the paper: 100)")
    _cell_args(r)
    r.add_argument("--dataset", default="synthetic", help="words: synthetic or fsdd or folder")
    r.add_argument("--folder", help="words: a folder of {label}_{speaker}_{take}.wav files")
    r.add_argument("--unipen", default=SHIPPED_UNIPEN, help="handwriting: shipped, or a UNIPEN folder")
    r.add_argument(
        "--ink-input",
        help=f"handwriting input per point: {', '.join(INK_INPUTS)} (default: "
        f"{TUNED_DESIGNS['handwriting']['ink_input']} with --tuned, else paper)",
    )
    r.add_argument(
        "--archs",
        nargs="+",
        choices=["cwrnn", *BASELINES],
        default=list(paper.ARCHS),
        help="which architectures to train (default: the paper's cwrnn lstm srn; gru is ours)",
    )
    r.add_argument("--device", choices=["cpu", "cuda"])
    r.add_argument("--ray", metavar="auto|HOST:PORT", help="train the cells on this Ray cluster")
    r.add_argument(
        "--seed-batch",
        type=int,
        help="train each cell's seeds in batches of at most this many (default: all at once; on Ray, enough "
        "batches to give every CPU one)",
    )
    r.add_argument("--json", help="also write the results to this JSON file")
    r.add_argument(
        "--tuned",
        action="store_true",
        help="each architecture at its best swept rate and clipping (tuned at 1000 parameters for generation, "
        "10k for words), not the paper's; handwriting: the tuned-handwriting preset on the "
        f"{TUNED_DESIGNS['handwriting']['ink_input']} input, the CW-RNN with periods "
        f"{' '.join(map(str, TUNED_DESIGNS['handwriting']['periods']))}",
    )
    r.set_defaults(func=cmd_reproduce)

    w = sub.add_parser("sweep", help="sweep the learning rate of each architecture, stored as one run")
    w.add_argument("--task", default="generation", choices=["generation", "words"])
    w.add_argument("--budget", type=int, default=1000, help="parameter budget every model is matched to")
    w.add_argument("--archs", nargs="+", default=list(paper.ARCHS), help=f"any of cwrnn, {', '.join(BASELINES)}")
    w.add_argument(
        "--lr", type=float, nargs="+", default=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2], help="the rates to try"
    )
    w.add_argument("--momentum", type=float, nargs="+", help="momenta to try at every rate (default: the preset's)")
    w.add_argument("--seeds", type=int, default=5, help="seeds per rate (Experiment 1: each x 5 clips)")
    _cell_args(w)
    w.add_argument("--background", action="store_true", help="queue it for the lab's background workers instead")
    w.add_argument("--ray", metavar="auto|HOST:PORT", help="train the architectures on this Ray cluster")
    w.add_argument("--home", help="run store folder (default: $CWRNN_HOME)")
    w.add_argument("--json", help="also write the table's rows to this JSON file")
    w.set_defaults(func=cmd_sweep)

    s = sub.add_parser("runs", help="list, show, export or delete stored runs")
    s.add_argument("action", choices=["list", "show", "export", "delete"])
    s.add_argument("id", type=int, nargs="?")
    s.add_argument("dir", nargs="?", help="destination folder for export")
    s.add_argument("--home", help="run store folder (default: $CWRNN_HOME)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_runs)

    args = parser.parse_args(argv)
    if args.command == "reproduce" and args.runs is None:
        args.runs = 3 if args.experiment == "handwriting" else 10
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ValueError, LookupError, RuntimeError) as e:  # store and data errors carry clear messages
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
        return 2
