"""Prediction speed of registered approaches: images/s of predict_batch over the default test split
(3,000 images), or over the images of a folder in the original format (--images DIR), and single-image
latency of predict_sum (p50, p95), after a short fit on the default data (speed depends little on how well
a model is trained), or of the model a default run trained (--trained: a reader that reads unsure crops again
works more when it is less trained).

    python benchmarks/predict_speed.py slot_cnn_sum_only classic_cv tesseract_ocr_tuned [--fit-seconds 20]
    python benchmarks/predict_speed.py slot_cnn_digit_sup --images data/test-other    # touching digits
    python benchmarks/predict_speed.py slot_cnn_digit_sup --trained     # after python run_bench.py --approaches ...
"""
import argparse
import os
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("approaches", nargs="+")
    p.add_argument("--fit-seconds", type=float, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--images", help="a folder in the original format whose images are timed instead")
    p.add_argument("--trained", action="store_true", help="time the cached model of a default run (training seed 0)")
    args = p.parse_args()

    import numpy as np

    from bench.approach import Budget
    from bench.data import DataError, data_spec, load_dataset, load_folder
    from bench.discovery import discover
    from bench.predict import PredictError, load_trained
    from bench.timing import latency_percentiles
    from bench.util import seed_everything, tune_cpu

    tune_cpu(args.threads)
    registry, _ = discover()
    dataset = load_dataset(data_spec())
    try:
        images = np.asarray(load_folder(args.images).images if args.images else dataset.test.images)
    except DataError as e:
        p.error(str(e))
    for name in args.approaches:
        seed_everything(0)
        if args.trained:
            try:
                approach = load_trained(name, dataset, None, False, "cpu", warn=print)
            except PredictError as e:
                print(e)
                continue
        else:
            approach = registry[name].create(digit_range=dataset.digits)
            approach.fit(dataset.train, dataset.val, Budget(seconds=args.fit_seconds, quick=True))
        approach.predict_batch(images[:64])                              # warm-up
        best = float("inf")
        for repeat in range(args.repeats):
            batch = np.roll(images, repeat, axis=0)      # a new batch each time: no approach may reuse an answer
            started = time.perf_counter()
            approach.predict_batch(batch)
            best = min(best, time.perf_counter() - started)
        single = latency_percentiles(approach.predict_sum, images)
        print(f"{name}: {len(images) / best:,.0f} images/s batched ({len(images)} images in {best:.2f} s, "
              f"best of {args.repeats}); single image p50 {single['latency_ms_p50']:.2f} ms, "
              f"p95 {single['latency_ms_p95']:.2f} ms ({single['latency_calls']} calls); {args.threads} threads")


if __name__ == "__main__":
    main()
