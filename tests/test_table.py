"""The table people read: the console summary fits 100 and 120 columns without wrapping a cell, with the
notes as lines under it; results.md starts with a table of at most 9 columns; tiny p-values stay readable;
an unknown --columns column (or --threads 0) is one line and exit code 2."""
import json
import re

import pytest
from rich.console import Console

from bench.report import write_tables
from bench.table import console_notes, console_table, format_p
from tests.conftest import ROOT, run_cli

REFERENCE = json.loads((ROOT / "results" / "reference" / "results.json").read_text())   # a full run


@pytest.mark.parametrize("width", [100, 120])
def test_console_summary_fits_the_terminal(width):
    rows = REFERENCE["rows"]
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(console_table(rows, "a full run", width))
    console.print(console_notes(rows))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= width
    table_lines = lines[:lines.index("notes:")]
    assert len(table_lines) <= len(rows) + 4                 # one line per row: no cell wrapped
    for row in rows:
        assert any(re.match(rf"\s*{row['name']}\s", line) for line in table_lines), row["name"]
    assert any(line.startswith("  yolo_coco: ") for line in lines)   # a skipped row's reason, under the table


def test_results_md_starts_with_a_short_table(tmp_path):
    write_tables(tmp_path, REFERENCE["meta"], REFERENCE["rows"], latest=False)
    md = (tmp_path / "results.md").read_text().splitlines()
    first = next(line for line in md if line.startswith("|"))
    assert first.count("|") - 1 <= 9
    assert any("yolo_coco" in line and "COCO" in line for line in md if line.startswith("- "))


def test_tiny_p_values_stay_readable():
    assert format_p(0.0) == "< 1e-300" and format_p(1e-320) == "< 1e-300"
    assert format_p(2.19e-72) == "2.19e-72" and format_p("best") == "best"


@pytest.mark.parametrize("args,words", [
    (["--columns", "name,speed"], "--columns: unknown column speed; known: sum_acc"),
    (["--threads", "0"], "--threads takes a number of 1 or more, not 0"),
])
def test_a_bad_display_or_thread_option_gets_one_line(args, words, tmp_path):
    result = run_cli("--quick", "--approaches", "regression_cnn", "--out", str(tmp_path), *args)
    assert result.returncode == 2 and words in result.stdout
    assert len([line for line in result.stdout.splitlines() if line.strip()]) == 1 and not result.stderr
