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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import metrics, report
from bench.sandbox import run_job
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


def family_of(entry) -> str:
    """The plugin an approach comes from (its file or entry point): variants of one idea share it."""
    kind, where = entry.origin or ("module", entry.cls.__module__)
    return Path(where).stem if kind == "file" else where.rsplit(".", 1)[-1]


def row_from_result(entry, result: dict, dataset) -> dict:
    """Metrics for one approach from its raw predictions."""
    row = {"name": entry.name, "summary": entry.summary, "status": result.get("status", "failed"),
           "reason": result.get("reason", ""), "notes": result.get("notes", {}), "reported": entry.reported,
           "family": family_of(entry)}
    if row["status"] != "ok":
        return row
    row.update(metrics.sum_metrics(result["test_pred"], dataset.test.sums))
    if "val_pred" in result:
        row["val_accuracy"] = float(metrics.exact_correct(result["val_pred"], dataset.val.sums).mean())
    if "train_pred" in result:
        train_index = np.asarray(result["train_index"], int)
        train_correct = metrics.exact_correct(result["train_pred"], dataset.train.sums[train_index])
        row["train_accuracy"] = float(train_correct.mean())
        if len(train_index) == len(dataset.train) and "val_pred" in result:   # every image: train+val+test pooled
            correct = [train_correct, metrics.exact_correct(result["val_pred"], dataset.val.sums),
                       metrics.exact_correct(result["test_pred"], dataset.test.sums)]
            row["pooled_accuracy"] = float(np.concatenate(correct).mean())
    if result.get("history"):
        row["epochs_trained"] = sum(1 for h in result["history"] if "epoch" in h) or None
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
                "fit_seconds", "budget_kind", "work", "trained", "params", "peak_memory_mb", "checkpoint"):
        row[key] = result.get(key)
    return row


AVERAGED = ("accuracy", "val_accuracy", "train_accuracy", "pooled_accuracy", "epochs_trained", "mae", "rmse",
            "within1", "digit_accuracy", "count_mismatch", "empty_reads", "ece", "latency_ms_p50", "latency_ms_p95",
            "latency_ms_p99", "throughput", "fit_seconds", "peak_memory_mb", "wall_seconds")


def combine_seeds(per_seed: dict[int, dict]) -> dict:
    """One approach's row over its training seeds: the metrics' means over the seeds that ran (accuracy
    also as its sample sd and per seed, in the order of `seeds`), the per-seed rows kept under `per_seed`."""
    seeds = sorted(per_seed)
    ok = [per_seed[s] for s in seeds if per_seed[s]["status"] == "ok"]
    row = {k: v for k, v in (ok[0] if ok else per_seed[seeds[0]]).items()}
    row.update(seeds=seeds, accuracy_per_seed=[per_seed[s].get("accuracy") for s in seeds], accuracy_sd=None)
    if len(seeds) == 1:
        return row
    row["notes"] = dict(row.get("notes") or {})
    failed = {s: per_seed[s].get("reason", "") for s in seeds if per_seed[s]["status"] != "ok"}
    if failed and ok:
        row["notes"]["failed_seeds"] = failed
    for key in AVERAGED:
        values = [r[key] for r in ok if isinstance(r.get(key), (int, float))]
        row[key] = float(np.mean(values)) if values else None
    accuracies = [r["accuracy"] for r in ok]
    row["accuracy_sd"] = float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else None
    row["accuracy_ci"] = None                  # an interval over test images says nothing of the spread over seeds
    row["per_seed"] = [{k: v for k, v in per_seed[s].items() if k != "per_seed"} for s in seeds]
    return row


@dataclass
class Run:
    """A run in memory: its folder, metadata and, by approach and training seed, the rows and what the
    plots and tests need (per-image test predictions, training histories)."""
    run_dir: Path
    meta: dict
    dataset: object
    seeds: list[int] = field(default_factory=lambda: [0])
    per_seed: dict = field(default_factory=dict)       # name -> seed -> {"row", "predictions", "history"}

    def row_path(self, name: str) -> Path:
        return self.run_dir / "rows" / f"{name}.json"

    def done(self, name: str, seed: int) -> bool:
        return seed in self.per_seed.get(name, {})

    def load_finished(self, names) -> None:
        """The (approach, seed) jobs a resumed run already has (a row file from before seeds: its first seed)."""
        for name in names:
            if self.row_path(name).exists():
                saved = load_json(self.row_path(name))
                if "per_seed" not in saved:
                    predictions, history = saved.pop("predictions", {}), saved.pop("history", [])
                    saved = {"per_seed": {self.seeds[0]: {"row": saved, "predictions": predictions,
                                                          "history": history}}}
                self.per_seed[name] = {int(s): v for s, v in saved["per_seed"].items()}

    @property
    def rows(self) -> dict[str, dict]:
        """Each approach's row over the seeds it has finished."""
        return {name: combine_seeds({s: v["row"] for s, v in by_seed.items()})
                for name, by_seed in self.per_seed.items()}

    def first_seed(self, name: str) -> dict:
        """An approach's job of the run's first training seed (its only one if it does not train)."""
        by_seed = self.per_seed[name]
        return by_seed.get(self.seeds[0]) or next(iter(by_seed.values()))

    def add(self, row: dict, seed: int, result: dict) -> None:
        """Keeps a finished (approach, seed) row and writes it, with its per-image predictions, and the tables."""
        name = row["name"]
        self.per_seed.setdefault(name, {})[seed] = {
            "row": row, "history": result.get("history", []),
            "predictions": {k: result[k] for k in ("test_pred", "test_digits", "test_confidence") if k in result}}
        atomic_write_json(self.row_path(name), {"row": self.rows[name], "per_seed": self.per_seed[name]})
        self.write_tables()

    def compared_rows(self) -> list[dict]:
        rows = list(self.rows.values())
        add_p_vs_best(rows, self.per_seed, self.dataset.test.sums)
        return rows

    def write_tables(self) -> None:
        report.write_tables(self.run_dir, self.meta, self.compared_rows())

    def write_report(self) -> list[str]:
        """Tables, plots and report.html from what is in memory; returns the plot files drawn."""
        first = {name: self.first_seed(name) for name in self.per_seed}
        return report.write_report(self.run_dir, self.meta, self.compared_rows(),
                                   {name: job["predictions"].get("test_pred") for name, job in first.items()},
                                   {name: job["history"] for name, job in first.items()}, self.dataset.test)


def add_p_vs_best(rows: list[dict], per_seed: dict, true_sums) -> None:
    """Is each ok approach's accuracy different from the most accurate one's? With one training seed on both
    sides: McNemar's exact test on their per-image outcomes. With several: a paired t-test over the seeds
    both ran of the accuracy differences (each difference measured on the same test images), which
    counts the spread over training runs."""
    ok = [r for r in rows if r["status"] == "ok" and r.get("accuracy") is not None]
    if not ok:
        return
    best = max(ok, key=lambda r: r["accuracy"])
    for row in ok:
        row["p_test"] = None
        if row is best:
            row["p_vs_best"] = "best"
            continue
        shared = [s for s in row["seeds"] if s in best["seeds"]
                  and per_seed[row["name"]][s]["row"]["status"] == per_seed[best["name"]][s]["row"]["status"] == "ok"]
        if len(shared) >= 2:
            row["p_vs_best"] = metrics.paired_t_p([per_seed[row["name"]][s]["row"]["accuracy"] for s in shared],
                                                  [per_seed[best["name"]][s]["row"]["accuracy"] for s in shared])
            row["p_test"] = f"paired t over {len(shared)} seeds"
        elif len(row["seeds"]) == len(best["seeds"]) == 1:
            mine = per_seed[row["name"]][row["seeds"][0]]["predictions"].get("test_pred")
            theirs = per_seed[best["name"]][best["seeds"][0]]["predictions"].get("test_pred")
            row["p_vs_best"] = metrics.mcnemar_exact(metrics.exact_correct(mine, true_sums),
                                                     metrics.exact_correct(theirs, true_sums))
            row["p_test"] = "McNemar (one seed)"
        else:
            row["p_vs_best"] = None


def job_label(run: Run, name: str, seed: int) -> str:
    return name if len(run.seeds) == 1 else f"{name} (seed {seed})"


def make_job(run: Run, entry, seed: int, job_defaults: dict, timeout: float | None) -> dict:
    """What a process needs to evaluate one approach with one training seed (plain data: it may travel)."""
    log = f"{entry.name}.log" if len(run.seeds) == 1 else f"{entry.name}-seed{seed}.log"
    if timeout is None:
        budget = job_defaults["budget"]
        timeout = (2 * budget + 600) if budget is not None else 600 if job_defaults["quick"] else 3600
    return {**job_defaults, "name": entry.name, "origin": entry.origin, "seed": seed,
            "label": job_label(run, entry.name, seed),
            "log": str(run.run_dir / "logs" / log), "timeout": timeout}


class LocalExecutor:
    """One job at a time, each in a process of its own on this machine (bench.cluster runs them on Dask)."""

    def describe(self) -> dict:
        return {"kind": "local"}

    def results(self, jobs: list[dict], display):
        for job in jobs:
            yield job, run_job(job, display.job(job["label"]), lambda text: display.warn(f"{job['label']}: {text}"))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def failed_row(name: str, reason: str) -> dict:
    return {"name": name, "summary": "", "status": "failed", "reason": reason, "notes": {}}


def run_metadata(args_line: str, dataset, job_defaults: dict, run_id: str) -> dict:
    return {
        "run_id": run_id, "command": args_line,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "data_seed": job_defaults["data"]["seed"], "seeds": job_defaults["seeds"],
        "threads": job_defaults["threads"], "device": job_defaults["device"],
        "budget_kind": "work" if job_defaults["budget"] is None else "seconds",
        "budget_seconds": job_defaults["budget"], "quick": job_defaults["quick"],
        "dataset": dataset.describe(), "versions": versions(), "git_commit": git_commit(),
        "cpu": cpu_model(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "python_executable": sys.executable,
    }


def load_json(path: Path):
    return json.loads(Path(path).read_text())


def seeds_of(entry, seeds: list[int]) -> list[int]:
    """The training seeds an approach runs with: all of them if it trains, else the first."""
    return seeds if entry is not None and entry.cls.implements("fit") else seeds[:1]


def run_all(run: Run, names: list[str], registry: dict, broken: dict, job_defaults: dict, timeout: float | None,
            display, executor=None) -> None:
    """Every (approach, training seed) job that the run does not have yet, handed to the executor (one
    after another here by default); each row joins the run the moment its job finishes. An approach that
    does not train has no training seed and runs once. `display` shows it: display.job(label, where) -> a
    progress callback, display.warn(text), display.finished(label, row)."""
    jobs = []
    for name in names:
        for seed in seeds_of(registry.get(name), run.seeds):
            if run.done(name, seed):
                continue
            if name in broken:
                row = failed_row(name, f"plugin failed to import: {broken[name].error}")
                run.add({**row, "seed": seed}, seed, {})
                display.finished(job_label(run, name, seed), run.per_seed[name][seed]["row"])
            else:
                jobs.append(make_job(run, registry[name], seed, job_defaults, timeout))
    for job, result in (executor or LocalExecutor()).results(jobs, display):
        row = row_from_result(registry[job["name"]], result, run.dataset)
        if result.get("warnings"):
            row["notes"]["warnings"] = result["warnings"]
        row.update(seed=job["seed"], wall_seconds=result.get("wall_seconds"), host=result.get("host"),
                   threads=job["threads"])
        run.add(row, job["seed"], result)
        display.finished(job["label"], row)
