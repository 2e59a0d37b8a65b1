"""The checkpoint cache: a trained approach's state, keyed by everything that decides it (the approach's
name and constructor arguments, the data, the budget, the training seed, the device and a hash of the code
that trains it),
loaded with weights_only=True. A damaged checkpoint is retrained with a warning; a lock lets two runs
train one key once."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
from pathlib import Path

from bench.util import atomic_write_bytes

BENCH_DIR = Path(__file__).resolve().parent


def code_version(entry) -> str:
    """Hash of the approach's file, the shared building blocks and the training loop."""
    h = hashlib.sha256()
    for path in (entry.source, *sorted((BENCH_DIR / "blocks").glob("*.py")), BENCH_DIR / "train.py"):
        try:
            h.update(Path(path).read_bytes())
        except OSError:
            h.update(str(path).encode())
    return h.hexdigest()[:12]


def checkpoint_path(cache_dir: Path | str | None, entry, dataset_hash: str, budget: str, seed: int,
                    device: str) -> Path:
    """The checkpoint's file in `cache_dir` (None: data/checkpoints/ of this checkout); `budget` as
    Budget.describe() says it ("20 epochs", "300 s")."""
    from bench.data import DATA_DIR
    key = json.dumps({"name": entry.name, "kwargs": entry.kwargs, "data": dataset_hash, "budget": budget,
                      "seed": seed, "code": code_version(entry), "device": device}, sort_keys=True, default=str)
    folder = Path(cache_dir) if cache_dir else DATA_DIR / "checkpoints"
    return folder / f"{entry.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


@contextlib.contextmanager
def locked(path: Path):
    """Holds the checkpoint's lock file: two runs at once train a key once, never write it twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def load_checkpoint(path: Path, approach, warn) -> dict | None:
    """Loads the state into the approach and returns the checkpoint's metadata, or None (none, or damaged)."""
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
