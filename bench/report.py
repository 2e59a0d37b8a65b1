"""The results table: console (rich), results.json, results.csv and results.md, written atomically."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from bench import metrics
from bench.util import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
REPORTED_FILE = ROOT / "approaches" / "original_report.json"

COLUMNS = [  # key, header, format
    ("name", "approach", "{}"),
    ("status", "status", "{}"),
    ("accuracy", "exact-sum acc", "pct"),
    ("accuracy_ci", "95% CI", "ci"),
    ("val_accuracy", "val acc", "pct"),
    ("train_accuracy", "train acc", "pct"),
    ("reported", "report (train / val)", "{}"),
    ("mae", "MAE", "{:.3f}"),
    ("rmse", "RMSE", "{:.3f}"),
    ("within1", "±1 acc", "pct"),
    ("digit_accuracy", "digit acc", "pct"),
    ("ece", "ECE", "{:.3f}"),
    ("p_vs_best", "McNemar p vs best", "p"),
    ("latency_ms_p50", "p50 ms", "{:.2f}"),
    ("latency_ms_p95", "p95 ms", "{:.2f}"),
    ("latency_ms_p99", "p99 ms", "{:.2f}"),
    ("throughput", "img/s", "{:,.0f}"),
    ("fit_seconds", "train s", "{:.0f}"),
    ("budget", "budget s", "{:.0f}"),
    ("params", "params", "{:,}"),
    ("peak_memory_mb", "peak MB", "{:.0f}"),
    ("n", "n", "{}"),
    ("notes", "notes", "notes"),
]
CONSOLE_COLUMNS = ["name", "status", "accuracy", "accuracy_ci", "val_accuracy", "train_accuracy", "reported",
                   "mae", "digit_accuracy", "p_vs_best", "latency_ms_p50", "throughput", "fit_seconds", "notes"]


def reported_figures() -> dict:
    """The original report's figures, by approach name (approaches/original_report.json)."""
    try:
        return json.loads(REPORTED_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _reported_text(fig: dict | None) -> str:
    if not fig:
        return ""
    parts = [f"{fig[k]:.2f}%" if isinstance(fig.get(k), (int, float)) else None for k in ("train", "val")]
    if parts[0] and parts[1]:
        return f"{parts[0]} / {parts[1]}"
    return parts[1] or parts[0] or fig.get("text", "")


def fmt(row: dict, key: str, style: str) -> str:
    value = row.get(key)
    if key == "reported":
        return _reported_text(value)
    if value is None or value == "" or value == {}:
        return ""
    if style == "pct":
        return f"{100 * value:.2f}%"
    if style == "ci":
        return f"{100 * value[0]:.1f}–{100 * value[1]:.1f}"
    if style == "p":
        return "best" if value == "best" else f"{value:.3g}"
    if style == "notes":
        parts = [row["reason"]] if row.get("reason") else []
        parts += [f"{k}: {v}" for k, v in value.items() if k != "warnings"]
        return "; ".join(parts)
    return style.format(value)


def sort_rows(rows: list[dict]) -> list[dict]:
    order = {"ok": 0, "failed": 1, "skipped": 2}
    return sorted(rows, key=lambda r: (order.get(r["status"], 3), -(r.get("accuracy") or 0), r["name"]))


def add_comparisons(rows: list[dict], predictions: dict[str, list], true_sums) -> None:
    """Reported figures, and McNemar's exact test of each ok approach against the most accurate one."""
    figures = reported_figures()
    for row in rows:
        row["reported"] = figures.get(row["name"])
    ok = [r for r in rows if r["status"] == "ok" and predictions.get(r["name"]) is not None]
    if not ok:
        return
    best = max(ok, key=lambda r: r["accuracy"])
    best_correct = metrics.exact_correct(predictions[best["name"]], true_sums)
    for row in ok:
        if row is best:
            row["p_vs_best"] = "best"
        else:
            row["p_vs_best"] = metrics.mcnemar_exact(metrics.exact_correct(predictions[row["name"]], true_sums),
                                                     best_correct)


def markdown_table(rows: list[dict], columns=None) -> str:
    cols = [c for c in COLUMNS if columns is None or c[0] in columns]
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        cells = [fmt(row, k, s).replace("|", "\\|").replace("\n", " ") for k, _, s in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(run_dir: Path, meta: dict, rows: list[dict], plots=(), latest: bool = True) -> None:
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
          f"training budget: {meta['budget_seconds']}; seed {meta['seed']}; commit {meta['git_commit']}", "",
          markdown_table(rows), ""]
    if plots:
        from bench.plots import PLOTS
        md += ["## Plots", "", "All of them, with the table and the metadata, in one page: [report.html](report.html)", ""]
        md += [f"![{PLOTS[name]}]({name})  \n{PLOTS[name]}\n" for name in plots]
    atomic_write_text(run_dir / "results.md", "\n".join(md))
    if latest:
        _point_latest(run_dir)


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


def console_table(rows: list[dict], title: str):
    from rich.table import Table
    table = Table(title=title, show_lines=False)
    cols = [c for c in COLUMNS if c[0] in CONSOLE_COLUMNS]
    for key, header, _ in cols:
        table.add_column(header, overflow="fold", max_width=60 if key == "notes" else None,
                         justify="left" if key in ("name", "status", "notes", "reported") else "right")
    for row in sort_rows(rows):
        style = {"failed": "red", "skipped": "yellow"}.get(row["status"])
        table.add_row(*[fmt(row, k, s) for k, _, s in cols], style=style)
    return table
