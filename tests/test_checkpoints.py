"""The checkpoint cache: a warm re-run trains nothing; a damaged checkpoint is retrained with a warning."""
import json

from tests.conftest import ROOT, run_cli

# A plugin of its own, so that no other test shares (or races for) its checkpoint.
PLUGIN = '''
import torch

from bench import Approach, register


@register
class Cached(Approach):
    name = "zz_cached_mean"
    summary = "learns the mean sum; caches it as a checkpoint"

    def fit(self, train, val, budget):
        self.mean = torch.tensor(float(train.sums.mean()))

    def get_state(self):
        return {"mean": self.mean}

    def set_state(self, state):
        self.mean = state["mean"]

    def predict_sum(self, image):
        return float(self.mean)
'''


def row(out):
    return json.loads((out / "latest" / "results.json").read_text())["rows"][0]


def test_warm_rerun_and_damaged_checkpoint(drop_plugin, tmp_path):
    drop_plugin("zz_cached_mean.py", PLUGIN)
    args = ["--quick", "--approaches", "zz_cached_mean", "--latency-calls", "10", "--out", str(tmp_path)]
    assert run_cli(*args, "--retrain").returncode == 0
    first = row(tmp_path)
    assert first["trained"] is True and first["checkpoint"]
    checkpoint = ROOT / first["checkpoint"]
    try:
        assert run_cli(*args).returncode == 0
        warm = row(tmp_path)
        assert warm["trained"] == "cached" and warm["accuracy"] == first["accuracy"]

        checkpoint.write_bytes(checkpoint.read_bytes()[:40])          # truncated
        assert run_cli(*args).returncode == 0
        damaged = row(tmp_path)
        assert damaged["trained"] is True and damaged["accuracy"] == first["accuracy"]
        assert any("unreadable" in w and "retraining" in w for w in damaged["notes"]["warnings"])
    finally:
        checkpoint.unlink(missing_ok=True)
