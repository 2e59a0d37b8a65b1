import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_dataset():
    """A small composed dataset of real MNIST digits (cached under data/ after the first run)."""
    from bench.data import composed_dataset
    return composed_dataset(400, 100, 100, digits=(4, 4), seed=0)


def run_cli(*args, timeout=600, env=None):
    """Runs run_bench.py as a user would; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, str(ROOT / "run_bench.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


@pytest.fixture
def drop_plugin():
    """Copies plugin source into approaches/ as a user would, and removes it afterwards."""
    made = []

    def drop(filename: str, source: str) -> Path:
        path = ROOT / "approaches" / filename
        assert not path.exists(), f"{path} already exists"
        path.write_text(source)
        made.append(path)
        return path

    yield drop
    for path in made:
        path.unlink(missing_ok=True)
