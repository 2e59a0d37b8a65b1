"""Command line: python run_bench.py --help"""
from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
from pathlib import Path

from bench.approach import DEFAULT_BUDGET, QUICK_BUDGET

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv):
    p = argparse.ArgumentParser(prog="run_bench.py", description="Benchmark approaches that sum the handwritten "
                                "digits in an image, on the same splits, in one table.")
    p.add_argument("--approaches", default="all", help="all, or a comma-separated list of names (see --list)")
    p.add_argument("--list", action="store_true", help="list the approaches and whether their requirements are met")
    p.add_argument("--quick", action="store_true", help="small data and short budgets: every approach end to end "
                   "in a few minutes")
    p.add_argument("--budget", type=float, default=None,
                   help=f"training seconds for every approach (default: each approach's own default_budget, else "
                   f"{DEFAULT_BUDGET:g}; {QUICK_BUDGET:g} with --quick)")
    p.add_argument("--data", help="a folder in the original format (data0.npy, lab0.npy, ...), split 80/10/10")
    p.add_argument("--test-data", help="evaluate on this folder (original format) instead of the test split")
    p.add_argument("--digits", default="4", help="digits per composed image: a number or a range such as 1-5")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "results"), help="results folder (default results/)")
    p.add_argument("--retrain", action="store_true", help="ignore cached checkpoints and train again")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before an approach is stopped and failed (default: 2 x its budget + 600)")
    p.add_argument("--memory-limit", type=float, default=None, help="MiB of address space per approach process")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    p.add_argument("--latency-calls", type=int, default=None,
                   help="single-image calls timed per approach (default 200, 30 with --quick)")
    p.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run: run only its missing approaches")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="accuracy and latency deltas between two runs (run folders or run ids under --out)")
    p.add_argument("--predict", nargs="+", metavar=("APPROACH", "FILE"),
                   help="the sum in each image file (PNG, JPEG, npy) with APPROACH's cached trained model "
                   "(the one a run with the same data options and budget trained)")
    return p.parse_args(argv)


def _console():
    from rich.console import Console
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 220))   # logs and CI: no wrapping
    return console


def list_approaches(console) -> int:
    from bench.discovery import discover
    registry, broken = discover()
    from rich.table import Table
    table = Table(title="approaches")
    for col in ("name", "summary", "requirements"):
        table.add_column(col, overflow="fold")
    for name, entry in sorted(registry.items()):
        try:
            unmet = [str(r) for r in entry.create().requirements() if not r.ok]
            status = "[red]missing: " + "; ".join(unmet) + "[/red]" if unmet else "[green]met[/green]"
        except Exception as e:  # noqa: BLE001 - a broken constructor is reported, not raised
            status = f"[red]constructor failed: {type(e).__name__}: {e}[/red]"
        table.add_row(name, entry.summary, status)
    for b in broken:
        table.add_row(b.name, f"[red]failed to load: {b.error}[/red]", "")
    console.print(table)
    return 0


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    console = _console()
    from bench.compare import CompareError
    from bench.data import DataError
    from bench.predict import PredictError
    try:
        if args.list:
            return list_approaches(console)
        if args.compare:
            from bench.compare import compare
            return compare(args.compare[0], args.compare[1], Path(args.out), console)
        if args.predict:
            return predict(args, console)
        return run(args, console)
    except DataError as e:
        console.print(f"[red]error:[/red] {e}", soft_wrap=True)
        return 2
    except (UsageError, CompareError, PredictError) as e:
        console.print(f"[red]error:[/red] {e}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished rows are kept; finish with --resume RUN_ID[/yellow]")
        return 130


class UsageError(Exception):
    pass


def predict(args, console) -> int:
    from bench.data import data_spec, load_dataset
    from bench.predict import PredictError, predict_files
    from bench.runner import pick_device
    from bench.util import tune_cpu
    if len(args.predict) < 2:
        raise PredictError("--predict needs an approach and at least one image file")
    tune_cpu(args.threads)
    dataset = load_dataset(data_spec(args.data, None, args.digits, args.seed, args.quick))
    return predict_files(args.predict[0], args.predict[1:], dataset, args.budget, args.quick,
                         pick_device(args.device), console)


def run(args, console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bench import report
    from bench.data import data_spec, load_dataset
    from bench.discovery import discover
    from bench.runner import Runner, failed_row, load_json, pick_device, run_metadata
    from bench.util import atomic_write_json, tune_cpu

    tune_cpu(args.threads)
    out = Path(args.out)
    if args.resume:
        run_dir = out / args.resume
        if not (run_dir / "results.json").exists():
            raise UsageError(f"no run {args.resume!r} under {out} (expected {run_dir / 'results.json'})")
        meta = load_json(run_dir / "results.json")["meta"]
        job_defaults, selected_names, timeout = meta["job"], meta["selected"], meta["timeout"]
        spec = job_defaults["data"]
    else:
        spec = data_spec(args.data, args.test_data, args.digits, args.seed, args.quick)
        job_defaults = {"data": spec, "seed": args.seed, "threads": args.threads, "device": pick_device(args.device),
                        "budget": args.budget, "quick": args.quick, "retrain": args.retrain,
                        "latency_calls": args.latency_calls or (30 if args.quick else 200),
                        "memory_limit_mb": args.memory_limit}
        timeout = args.timeout
        selected_names = None

    registry, broken = discover()
    broken_by_name = {b.name: b for b in broken}
    known = sorted(set(registry) | set(broken_by_name))
    if selected_names is None:
        if args.approaches.strip() == "all":
            selected_names = known
        else:
            selected_names = [n.strip() for n in args.approaches.split(",") if n.strip()]
            unknown = [n for n in selected_names if n not in known]
            if unknown:
                raise UsageError(f"unknown approach {', '.join(unknown)}; known: {', '.join(known)}")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=console, transient=True) as progress:
        task = progress.add_task("loading data", total=None, info="")

        def data_progress(desc, done, total):
            progress.update(task, description=desc, completed=done, total=total)
        dataset = load_dataset(spec, progress=data_progress)
        progress.remove_task(task)

    if not args.resume:
        run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{os.getpid() % 10000:04d}"
        run_dir = out / run_id
        command = "python run_bench.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if sys.argv else []))
        meta = run_metadata(command, dataset, job_defaults, run_id)
        meta.update(job=job_defaults, selected=selected_names, timeout=timeout)
    runner = Runner(run_dir, job_defaults, dataset, console, timeout)
    budget_text = "per approach" if job_defaults["budget"] is None and not job_defaults["quick"] else \
        f"{job_defaults['budget'] or QUICK_BUDGET:g} s each"
    console.print(f"run {meta['run_id']}: {len(selected_names)} approaches on {dataset.source} data "
                  f"({len(dataset.train)}/{len(dataset.val)}/{len(dataset.test)}), training budget {budget_text}, "
                  f"device {job_defaults['device']}, results in {run_dir}")

    rows, predictions = {}, {}
    for name in selected_names:                     # rows already finished (a resumed run) are kept
        if runner.row_path(name).exists():
            saved = load_json(runner.row_path(name))
            predictions[name] = saved.pop("predictions", {}).get("test_pred")
            saved.pop("history", None)
            rows[name] = saved

    def save():
        report.add_comparisons(list(rows.values()), predictions, dataset.test.sums)
        report.write_results(run_dir, meta, list(rows.values()))

    save()                                          # the run exists (and can be resumed) from the start
    if not (run_dir / "test_sums.json").exists():   # lets --compare pair two runs' per-image outcomes
        atomic_write_json(run_dir / "test_sums.json", [int(v) for v in dataset.test.sums])
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=console, transient=True) as progress:
        overall = progress.add_task("approaches", total=len(selected_names), completed=len(rows), info="")
        for name in selected_names:
            if name in rows:
                continue
            if name in broken_by_name:
                rows[name] = failed_row(name, "", f"plugin failed to import: {broken_by_name[name].error}")
            else:
                row = runner.run_one(registry[name], progress)
                rows[name] = row
                predictions[name] = load_json(runner.row_path(name))["predictions"].get("test_pred")
            line = report.fmt(rows[name], "accuracy", "pct") or rows[name].get("reason", "")[:120]
            progress.console.print(f"  {name}: {rows[name]['status']} {line}")
            save()
            progress.advance(overall)
    from bench.plots import write_report
    report.add_comparisons(list(rows.values()), predictions, dataset.test.sums)
    try:
        plots = write_report(run_dir, meta, list(rows.values()), dataset.test)
    except Exception as e:  # noqa: BLE001 - the table is written either way; a plot problem costs the plots
        console.print(f"[yellow]plots and report.html not drawn: {type(e).__name__}: {e}[/yellow]")
        plots = []
    report.write_results(run_dir, meta, list(rows.values()), plots=plots)
    console.print(report.console_table(list(rows.values()), f"digitsum-bench {meta['run_id']}"))
    console.print(f"results: {run_dir / 'results.md'} (also .json, .csv), {len(plots)} plots and "
                  f"{run_dir / 'report.html'}; latest: {out / 'latest'}")
    return 0
