"""--approaches report --work report: every row the original report gives, trained under the report's
protocol (until validation accuracy stalls, or the report's epochs), with every train image predicted for
the pooled train+val+test figure, and a table that puts the report's figures beside ours with a verdict."""
import json

import pytest

from bench.table import verdict
from tests.conftest import run_cli

REPORT_ROWS = {"regression_cnn", "tesseract_ocr", "yolo_coco", "vit_patches", "cnn_attention",
               "cnn_deep_no_attention", "cnn_multi_attention", "cnn_attention_mid"}


def test_the_report_s_rows_under_its_protocol(tmp_path):
    run = run_cli("--quick", "--approaches", "report", "--work", "report", "--retrain", "--latency-calls", "5",
                  "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    rows = {r["name"]: r for r in data["rows"]}
    assert set(rows) == REPORT_ROWS and data["meta"]["job"]["work"] == "report"
    assert rows["cnn_attention"]["work"] == "until val stalls, at most 2 epochs"      # --quick caps 60 at 2
    assert rows["vit_patches"]["work"] == "2 epochs" and rows["regression_cnn"]["epochs_trained"] <= 2
    sizes = {k: data["meta"]["dataset"][k] for k in ("train", "val", "test")}
    row = rows["regression_cnn"]
    pooled = (row["train_accuracy"] * sizes["train"] + row["val_accuracy"] * sizes["val"]
              + row["accuracy"] * sizes["test"]) / sum(sizes.values())
    assert row["pooled_accuracy"] == pytest.approx(pooled)              # every train image was predicted
    md = (tmp_path / "latest" / "results.md").read_text()
    table = md.split("## The publication's rows beside ours", 1)[1]
    lines = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| approach")]
    assert {line.split(" | ")[0][2:] for line in lines} == REPORT_ROWS
    assert all(any(word in line for word in ("reproduced", "better", "worse", "not run here")) for line in lines)


def row(reported_val, values, on="val"):
    key = {"val": "val_accuracy", "pooled": "pooled_accuracy"}[on]
    return {"status": "ok", "reported": {"val": reported_val, "on": on},
            "per_seed": [{key: v / 100} for v in values]}


@pytest.mark.parametrize("reported_val,values,on,expected", [
    (75.25, [74.0, 80.0, 77.0], "val", "reproduced"),      # the report's figure within our range over seeds
    (75.25, [76.5, 76.9, 77.1], "val", "reproduced"),      # within 2 points of our mean
    (70.02, [80.0, 82.0, 81.0], "val", "better"),
    (16.0, [9.0, 10.5, 11.0], "pooled", "worse"),
])
def test_the_verdict_compares_the_report_s_set(reported_val, values, on, expected):
    assert verdict(row(reported_val, values, on)) == expected


def test_budget_and_work_report_together_get_one_line(tmp_path):
    result = run_cli("--quick", "--approaches", "report", "--work", "report", "--budget", "30", "--out", str(tmp_path))
    assert result.returncode == 2 and "--budget (equal time) and --work report" in result.stdout
