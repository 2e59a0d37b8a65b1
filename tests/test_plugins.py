"""The plugin contract: validation at registration, discovery, a foreign plugin dropped into approaches/."""
import json

import pytest

from bench.approach import REGISTRY, Approach, PluginError, register
from tests.conftest import ROOT, run_cli


@pytest.fixture
def clean_registry():
    before = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(before)


def test_registration_validates(clean_registry):
    with pytest.raises(PluginError, match="snake_case"):
        @register
        class BadName(Approach):
            name = "Bad Name"
            summary = "x"
            def predict_sum(self, image): return 0.0  # noqa: E301,E704

    with pytest.raises(PluginError, match="summary"):
        @register
        class NoSummary(Approach):
            name = "no_summary"
            def predict_sum(self, image): return 0.0  # noqa: E301,E704

    with pytest.raises(PluginError, match="predict_sum"):
        @register
        class NoPredict(Approach):
            name = "no_predict"
            summary = "x"

    with pytest.raises(PluginError, match="constructor"):
        @register
        class Good(Approach):
            name = "good_one"
            summary = "x"
            def __init__(self, k=1): self.k = k  # noqa: E301,E704
            def predict_sum(self, image): return float(self.k)  # noqa: E301,E704
        register(Good, name="good_variant", summary="y", wrong_arg=3)

    with pytest.raises(PluginError, match="already registered"):
        @register
        class Other(Approach):
            name = "good_one"
            summary = "another class"
            def predict_sum(self, image): return 1.0  # noqa: E301,E704


def test_variants_register_with_constructor_arguments(clean_registry):
    @register
    class Constant(Approach):
        name = "constant_one"
        summary = "always k"
        def __init__(self, k=1): self.k = k  # noqa: E301,E704
        def predict_sum(self, image): return float(self.k)  # noqa: E301,E704
    register(Constant, name="constant_two", summary="always 2", k=2)
    a, b = REGISTRY["constant_one"].create(), REGISTRY["constant_two"].create()
    assert (a.predict_sum(None), b.predict_sum(None)) == (1.0, 2.0)
    assert b.name == "constant_two"


FOREIGN_PLUGIN = '''
import numpy as np
from bench import Approach, register


@register
class Brightness(Approach):
    name = "zz_foreign_brightness"
    summary = "guesses the sum from the amount of ink"

    def predict_sum(self, image):
        return float(np.clip(np.asarray(image).sum() / 20000.0, 0, 36))
'''

FUNCTION_PLUGIN = '''
name = "zz_foreign_function"
summary = "a module-level function, no class"


def predict_sum(image):
    return 18.0
'''

BROKEN_PLUGIN = '''
import this_module_does_not_exist
'''


def test_foreign_plugins_are_listed_and_get_rows(drop_plugin, tmp_path):
    drop_plugin("zz_foreign_brightness.py", FOREIGN_PLUGIN)
    drop_plugin("zz_foreign_function.py", FUNCTION_PLUGIN)
    drop_plugin("zz_foreign_broken.py", BROKEN_PLUGIN)
    listed = run_cli("--list")
    assert listed.returncode == 0, listed.stderr
    for name in ("zz_foreign_brightness", "zz_foreign_function", "zz_foreign_broken", "regression_cnn"):
        assert name in listed.stdout
    assert "this_module_does_not_exist" in listed.stdout

    out = tmp_path / "results"
    run = run_cli("--quick", "--approaches", "zz_foreign_brightness,zz_foreign_function,zz_foreign_broken",
                  "--out", str(out), "--latency-calls", "20")
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((out / "latest" / "results.json").read_text())
    rows = {r["name"]: r for r in results["rows"]}
    assert rows["zz_foreign_brightness"]["status"] == "ok"
    assert rows["zz_foreign_function"]["status"] == "ok"
    assert 0.0 <= rows["zz_foreign_function"]["accuracy"] < 0.3       # a constant guess is rarely right
    assert rows["zz_foreign_broken"]["status"] == "failed"
    assert "this_module_does_not_exist" in rows["zz_foreign_broken"]["reason"]
    md = (out / "latest" / "results.md").read_text()
    assert "zz_foreign_brightness" in md and "| approach |" in md
    assert (out / "latest" / "results.csv").read_text().startswith("name,")


def test_unknown_approach_lists_known_ones(tmp_path):
    result = run_cli("--quick", "--approaches", "no_such_thing", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "no_such_thing" in result.stdout and "regression_cnn" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_entry_point_plugins_are_discovered(tmp_path, monkeypatch):
    """A plugin installed with pip declares the entry-point group digitsum_bench.approaches."""
    pkg = tmp_path / "site"
    (pkg / "zz_ep_plugin").mkdir(parents=True)
    (pkg / "zz_ep_plugin" / "__init__.py").write_text(FUNCTION_PLUGIN.replace("zz_foreign_function", "zz_entry_point"))
    dist = pkg / "zz_ep_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-ep-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[digitsum_bench.approaches]\nzz_entry_point = zz_ep_plugin\n")
    result = run_cli("--list", env={"PYTHONPATH": str(pkg)})
    assert result.returncode == 0
    assert "zz_entry_point" in result.stdout


def test_plugin_files_stay_out_of_the_repo():
    assert not list((ROOT / "approaches").glob("zz_*.py"))


def test_readme_plugin_works_when_copied(drop_plugin, tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("# approaches/ink_per_unit.py\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) <= 30
    drop_plugin("zz_readme_ink.py", block.replace('"ink_per_unit"', '"zz_readme_ink"'))
    out = tmp_path / "results"
    run = run_cli("--quick", "--approaches", "zz_readme_ink", "--out", str(out), "--latency-calls", "20")
    assert run.returncode == 0, run.stdout + run.stderr
    row = json.loads((out / "latest" / "results.json").read_text())["rows"][0]
    assert row["status"] == "ok" and row["mae"] < 10


def test_plugins_folder_outside_the_checkout(tmp_path):
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    (folder / "zz_outside.py").write_text(FOREIGN_PLUGIN.replace("zz_foreign_brightness", "zz_outside"))
    (folder / "_helper.py").write_text("raise RuntimeError('helpers are not plugins')\n")
    listed = run_cli("--plugins", str(folder), "--list")
    assert listed.returncode == 0 and "zz_outside" in listed.stdout and "helpers are not" not in listed.stdout
    out = tmp_path / "results"
    run = run_cli("--plugins", str(folder), "--quick", "--approaches", "zz_outside", "--latency-calls", "10",
                  "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    rows = json.loads((out / "latest" / "results.json").read_text())["rows"]
    assert [(r["name"], r["status"]) for r in rows] == [("zz_outside", "ok")]

    missing = run_cli("--plugins", str(tmp_path / "nowhere"), "--list")
    assert missing.returncode == 2 and "no such folder" in missing.stdout
    assert "Traceback" not in missing.stdout + missing.stderr
