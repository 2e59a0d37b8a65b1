"""Runs each approach on the same splits, each in its own process, and records a row per approach.

A worker that raises, returns garbage, exits, or runs past its timeout costs its own row only; each
finished row is written at once, so an interrupted run keeps what it finished.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import json
import multiprocessing
import os
import platform
import queue as queue_module
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench import metrics
from bench.approach import effective_budget
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


def row_from_result(name: str, summary: str, result: dict, dataset) -> dict:
    """Metrics for one approach from its raw predictions."""
    row = {"name": name, "summary": summary, "status": result.get("status", "failed"),
           "reason": result.get("reason", ""), "notes": result.get("notes", {})}
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


class Runner:
    def __init__(self, run_dir: Path, job_defaults: dict, dataset, console, timeout: float | None):
        self.run_dir = run_dir
        self.job_defaults = job_defaults
        self.dataset = dataset
        self.console = console
        self.timeout = timeout
        (run_dir / "rows").mkdir(parents=True, exist_ok=True)
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)

    def row_path(self, name: str) -> Path:
        return self.run_dir / "rows" / f"{name}.json"

    def run_one(self, entry, progress) -> dict:
        """Runs one approach in a fresh process and returns its row (never raises for the approach's faults)."""
        job = {**self.job_defaults, "name": entry.name, "log": str(self.run_dir / "logs" / f"{entry.name}.log")}
        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        from bench import worker
        proc = ctx.Process(target=worker.run, args=(job, q))  # not daemonic: approaches may start pools
        timeout = self.timeout if self.timeout is not None else \
            2 * effective_budget(entry.cls, job["budget"], job["quick"]) + 600
        started = time.monotonic()
        task = progress.add_task(f"{entry.name}: starting", total=None, info="")
        proc.start()
        result, warnings = None, []
        try:
            while result is None:
                try:
                    msg = q.get(timeout=0.2)
                except queue_module.Empty:
                    if not proc.is_alive():
                        try:
                            msg = q.get(timeout=1.0)
                        except queue_module.Empty:
                            code = proc.exitcode
                            why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                            if code == -signal.SIGKILL and job.get("memory_limit_mb"):
                                why += " (perhaps the memory limit)"
                            result = {"status": "failed", "reason": f"worker process died without a result ({why})"}
                            break
                    elif time.monotonic() - started > timeout:
                        result = {"status": "failed",
                                  "reason": f"timed out after {timeout:.0f} s (--timeout); process killed"}
                        break
                    else:
                        continue
                kind = msg[0]
                if kind == "progress":
                    _, desc, completed, total, info = msg
                    progress.update(task, description=f"{entry.name}: {desc}", completed=completed, total=total,
                                    info=" ".join(f"{k} {v}" for k, v in info.items()))
                elif kind == "warning":
                    warnings.append(msg[1])
                    self.console.print(f"[yellow]{entry.name}: {msg[1]}[/yellow]")
                elif kind == "result":
                    result = msg[1]
        finally:
            _kill(proc)
            progress.remove_task(task)
        row = row_from_result(entry.name, entry.summary, result, self.dataset)
        if warnings:
            row["notes"]["warnings"] = warnings
        row["wall_seconds"] = round(time.monotonic() - started, 1)
        atomic_write_json(self.row_path(entry.name), {**row, "predictions": {
            k: result.get(k) for k in ("test_pred", "test_digits", "test_confidence") if k in result},
            "history": result.get("history", [])})
        return row


def _kill(proc) -> None:
    """Ends the worker and everything it started (it leads its own process group)."""
    if proc.pid is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.join(timeout=5)


def failed_row(name: str, summary: str, reason: str, status: str = "failed") -> dict:
    return {"name": name, "summary": summary, "status": status, "reason": reason, "notes": {}}


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
