"""Runs one approach in its own process: requirements, fit (or the cached checkpoint), prediction on
the shared splits, timing. Sends progress and one result message to the parent through a queue;
the parent turns a crash, a hang or a bad answer into that approach's failed row.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from bench.util import atomic_write_bytes, seed_everything, tune_cpu

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR = ROOT / "data" / "checkpoints"
TRAIN_SAMPLE = 3000        # train accuracy is measured on this many fixed train images (300 under --quick)
PREDICT_CHUNK = 500


class ApproachFault(Exception):
    """The approach broke the contract (bad output); the message names the fault."""


def _send(queue, *msg):
    try:
        queue.put(msg)
    except Exception:  # noqa: BLE001 - the parent may be gone; nothing to do
        pass


def _redirect_output(log_path: str) -> None:
    """The approach's own prints go to its log file, never into the parent's table or progress bars."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(fd, 1), os.dup2(fd, 2)
    os.close(fd)


def _limit_log(log_path: str, limit: int = 20 * 2**20) -> None:
    """Caps the log file: an approach that prints without end fills its log, not the disk. The cap is the
    soft limit on any file the worker writes; bench.util.large_files_allowed() lifts it for big files an
    approach writes on purpose."""
    import resource
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # a write past the cap fails instead of killing us


def code_version(entry) -> str:
    """Hash of the approach's file, the shared helpers beside it (files starting with _) and the training loop."""
    h = hashlib.sha256()
    helpers = sorted(Path(entry.source).parent.glob("_*.py")) if Path(entry.source).is_file() else []
    for path in (entry.source, *helpers, ROOT / "bench" / "train.py"):
        try:
            h.update(Path(path).read_bytes())
        except OSError:
            h.update(str(path).encode())
    return h.hexdigest()[:12]


def checkpoint_path(entry, dataset_hash: str, budget: float, device: str) -> Path:
    key = json.dumps({"name": entry.name, "kwargs": entry.kwargs, "data": dataset_hash, "budget": budget,
                      "code": code_version(entry), "device": device}, sort_keys=True, default=str)
    return CHECKPOINT_DIR / f"{entry.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def load_checkpoint(path: Path, approach, warn) -> dict | None:
    import torch
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        approach.set_state(saved["state"])
        return json.loads(saved["meta"])
    except Exception as e:  # noqa: BLE001 - a damaged checkpoint is retrained, with a warning
        warn(f"checkpoint {path.name} unreadable ({type(e).__name__}); retraining")
        return None


def save_checkpoint(path: Path, state: dict, meta: dict) -> None:
    import torch
    buf = io.BytesIO()
    torch.save({"state": state, "meta": json.dumps(meta, default=str)}, buf)
    atomic_write_bytes(path, buf.getvalue())


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


def predict_split(approach, images, progress, label: str, details: bool = False):
    """Batched prediction over a split, in chunks: the sums and the seconds predict_batch took; with
    `details`, also the digits read and the confidences where the approach gives them (asked of the same
    chunks, untimed, so an approach may answer them from the pass it just made), else None."""
    cls = type(approach)
    want_digits = details and (cls.implements("predict_digits") or cls.implements("predict_digits_batch"))
    want_confidence = details and cls.implements("confidence_batch")
    sums, digits, confidence, seconds = [], [] if want_digits else None, [] if want_confidence else None, 0.0
    for start in range(0, len(images), PREDICT_CHUNK):
        chunk = checked_images(images[start:start + PREDICT_CHUNK], f"{label}, images {start}..")
        t = time.perf_counter()
        out = approach.predict_batch(chunk)
        seconds += time.perf_counter() - t
        sums.append(as_sums(out, len(chunk), "predict_batch"))
        if want_digits:
            _phase[0] = "predict_digits"
            read = approach.predict_digits_batch(chunk)
            if read is None or len(read) != len(chunk):
                raise ApproachFault("predict_digits_batch returned the wrong number of digit lists")
            digits += [[int(d) for d in row] for row in read]
        if want_confidence:
            _phase[0] = "confidence"
            confidence.append(as_sums(approach.confidence_batch(chunk), len(chunk), "confidence_batch"))
        _phase[0] = "predict"
        progress(label, min(start + PREDICT_CHUNK, len(images)), len(images))
    sums = np.concatenate(sums) if sums else np.empty(0)
    if confidence is not None:
        confidence = np.concatenate(confidence) if confidence else np.empty(0)
    return sums, seconds, digits, confidence


def _exit_with_parent() -> None:
    """A worker whose parent is gone (killed, Ctrl-C'd twice) stops instead of training on unseen."""
    import threading
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os.killpg(os.getpid(), 9)               # this process and whatever the approach started

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def run(job: dict, queue) -> None:
    """Entry point of the worker process."""
    os.setsid()                                  # its own process group: the parent can kill all it spawns
    _exit_with_parent()
    _redirect_output(job["log"])
    _limit_log(job["log"])
    if job.get("memory_limit_mb"):
        import resource
        limit = int(job["memory_limit_mb"]) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    last = [0.0]

    def progress(desc, completed, total, **info):
        now = time.monotonic()
        if completed >= total or now - last[0] > 0.25:
            last[0] = now
            _send(queue, "progress", desc, completed, total, {k: str(v) for k, v in info.items()})

    def warn(text):
        _send(queue, "warning", text)

    try:
        result = _run(job, progress, warn)
    except ApproachFault as e:
        result = {"status": "failed", "reason": str(e)}
    except MemoryError:
        result = {"status": "failed", "reason": "ran out of memory (MemoryError)"}
    except BaseException as e:  # noqa: BLE001 - SystemExit, KeyboardInterrupt in a plugin cost its row only
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f" at {Path(f.filename).name}:{f.lineno} in {f.name}" for f in reversed(tb)
                      if "/bench/" not in f.filename), "")
        _log_quietly(traceback.print_exc)      # the log may be full (an approach that printed without end)
        result = {"status": "failed", "reason": f"{_phase[0]}: {type(e).__name__}: {str(e)[:300]}{where}"}
    _send(queue, "result", result)
    try:
        queue.close()
        queue.join_thread()          # the result must be through the pipe before we exit
    except Exception:  # noqa: BLE001
        pass
    _log_quietly(sys.stdout.flush), _log_quietly(sys.stderr.flush)
    os._exit(0)          # skip interpreter teardown: a plugin's stuck threads must not keep us alive


_phase = ["start"]


def _log_quietly(write) -> None:
    """Writes to the approach's log unless it is full or gone: the result matters more than the log."""
    try:
        write()
    except OSError:
        pass


def _run(job: dict, progress, warn) -> dict:
    from bench.approach import Budget, effective_budget
    from bench.data import load_dataset
    from bench.discovery import discover

    seed_everything(job["seed"])
    tune_cpu(job["threads"])
    _phase[0] = "loading plugin"
    registry, broken = discover()
    for b in broken:
        if b.name == job["name"]:
            return {"status": "failed", "reason": f"plugin failed to import: {b.error}"}
    entry = registry[job["name"]]
    _phase[0] = "constructing"
    approach = entry.create()
    approach.device, approach.seed = job["device"], job["seed"]
    unmet = [r for r in approach.requirements() if not r.ok]
    if unmet:
        return {"status": "skipped", "reason": "; ".join(str(r) for r in unmet)}

    _phase[0] = "loading data"
    dataset = load_dataset(job["data"])
    approach.digit_range = dataset.digits          # how many digits an image may hold
    seconds = effective_budget(entry.cls, job["budget"], job["quick"])
    budget = Budget(seconds, quick=job["quick"], progress=progress)
    result = {"status": "ok", "trained": False, "fit_seconds": 0.0, "history": [], "budget": seconds}

    if entry.cls.implements("fit"):
        _phase[0] = "fit"
        path = checkpoint_path(entry, dataset.hash, seconds, job["device"])
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)     # two runs at once train a key once, never write it twice
            cached = None if job["retrain"] or not entry.cls.implements("get_state") else \
                load_checkpoint(path, approach, warn)
            if cached is not None:
                result.update(fit_seconds=cached["fit_seconds"], history=cached.get("history", []),
                              trained="cached")
                approach.notes.update(cached.get("notes", {}))
            else:
                seed_everything(job["seed"])
                t = time.perf_counter()
                approach.fit(dataset.train, dataset.val, budget)
                result.update(fit_seconds=time.perf_counter() - t, trained=True,
                              history=getattr(approach, "history", []))
                state = approach.get_state()
                if state is not None:
                    save_checkpoint(path, state, {"fit_seconds": result["fit_seconds"], "notes": approach.notes,
                                                   "history": result["history"]})
            result["checkpoint"] = str(path.relative_to(ROOT)) if path.exists() else None

    _phase[0] = "predict"
    test_pred, test_seconds, test_digits, test_confidence = predict_split(
        approach, dataset.test.images, progress, "predicting test", details=True)
    result["test_pred"] = test_pred.tolist()
    if test_digits is not None:
        result["test_digits"] = test_digits
    if test_confidence is not None:
        result["test_confidence"] = test_confidence.tolist()
    result["throughput"] = len(test_pred) / test_seconds if test_seconds > 0 else None
    if entry.cls.implements("fit"):              # val and train accuracy mean something only for what trains
        val_pred = predict_split(approach, dataset.val.images, progress, "predicting val")[0]
        result["val_pred"] = val_pred.tolist()
        sample_size = TRAIN_SAMPLE // 10 if job["quick"] else TRAIN_SAMPLE
        sample = np.sort(np.random.default_rng(job["seed"]).permutation(len(dataset.train))[:sample_size])
        train_pred = predict_split(approach, dataset.train.images[sample], progress, "predicting train sample")[0]
        result["train_index"], result["train_pred"] = sample.tolist(), train_pred.tolist()

    _phase[0] = "latency"
    images = checked_images(dataset.test.images[: max(1, min(len(dataset.test), 256))], "latency images")

    def one(image):
        as_sums([approach.predict_sum(image)], 1, "predict_sum")

    progress("timing single images", 0, 1)
    result.update(_latency(one, images, job["latency_calls"]))
    progress("timing single images", 1, 1)
    result["params"] = approach.parameter_count()
    result["notes"] = {k: v for k, v in approach.notes.items()}
    result["peak_memory_mb"] = _peak_memory()
    return result


def _latency(one, images, calls):
    from bench.timing import latency_percentiles
    return latency_percentiles(one, images, calls=calls, warmup=min(10, calls))


def _peak_memory():
    from bench.timing import peak_memory_mb
    return peak_memory_mb()
