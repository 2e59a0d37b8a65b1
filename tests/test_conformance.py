"""Every registered approach, including ones nobody wrote a test for: it fits on a tiny split under a
tiny budget and returns one finite sum per image (scikit-learn's estimator checks, timm's registry tests)."""
import math

import numpy as np
import pytest

from bench.approach import Approach, Budget
from bench.checkpoints import load_checkpoint, save_checkpoint
from bench.discovery import discover

REGISTRY, BROKEN = discover()


def test_every_plugin_file_loads():
    assert not BROKEN, [f"{b.name}: {b.error}" for b in BROKEN]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_conformance(name, tiny_dataset, tmp_path):
    entry = REGISTRY[name]
    approach = entry.create(digit_range=tiny_dataset.digits)
    assert isinstance(approach, Approach) and approach.name == name and approach.summary
    unmet = [str(r) for r in approach.requirements() if not r.ok]
    if unmet:
        pytest.skip("requirements not met: " + "; ".join(unmet))
    train = tiny_dataset.train.subset(np.arange(200))
    val = tiny_dataset.val.subset(np.arange(50))
    approach.fit(train, val, Budget(epochs=1, quick=True))

    images = tiny_dataset.test.images[:8]
    sums = list(approach.predict_batch(images))
    assert len(sums) == 8
    assert all(isinstance(float(s), float) and math.isfinite(float(s)) for s in sums)
    one = approach.predict_sum(images[0])
    assert math.isfinite(float(one))
    assert round(float(one)) == round(float(sums[0])), "predict_sum and predict_batch disagree"

    if entry.cls.reads_digits():
        digits = approach.predict_digits_batch(images)
        assert len(digits) == 8
        assert all(all(0 <= int(d) <= 9 for d in row) for row in digits)
    if entry.cls.implements("get_state"):
        state = approach.get_state()
        if state is not None:
            clone = entry.create(digit_range=approach.digit_range)
            path = tmp_path / "checkpoint.pt"
            save_checkpoint(path, state, {"fit_seconds": 1.0})
            assert load_checkpoint(path, clone, warn=pytest.fail) == {"fit_seconds": 1.0}   # weights_only=True
            assert np.allclose(np.asarray(clone.predict_batch(images), float), np.asarray(sums, float), atol=1e-3)
