"""A run killed halfway (the parent SIGKILLed during an approach) and resumed with --resume ends with the
same table as an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, run_cli

PLUGIN = '''
import time

import numpy as np

from bench import Approach, register


@register
class Resumable(Approach):
    name = "zz_resume_{name}"
    summary = "a deterministic plugin for the resume test"

    def fit(self, train, val, budget):
        time.sleep({sleep})
        self.ink = float(np.mean(train.images))

    def predict_sum(self, image):
        return float(round(np.mean(image) / self.ink * {scale}))
'''
NAMES = ["first", "slow", "last"]
COMPARED = ["name", "status", "accuracy", "n", "mae", "rmse", "val_accuracy", "train_accuracy", "within_1"]


def table(out):
    rows = json.loads((out / "latest" / "results.json").read_text())["rows"]
    return [{k: r.get(k) for k in COMPARED} for r in rows]


def test_killed_run_resumes_to_the_same_table(drop_plugin, tmp_path):
    for name, sleep, scale in zip(NAMES, (0, 8, 0), (18, 16, 20)):
        drop_plugin(f"zz_resume_{name}.py", PLUGIN.format(name=name, sleep=sleep, scale=scale))
    args = ["--quick", "--approaches", ",".join(f"zz_resume_{n}" for n in NAMES), "--latency-calls", "10"]
    whole = run_cli(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stdout + whole.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_bench.py"), *args, "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(out.glob("*/logs/zz_resume_slow.log")):       # killed while the slow one trains
        assert time.monotonic() < deadline and proc.poll() is None, "the run never reached the slow approach"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_dir = next(p for p in out.iterdir() if p.is_dir() and p.name != "latest")
    assert (run_dir / "rows" / "zz_resume_first.json").exists()
    assert not (run_dir / "rows" / "zz_resume_last.json").exists()

    resumed = run_cli("--resume", run_dir.name, "--out", str(out))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert table(out) == table(tmp_path / "whole")
    assert [r["name"] for r in table(out)] != [] and all(r["status"] == "ok" for r in table(out))
