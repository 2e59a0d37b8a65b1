"""yolo_digits' fit() and predict_batch() outside the harness, with its settings on the command line: trains
on the default data's train split for a time budget, then prints the exact-sum accuracy of 500 val images
after each epoch and the test split's sums and digits. It measures what a setting buys without a whole
run_bench.py run (no latency, plots or report); the README's fit-script figures for YOLO come from it.

    python benchmarks/yolo_fit.py [--seconds 600] [--seed 0] [--class-loss-gain G] [--lr L] [--imgsz N]
                                  [--model-yaml Y] [--threads 2]     (unset: yolo_digits' own settings)
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--seed", type=int, default=0)
    # the approach's settings: unset ones keep YOLODigits' own defaults
    p.add_argument("--class-loss-gain", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--imgsz", type=int, help="ultralytics' input size (the long side)")
    p.add_argument("--model-yaml")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()

    from approaches.yolo_digits import YOLODigits
    from benchmarks._fit import curve, fit_and_test

    settings = dict(class_loss_gain=args.class_loss_gain, lr=args.lr, imgsz=args.imgsz, model_yaml=args.model_yaml)
    approach, sums_right, digits_right = fit_and_test(
        lambda: YOLODigits(**{name: value for name, value in settings.items() if value is not None}),
        args.seconds, args.seed, args.threads)
    print(f"{approach.model_yaml} at {approach.imgsz}, class loss gain {approach.class_loss_gain}, lr {approach.lr}, seed {args.seed}, "
          f"{args.seconds:.0f} s: "
          f"500 val images by epoch {curve(approach.history)}; test sums {sums_right:.2%}, digits {digits_right:.2%}")


if __name__ == "__main__":
    main()
