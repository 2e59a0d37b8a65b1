"""Latency percentiles, batched throughput and peak memory of the current process."""
from __future__ import annotations

import resource
import time

import numpy as np


def latency_percentiles(predict_one, images, calls: int = 200, warmup: int = 10, max_seconds: float = 15.0,
                        min_calls: int = 30) -> dict:
    """Single-image latency over `calls` calls after `warmup` calls, cycling through `images`. A slow
    approach stops after `max_seconds` of timed calls (but not before `min_calls`); the count is kept."""
    for i in range(warmup):
        predict_one(images[i % len(images)])
    times = []
    started = time.perf_counter()
    for i in range(calls):
        t = time.perf_counter()
        predict_one(images[i % len(images)])
        times.append(time.perf_counter() - t)
        if len(times) >= min_calls and time.perf_counter() - started > max_seconds:
            break
    ms = np.asarray(times) * 1000
    return {"latency_ms_p50": float(np.percentile(ms, 50)), "latency_ms_p95": float(np.percentile(ms, 95)),
            "latency_ms_p99": float(np.percentile(ms, 99)), "latency_calls": len(times)}


def peak_memory_mb() -> float:
    """Peak resident memory of this process (MiB), including the dataset it holds."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
