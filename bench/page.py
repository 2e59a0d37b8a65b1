"""report.html: one self-contained page (images and scripts inline, nothing fetched) that reads like a
report: a headline (the best row, its accuracy and spread, the run's command, data and machine), the
summary table with sortable columns (tablesort, vendored under bench/vendor/), the notes, every plot with
a sentence on what it shows, and the full metrics and the metadata behind disclosures. It fits a
1,280-pixel window: only the full-metrics table scrolls sideways, inside its own box."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from bench.plots import PLOTS
from bench.table import COLUMNS, SUMMARY, TEXT_COLUMNS, fmt, header, note_lines, sort_rows, summary_cell

VENDOR = Path(__file__).resolve().parent / "vendor"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1em 1.5em; max-width: 1180px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } .run { color: #555; margin: 0.2em 0; font-size: 0.92em; }
code { font-size: 0.95em; word-break: break-all; }
table { border-collapse: collapse; font-size: 13px; }
#results { width: 100%; } td, th { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
td.text, th.text { text-align: left; } th { cursor: pointer; white-space: nowrap; background: #f4f4f4; }
th[aria-sort=ascending]::after { content: " ▲"; } th[aria-sort=descending]::after { content: " ▼"; }
tr.failed { color: #a00; } tr.skipped { color: #a60; }
ul.notes { font-size: 13px; color: #444; } ul.notes li { margin: 2px 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; } #metrics td { white-space: nowrap; }
#metrics td.notes { white-space: normal; min-width: 24em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; } figcaption { color: #444; }
details { margin: 1em 0; } summary { cursor: pointer; font-weight: 600; }
#metadata th, #metadata td { text-align: left; vertical-align: top; } #metadata td { overflow-wrap: anywhere; }
"""


def _sort_value(row: dict, key: str) -> str:
    """The number a column sorts by (empty cells last when sorted from the top down)."""
    value = row.get("accuracy" if key == "sum_acc" else key)
    if key == "reported":
        value = (row.get("reported") or {}).get("val")
    if value == "best":
        value = 2.0
    return f"{value:.12g}" if isinstance(value, (int, float)) else "-1e300"


def headline(meta: dict, rows: list[dict]) -> str:
    ok = [r for r in sort_rows(rows) if r.get("status") == "ok" and r.get("accuracy") is not None]
    if not ok:
        return "No approach finished"
    best = ok[0]
    spread = (f" ± {100 * best['accuracy_sd']:.2f} over {len(best['seeds'])} training seeds"
              if best.get("accuracy_sd") is not None else
              f" (95% interval {100 * best['accuracy_ci'][0]:.1f}–{100 * best['accuracy_ci'][1]:.1f})"
              if best.get("accuracy_ci") else "")
    return f"Best: {best['name']}, {100 * best['accuracy']:.2f}%{spread} of test sums"


def html_report(run_dir: Path, meta: dict, rows: list[dict], plots: list[str]) -> str:
    esc = html.escape
    rows = sort_rows(rows)
    d = meta.get("dataset", {})
    data_line = (f"Data: {d.get('source')} ({d.get('train')}/{d.get('val')}/{d.get('test')} images, digits "
                 f"{'–'.join(map(str, d.get('digits', [])))}, hash {d.get('hash')}). Machine: {meta.get('cpu')}, "
                 f"{meta.get('threads')} threads, device {meta.get('device')}; commit {meta.get('git_commit')}; "
                 f"started {meta.get('started')}.")
    head = "".join(f"<th class='{'text' if k in TEXT_COLUMNS else 'num'}'"
                   f"{'' if k in TEXT_COLUMNS else ' data-sort-method=number'}>{esc(header(k))}</th>" for k in SUMMARY)
    body = "".join("<tr class='{}'>{}</tr>".format(esc(r.get("status", "")), "".join(
        f"<td class='text'>{esc(summary_cell(r, k))}</td>" if k in TEXT_COLUMNS else
        f"<td data-sort='{_sort_value(r, k)}'>{esc(summary_cell(r, k))}</td>" for k in SUMMARY)) for r in rows)
    notes = "".join(f"<li>{esc(line)}</li>" for line in note_lines(rows))
    full_head = "".join(f"<th class='text'>{esc(h)}</th>" for _, h, _ in COLUMNS)
    full_body = "".join("<tr class='{}'>{}</tr>".format(esc(r.get("status", "")), "".join(
        f"<td class='{'notes text' if k == 'notes' else 'text'}'>{esc(fmt(r, k, s))}</td>" for k, _, s in COLUMNS))
        for r in rows)
    figures = []
    for name in plots:
        data = base64.b64encode((Path(run_dir) / name).read_bytes()).decode("ascii")
        figures.append(f"<figure><img alt='{esc(PLOTS[name])}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{esc(PLOTS[name])}</figcaption></figure>")
    meta_rows = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(json.dumps(v, default=str))}</td></tr>"
                        for k, v in meta.items() if k not in ("job", "selected"))
    scripts = "\n".join((VENDOR / name).read_text() for name in ("tablesort.min.js", "tablesort.number.min.js"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>digitsum-bench run {esc(str(meta.get('run_id', '')))}</title>
<style>{STYLE}</style></head><body>
<h1>{esc(headline(meta, rows))}</h1>
<p class="run">Run {esc(str(meta.get('run_id', '')))}: <code>{esc(str(meta.get('command', '')))}</code></p>
<p class="run">{esc(data_line)}</p>
<h2>Results</h2>
<p>Exact-sum accuracy in percent with its spread (± sd over training seeds, else the 95% interval over test
images); click a column's header to sort by it.</p>
<table id="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
{f'<ul class="notes">{notes}</ul>' if notes else ''}
<details><summary>All metrics</summary><div class="scroll">
<table id="metrics"><thead><tr>{full_head}</tr></thead><tbody>{full_body}</tbody></table></div></details>
<h2>Plots</h2>
{''.join(figures) or '<p>No plots.</p>'}
<details><summary>Run metadata</summary><table id="metadata">{meta_rows}</table></details>
<script>{scripts}</script>
<script>new Tablesort(document.getElementById('results'), {{descending: true}});</script>
</body></html>
"""
