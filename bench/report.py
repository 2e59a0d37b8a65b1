"""The files of a run: results.json, results.csv and results.md (written atomically after every row),
the plots and report.html (at the end), and results/latest pointing at the newest run.

    python -m bench.report RUN_DIR     # (re)draws the plots and report.html that a run folder allows

Redrawing reads the per-image predictions and histories the run kept (rows/*.json, test_sums.json);
the failure gallery also needs the test images, so only a live run draws it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

from bench.page import html_report
from bench.plots import PLOTS, write_plots
from bench.table import COLUMNS, markdown_reproduction, markdown_summary, sort_rows, timing_note
from bench.util import atomic_write_json, atomic_write_text


def write_tables(run_dir: Path, meta: dict, rows: list[dict], plots=(), latest: bool = True) -> None:
    """results.json, .csv and .md (linking `plots`, PNG files in run_dir); results/latest -> run_dir."""
    rows = sort_rows(rows)
    atomic_write_json(run_dir / "results.json", {"meta": meta, "rows": rows})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([k for k, _, _ in COLUMNS])
    for row in rows:
        writer.writerow([json.dumps(row.get(k)) if isinstance(row.get(k), (dict, list)) else
                         ("" if row.get(k) is None else row.get(k)) for k, _, _ in COLUMNS])
    atomic_write_text(run_dir / "results.csv", buf.getvalue())
    d = meta["dataset"]
    md = [f"# digitsum-bench run {meta['run_id']}", "",
          f"Command: `{meta['command']}`  ",
          f"Data: {d['source']} ({d['hash']}), digits {d['digits'][0]}–{d['digits'][1]}, "
          f"train/val/test {d['train']}/{d['val']}/{d['test']}  ",
          f"Machine: {meta['cpu']}, {meta['threads']} threads, device {meta['device']}; "
          f"training: {budget_text(meta)}; commit {meta['git_commit']}", "",
          *([note, ""] if (note := timing_note(meta, rows)) else []),
          "Exact-sum accuracy in percent with its spread: ± sd over training seeds, else the 95% interval over "
          "test images.", "", markdown_summary(rows), "",
          "Every column, for every row: [results.csv](results.csv) (and results.json, with the per-seed rows).", ""]
    if meta.get("job", {}).get("work") == "report" and any(r.get("reported") for r in rows):
        md += ["## The publication's rows beside ours", "",
               "The figure the publication gives for each row beside ours on the same kind of set (mean ± sd over "
               "training seeds, in percent): *reproduced* within 2 points or within our range over seeds, else "
               "*better* or *worse*.", "", markdown_reproduction(rows), ""]
    if plots:
        md += ["## Plots", "", "All of them, with the table and the metadata, in one page: "
               "[report.html](report.html)", ""]
        md += [f"![{PLOTS[name]}]({name})  \n{PLOTS[name]}\n" for name in plots]
    atomic_write_text(run_dir / "results.md", "\n".join(md))
    if latest:
        _point_latest(run_dir)


def budget_text(meta: dict) -> str:
    """How the run's approaches trained, in words (also for runs written before budgets were work)."""
    if meta.get("job", {}).get("work") == "report":
        kind = "the protocol of the publication an approach reproduces (else its own epochs)"
    elif meta.get("budget_kind") == "work":
        kind = "each approach's own epochs"
    elif meta.get("budget_kind") == "seconds":
        kind = f"{meta['budget_seconds']:g} s each (equal-time mode)"
    else:                                       # a run from before work budgets: seconds throughout
        kind = f"seconds, {meta.get('budget_seconds')}"
    seeds = meta.get("seeds", [meta.get("seed", 0)])
    return f"{kind}, training seed{'s' if len(seeds) > 1 else ''} {','.join(map(str, seeds))}"


def write_report(run_dir: Path, meta: dict, rows: list[dict], predictions: dict, histories: dict, test=None,
                 true_sums=None, latest: bool = True) -> list[str]:
    """Everything: the plots, report.html and the tables linking them; returns the plot file names."""
    try:
        plots = write_plots(run_dir, rows, predictions, histories, true_sums, test)
        atomic_write_text(Path(run_dir) / "report.html", html_report(run_dir, meta, rows, plots))
    except Exception as e:  # noqa: BLE001 - the tables are written either way; a plot problem costs the plots
        print(f"plots and report.html not drawn: {type(e).__name__}: {e}", file=sys.stderr)
        plots = []
    write_tables(run_dir, meta, rows, plots=plots, latest=latest)
    return plots


def _point_latest(run_dir: Path) -> None:
    """results/latest -> the newest run, swapped atomically."""
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, latest)
    except OSError:
        pass


def redraw(run_dir: Path) -> list[str]:
    """The plots and report.html of a finished run folder, from what it kept."""
    results = json.loads((run_dir / "results.json").read_text())
    predictions, histories = {}, {}
    for path in sorted((run_dir / "rows").glob("*.json")):
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if "per_seed" in saved:                  # the first training seed's
            saved = saved["per_seed"][min(saved["per_seed"], key=int)]
        predictions[path.stem] = (saved.get("predictions") or {}).get("test_pred")
        histories[path.stem] = saved.get("history") or []
    try:
        true_sums = json.loads((run_dir / "test_sums.json").read_text())
    except (OSError, ValueError):
        true_sums = None
    return write_report(run_dir, results["meta"], results["rows"], predictions, histories, true_sums=true_sums,
                        latest=False)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bench.report RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        plots = redraw(run_dir)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {run_dir}: no readable results.json ({type(e).__name__}: {e})", file=sys.stderr)
        return 2
    print(f"{run_dir}: {', '.join(plots) or 'no plots'}; report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
