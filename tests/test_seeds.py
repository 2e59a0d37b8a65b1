"""Work budgets, determinism and training seeds: the same command gives the same answer for every test
image; several seeds give mean ± sd with the per-seed figures; --compare tests across seeds; bad --seeds
and --budget values get one line and exit code 2."""
import json

import pytest

from tests.conftest import run_cli


def results(out):
    return json.loads((out / "latest" / "results.json").read_text())


def test_the_same_command_gives_the_same_prediction_for_every_image(tmp_path):
    names = "slot_cnn_sum_only,cnn_attention_cls"
    predictions = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        run = run_cli("--quick", "--approaches", names, "--retrain", "--latency-calls", "5", "--out", str(out))
        assert run.returncode == 0, run.stdout + run.stderr
        rows = {r["name"]: r for r in results(out)["rows"]}
        assert all(r["budget_kind"] == "work" and r["work"] == "2 epochs" and r["trained"] is True
                   for r in rows.values()), rows
        predictions.append({n: json.loads((out / "latest" / "rows" / f"{n}.json").read_text())
                            ["per_seed"]["0"]["predictions"]["test_pred"] for n in names.split(",")})
    assert predictions[0] == predictions[1]


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds") / "results"
    run = run_cli("--quick", "--seeds", "0-2", "--approaches", "slot_cnn_sum_only", "--latency-calls", "5",
                  "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    return out / "latest"


def test_several_seeds_give_mean_sd_and_the_per_seed_figures(three_seeds):
    data = json.loads((three_seeds / "results.json").read_text())
    assert data["meta"]["seeds"] == [0, 1, 2] and data["meta"]["budget_kind"] == "work"
    (row,) = data["rows"]
    assert row["seeds"] == [0, 1, 2] and len(row["accuracy_per_seed"]) == 3
    per_seed = [r["accuracy"] for r in row["per_seed"]]
    assert per_seed == row["accuracy_per_seed"] and [r["seed"] for r in row["per_seed"]] == [0, 1, 2]
    assert row["accuracy"] == pytest.approx(sum(per_seed) / 3)
    mean = sum(per_seed) / 3
    assert row["accuracy_sd"] == pytest.approx((sum((a - mean) ** 2 for a in per_seed) / 2) ** 0.5)
    assert len(set(per_seed)) > 1                     # the seeds trained different models
    assert "±" in (three_seeds / "results.md").read_text()
    saved = json.loads((three_seeds / "rows" / "slot_cnn_sum_only.json").read_text())
    assert sorted(saved["per_seed"]) == ["0", "1", "2"]      # each seed's per-image predictions kept


def test_compare_tests_across_seeds(three_seeds, tmp_path):
    other = tmp_path / "results"
    run = run_cli("--quick", "--seeds", "3,4", "--approaches", "slot_cnn_sum_only", "--latency-calls", "5",
                  "--out", str(other))
    assert run.returncode == 0, run.stdout + run.stderr
    compared = run_cli("--compare", str(three_seeds), str(other / "latest"))
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "Welch t over seeds" in compared.stdout and "3 / 2" in compared.stdout


@pytest.mark.parametrize("args, words", [
    (["--seeds", "-1"], "--seeds takes seeds of 0 or more"),
    (["--seeds", "0,1,1"], "seed 1 given twice"),
    (["--seeds", "0-2,2"], "seed 2 given twice"),
    (["--seeds", "one"], "--seeds takes seeds"),
    (["--seeds", "3-1"], "runs backwards"),
    (["--seeds", ""], "--seeds takes seeds"),
    (["--budget", "0", "--seeds", "0,1"], "--budget takes a number of seconds above 0"),
    (["--budget", "nan", "--seeds", "0,1"], "--budget takes a number of seconds above 0"),
    (["--resume", "someday", "--seeds", "0,1"], "--resume finishes a run with its own seeds"),
    (["--predict", "slot_cnn_sum_only", "x.png", "--seeds", "0,1"], "give one training seed"),
])
def test_bad_seeds_and_budgets_get_one_line(args, words, tmp_path):
    result = run_cli("--quick", "--approaches", "regression_cnn", "--out", str(tmp_path), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert len([line for line in result.stdout.splitlines() if line.strip()]) == 1
