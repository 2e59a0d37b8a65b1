"""Reading one's own images for --predict: PNG, JPEG (any format Pillow reads) or .npy, any size, dark
digits on a light background or light on dark. The result looks like the bench's images: digits bright on
a dark background, scaled to fit the training canvas (40x168 by default) at the composer's digit height.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

DIGIT_HEIGHT = 28            # the composer's digits are MNIST's 28-pixel digits


class ImageError(Exception):
    """An image file that cannot be used; the message is one line naming the file."""


def load_pixels(path: str | Path) -> np.ndarray:
    """The file's pixels as a 2-D float32 array (grey levels 0..255), or an ImageError."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        from bench.data import DataError, _load_npy
        try:
            arr = np.squeeze(np.asarray(_load_npy(path)))   # the loader's checks: readable, numeric, no pickle
        except DataError as e:
            raise ImageError(str(e)) from None
        if arr.ndim == 3 and arr.shape[-1] in (3, 4):
            arr = arr[..., :3].astype(np.float64).mean(-1)
        if arr.ndim != 2:
            raise ImageError(f"{path}: expected one 2-D image, got shape {arr.shape}")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ImageError(f"{path}: non-finite pixels (NaN or inf)")
        if arr.size and arr.max() <= 1.0 and arr.min() >= 0.0:
            arr = arr * 255.0                      # a 0..1 image
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ImageError(f"{path}: pixel values outside 0..255 (or 0..1)")
    else:
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(path) as img:
                img.load()
                arr = np.asarray(img.convert("L"), np.float64)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, ImportError,
                Image.DecompressionBombError) as e:
            raise ImageError(f"{path}: not a readable image ({type(e).__name__}: {str(e)[:80]})") from None
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ImageError(f"{path}: the image holds no pixels")
    return arr.astype(np.float32)


def to_bench_image(pixels: np.ndarray, size: tuple[int, int] = (40, 168)) -> np.ndarray:
    """Grey pixels -> a bench image: digits bright on dark, the ink scaled to the composer's digit height
    (or less, to fit the width) and centred on a canvas of `size`."""
    h, w = size
    x = np.asarray(pixels, np.float32)

    def background(a):
        return float(np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])))
    if background(x) > 127:                        # dark digits on a light background
        x = 255.0 - x
    x = np.clip(x - background(x), 0, None)
    if x.max() <= 0:
        return np.zeros(size, np.float32)         # a blank image: nothing to read
    x = x * (255.0 / x.max())
    rows, cols = np.flatnonzero(x.max(1) > 64), np.flatnonzero(x.max(0) > 64)
    x = x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]     # the ink's bounding box
    scale = min(DIGIT_HEIGHT / x.shape[0], (w - 4) / x.shape[1])
    new_h, new_w = max(1, round(x.shape[0] * scale)), max(1, round(x.shape[1] * scale))
    from PIL import Image
    resized = np.asarray(Image.fromarray(x).resize((new_w, new_h), Image.Resampling.LANCZOS), np.float32)
    canvas = np.zeros(size, np.float32)
    top, left = (h - new_h) // 2, (w - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = np.clip(resized, 0, 255)
    return canvas


def read_image(path: str | Path, size: tuple[int, int] = (40, 168)) -> np.ndarray:
    return to_bench_image(load_pixels(path), size)
