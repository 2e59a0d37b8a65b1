"""The pictures of a run, as PNG files in its folder (matplotlib, no display needed). Each is drawn from
the rows and, where it needs them, the per-image test predictions, the training histories, the true test
sums or the test images; a plot whose inputs are missing is not drawn.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import metrics
from bench.util import atomic_write_bytes

PLOTS = {  # file name -> caption: what the plot shows and where to look
    "accuracy_latency.png": "Accuracy against single-image latency (p50, log scale): the best trade-offs sit top "
                            "left. Bars: ± sd over training seeds, or the 95% interval with one seed; one colour "
                            "per plugin file (a family of variants), one marker per row in it, hollow for the "
                            "rows of the original report.",
    "accuracy_by_sum.png": "Exact-sum accuracy for each true sum: where along 0..36 an approach's errors gather.",
    "confusion.png": "Predicted against true sum for the two most accurate approaches: everything off the "
                     "diagonal is a mistake, and how far off it is.",
    "failures.png": "Test images the most accurate approach got wrong, with its answer and the true sum: what "
                    "is still hard.",
    "training_curves.png": "Validation accuracy against training time for every approach that trained (its first "
                           "seed): which ones were still learning when their budget ended.",
}
FAMILY_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
                  "tab:olive", "tab:cyan", "tab:gray"]
MARKERS = ["o", "^", "s", "D", "v", "P", "X", "<", ">"]


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


def accuracy_latency(rows, path: Path) -> bool:
    rows = [r for r in _ok(rows) if r.get("latency_ms_p50")]
    if not rows:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    families = sorted({r.get("family") or r["name"] for r in rows})
    in_family = {}
    for r in sorted(rows, key=lambda r: (families.index(r.get("family") or r["name"]), r["name"])):
        family = r.get("family") or r["name"]
        k = in_family[family] = in_family.get(family, -1) + 1
        acc = 100 * r["accuracy"]
        if r.get("accuracy_sd") is not None:          # several training seeds: the spread over them
            lo, hi = acc - 100 * r["accuracy_sd"], acc + 100 * r["accuracy_sd"]
        else:                                          # one seed: the 95% interval over test images
            lo, hi = (100 * v for v in r.get("accuracy_ci") or (r["accuracy"], r["accuracy"]))
        colour = FAMILY_COLOURS[families.index(family) % len(FAMILY_COLOURS)]
        ax.errorbar(r["latency_ms_p50"], acc, yerr=[[max(0.0, acc - lo)], [max(0.0, hi - acc)]],
                    fmt=MARKERS[k % len(MARKERS)], capsize=3, markersize=7, color=colour,
                    markerfacecolor="white" if r.get("reported") else colour,     # hollow: the report's rows
                    label=f"{r['name']} ({100 * r['accuracy']:.1f}%)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))   # names beside the plot, never on it
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency, p50 (ms, log scale)")
    ax.set_ylabel("exact-sum accuracy (%)")
    ax.set_ylim(0, 103)
    ax.grid(True, which="both", alpha=0.3)
    _save(fig, path)
    return True


def accuracy_by_sum(rows, predictions, true_sums, path: Path) -> bool:
    rows = [r for r in _ok(rows) if predictions.get(r["name"])]
    if not rows or true_sums is None:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    true_sums = np.asarray(true_sums)
    sums = np.arange(true_sums.max() + 1)
    present = [s for s in sums if (true_sums == s).any()]
    for i, r in enumerate(rows):
        correct = metrics.exact_correct(predictions[r["name"]], true_sums)
        ax.plot(present, [100 * correct[true_sums == s].mean() for s in present], marker=".",
                label=r["name"], color=plt.cm.tab20(i % 20))
    _finish_line_plot(fig, ax, "true sum", "exact-sum accuracy (%)", path)
    return True


def confusion(rows, predictions, true_sums, path: Path) -> bool:
    rows = [r for r in _ok(rows) if predictions.get(r["name"])][:2]
    if not rows or true_sums is None:
        return False
    plt = _pyplot()
    true_sums = np.asarray(true_sums)
    top = int(true_sums.max())
    fig, axes = plt.subplots(1, len(rows), figsize=(6 * len(rows), 5), squeeze=False)
    for ax, r in zip(axes[0], rows):
        pred = np.clip(np.rint(predictions[r["name"]]), 0, top).astype(int)
        matrix = np.zeros((top + 1, top + 1))
        np.add.at(matrix, (true_sums, pred), 1)
        image = ax.imshow(np.log1p(matrix), origin="lower", cmap="viridis")
        ax.set_title(f"{r['name']} ({100 * r['accuracy']:.2f}%)", fontsize=9)
        ax.set_xlabel("predicted sum (rounded, clipped)")
        ax.set_ylabel("true sum")
        fig.colorbar(image, ax=ax, label="log(1 + images)")
    _save(fig, path)
    return True


def failures(rows, predictions, test, path: Path, limit: int = 24) -> bool:
    rows = [r for r in _ok(rows) if predictions.get(r["name"])][:1]
    if not rows or test is None:
        return False
    pred = np.asarray(predictions[rows[0]["name"]], np.float64)
    wrong = np.flatnonzero(~metrics.exact_correct(pred, test.sums))[:limit]
    if len(wrong) == 0:
        return False
    plt = _pyplot()
    cols = 4
    lines = (len(wrong) + cols - 1) // cols
    fig, axes = plt.subplots(lines, cols, figsize=(12, 1.1 * lines), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(np.asarray(test.images[i], np.float32), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"#{i}: predicted {np.rint(pred[i]):.0f} / true {int(test.sums[i])}", fontsize=8)
    fig.suptitle(f"{rows[0]['name']}: {len(wrong)} of its failures", fontsize=10)
    _save(fig, path)
    return True


def training_curves(rows, histories, path: Path) -> bool:
    curves = [(r["name"], histories.get(r["name"]) or []) for r in _ok(rows)]
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


def write_plots(run_dir: Path, rows: list[dict], predictions: dict, histories: dict, true_sums=None,
                test=None) -> list[str]:
    """Draws every plot the inputs allow into run_dir; returns the file names written. predictions and
    histories are by approach name; `test` is the test split (images and sums) the rows were measured on."""
    run_dir = Path(run_dir)
    if test is not None:
        true_sums = test.sums
    true_sums = None if true_sums is None else np.asarray(true_sums)
    drawn = {
        "accuracy_latency.png": lambda p: accuracy_latency(rows, p),
        "accuracy_by_sum.png": lambda p: accuracy_by_sum(rows, predictions, true_sums, p),
        "confusion.png": lambda p: confusion(rows, predictions, true_sums, p),
        "failures.png": lambda p: failures(rows, predictions, test, p),
        "training_curves.png": lambda p: training_curves(rows, histories, p),
    }
    return [name for name, draw in drawn.items() if draw(run_dir / name)]
