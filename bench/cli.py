"""Command line: digitsum-bench --help (or python run_bench.py --help)"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import shlex
import sys
from pathlib import Path

from bench.approach import DEFAULT_EPOCHS, QUICK_EPOCHS

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv):
    p = argparse.ArgumentParser(prog="digitsum-bench", description="Benchmark approaches that sum the handwritten "
                                "digits in an image, on the same splits, in one table.")
    p.add_argument("--approaches", default="all", help="all, report (the rows of a publication an approach reproduces: "
                   "the original report's), or a comma-separated list of names (see --list)")
    p.add_argument("--list", action="store_true", help="list the approaches and whether their requirements are met")
    p.add_argument("--columns", default=None, metavar="A,B,C",
                   help="the console table's columns (keys of results.csv, or sum_acc); default: the summary, "
                   "more in a wide terminal")
    p.add_argument("--plugins", action="append", default=[], metavar="DIR",
                   help="also load the plugin files (*.py) of this folder; may be given more than once")
    p.add_argument("--quick", action="store_true", help=f"small data and at most {QUICK_EPOCHS} training epochs: "
                   "every approach end to end in a few minutes")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="equal-time mode: every approach trains for this many seconds (what it reaches then depends "
                   "on the machine). Default: each approach's own work, in epochs "
                   f"({DEFAULT_EPOCHS} if it states none)")
    p.add_argument("--work", choices=["default", "report"], default="default",
                   help="training work: each approach's own epochs (default), or, for an approach that reproduces a "
                   "publication, that publication's protocol (e.g. until validation accuracy stalls), with every "
                   "train image predicted for the pooled train+val+test figure")
    p.add_argument("--seeds", default=None, metavar="LIST",
                   help="training seeds, e.g. 0,1,2 or 0-4: each approach is trained and evaluated once per seed on "
                   "the same data; the table gives mean ± sd (default: 0)")
    p.add_argument("--data", help="a folder in the original format (data0.npy, lab0.npy, ...), split 80/10/10")
    p.add_argument("--test-data", help="evaluate on this folder (original format) instead of the test split")
    p.add_argument("--digits", default="4", help="digits per composed image: a number or a range such as 1-5")
    p.add_argument("--layout", default="plain", choices=["plain", "hard"],
                   help="composed images: plain (gaps between the digits; default) or hard (digits that touch and "
                   "overlap, 16-36 pixels high, rotated up to 25 degrees, uneven strokes, speckle noise)")
    p.add_argument("--seed", type=int, default=0, help="data seed: the composed images and the split (default 0)")
    p.add_argument("--out", default=str(ROOT / "results"), help="results folder (default results/)")
    p.add_argument("--retrain", action="store_true", help="ignore cached checkpoints and train again")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="checkpoint folder (default data/checkpoints/ of the checkout that runs the job); a folder "
                   "all cluster workers see lets them reuse each other's training")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run the jobs on Dask: tcp://HOST:PORT (a running scheduler; its workers one job at a time, "
                   "--nthreads 1) or local:N (N worker processes here). Default: one job at a time, here")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before an approach is stopped and failed (default: 2 x its budget + 600)")
    p.add_argument("--memory-limit", type=float, default=None, help="MiB of address space per approach process")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per job (default: all cores; with --cluster local:N, cores / N; with a "
                   "scheduler's address, 1)")
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


def list_approaches(console, plugin_dirs) -> int:
    from rich.table import Table

    from bench.discovery import discover
    registry, broken = discover(plugin_dirs)
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


class UsageError(Exception):
    pass


def default_threads(cluster: str | None) -> int:
    """Torch threads per job when --threads is not given: a job has the machine, or its share of it."""
    from bench.cluster import parse_address
    cores = os.cpu_count() or 1
    if cluster is None:
        return cores
    kind, where = parse_address(cluster)
    return max(1, cores // where) if kind == "local" else 1


def parse_columns(text: str | None) -> list[str] | None:
    from bench.table import HEADERS
    if text is None:
        return None
    columns = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in columns if c not in HEADERS and c != "sum_acc"]
    if unknown or not columns:
        raise UsageError(f"--columns: unknown column {', '.join(unknown) or repr(text)}; known: sum_acc, "
                         + ", ".join(HEADERS))
    return columns


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '0-4' (or both, '0-2,7') -> the seeds in the order given; a bad list is a UsageError."""
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        bounds = part.split("-") if part else []
        if not 1 <= len(bounds) <= 2 or not all(b.strip().isdigit() for b in bounds):
            raise UsageError(f"--seeds takes seeds of 0 or more, such as 0,1,2 or 0-4; not {text!r}")
        lo, hi = int(bounds[0]), int(bounds[-1])
        if hi < lo:
            raise UsageError(f"--seeds: the range {part!r} runs backwards")
        seeds += range(lo, hi + 1)
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise UsageError(f"--seeds: seed {', '.join(map(str, repeated))} given twice in {text!r}")
    return seeds


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    console = _console()
    from bench.approach import PluginError
    from bench.cluster import ClusterError, parse_address
    from bench.compare import CompareError
    from bench.data import DataError
    from bench.discovery import check_plugin_dirs
    from bench.predict import PredictError
    try:
        check_plugin_dirs(args.plugins)
        if args.resume and args.seeds is not None:
            raise UsageError("--resume finishes a run with its own seeds; drop --seeds")
        args.seeds = parse_seeds(args.seeds) if args.seeds is not None else [0]
        if args.budget is not None and not (math.isfinite(args.budget) and args.budget > 0):
            raise UsageError(f"--budget takes a number of seconds above 0, not {args.budget:g}")
        if args.budget is not None and args.work != "default":
            raise UsageError("--budget (equal time) and --work report are two different budgets; give one")
        args.columns = parse_columns(args.columns)
        if args.cluster:
            parse_address(args.cluster)
        if args.threads is not None and args.threads < 1:
            raise UsageError(f"--threads takes a number of 1 or more, not {args.threads}")
        args.threads = args.threads or default_threads(args.cluster)
        if args.list:
            return list_approaches(console, args.plugins)
        if args.compare:
            from bench.compare import compare
            return compare(args.compare[0], args.compare[1], Path(args.out), console)
        if args.predict:
            return predict(args, console)
        return run(args, console)
    except (DataError, UsageError, CompareError, PredictError, PluginError, ClusterError) as e:
        console.print(f"[red]error:[/red] {e}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished rows are kept; finish with --resume RUN_ID[/yellow]")
        return 130


def predict(args, console) -> int:
    from bench.data import data_spec, load_dataset
    from bench.predict import PredictError, predict_files
    from bench.runner import pick_device
    from bench.util import tune_cpu
    if len(args.predict) < 2:
        raise PredictError("--predict needs an approach and at least one image file")
    if len(args.seeds) != 1:
        raise UsageError("--predict uses one trained model: give one training seed (--seeds N)")
    tune_cpu(args.threads)
    dataset = load_dataset(data_spec(args.data, None, args.digits, args.seed, args.quick, layout=args.layout))
    return predict_files(args.predict[0], args.predict[1:], dataset, args.budget, args.quick,
                         pick_device(args.device), console, args.plugins, seed=args.seeds[0], cache=args.cache,
                         work=args.work)


class Display:
    """What a run shows on the console: the jobs done (and, on a cluster, queued and running), a bar per
    running job, a line when one finishes."""

    def __init__(self, progress, total: int, done: int):
        self.progress = progress
        self.overall = progress.add_task("jobs", total=total, completed=done, info="")
        self.tasks = {}

    def job(self, label: str, where: str | None = None):
        """A bar for the job `label` (running on worker `where`); returns its progress callback."""
        name = f"{label} on {where}" if where else label
        task = self.tasks[label] = self.progress.add_task(f"{name}: starting", total=None, info="")

        def update(desc, completed, total, info):
            if task in self.progress.task_ids:
                self.progress.update(task, description=f"{name}: {desc}", completed=completed, total=total,
                                     info=" ".join(f"{k} {v}" for k, v in info.items()))
        return update

    def queue(self, queued: int, running: int) -> None:
        self.progress.update(self.overall, info=f"{queued} queued, {running} running")

    def warn(self, text: str) -> None:
        self.progress.console.print(f"[yellow]{text}[/yellow]")

    def finished(self, label: str, row: dict) -> None:
        from bench.table import fmt
        if label in self.tasks:
            self.progress.remove_task(self.tasks.pop(label))
        line = fmt(row, "accuracy", "pct") or row.get("reason", "")[:120]
        self.progress.console.print(f"  {label}: {row['status']} {line}")
        self.progress.advance(self.overall)


def run(args, console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bench.data import data_spec, load_dataset
    from bench.discovery import discover
    from bench.runner import LocalExecutor, Run, load_json, pick_device, run_all, run_metadata, seeds_of
    from bench.table import console_notes, console_table, timing_note
    from bench.util import atomic_write_json, tune_cpu

    tune_cpu(args.threads)
    out = Path(args.out)
    if args.resume:
        run_dir = out / args.resume
        if not (run_dir / "results.json").exists():
            raise UsageError(f"no run {args.resume!r} under {out} (expected {run_dir / 'results.json'})")
        meta = load_json(run_dir / "results.json")["meta"]
        job_defaults, selected_names, timeout = meta["job"], meta["selected"], meta["timeout"]
        plugin_dirs = meta.get("plugins", [])
        spec = job_defaults["data"]
    else:
        spec = data_spec(args.data, args.test_data, args.digits, args.seed, args.quick, layout=args.layout)
        job_defaults = {"data": spec, "seeds": args.seeds, "threads": args.threads, "device": pick_device(args.device),
                        "budget": args.budget, "work": args.work, "quick": args.quick, "retrain": args.retrain,
                        "latency_calls": args.latency_calls or (30 if args.quick else 200),
                        "memory_limit_mb": args.memory_limit,
                        "cache": str(Path(args.cache).resolve()) if args.cache else None}
        timeout = args.timeout
        selected_names = None
        plugin_dirs = [str(Path(d).resolve()) for d in args.plugins]

    registry, broken = discover(plugin_dirs)
    broken_by_name = {b.name: b for b in broken}
    known = sorted(set(registry) | set(broken_by_name))
    if selected_names is None:
        if args.approaches.strip() == "all":
            selected_names = known
        elif args.approaches.strip() == "report":
            selected_names = sorted(n for n, entry in registry.items() if entry.reported)
        else:
            selected_names = [n.strip() for n in args.approaches.split(",") if n.strip()]
            unknown = [n for n in selected_names if n not in known]
            if unknown:
                raise UsageError(f"unknown approach {', '.join(unknown)}; known: {', '.join(known)}")

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("loading data", total=None, info="")
        dataset = load_dataset(spec, progress=lambda desc, done, total: progress.update(
            task, description=desc, completed=done, total=total))
        progress.remove_task(task)

    if not args.resume:
        run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{os.getpid() % 10000:04d}"
        run_dir = out / run_id
        program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "digitsum-bench"
        program = f"python {program}" if program.endswith(".py") else program
        command = " ".join([program, *(shlex.quote(a) for a in sys.argv[1:])])
        meta = run_metadata(command, dataset, job_defaults, run_id)
        meta.update(job=job_defaults, selected=selected_names, timeout=timeout, plugins=plugin_dirs)
    run = Run(run_dir, meta, dataset, seeds=job_defaults["seeds"])
    run.load_finished(selected_names)                  # jobs already finished (a resumed run) are kept
    budget_text = f"{job_defaults['budget']:g} s each (equal-time mode)" if job_defaults["budget"] is not None else \
        ("the report's protocol where an approach has one, else its own epochs" if job_defaults.get("work") == "report"
         else "each approach's own epochs") + (f", at most {QUICK_EPOCHS}" if job_defaults["quick"] else "")
    seeds = job_defaults["seeds"]
    console.print(f"run {meta['run_id']}: {len(selected_names)} approaches x {len(seeds)} training seed"
                  f"{'s' if len(seeds) > 1 else ''} ({','.join(map(str, seeds))}) on {dataset.source} data "
                  f"({len(dataset.train)}/{len(dataset.val)}/{len(dataset.test)}), training budget {budget_text}, "
                  f"device {job_defaults['device']}, results in {run_dir}")

    if args.cluster:                    # reached before anything trains: an unusable cluster is one line
        from bench.cluster import DaskExecutor
        executor = DaskExecutor(args.cluster)
    else:
        executor = LocalExecutor()
    with executor, Progress(*columns, console=console, transient=True) as progress:
        meta["executor"] = executor.describe()
        run.write_tables()                             # the run exists (and can be resumed) from the start
        if not (run_dir / "test_sums.json").exists():  # lets python -m bench.report redraw the per-sum plots
            atomic_write_json(run_dir / "test_sums.json", [int(v) for v in dataset.test.sums])
        run_all(run, selected_names, registry, broken_by_name, job_defaults, timeout,
                Display(progress, sum(len(seeds_of(registry.get(n), seeds)) for n in selected_names),
                        sum(run.done(n, s) for n in selected_names for s in seeds_of(registry.get(n), seeds))),
                executor)
    plots = run.write_report()
    rows = run.compared_rows()
    console.print(console_table(rows, f"digitsum-bench {meta['run_id']}", console.width, args.columns))
    console.print(console_notes(rows))
    if note := timing_note(meta, rows):
        console.print(f"[yellow]{note}[/yellow]")
    console.print(f"results: {run_dir / 'results.md'} (also .json, .csv), {len(plots)} plots and "
                  f"{run_dir / 'report.html'}; latest: {out / 'latest'}")
    return 0
