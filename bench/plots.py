"""The pictures of a run, as PNG files in its folder, and report.html: one self-contained page (images
inline) with the table, the plots and the run's metadata.

    python -m bench.plots RUN_DIR     # (re)draws what a finished run folder allows

Plots that need per-image predictions (accuracy by sum, confusion, failures) are drawn when the run
folder has them (rows/*.json, test_sums.json); the failure gallery also needs the test images.
"""
from __future__ import annotations

import base64
import html
import json
import sys
from pathlib import Path

import numpy as np

from bench import metrics
from bench.util import atomic_write_bytes, atomic_write_text

PLOTS = {  # file name -> caption
    "accuracy_latency.png": "Exact-sum accuracy (95% interval) against single-image latency (p50, log scale)",
    "accuracy_by_sum.png": "Exact-sum accuracy by true sum, for every approach",
    "confusion.png": "Predicted against true sum for the two most accurate approaches",
    "failures.png": "Test images the most accurate approach got wrong (predicted / true sum)",
    "training_curves.png": "Validation accuracy against training time, for every approach that trained",
}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")                       # no display needed
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> None:
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _finish_line_plot(fig, ax, xlabel: str, ylabel: str, path: Path) -> None:
    """Labels, a 0..100% axis, a grid and the legend outside, on the right; then saved."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 102)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    _save(fig, path)


def _ok(rows):
    return sorted([r for r in rows if r.get("status") == "ok" and r.get("accuracy") is not None],
                  key=lambda r: -r["accuracy"])


def _saved_rows(run_dir: Path) -> dict[str, dict]:
    """Per-image predictions and training histories, from the run's rows/ folder."""
    saved = {}
    for path in sorted((run_dir / "rows").glob("*.json")):
        try:
            saved[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return saved


def _saved_test_sums(run_dir: Path):
    """The true test sums a run saved (test_sums.json), or None."""
    try:
        return np.asarray(json.loads((run_dir / "test_sums.json").read_text()), np.int64)
    except (OSError, ValueError, TypeError):
        return None


def accuracy_latency(rows, path: Path) -> bool:
    rows = [r for r in _ok(rows) if r.get("latency_ms_p50")]
    if not rows:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, r in enumerate(rows):
        acc = 100 * r["accuracy"]
        lo, hi = (100 * v for v in r.get("accuracy_ci") or (r["accuracy"], r["accuracy"]))
        ax.errorbar(r["latency_ms_p50"], acc, yerr=[[max(0.0, acc - lo)], [max(0.0, hi - acc)]], fmt="o", capsize=3,
                    color=plt.cm.tab20(i % 20))
        ax.annotate(r["name"], (r["latency_ms_p50"], acc), textcoords="offset points", fontsize=8,
                    xytext=(6, 3 if i % 2 == 0 else -11))      # neighbours in the ranking: above, below
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency, p50 (ms, log scale)")
    ax.set_ylabel("exact-sum accuracy (%)")
    ax.set_ylim(0, 103)
    ax.grid(True, which="both", alpha=0.3)
    _save(fig, path)
    return True


def accuracy_by_sum(rows, saved, true_sums, path: Path) -> bool:
    rows = [r for r in _ok(rows) if (saved.get(r["name"], {}).get("predictions") or {}).get("test_pred")]
    if not rows or true_sums is None:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    true_sums = np.asarray(true_sums)
    sums = np.arange(true_sums.max() + 1)
    present = [s for s in sums if (true_sums == s).any()]
    for i, r in enumerate(rows):
        correct = metrics.exact_correct(saved[r["name"]]["predictions"]["test_pred"], true_sums)
        ax.plot(present, [100 * correct[true_sums == s].mean() for s in present], marker=".",
                label=r["name"], color=plt.cm.tab20(i % 20))
    _finish_line_plot(fig, ax, "true sum", "exact-sum accuracy (%)", path)
    return True


def confusion(rows, saved, true_sums, path: Path) -> bool:
    rows = [r for r in _ok(rows) if (saved.get(r["name"], {}).get("predictions") or {}).get("test_pred")][:2]
    if not rows or true_sums is None:
        return False
    plt = _pyplot()
    true_sums = np.asarray(true_sums)
    top = int(true_sums.max())
    fig, axes = plt.subplots(1, len(rows), figsize=(6 * len(rows), 5), squeeze=False)
    for ax, r in zip(axes[0], rows):
        pred = np.clip(np.rint(saved[r["name"]]["predictions"]["test_pred"]), 0, top).astype(int)
        matrix = np.zeros((top + 1, top + 1))
        np.add.at(matrix, (true_sums, pred), 1)
        image = ax.imshow(np.log1p(matrix), origin="lower", cmap="viridis")
        ax.set_title(f"{r['name']} ({100 * r['accuracy']:.2f}%)", fontsize=9)
        ax.set_xlabel("predicted sum (rounded, clipped)")
        ax.set_ylabel("true sum")
        fig.colorbar(image, ax=ax, label="log(1 + images)")
    _save(fig, path)
    return True


def failures(rows, saved, test, path: Path, limit: int = 24) -> bool:
    rows = [r for r in _ok(rows) if (saved.get(r["name"], {}).get("predictions") or {}).get("test_pred")][:1]
    if not rows or test is None:
        return False
    pred = np.asarray(saved[rows[0]["name"]]["predictions"]["test_pred"], np.float64)
    wrong = np.flatnonzero(~metrics.exact_correct(pred, test.sums))[:limit]
    if len(wrong) == 0:
        return False
    plt = _pyplot()
    cols = 4
    fig, axes = plt.subplots((len(wrong) + cols - 1) // cols, cols, figsize=(12, 1.1 * ((len(wrong) + cols - 1) // cols)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(np.asarray(test.images[i], np.float32), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"#{i}: predicted {np.rint(pred[i]):.0f} / true {int(test.sums[i])}", fontsize=8)
    fig.suptitle(f"{rows[0]['name']}: {len(wrong)} of its failures", fontsize=10)
    _save(fig, path)
    return True


def training_curves(rows, saved, path: Path) -> bool:
    curves = [(r["name"], saved.get(r["name"], {}).get("history") or []) for r in _ok(rows)]
    curves = [(name, h) for name, h in curves if h and all("seconds" in e and "val_accuracy" in e for e in h)]
    if not curves:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, (name, history) in enumerate(curves):
        ax.plot([e["seconds"] for e in history], [100 * e["val_accuracy"] for e in history], marker=".",
                label=name, color=plt.cm.tab20(i % 20))
    _finish_line_plot(fig, ax, "training time (s)", "validation exact-sum accuracy (%)", path)
    return True


def write_plots(run_dir: Path, rows: list[dict], test=None) -> list[str]:
    """Draws every plot the run allows into run_dir; returns the file names written. `test` is the test
    split (images and sums) the rows were measured on, or None."""
    run_dir = Path(run_dir)
    saved = _saved_rows(run_dir)
    true_sums = np.asarray(test.sums) if test is not None else _saved_test_sums(run_dir)
    drawn = {
        "accuracy_latency.png": lambda p: accuracy_latency(rows, p),
        "accuracy_by_sum.png": lambda p: accuracy_by_sum(rows, saved, true_sums, p),
        "confusion.png": lambda p: confusion(rows, saved, true_sums, p),
        "failures.png": lambda p: failures(rows, saved, test, p),
        "training_curves.png": lambda p: training_curves(rows, saved, p),
    }
    return [name for name, draw in drawn.items() if draw(run_dir / name)]


def html_report(run_dir: Path, meta: dict, rows: list[dict], plots: list[str]) -> str:
    """report.html: the table, the plots (inline, base64) and the metadata, in one file."""
    from bench.report import COLUMNS, fmt, sort_rows
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for _, h, _ in COLUMNS)
    body = "".join("<tr class='{}'>{}</tr>".format(esc(r.get("status", "")), "".join(
        f"<td>{esc(fmt(r, k, s))}</td>" for k, _, s in COLUMNS)) for r in sort_rows(rows))
    figures = []
    for name in plots:
        data = base64.b64encode((run_dir / name).read_bytes()).decode("ascii")
        figures.append(f"<figure><img alt='{esc(PLOTS[name])}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{esc(PLOTS[name])}</figcaption></figure>")
    meta_rows = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(json.dumps(v, default=str))}</td></tr>"
                        for k, v in meta.items() if k not in ("job", "selected"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>digitsum-bench run {esc(str(meta.get('run_id', '')))}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }}
tr.failed {{ color: #a00; }} tr.skipped {{ color: #a60; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>digitsum-bench run {esc(str(meta.get('run_id', '')))}</h1>
<p>Command: <code>{esc(str(meta.get('command', '')))}</code></p>
<h2>Results</h2>
<table id="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Plots</h2>
{''.join(figures) or '<p>No plots.</p>'}
<h2>Run metadata</h2>
<table id="metadata">{meta_rows}</table>
</body></html>
"""


def write_report(run_dir: Path, meta: dict, rows: list[dict], test=None) -> list[str]:
    """The plots and report.html of a run; returns the plot file names."""
    plots = write_plots(run_dir, rows, test)
    atomic_write_text(Path(run_dir) / "report.html", html_report(Path(run_dir), meta, rows, plots))
    return plots


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bench.plots RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        results = json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError) as e:
        print(f"error: {run_dir}: no readable results.json ({e})", file=sys.stderr)
        return 2
    from bench.report import write_results
    plots = write_report(run_dir, results["meta"], results["rows"])
    write_results(run_dir, results["meta"], results["rows"], plots=plots, latest=False)
    print(f"{run_dir}: {', '.join(plots) or 'no plots'}; report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
