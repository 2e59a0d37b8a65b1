"""Accuracy and error metrics over predicted sums, with their uncertainty."""
from __future__ import annotations

import math

import numpy as np


def exact_correct(pred, true) -> np.ndarray:
    """round(pred) == label: the original report's "threshold 0.5" accuracy."""
    return np.rint(np.asarray(pred, np.float64)) == np.asarray(true)


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def sum_metrics(pred, true) -> dict:
    pred = np.asarray(pred, np.float64)
    true = np.asarray(true, np.float64)
    err = pred - true
    correct = exact_correct(pred, true)
    lo, hi = wilson_interval(int(correct.sum()), len(true))
    return {
        "n": int(len(true)),
        "accuracy": float(correct.mean()) if len(true) else float("nan"),
        "accuracy_ci": [lo, hi],
        "mae": float(np.abs(err).mean()) if len(true) else float("nan"),
        "rmse": float(np.sqrt((err ** 2).mean())) if len(true) else float("nan"),
        "within1": float((np.abs(np.rint(pred) - true) <= 1).mean()) if len(true) else float("nan"),
    }


def digit_accuracy(pred_digits: list[list[int]], true_digits: list[list[int]]) -> dict:
    """Share of true digits read correctly at their position (left to right); a missing digit is wrong.
    Also the share of images where the number of digits read differs from the number present, and the
    share where none was read."""
    right = total = miscount = empty = 0
    for p, t in zip(pred_digits, true_digits):
        total += len(t)
        right += sum(int(a == b) for a, b in zip(p, t))
        miscount += len(p) != len(t)
        empty += len(p) == 0
    n = len(true_digits)
    return {"digit_accuracy": right / total if total else float("nan"),
            "count_mismatch": miscount / n if n else float("nan"),
            "empty_reads": empty / n if n else float("nan")}


def expected_calibration_error(confidence, correct, bins: int = 15) -> float:
    """ECE over equal-width confidence bins."""
    confidence = np.clip(np.asarray(confidence, np.float64), 0, 1)
    correct = np.asarray(correct, np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(ece)


def mcnemar_exact(correct_a, correct_b) -> float:
    """Two-sided exact McNemar test on paired correctness: p-value that A and B are equally accurate."""
    a = np.asarray(correct_a, bool)
    b = np.asarray(correct_b, bool)
    only_a = int((a & ~b).sum())
    only_b = int((~a & b).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return float(min(1.0, 2 * tail))


def paired_t_p(a, b) -> float:
    """Two-sided p-value of a paired t-test of a against b (a[i] and b[i] measured alike, e.g. with the
    same training seed on the same test images). Identical pairs give 1.0; a constant nonzero difference 0.0."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if len(d) < 2:
        return float("nan")
    if np.allclose(d, d[0]):
        return 1.0 if abs(d[0]) < 1e-12 else 0.0
    from scipy import stats
    return float(stats.ttest_rel(a, b).pvalue)


def welch_t_p(a, b) -> float:
    """Two-sided p-value of Welch's t-test: are the means of a and b (e.g. accuracies over training seeds
    of two runs) different, without assuming equal spreads."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    if np.allclose(a, a[0]) and np.allclose(b, b[0]):
        return 1.0 if abs(a[0] - b[0]) < 1e-12 else 0.0
    from scipy import stats
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)
