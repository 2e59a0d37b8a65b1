"""digitsum-bench --compare RUN_A RUN_B: per-approach accuracy and latency deltas between two runs.

A change of an approach's accuracy between two runs is mostly training noise unless shown otherwise: two
trainings of the same code differ by more than the test images' sampling error. So the change is tested
against the spread over training seeds, with Welch's t-test on the two runs' per-seed accuracies (at least
two seeds on each side); with one seed on either side the comparison says it cannot tell a change from
training noise instead of giving a p-value. A change with p >= 0.05 is marked as not significant.
"""
from __future__ import annotations

import json
from pathlib import Path

from bench import metrics
from bench.table import fmt


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


def per_seed_accuracies(row: dict) -> list[float]:
    """The accuracies of a row's training seeds (a run from before seeds has one)."""
    values = row.get("accuracy_per_seed") or [row.get("accuracy")]
    return [v for v in values if isinstance(v, (int, float))]


def compare_rows(dir_a: Path, dir_b: Path) -> tuple[list[dict], dict, dict]:
    a, b = load_run(dir_a), load_run(dir_b)
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
            seeds_a, seeds_b = per_seed_accuracies(ra), per_seed_accuracies(rb)
            line["seeds"] = f"{len(seeds_a)} / {len(seeds_b)}"
            if min(len(seeds_a), len(seeds_b)) >= 2:
                line["p"], line["test"] = metrics.welch_t_p(seeds_b, seeds_a), "Welch t over seeds"
            if line["delta_accuracy"] == 0:
                line["note"] = "same accuracy"
            elif "p" not in line:
                line["note"] = "one training seed on a side: cannot tell a change from training noise"
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
    for col in ("approach", "acc A", "acc B", "Δ acc (points)", "seeds A / B", "p50 ms A", "p50 ms B", "latency B/A",
                "test", "note"):
        table.add_column(col, justify="left" if col in ("approach", "test", "note") else "right")

    def pct(row):
        return fmt(row, "accuracy", "acc") if row and row.get("accuracy") is not None else ""

    def ms(row):
        return f"{row['latency_ms_p50']:.2f}" if row and row.get("latency_ms_p50") else ""
    for line in lines:
        delta = line.get("delta_accuracy")
        table.add_row(line["name"], pct(line["a"]), pct(line["b"]),
                      "" if delta is None else f"{100 * delta:+.2f}", line.get("seeds", ""),
                      ms(line["a"]), ms(line["b"]),
                      f"{line['latency_ratio']:.2f}x" if line.get("latency_ratio") else "",
                      line.get("test", ""), line.get("note", ""))
    console.print(table)
    if meta_a.get("dataset", {}).get("hash") != meta_b.get("dataset", {}).get("hash"):
        console.print("note: the runs used different data (dataset hashes differ)")
    if meta_a.get("cpu") != meta_b.get("cpu") or meta_a.get("threads") != meta_b.get("threads"):
        console.print(f"note: different machines or threads ({meta_a.get('cpu')}, {meta_a.get('threads')} threads vs "
                      f"{meta_b.get('cpu')}, {meta_b.get('threads')} threads): latencies are not comparable")
    return 0
