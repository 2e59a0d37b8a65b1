"""Training speed of a registered approach that trains with bench.train: images/s over the training steps
(validation excluded), measured by fitting it on the default training split for a few seconds.

    python benchmarks/train_speed.py cnn_attention [--seconds 40] [--threads 2]
"""
import argparse
import os
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("approaches", nargs="+")
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--digits", default="4")
    args = p.parse_args()

    from bench.approach import Budget
    from bench.data import data_spec, load_dataset
    from bench.discovery import discover
    from bench.util import seed_everything, tune_cpu

    tune_cpu(args.threads)
    registry, _ = discover()
    dataset = load_dataset(data_spec(digits=args.digits))
    for name in args.approaches:
        seed_everything(0)
        approach = registry[name].create(digit_range=dataset.digits)
        started = time.perf_counter()
        approach.fit(dataset.train, dataset.val, Budget(seconds=args.seconds))
        wall = time.perf_counter() - started
        history = getattr(approach, "history", [])
        if not history or "train_seconds" not in history[-1]:
            print(f"{name}: no training history (does it train with bench.train?)")
            continue
        last = history[-1]
        print(f"{name}: {last['images_seen'] / last['train_seconds']:,.0f} training images/s "
              f"({last['images_seen']:,} images in {last['train_seconds']:.1f} s of training steps, "
              f"{wall:.1f} s wall with validation and set-up; {args.threads} threads; "
              f"val accuracy {max(h['val_accuracy'] for h in history):.4f})")


if __name__ == "__main__":
    main()
