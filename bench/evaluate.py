"""The evaluation of one approach, inside its own process (bench.sandbox): requirements, fit (or the cached
checkpoint), prediction on the shared splits with every answer checked, timing. Returns the raw result
(predictions and measurements) that bench.runner turns into a row."""
from __future__ import annotations

import math
import time

import numpy as np

from bench.util import seed_everything, tune_cpu

TRAIN_SAMPLE = 3000        # train accuracy is measured on this many fixed train images (300 under --quick;
                           # all of them with --work report, whose figures pool train, val and test)
PREDICT_CHUNK = 500


class ApproachFault(Exception):
    """The approach broke the contract (bad output); the message names the fault."""


class Stage:
    """What the evaluation is doing now, so that a failure's reason can say where it happened."""

    def __init__(self):
        self.now = "start"


def as_sums(values, n: int, what: str) -> np.ndarray:
    """Checks an approach's answer: n finite numbers, or an ApproachFault naming what is wrong."""
    if values is None:
        raise ApproachFault(f"{what} returned None")
    try:
        seq = list(values)
    except TypeError:
        raise ApproachFault(f"{what} returned {type(values).__name__}, not a sequence of numbers") from None
    if len(seq) != n:
        raise ApproachFault(f"{what} returned {len(seq)} values for {n} images")
    out = np.empty(n)
    for i, v in enumerate(seq):
        if v is None or isinstance(v, (str, bytes)):
            raise ApproachFault(f"{what} returned {v!r} for image {i}, not a number")
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise ApproachFault(f"{what} returned {type(v).__name__} for image {i}, not a number") from None
        if not math.isfinite(out[i]):
            raise ApproachFault(f"{what} returned {out[i]} for image {i}, not a finite number")
    return out


def checked_images(images, what: str) -> np.ndarray:
    """Images as an approach may see them: (N, H, W), finite, within 0..255; else a DataError."""
    from bench.data import DataError
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype.kind not in "biuf":
        raise DataError(f"{what}: expected 2-D numeric images, got an array of shape {images.shape} ({images.dtype})")
    if images.size and images.dtype.kind == "f" and not np.isfinite(images).all():
        raise DataError(f"{what}: non-finite pixels (NaN or inf)")
    if images.size and (images.min() < 0 or images.max() > 255):
        raise DataError(f"{what}: pixel values outside 0..255")
    return images


def predict_split(approach, images, progress, label: str, details: bool = False, stage: Stage | None = None):
    """Batched prediction over a split, in chunks: the sums and the seconds predict_batch took; with
    `details`, also the digits read and the confidences where the approach gives them (asked of the same
    chunks, untimed, so an approach may answer them from the pass it just made), else None."""
    cls = type(approach)
    stage = stage or Stage()
    want_digits = details and cls.reads_digits()
    want_confidence = details and cls.implements("confidence_batch")
    sums, digits, confidence, seconds = [], [] if want_digits else None, [] if want_confidence else None, 0.0
    for start in range(0, len(images), PREDICT_CHUNK):
        chunk = checked_images(images[start:start + PREDICT_CHUNK], f"{label}, images {start}..")
        stage.now = "predict"
        t = time.perf_counter()
        out = approach.predict_batch(chunk)
        seconds += time.perf_counter() - t
        sums.append(as_sums(out, len(chunk), "predict_batch"))
        if want_digits:
            stage.now = "predict_digits"
            read = approach.predict_digits_batch(chunk)
            if read is None or len(read) != len(chunk):
                raise ApproachFault("predict_digits_batch returned the wrong number of digit lists")
            digits += [[int(d) for d in row] for row in read]
        if want_confidence:
            stage.now = "confidence"
            confidence.append(as_sums(approach.confidence_batch(chunk), len(chunk), "confidence_batch"))
        progress(label, min(start + PREDICT_CHUNK, len(images)), len(images))
    sums = np.concatenate(sums) if sums else np.empty(0)
    if confidence is not None:
        confidence = np.concatenate(confidence) if confidence else np.empty(0)
    return sums, seconds, digits, confidence


def fit_or_load(entry, approach, dataset, job, budget, warn) -> dict:
    """Trains the approach, or loads the checkpoint a run with the same key saved; what that cost."""
    from bench.checkpoints import checkpoint_path, load_checkpoint, locked, save_checkpoint
    from bench.data import DATA_DIR
    path = checkpoint_path(job["cache"], entry, dataset.hash, budget.describe(), job["seed"], job["device"])
    with locked(path):
        cached = None if job["retrain"] or not entry.cls.implements("get_state") else \
            load_checkpoint(path, approach, warn)
        if cached is not None:
            approach.notes.update(cached.get("notes", {}))
            done = {"fit_seconds": cached["fit_seconds"], "history": cached.get("history", []), "trained": "cached"}
        else:
            seed_everything(job["seed"])
            started = time.perf_counter()
            approach.fit(dataset.train, dataset.val, budget)
            done = {"fit_seconds": time.perf_counter() - started, "trained": True,
                    "history": getattr(approach, "history", [])}
            state = approach.get_state()
            if state is not None:
                save_checkpoint(path, state, {"fit_seconds": done["fit_seconds"], "notes": approach.notes,
                                              "history": done["history"]})
    if path.exists():
        root = DATA_DIR.parent
        done["checkpoint"] = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    else:
        done["checkpoint"] = None
    return done


def evaluate(job: dict, progress, warn, stage: Stage) -> dict:
    """The raw result of one approach on the job's data: status, predictions, timings."""
    import torch

    from bench.approach import budget_for
    from bench.data import load_dataset
    from bench.discovery import load_entry
    from bench.timing import latency_percentiles, peak_memory_mb

    seed_everything(job["seed"])
    tune_cpu(job["threads"])
    torch.use_deterministic_algorithms(True, warn_only=True)     # the same seed, the same model and answers
    stage.now = "loading plugin"
    entry = load_entry(job["name"], job["origin"])
    stage.now = "constructing"
    approach = entry.create(device=job["device"], seed=job["seed"], digit_range=job["data"]["digits"])
    unmet = [r for r in approach.requirements() if not r.ok]
    if unmet:
        return {"status": "skipped", "reason": "; ".join(str(r) for r in unmet)}
    stage.now = "loading data"
    dataset = load_dataset(job["data"])

    result = {"status": "ok", "trained": False, "fit_seconds": 0.0, "history": []}
    if entry.cls.implements("fit"):
        stage.now = "fit"
        budget = budget_for(approach, job["budget"], job["quick"], progress, entry.protocol(job.get("work")))
        result.update(budget_kind=budget.kind, work=budget.describe())
        result.update(fit_or_load(entry, approach, dataset, job, budget, warn))

    test_pred, test_seconds, test_digits, test_confidence = predict_split(
        approach, dataset.test.images, progress, "predicting test", details=True, stage=stage)
    result["test_pred"] = test_pred.tolist()
    if test_digits is not None:
        result["test_digits"] = test_digits
    if test_confidence is not None:
        result["test_confidence"] = test_confidence.tolist()
    result["throughput"] = len(test_pred) / test_seconds if test_seconds > 0 else None
    if entry.cls.implements("fit"):              # val and train accuracy mean something only for what trains
        val_pred = predict_split(approach, dataset.val.images, progress, "predicting val", stage=stage)[0]
        result["val_pred"] = val_pred.tolist()
        sample_size = len(dataset.train) if job.get("work") == "report" else \
            TRAIN_SAMPLE // 10 if job["quick"] else TRAIN_SAMPLE
        sample = np.sort(np.random.default_rng(job["data"]["seed"]).permutation(len(dataset.train))[:sample_size])
        train_pred = predict_split(approach, dataset.train.images[sample], progress, "predicting train sample",
                                   stage=stage)[0]
        result["train_index"], result["train_pred"] = sample.tolist(), train_pred.tolist()

    stage.now = "latency"
    images = checked_images(dataset.test.images[: max(1, min(len(dataset.test), 256))], "latency images")
    progress("timing single images", 0, 1)
    calls = job["latency_calls"]
    result.update(latency_percentiles(lambda image: as_sums([approach.predict_sum(image)], 1, "predict_sum"),
                                      images, calls=calls, warmup=min(10, calls)))
    progress("timing single images", 1, 1)
    result["params"] = approach.parameter_count()
    result["notes"] = dict(approach.notes)
    result["peak_memory_mb"] = peak_memory_mb()
    return result
