"""The harness installed with pip: the digitsum-bench command works from any folder, and a plugin package
made as the README says (nobody on the team wrote it; the test builds it from the README's text), installed
with pip, is listed and gets a row there."""
import json
import os
import shutil
import subprocess
import sys

from tests.conftest import ROOT


def readme_block(marker: str) -> str:
    return (ROOT / "README.md").read_text().split(marker + "\n", 1)[1].split("```", 1)[0]


def digitsum_bench(*args, cwd, env=None):
    command = shutil.which("digitsum-bench")
    assert command, "digitsum-bench is not installed; bash setup.sh installs it (pip install -e .)"
    return subprocess.run([command, *args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, **(env or {})})


def test_a_pip_installed_plugin_package_gets_a_row_from_outside_the_checkout(tmp_path):
    package = tmp_path / "my-digitsum-plugin"
    package.mkdir()
    plugin = readme_block("# approaches/ink_per_unit.py").replace('"ink_per_unit"', '"zz_packaged_ink"')
    (package / "ink_per_unit.py").write_text(plugin)
    (package / "pyproject.toml").write_text(readme_block("# my-digitsum-plugin/pyproject.toml"))
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--target", str(site), str(package)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    assert list(site.glob("my_digitsum_plugin-*.dist-info"))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site)}
    listed = digitsum_bench("--list", cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "zz_packaged_ink" in listed.stdout and "regression_cnn" in listed.stdout

    run = digitsum_bench("--quick", "--approaches", "zz_packaged_ink", "--latency-calls", "10", "--out", "results",
                         cwd=elsewhere, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    row = json.loads((elsewhere / "results" / "latest" / "results.json").read_text())["rows"][0]
    assert (row["name"], row["status"]) == ("zz_packaged_ink", "ok") and row["mae"] < 10
