"""Writes a folder of test images in the original format (data0.npy, lab0.npy: sums only), to evaluate
models trained on the default data with `python run_bench.py --test-data DIR`:

    python benchmarks/test_folder.py hard  data/test-hard      # the composer's hard layout
    python benchmarks/test_folder.py other data/test-other     # another generator, plain

Both draw MNIST's 10,000 test digits, as the test split does; `--from train` draws its 50,000 training digits
instead, for a folder to train on (`python run_bench.py --data DIR --test-data data/test-other`). "other" is a
generator that shares no code with the composer, for checking what a model learned of the composer rather than
of the digits: each digit as MNIST drew it (its size, its stroke, no rotation), cropped to its ink; the gaps
between neighbours' ink boxes drawn evenly from 3 pixels overlapping to 8 apart; each digit placed anywhere
from the top to the bottom.
"""
import argparse
import io
from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 40, 168


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
        x = int(rng.integers(0, max(1, WIDTH - width + 1)))
        for k, ink in enumerate(inks):
            h, w = ink.shape
            y = int(rng.integers(0, HEIGHT - h + 1))
            region = images[i, y:y + h, x:x + w]
            np.maximum(region, ink[:, :region.shape[1]], out=region)
            x += w + (int(gaps[k]) if k < count - 1 else 0)
        sums[i] = digit_labels[picks].sum()
    return images, sums


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=["hard", "other"])
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
        images, sums = other_generator(digit_images, digit_labels, args.n, hi, args.seed)
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
