"""Small shared helpers: atomic file writes, seeding, thread settings."""
from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes to a temporary file beside `path`, then renames it over: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)            # as an ordinary new file, not mkstemp's owner-only 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    import numpy as np
    np.random.seed(seed % 2**32)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass


def tune_cpu(threads: int) -> None:
    """Fixes torch's thread count and makes freed memory stay with the process (keep_freed_memory).
    An inherited OMP_THREAD_LIMIT below `threads` caps it: torch asking for more threads than OpenMP
    may start stalls its bf16 convolution backward pass for good."""
    keep_freed_memory()
    limit = os.environ.get("OMP_THREAD_LIMIT", "")
    if limit.isdigit() and int(limit) > 0:
        threads = min(threads, int(limit))
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


def keep_freed_memory() -> None:
    """glibc hands every freed block above its mmap threshold (128 KiB at first) back to the kernel, and
    the next batch's activations then fault in fresh zeroed pages, which costs training much kernel time.
    Blocks up to 32 MiB (glibc's maximum) are served from the heap instead, which is trimmed only past
    1 GiB free (the gain: docs/benchmarks.md). Without glibc (macOS, musl) this does nothing."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3          # mallopt parameters, <malloc.h>
    libc.mallopt(m_mmap_threshold, 32 * 2**20)
    libc.mallopt(m_trim_threshold, 2**30)
    libc.mallopt(m_top_pad, 64 * 2**20)


@contextlib.contextmanager
def large_files_allowed():
    """Inside a run, every file an approach writes is capped at its log's cap (20 MB, so endless prints
    fill the log, not the disk). An approach that writes big files on purpose (a detector library's
    training checkpoints) does it inside this block."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
