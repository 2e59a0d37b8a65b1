"""Shared helper (not an approach: files starting with _ are skipped by discovery): cut an image of digits
written left to right into one 28x28 crop per digit, MNIST style (the digit's ink scaled into a 20x20
box and centred in 28x28).

Segmentation works on the column profile of the ink: runs of inked columns are candidate digits; runs
are merged where a digit broke into pieces and split at their thinnest column where digits touch,
until the count is within the dataset's digit range (or equal to it when the range is one number).
"""
from __future__ import annotations

import cv2
import numpy as np

INK = 64               # a pixel at or above this (0..255) is ink
MIN_RUN_INK = 12       # runs with fewer ink pixels are specks, dropped
WIDE = 34              # a run wider than this probably holds touching digits


def column_runs(ink: np.ndarray) -> list[list[int]]:
    """[start, end) of each run of columns holding ink."""
    cols = ink.any(0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], cols.view(np.int8), [0]])))
    return [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]


def _split_widest(runs, ink):
    i = max(range(len(runs)), key=lambda j: runs[j][1] - runs[j][0])
    a, b = runs[i]
    if b - a < 6:
        return False
    lo, hi = a + (b - a) // 4, b - (b - a) // 4                 # cut in the middle half, at the least ink
    profile = ink[:, lo:hi].sum(0)
    cut = lo + int(np.argmin(profile + np.abs(np.arange(hi - lo) - (hi - lo) / 2) * 1e-3))
    runs[i:i + 1] = [[a, cut], [cut, b]]
    return True


def _merge_closest(runs):
    gaps = [(runs[j + 1][0] - runs[j][1], (runs[j + 1][1] - runs[j][0]), j) for j in range(len(runs) - 1)]
    _, _, j = min(gaps)
    runs[j:j + 2] = [[runs[j][0], runs[j + 1][1]]]


def segment(image: np.ndarray, digit_range: tuple[int, int] = (4, 4)) -> list[tuple[int, int]]:
    """Column spans [start, end) of the digits in the image, left to right."""
    ink = np.asarray(image) >= INK
    runs = [r for r in column_runs(ink) if ink[:, r[0]:r[1]].sum() >= MIN_RUN_INK]
    lo, hi = digit_range
    if not runs:
        return []
    while len(runs) > hi:
        _merge_closest(runs)
    while len(runs) < lo and _split_widest(runs, ink):
        pass
    while len(runs) < hi and max(b - a for a, b in runs) > WIDE and _split_widest(runs, ink):
        pass
    if lo == hi and len(runs) > lo:      # a split above can overshoot only when lo < hi; keep it exact
        while len(runs) > lo:
            _merge_closest(runs)
    return [tuple(r) for r in runs]


def crop(image: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """The digit in columns span as a 28x28 uint8 MNIST-style crop."""
    a, b = span
    part = np.asarray(image[:, a:b], dtype=np.float32)
    rows = np.flatnonzero((part >= INK).any(1))
    if len(rows) == 0:
        return np.zeros((28, 28), np.uint8)
    part = part[rows[0]:rows[-1] + 1]
    h, w = part.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(part, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((28, 28), np.float32)
    y0, x0 = (28 - nh) // 2, (28 - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return np.clip(out, 0, 255).astype(np.uint8)


def crops_of(images, digit_range=(4, 4)) -> tuple[np.ndarray, np.ndarray]:
    """All digit crops of a batch of images: crops (M, 28, 28) uint8, and for each image the number of
    crops it gave (so crops[counts[:i].sum():][:counts[i]] are image i's digits, left to right)."""
    crops, counts = [], np.zeros(len(images), np.int64)
    for i, image in enumerate(images):
        spans = segment(image, digit_range)
        counts[i] = len(spans)
        crops.extend(crop(image, s) for s in spans)
    return (np.stack(crops) if crops else np.zeros((0, 28, 28), np.uint8)), counts
