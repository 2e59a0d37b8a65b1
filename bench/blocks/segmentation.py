"""Column segmentation: an image of digits written left to right -> one 28x28 crop per digit, MNIST style
(the digit's ink scaled into a 20x20 box and centred in 28x28).

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
CHUNK = 1024           # crops_of works on this many images at a time (its arrays stay in the cache)


def column_runs(ink: np.ndarray) -> list[list[int]]:
    """[start, end) of each run of columns holding ink."""
    cols = ink.any(0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], cols.view(np.int8), [0]])))
    return [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]


def ink_runs(ink: np.ndarray) -> list[list[int]]:
    """[start, end) of each run of inked columns that holds at least MIN_RUN_INK ink pixels (fewer: a speck)."""
    return [r for r in column_runs(ink) if ink[:, r[0]:r[1]].sum() >= MIN_RUN_INK]


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
    runs = ink_runs(ink)
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


def crops_of(images, digit_range=(4, 4)) -> tuple[np.ndarray, np.ndarray]:
    """All digit crops of a batch of images: crops (M, 28, 28) uint8, and for each image the number of
    crops it gave (so crops[counts[:i].sum():][:counts[i]] are image i's digits, left to right).

    Each crop is the digit's ink (the span's columns, the rows that hold ink) scaled into a 20x20 box and
    centred in 28x28. Images whose ink runs already give an acceptable count skip segment()'s merging
    and splitting; every crop's rows of ink and scale are found for the whole batch at once."""
    images = np.asarray(images)
    crops, counts = [np.zeros((0, 28, 28), np.uint8)], [np.zeros(0, np.int64)]
    for start in range(0, len(images), CHUNK):
        chunk = images[start:start + CHUNK]
        ink = chunk >= INK
        spans, chunk_counts = _spans_of(chunk, ink, digit_range)
        crops.append(_crops(chunk, ink, spans))
        counts.append(chunk_counts)
    return np.concatenate(crops), np.concatenate(counts)


def slot_crops(images, digit_range=(4, 4)) -> np.ndarray:
    """Images -> (N, slots, 28, 28) uint8: each image's digit crops left to right in its first slots, the
    rest all dark; slots = the data's most digits (or more, if an image gave more crops)."""
    crops, counts = crops_of(images, digit_range)
    out = np.zeros((len(counts), max(digit_range[1], int(counts.max(initial=0))), 28, 28), np.uint8)
    start = 0
    for i, n in enumerate(counts):
        out[i, :n] = crops[start:start + n]
        start += n
    return out


def _spans_of(images: np.ndarray, ink: np.ndarray, digit_range) -> tuple[np.ndarray, np.ndarray]:
    """(M, 3) spans [image, start, end) in image order, left to right, and each image's count."""
    n, _, width = ink.shape
    inked = np.zeros((n, width + 2), np.int8)
    inked[:, 1:-1] = ink.any(1)
    edges = np.diff(inked, axis=1)
    image_of, starts = np.nonzero(edges == 1)                 # row-major: by image, then left to right
    _, ends = np.nonzero(edges == -1)
    cumulative = np.zeros((n, width + 1), np.int64)
    np.cumsum(ink.sum(1), axis=1, out=cumulative[:, 1:])
    keep = cumulative[image_of, ends] - cumulative[image_of, starts] >= MIN_RUN_INK
    image_of, starts, ends = image_of[keep], starts[keep], ends[keep]
    counts = np.bincount(image_of, minlength=n)
    widest = np.zeros(n, np.int64)
    np.maximum.at(widest, image_of, ends - starts)
    lo, hi = digit_range
    settled = (counts >= lo) & (counts <= hi) & ((counts == hi) | (widest <= WIDE))   # segment() changes nothing
    spans = [np.stack([image_of, starts, ends], 1)[settled[image_of]]]
    for i in np.flatnonzero(~settled):
        found = segment(images[i], digit_range)
        counts[i] = len(found)
        spans.append(np.array([(i, a, b) for a, b in found], np.int64).reshape(-1, 3))
    spans = np.concatenate(spans)
    return spans[np.lexsort((spans[:, 1], spans[:, 0]))], counts


def _crops(images: np.ndarray, ink: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """The 28x28 crop of every span (all dark where the span holds no ink)."""
    image_of, starts, ends = spans.T
    n, height, width = ink.shape
    ink_before = np.zeros((n, height, width + 1), np.int32)         # ink pixels left of each column
    np.cumsum(ink, axis=2, out=ink_before[:, :, 1:])
    rows = ink_before[image_of, :, ends] != ink_before[image_of, :, starts]      # (M, H): rows with ink
    top, bottom = rows.argmax(1), height - rows[:, ::-1].argmax(1)
    h, w = bottom - top, ends - starts
    scale = 20.0 / np.maximum(h, w)
    new_h = np.maximum(1, np.round(h * scale)).astype(np.int64)    # numpy and Python both round half to even
    new_w = np.maximum(1, np.round(w * scale)).astype(np.int64)
    out = np.zeros((len(spans), 28, 28), np.float32)
    for k, (inked, i, y, b, a, e, nh, nw) in enumerate(zip(*(v.tolist() for v in (
            rows.any(1), image_of, top, bottom, starts, ends, new_h, new_w)))):
        if not inked:                                              # an empty crop
            continue
        y0, x0 = (28 - nh) // 2, (28 - nw) // 2
        out[k, y0:y0 + nh, x0:x0 + nw] = cv2.resize(images[i, y:b, a:e].astype(np.float32), (nw, nh),
                                                    interpolation=cv2.INTER_AREA)
    return np.clip(out, 0, 255).astype(np.uint8)
