"""An approach that raises, answers garbage, exits or hangs costs its own row only; the run completes."""
import json

from tests.conftest import run_cli

FAULTS = {   # name: (body of the class, words the failure reason must contain)
    "raise_in_fit": ("def fit(self, train, val, budget):\n        raise RuntimeError('boom in fit')",
                     "boom in fit"),
    "raise_in_predict": ("def predict_sum(self, image):\n        raise ValueError('boom in predict')",
                         "boom in predict"),
    "returns_nan": ("def predict_sum(self, image):\n        return float('nan')", "nan"),
    "returns_inf": ("def predict_sum(self, image):\n        return float('inf')", "inf"),
    "returns_none": ("def predict_sum(self, image):\n        return None", "None"),
    "returns_string": ("def predict_sum(self, image):\n        return 'seven'", "'seven'"),
    "wrong_length_batch": ("def predict_batch(self, images):\n        return [1.0]", "1 values for"),
    "hangs": ("def predict_sum(self, image):\n        import time\n        time.sleep(10000)", "timed out"),
    "calls_os_exit": ("def fit(self, train, val, budget):\n        import os\n        os._exit(3)", "exit code 3"),
    "calls_sys_exit": ("def fit(self, train, val, budget):\n        import sys\n        sys.exit(4)", "SystemExit"),
    "allocates_without_bound": ("def fit(self, train, val, budget):\n        hoard = []\n        while True:\n"
                                "            hoard.append(bytearray(256 * 2**20))", "out of memory"),
    "prints_garbage": ("def fit(self, train, val, budget):\n        while True:\n            print('garbage ' * 10**5)",
                       "File too large"),
}
MEMORY_LIMIT_MB = 8000     # per approach (address space: importing torch alone needs more than 3 GB)
TIMEOUT_S = 60             # per approach: the hoarder must reach the limit first, also where fresh pages come slowly

TEMPLATE = '''
from bench import Approach, register


@register
class Fault(Approach):
    name = "zz_fault_{name}"
    summary = "a plugin that misbehaves: {name}"

    def predict_sum(self, image):
        return 1.0

    {body}
'''

GOOD = '''
from bench import Approach, register


@register
class Good(Approach):
    name = "zz_good_neighbour"
    summary = "answers 18 for everything"

    def predict_sum(self, image):
        return 18.0
'''


def test_faulty_approaches_fail_alone(drop_plugin, tmp_path):
    for name, (body, _) in FAULTS.items():
        drop_plugin(f"zz_fault_{name}.py", TEMPLATE.format(name=name, body=body))
    drop_plugin("zz_good_neighbour.py", GOOD)
    names = [f"zz_fault_{n}" for n in FAULTS] + ["zz_good_neighbour"]
    out = tmp_path / "results"
    result = run_cli("--quick", "--approaches", ",".join(names), "--timeout", str(TIMEOUT_S), "--latency-calls", "10",
                     "--memory-limit", str(MEMORY_LIMIT_MB),
                     "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["name"]: r for r in json.loads((out / "latest" / "results.json").read_text())["rows"]}
    assert set(rows) == set(names)
    for name, (_, words) in FAULTS.items():
        row = rows[f"zz_fault_{name}"]
        assert row["status"] == "failed", name
        assert words in row["reason"], (name, row["reason"])
    assert rows["zz_good_neighbour"]["status"] == "ok"
    assert rows["zz_good_neighbour"]["n"] == 300
    log = out / "latest" / "logs" / "zz_fault_prints_garbage.log"
    assert log.stat().st_size <= 20 * 2**20                  # the garbage filled its capped log, not the disk
