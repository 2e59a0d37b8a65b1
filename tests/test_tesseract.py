"""Tesseract is a system binary: without it the row is skipped with the fix, and the run completes."""
import json
import os

from tests.conftest import run_cli


def test_missing_tesseract_binary_gives_a_skipped_row(tmp_path):
    env = {"TESSERACT_CMD": str(tmp_path / "no-such-dir" / "tesseract")}
    listed = run_cli("--list", env=env)
    assert listed.returncode == 0
    assert "tesseract not found" in listed.stdout and "apt-get install tesseract-ocr" in listed.stdout
    out = tmp_path / "results"
    run = run_cli("--quick", "--approaches", "tesseract_ocr,tesseract_ocr_tuned,regression_cnn", "--out", str(out),
                  "--latency-calls", "10", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {r["name"]: r for r in json.loads((out / "latest" / "results.json").read_text())["rows"]}
    for name in ("tesseract_ocr", "tesseract_ocr_tuned"):
        assert rows[name]["status"] == "skipped"
        assert "tesseract not found" in rows[name]["reason"]
        assert "apt-get install tesseract-ocr" in rows[name]["reason"]
    assert rows["regression_cnn"]["status"] == "ok"


def test_real_tesseract_reads_digits(tiny_dataset):
    """The real binary on real composed images: it reads some digits (it is poor at handwriting)."""
    from bench.discovery import discover
    registry, _ = discover()
    approach = registry["tesseract_ocr_tuned"].create()
    approach.psm, approach.thicken = 6, 0
    digits = approach.predict_digits_batch(tiny_dataset.test.images[:30])
    assert len(digits) == 30
    read = sum(len(d) for d in digits)
    right = sum(a == b for p, t in zip(digits, tiny_dataset.test.digit_lists()[:30]) for a, b in zip(p, t))
    assert read > 30 and right > 10
    assert "OMP_THREAD_LIMIT" not in os.environ       # tesseract's one-core limit must not leak into torch
