"""yolo_digits on a folder in the original format (sums only, no boxes): it trains on composed data of the
same size and is evaluated on the folder's images, and says so."""
import json

import numpy as np

from tests.conftest import run_cli


def test_yolo_on_a_folder_of_sums_trains_on_composed_data(tiny_dataset, tmp_path):
    folder = tmp_path / "assignment"
    folder.mkdir()
    np.save(folder / "data0.npy", tiny_dataset.train.images[:300])
    np.save(folder / "lab0.npy", tiny_dataset.train.sums[:300])
    out = tmp_path / "results"
    run = run_cli("--data", str(folder), "--approaches", "yolo_digits", "--budget", "10", "--retrain",
                  "--out", str(out), "--latency-calls", "5")
    assert run.returncode == 0, run.stdout + run.stderr
    row = json.loads((out / "latest" / "results.json").read_text())["rows"][0]
    assert row["status"] == "ok", row["reason"]
    assert row["n"] == 30                                   # the folder's own test split (10% of 300)
    assert "composed data" in row["notes"]["trained_on"]
    assert 0.05 <= row["notes"]["confidence_threshold"] <= 0.95


def test_detections_are_read_as_one_digit_per_box_within_the_digit_range():
    from approaches.yolo_digits import YOLODigits
    yolo = YOLODigits()
    yolo.conf = 0.5
    found = [(50.0, 3, 0.9), (10.0, 7, 0.8), (90.0, 1, 0.6), (130.0, 2, 0.3), (70.0, 8, 0.55)]   # (x, digit, conf)
    yolo.digit_range = (4, 4)      # five boxes in a four-digit image: the least confident goes
    assert [d for _, d, _ in yolo.read(found, yolo.conf)] == [7, 3, 8, 1]
    assert [d for _, d, _ in yolo.read(found[:3] + found[3:4], yolo.conf)] == [7, 3, 1, 2]   # a fourth from below
    yolo.digit_range = (1, 5)      # a range: the threshold decides
    assert [d for _, d, _ in yolo.read(found, yolo.conf)] == [7, 3, 8, 1]
    assert [d for _, d, _ in yolo.read([(130.0, 2, 0.3)], yolo.conf)] == [2]               # never fewer than one
    assert yolo.read([], yolo.conf) == []
