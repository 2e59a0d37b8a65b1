"""vit_finetune's fit() and predict_batch() outside the harness, with its settings on the command line: trains
on the default data's train split for a time budget, then prints the pre-training's and the fine-tuning's
val curves and the test split's sums and digits. It measures what a setting buys without a whole
run_bench.py run (no latency, plots or report); the README's fit-script figures for the ViT come from it.

    python benchmarks/vit_fit.py [--seconds 180] [--head regression|classification] [--init pretrained|scratch]
                                 [--pretrain-share S] [--seed 0] [--threads 2]     (unset: vit_finetune's own)
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=180)
    p.add_argument("--seed", type=int, default=0)
    # the approach's settings: unset ones keep DigitViTSum's own defaults
    p.add_argument("--head", choices=("regression", "classification"))
    p.add_argument("--init", choices=("pretrained", "scratch"))
    p.add_argument("--pretrain-share", type=float)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()

    from approaches.vit import DigitViTSum
    from benchmarks._fit import curve, fit_and_test

    settings = dict(head=args.head, init=args.init, pretrain_share=args.pretrain_share)
    approach, sums_right, digits_right = fit_and_test(
        lambda: DigitViTSum(**{name: value for name, value in settings.items() if value is not None}),
        args.seconds, args.seed, args.threads)
    print(f"{approach.head} head, {approach.init}, pre-training share {approach.pretrain_share}, seed {args.seed}, "
          f"{args.seconds:.0f} s: {approach.notes['init']}; held-out digits by pre-training epoch "
          f"{curve(getattr(approach, 'pretrain_history', []))}; val sums by fine-tuning epoch {curve(approach.history)}; "
          f"test sums {sums_right:.2%}, digits {digits_right:.2%}")


if __name__ == "__main__":
    main()
