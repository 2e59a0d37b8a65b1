"""python run_bench.py --compare RUN_A RUN_B: per-approach accuracy and latency deltas between two runs.

Where both runs evaluated the same test images (same dataset hash, per-image predictions kept), the
accuracy change is tested with McNemar's exact test on the paired per-image outcomes; otherwise with a
two-sided two-proportion z-test. A change with p >= 0.05 is marked as not significant.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from bench import metrics


class CompareError(Exception):
    pass


def resolve_run(ref: str, out: Path) -> Path:
    """A run folder given as a path, or as a run id under the results folder."""
    for candidate in (Path(ref), out / ref):
        if (candidate / "results.json").is_file():
            return candidate
    raise CompareError(f"{ref}: no run there (expected a run folder or a run id under {out} with results.json)")


def load_run(run_dir: Path) -> dict:
    try:
        results = json.loads((run_dir / "results.json").read_text())
        rows = {r["name"]: r for r in results["rows"]}
        return {"meta": results["meta"], "rows": rows}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CompareError(f"{run_dir / 'results.json'}: unreadable ({type(e).__name__})") from None


def _per_image_correct(run_dir: Path, name: str):
    """The approach's per-image correctness on its run's test images, when the run kept them."""
    try:
        truth = json.loads((run_dir / "test_sums.json").read_text())
        pred = json.loads((run_dir / "rows" / f"{name}.json").read_text())["predictions"]["test_pred"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pred is None or len(pred) != len(truth):
        return None
    return metrics.exact_correct(pred, truth)


def two_proportion_p(a_correct: int, a_n: int, b_correct: int, b_n: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    if a_n == 0 or b_n == 0:
        return float("nan")
    pooled = (a_correct + b_correct) / (a_n + b_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a_n + 1 / b_n))
    if se == 0:
        return 1.0
    z = (a_correct / a_n - b_correct / b_n) / se
    return math.erfc(abs(z) / math.sqrt(2))


def compare_rows(dir_a: Path, dir_b: Path) -> tuple[list[dict], dict, dict]:
    a, b = load_run(dir_a), load_run(dir_b)
    same_images = a["meta"].get("dataset", {}).get("hash") == b["meta"].get("dataset", {}).get("hash")
    out = []
    for name in sorted(set(a["rows"]) | set(b["rows"])):
        ra, rb = a["rows"].get(name), b["rows"].get(name)
        line = {"name": name, "a": ra, "b": rb}
        if ra is None or rb is None:
            line["note"] = f"only in {'A' if rb is None else 'B'}"
        elif ra.get("status") != "ok" or rb.get("status") != "ok":
            line["note"] = f"status {ra.get('status')} -> {rb.get('status')}"
        else:
            line["delta_accuracy"] = rb["accuracy"] - ra["accuracy"]
            if ra.get("latency_ms_p50") and rb.get("latency_ms_p50"):
                line["latency_ratio"] = rb["latency_ms_p50"] / ra["latency_ms_p50"]
            ca, cb = (_per_image_correct(dir_a, name), _per_image_correct(dir_b, name)) if same_images else (None, None)
            if ca is not None and cb is not None and len(ca) == len(cb):
                line["p"], line["test"] = metrics.mcnemar_exact(cb, ca), "McNemar (paired)"
            else:
                line["p"] = two_proportion_p(round(ra["accuracy"] * ra["n"]), ra["n"],
                                             round(rb["accuracy"] * rb["n"]), rb["n"])
                line["test"] = "two-proportion z"
            if line["delta_accuracy"] == 0:
                line["note"] = "same accuracy"
            elif not line["p"] < 0.05:
                line["note"] = f"not significant (p = {line['p']:.2g})"
            else:
                line["note"] = f"significant (p = {line['p']:.2g})"
        out.append(line)
    return out, a["meta"], b["meta"]


def compare(ref_a: str, ref_b: str, out: Path, console) -> int:
    from rich.table import Table
    dir_a, dir_b = resolve_run(ref_a, out), resolve_run(ref_b, out)
    lines, meta_a, meta_b = compare_rows(dir_a, dir_b)
    table = Table(title=f"A = {meta_a.get('run_id', dir_a.name)}  ->  B = {meta_b.get('run_id', dir_b.name)}")
    for col in ("approach", "acc A", "acc B", "Δ acc (points)", "p50 ms A", "p50 ms B", "latency B/A", "test", "note"):
        table.add_column(col, justify="left" if col in ("approach", "test", "note") else "right")

    def pct(row):
        return f"{100 * row['accuracy']:.2f}%" if row and row.get("accuracy") is not None else ""

    def ms(row):
        return f"{row['latency_ms_p50']:.2f}" if row and row.get("latency_ms_p50") else ""
    for line in lines:
        delta = line.get("delta_accuracy")
        table.add_row(line["name"], pct(line["a"]), pct(line["b"]),
                      "" if delta is None else f"{100 * delta:+.2f}", ms(line["a"]), ms(line["b"]),
                      f"{line['latency_ratio']:.2f}x" if line.get("latency_ratio") else "",
                      line.get("test", ""), line.get("note", ""))
    console.print(table)
    if meta_a.get("dataset", {}).get("hash") != meta_b.get("dataset", {}).get("hash"):
        console.print("note: the runs used different data (dataset hashes differ); accuracies are not paired")
    if meta_a.get("cpu") != meta_b.get("cpu") or meta_a.get("threads") != meta_b.get("threads"):
        console.print(f"note: different machines or threads ({meta_a.get('cpu')}, {meta_a.get('threads')} threads vs "
                      f"{meta_b.get('cpu')}, {meta_b.get('threads')} threads): latencies are not comparable")
    return 0
