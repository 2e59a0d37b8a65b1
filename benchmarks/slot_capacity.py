"""What the slot recognizer's accuracy costs: fits approaches/digit_slots.py with a digit CNN of the given
size for a time budget on the default data, then prints its training and prediction speed beside its
accuracy on the test split (sums and single digits). Issue 9 asks for speed (>= 1,000 training and
>= 3,000 prediction images/s) and accuracy (99.0% of sums with digit labels) at once; this measures
what one costs in the other. Prediction speed is one call on the 3,000 test images.

    python benchmarks/slot_capacity.py [--widths 16,32,64] [--extra-convs 0,1,1] [--seconds 300]
                                       [--supervision digits|sum] [--max-epochs 60] [--threads 2]

--widths: the CNN's three stage widths; --extra-convs: 3x3 convolutions after each stage's pooling
(approaches/digit_slots.py DigitCNN). The defaults are the approach's own.
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def numbers(text):
    return tuple(int(v) for v in text.split(","))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--widths", type=numbers, default=(16, 32, 64))
    p.add_argument("--extra-convs", type=numbers, default=(0, 1, 1))
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--supervision", choices=("digits", "sum"), default="digits")
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()

    import numpy as np
    from approaches.digit_slots import DigitSlots
    from bench.approach import Budget
    from bench.data import data_spec, load_dataset
    from bench.metrics import digit_accuracy, exact_correct
    from bench.train import count_parameters
    from bench.util import seed_everything, tune_cpu

    tune_cpu(args.threads)
    dataset = load_dataset(data_spec())
    seed_everything(0)
    approach = DigitSlots(supervision=args.supervision, widths=args.widths, extra_convs=args.extra_convs,
                          max_epochs=args.max_epochs)
    approach.digit_range, approach.notes = dataset.digits, {}
    approach.fit(dataset.train, dataset.val, Budget(args.seconds))
    history = approach.history
    images = np.asarray(dataset.test.images)
    started = time.perf_counter()
    sums = approach.predict_batch(images)
    predict_seconds = time.perf_counter() - started
    sums_right = exact_correct(sums, dataset.test.sums).mean()
    digits_right = digit_accuracy(approach.predict_digits_batch(images), dataset.test.digit_lists())["digit_accuracy"]
    last = history[-1]
    labels = "digit" if args.supervision == "digits" else "sum"
    print(f"widths {','.join(map(str, args.widths))} extra convs {','.join(map(str, args.extra_convs))} "
          f"({count_parameters(approach.model):,} parameters), {labels} labels, {args.seconds:.0f} s: "
          f"{len(history)} epochs at {last['images_seen'] / last['train_seconds']:,.0f} training images/s; "
          f"val {max(h['val_accuracy'] for h in history):.2%}; test sums {sums_right:.2%}, "
          f"digits {digits_right:.2%}; prediction {len(images) / predict_seconds:,.0f} images/s")


if __name__ == "__main__":
    main()
