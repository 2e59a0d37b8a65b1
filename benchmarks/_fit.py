"""Shared by the fit scripts (yolo_fit.py, vit_fit.py): an approach's fit() and predict_batch() on the
default data outside the harness (no latency, plots or report)."""


def fit_and_test(make_approach, seconds: float, seed: int, threads: int):
    """Fits the approach make_approach() returns on the default train split (selecting on val) within
    `seconds`; returns it with its exact-sum and digit accuracy on the test split."""
    import numpy as np

    from bench.approach import Budget
    from bench.data import data_spec, load_dataset
    from bench.metrics import digit_accuracy, exact_correct
    from bench.util import seed_everything, tune_cpu

    tune_cpu(threads)
    dataset = load_dataset(data_spec())
    seed_everything(seed)
    approach = make_approach()
    approach.digit_range, approach.seed, approach.notes = dataset.digits, seed, {}
    approach.fit(dataset.train, dataset.val, Budget(seconds))
    images = np.asarray(dataset.test.images)
    sums_right = exact_correct(approach.predict_batch(images), dataset.test.sums).mean()
    digits_right = digit_accuracy(approach.predict_digits_batch(images), dataset.test.digit_lists())["digit_accuracy"]
    return approach, sums_right, digits_right


def curve(history) -> str:
    """A training history's val accuracy by epoch, with the seconds at its end: '81.0% (93 s), ...'."""
    return ", ".join(f"{h['val_accuracy']:.1%} ({h['seconds']:.0f} s)" for h in history) or "none"
