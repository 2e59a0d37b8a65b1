"""Writes a folder of test images in the original format (data0.npy, lab0.npy: sums only), to evaluate
models trained on the default data with `python run_bench.py --test-data DIR`:

    python benchmarks/test_folder.py hard  data/test-hard      # the composer's hard layout
    python benchmarks/test_folder.py other data/test-other     # another generator, plain
    python benchmarks/test_folder.py other-hard data/test-other-hard   # another generator, hard

All draw MNIST's 10,000 test digits, as the test split does; `--from train` draws its 50,000 training digits
instead, for a folder to train on (`python run_bench.py --data DIR --test-data data/test-other`). "other" is a
generator that shares no code with the composer, for checking what a model learned of the composer rather than
of the digits: each digit as MNIST drew it (its size, its stroke, no rotation), cropped to its ink; the gaps
between neighbours' ink boxes drawn evenly from 3 pixels overlapping to 8 apart; each digit placed anywhere
from the top to the bottom. "other-hard" is that generator's hard layout, written from the same description as
the composer's (touching and overlapping digits, 16 to 36 pixels high, rotated up to 25 degrees, uneven strokes,
speckle noise) with none of its code or choices: scipy instead of OpenCV, rotation before scaling, strokes
changed by grey erosion (a 3x3 cross) or dilation (3x3), gaps a share of the narrower neighbour's width, specks of
any size from a pixel to a short dash.
"""
import argparse
import io
from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 40, 168


def draw_row(image, inks, gaps, x, rng):
    """Draws `inks` left to right from column x, each `gaps[k]` columns after the end of the one before it (negative:
    overlapping), each at a random height; ink past the right edge is dropped."""
    for k, ink in enumerate(inks):
        h, w = ink.shape
        y = int(rng.integers(0, HEIGHT - h + 1))
        region = image[y:y + h, x:x + w]
        np.maximum(region, ink[:, :region.shape[1]], out=region)
        x += w + (int(gaps[k]) if k < len(gaps) else 0)


def other_generator(digit_images, digit_labels, n, count, seed):
    """n images of `count` digits, and their sums."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, HEIGHT, WIDTH), np.uint8)
    sums = np.zeros(n, np.int64)
    for i in range(n):
        picks = rng.integers(0, len(digit_images), count)
        inks = []
        for j in picks:
            rows, cols = np.nonzero(digit_images[j])
            inks.append(digit_images[j][rows.min():rows.max() + 1, cols.min():cols.max() + 1])
        gaps = rng.integers(-3, 9, count - 1)
        width = sum(ink.shape[1] for ink in inks) + gaps.sum()
        draw_row(images[i], inks, gaps, int(rng.integers(0, max(1, WIDTH - width + 1))), rng)
        sums[i] = digit_labels[picks].sum()
    return images, sums


def other_hard_digit(digit, rng):
    """A digit as the other generator's hard layout draws it: rotated by up to 25 degrees either way, its ink
    scaled to 16..36 pixels high, its strokes eroded (a 3x3 cross, from 24 pixels high), kept or dilated (3x3),
    cropped to its ink."""
    from scipy import ndimage
    turned = ndimage.rotate(digit.astype(np.float32), rng.uniform(-25, 25), reshape=True, order=1)
    rows, cols = np.nonzero(turned > 30)
    turned = turned[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scaled = ndimage.zoom(turned, rng.uniform(16, 36) / turned.shape[0], order=1)
    stroke = rng.integers(3)
    if stroke == 0 and scaled.shape[0] >= 24:
        scaled = ndimage.grey_erosion(scaled, footprint=ndimage.generate_binary_structure(2, 1))
    elif stroke == 2:
        scaled = ndimage.grey_dilation(scaled, size=(3, 3))
    rows, cols = np.nonzero(scaled > 30)
    return np.clip(scaled[rows.min():rows.max() + 1, cols.min():cols.max() + 1], 0, 255).astype(np.uint8)


def other_hard_generator(digit_images, digit_labels, n, count, seed):
    """n images of `count` digits drawn by other_hard_digit, and their sums: the gap between neighbours' ink
    boxes from 30% of the narrower one's width overlapping to 15% of it apart, each digit anywhere from the top
    to the bottom (a row too wide for the image is drawn again); specks of ink, single pixels to short dashes."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, HEIGHT, WIDTH), np.uint8)
    sums = np.zeros(n, np.int64)
    for i in range(n):
        while True:
            picks = rng.integers(0, len(digit_images), count)
            inks = [other_hard_digit(digit_images[j], rng) for j in picks]
            narrower = [min(a.shape[1], b.shape[1]) for a, b in zip(inks, inks[1:])]
            gaps = [int(round(rng.uniform(-0.3, 0.15) * w)) for w in narrower]
            width = sum(ink.shape[1] for ink in inks) + sum(gaps)
            if width <= WIDTH:
                break
        draw_row(images[i], inks, gaps, int(rng.integers(0, WIDTH - width + 1)), rng)
        for _ in range(int(rng.integers(0, 31))):
            y, x = int(rng.integers(0, HEIGHT)), int(rng.integers(0, WIDTH - 2))
            images[i, y, x:x + int(rng.integers(1, 4))] = rng.integers(80, 256)
        sums[i] = digit_labels[picks].sum()
    return images, sums


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=["hard", "other", "other-hard"])
    p.add_argument("out")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--digits", default="4", help="digits per image: a number (hard: also a range such as 1-5)")
    p.add_argument("--seed", type=int, default=1000, help="differs from every data seed the test split uses")
    p.add_argument("--from", dest="source", choices=["test", "train"], default="test",
                   help="MNIST's test digits (default) or its training digits (for a folder to train on)")
    args = p.parse_args()

    from bench.data import compose, load_mnist, parse_digits
    from bench.util import atomic_write_bytes

    digit_images, digit_labels = load_mnist()[args.source]
    lo, hi = parse_digits(args.digits)
    if args.kind == "hard":
        split = compose(digit_images, digit_labels, args.n, (lo, hi), args.seed, "hard")
        images, sums = split.images, split.sums
    else:
        if lo != hi:
            p.error("the other generator writes a fixed number of digits per image")
        generator = other_generator if args.kind == "other" else other_hard_generator
        images, sums = generator(digit_images, digit_labels, args.n, hi, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, array in (("data0.npy", images), ("lab0.npy", sums)):
        buf = io.BytesIO()
        np.save(buf, array)
        atomic_write_bytes(out / name, buf.getvalue())
    print(f"{out}: {len(images)} images, {args.kind}, {args.digits} digits, seed {args.seed}, "
          f"MNIST {args.source} digits")


if __name__ == "__main__":
    main()
