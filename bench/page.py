"""report.html: one self-contained page (images inline) with a run's table, its plots and its metadata."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from bench.plots import PLOTS
from bench.table import COLUMNS, fmt, sort_rows


def html_report(run_dir: Path, meta: dict, rows: list[dict], plots: list[str]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for _, h, _ in COLUMNS)
    body = "".join("<tr class='{}'>{}</tr>".format(esc(r.get("status", "")), "".join(
        f"<td>{esc(fmt(r, k, s))}</td>" for k, _, s in COLUMNS)) for r in sort_rows(rows))
    figures = []
    for name in plots:
        data = base64.b64encode((Path(run_dir) / name).read_bytes()).decode("ascii")
        figures.append(f"<figure><img alt='{esc(PLOTS[name])}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{esc(PLOTS[name])}</figcaption></figure>")
    meta_rows = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(json.dumps(v, default=str))}</td></tr>"
                        for k, v in meta.items() if k not in ("job", "selected"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>digitsum-bench run {esc(str(meta.get('run_id', '')))}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }}
tr.failed {{ color: #a00; }} tr.skipped {{ color: #a60; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>digitsum-bench run {esc(str(meta.get('run_id', '')))}</h1>
<p>Command: <code>{esc(str(meta.get('command', '')))}</code></p>
<h2>Results</h2>
<table id="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Plots</h2>
{''.join(figures) or '<p>No plots.</p>'}
<h2>Run metadata</h2>
<table id="metadata">{meta_rows}</table>
</body></html>
"""
