"""The run: each selected approach evaluated on the same splits in a process of its own (bench.sandbox),
its raw result turned into a row of metrics, and every finished row handed to bench.report at once, so
an interrupted run keeps what it finished and --resume runs only what is missing.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import metrics, report
from bench.approach import effective_budget
from bench.sandbox import run_isolated
from bench.util import atomic_write_json

ROOT = Path(__file__).resolve().parent.parent


def versions() -> dict:
    out = {"python": platform.python_version()}
    for label, dist in [("numpy", "numpy"), ("torch", "torch"), ("timm", "timm"), ("ultralytics", "ultralytics"),
                        ("opencv", "opencv-python"), ("scikit-learn", "scikit-learn"), ("pytesseract", "pytesseract")]:
        try:
            out[label] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[label] = None
    out["tesseract"] = tesseract_version()
    return out


def tesseract_version() -> str | None:
    try:
        text = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=10).stdout
        return text.split("\n", 1)[0].replace("tesseract ", "") or None
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (out.stdout.strip() + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def row_from_result(entry, result: dict, dataset) -> dict:
    """Metrics for one approach from its raw predictions."""
    row = {"name": entry.name, "summary": entry.summary, "status": result.get("status", "failed"),
           "reason": result.get("reason", ""), "notes": result.get("notes", {}), "reported": entry.reported}
    if row["status"] != "ok":
        return row
    row.update(metrics.sum_metrics(result["test_pred"], dataset.test.sums))
    if "val_pred" in result:
        row["val_accuracy"] = float(metrics.exact_correct(result["val_pred"], dataset.val.sums).mean())
    if "train_pred" in result:
        train_index = np.asarray(result["train_index"], int)
        row["train_accuracy"] = float(metrics.exact_correct(result["train_pred"],
                                                            dataset.train.sums[train_index]).mean())
    true_digits = dataset.test.digit_lists()
    if "test_digits" in result and true_digits is not None:
        row.update(metrics.digit_accuracy(result["test_digits"], true_digits))
    elif "test_digits" in result:
        counts = [len(d) for d in result["test_digits"]]
        row["notes"]["digits_read_per_image"] = round(float(np.mean(counts)), 3) if counts else None
    if "test_confidence" in result:
        correct = metrics.exact_correct(result["test_pred"], dataset.test.sums)
        row["ece"] = metrics.expected_calibration_error(result["test_confidence"], correct)
    for key in ("latency_ms_p50", "latency_ms_p95", "latency_ms_p99", "latency_calls", "throughput",
                "fit_seconds", "budget", "trained", "params", "peak_memory_mb", "checkpoint"):
        row[key] = result.get(key)
    return row


@dataclass
class Run:
    """A run in memory: its folder, metadata, rows and what the plots need (per-image test predictions
    and training histories, by approach)."""
    run_dir: Path
    meta: dict
    dataset: object
    rows: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    histories: dict = field(default_factory=dict)

    def row_path(self, name: str) -> Path:
        return self.run_dir / "rows" / f"{name}.json"

    def load_finished(self, names) -> None:
        """The rows a resumed run already has."""
        for name in names:
            if self.row_path(name).exists():
                saved = load_json(self.row_path(name))
                self.predictions[name] = saved.pop("predictions", {}).get("test_pred")
                self.histories[name] = saved.pop("history", [])
                self.rows[name] = saved

    def add(self, row: dict, result: dict) -> None:
        """Keeps a finished row and writes it (with its per-image predictions) and the tables at once."""
        name = row["name"]
        self.rows[name] = row
        self.predictions[name] = result.get("test_pred")
        self.histories[name] = result.get("history", [])
        atomic_write_json(self.row_path(name), {**row, "predictions": {
            k: result[k] for k in ("test_pred", "test_digits", "test_confidence") if k in result},
            "history": self.histories[name]})
        self.write_tables()

    def write_tables(self) -> None:
        add_p_vs_best(list(self.rows.values()), self.predictions, self.dataset.test.sums)
        report.write_tables(self.run_dir, self.meta, list(self.rows.values()))

    def write_report(self) -> list[str]:
        """Tables, plots and report.html from what is in memory; returns the plot files drawn."""
        add_p_vs_best(list(self.rows.values()), self.predictions, self.dataset.test.sums)
        return report.write_report(self.run_dir, self.meta, list(self.rows.values()), self.predictions,
                                   self.histories, self.dataset.test)


def add_p_vs_best(rows: list[dict], predictions: dict[str, list], true_sums) -> None:
    """McNemar's exact test of each ok approach against the most accurate one, on the same test images."""
    ok = [r for r in rows if r["status"] == "ok" and predictions.get(r["name"]) is not None]
    if not ok:
        return
    best = max(ok, key=lambda r: r["accuracy"])
    best_correct = metrics.exact_correct(predictions[best["name"]], true_sums)
    for row in ok:
        row["p_vs_best"] = "best" if row is best else metrics.mcnemar_exact(
            metrics.exact_correct(predictions[row["name"]], true_sums), best_correct)


def evaluate_one(run: Run, entry, job_defaults: dict, timeout: float | None, progress, warn) -> None:
    """One approach in its own process; its row joins the run (never raises for the approach's faults)."""
    job = {**job_defaults, "name": entry.name, "origin": entry.origin,
           "log": str(run.run_dir / "logs" / f"{entry.name}.log")}
    if timeout is None:
        timeout = 2 * effective_budget(entry.cls, job["budget"], job["quick"]) + 600
    warnings = []

    def on_warning(text):
        warnings.append(text)
        warn(f"{entry.name}: {text}")

    started = time.monotonic()
    result = run_isolated(job, timeout, progress, on_warning)
    row = row_from_result(entry, result, run.dataset)
    if warnings:
        row["notes"]["warnings"] = warnings
    row["wall_seconds"] = round(time.monotonic() - started, 1)
    run.add(row, result)


def failed_row(name: str, reason: str) -> dict:
    return {"name": name, "summary": "", "status": "failed", "reason": reason, "notes": {}}


def run_metadata(args_line: str, dataset, job_defaults: dict, run_id: str) -> dict:
    return {
        "run_id": run_id, "command": args_line,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": job_defaults["seed"], "threads": job_defaults["threads"], "device": job_defaults["device"],
        "budget_seconds": job_defaults["budget"] or "per approach", "quick": job_defaults["quick"],
        "dataset": dataset.describe(), "versions": versions(), "git_commit": git_commit(),
        "cpu": cpu_model(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "python_executable": sys.executable,
    }


def load_json(path: Path):
    return json.loads(Path(path).read_text())


def run_all(run: Run, names: list[str], registry: dict, broken: dict, job_defaults: dict, timeout: float | None,
            display) -> None:
    """Every selected approach that the run does not have yet, one after another. `display` shows it:
    display.job(name) -> a progress callback, display.warn(text), display.finished(row)."""
    for name in names:
        if name in run.rows:
            continue
        if name in broken:
            run.add(failed_row(name, f"plugin failed to import: {broken[name].error}"), {})
        else:
            evaluate_one(run, registry[name], job_defaults, timeout, display.job(name), display.warn)
        display.finished(run.rows[name])
