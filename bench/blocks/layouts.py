"""Training layouts an approach draws from its own training images: the same digits, cut out by their
boxes, laid out again closer together, so that a reader trained on them meets touching neighbours, digits
at any height and of other sizes, as other writers and generators draw them (the composer's plain layout
keeps its digits apart)."""
import cv2
import numpy as np


def pushed_together(images: np.ndarray, boxes: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each image's digits (boxes: (N, slots, 4) x, y, w, h of each digit's ink, -1 where none, boxes
    apart) laid out again left to right in the same order: each scaled by 0.8..1.25 (at most the image
    high) and placed at any height; the gap between neighbours' ink drawn from a third of the narrower one's
    width overlapping to a quarter of it apart, so that about half the images hold touching digits. Returns the images
    and their boxes (the boxes of the ink each digit drew)."""
    rng = np.random.default_rng(seed)
    n, height, width = images.shape
    out = np.zeros_like(images)
    new_boxes = np.full_like(boxes, -1)
    for i in range(n):
        patches = []
        for x, y, w, h in boxes[i]:
            if w <= 0:
                continue
            scale = min(rng.uniform(0.8, 1.25), height / h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            patches.append(cv2.resize(images[i, y:y + h, x:x + w], size, interpolation=cv2.INTER_LINEAR))
        lefts = [0.0]
        for left, right in zip(patches, patches[1:]):
            narrower = min(left.shape[1], right.shape[1])
            lefts.append(lefts[-1] + left.shape[1] + narrower * rng.uniform(-1 / 3, 1 / 4))
        last = patches[-1].shape[1]
        squeeze = min(1.0, (width - last) / lefts[-1]) if lefts[-1] > 0 else 1.0      # a row too wide
        margin = rng.uniform(0, max(0.0, width - lefts[-1] * squeeze - last))
        for slot, (patch, left) in enumerate(zip(patches, lefts)):
            x0, (h, w) = int(margin + left * squeeze), patch.shape
            y0 = int(rng.integers(0, height - h + 1))
            region = out[i, y0:y0 + h, x0:x0 + w]
            drawn = patch[:, :region.shape[1]]
            np.maximum(region, drawn, out=region)
            ys, xs = np.nonzero(drawn)
            if len(xs):
                new_boxes[i, slot] = (x0 + xs.min(), y0 + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    return out, new_boxes


def boxes_apart(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: whether no two of an image's digit boxes share a column, so that each box holds one digit."""
    left, right = boxes[..., 0], boxes[..., 0] + boxes[..., 2]
    filled = boxes[..., 2] > 0
    overlap = (left[:, :, None] < right[:, None, :]) & (left[:, None, :] < right[:, :, None])
    overlap &= filled[:, :, None] & filled[:, None, :] & ~np.eye(boxes.shape[1], dtype=bool)
    return ~overlap.any((1, 2))
