"""The results table: its columns, how each cell is written, and the table for the console (rich) and
for Markdown."""
from __future__ import annotations

COLUMNS = [  # key, header, format
    ("name", "approach", "{}"),
    ("status", "status", "{}"),
    ("accuracy", "exact-sum acc", "acc"),
    ("accuracy_ci", "95% CI", "ci"),
    ("seeds", "seeds", "count"),
    ("val_accuracy", "val acc", "pct"),
    ("train_accuracy", "train acc", "pct"),
    ("reported", "report (train / val)", "{}"),
    ("mae", "MAE", "{:.3f}"),
    ("rmse", "RMSE", "{:.3f}"),
    ("within1", "±1 acc", "pct"),
    ("digit_accuracy", "digit acc", "pct"),
    ("ece", "ECE", "{:.3f}"),
    ("p_vs_best", "p vs best", "p"),
    ("p_test", "test", "{}"),
    ("latency_ms_p50", "p50 ms", "{:.2f}"),
    ("latency_ms_p95", "p95 ms", "{:.2f}"),
    ("latency_ms_p99", "p99 ms", "{:.2f}"),
    ("throughput", "img/s", "{:,.0f}"),
    ("fit_seconds", "train s", "{:.0f}"),
    ("work", "work", "{}"),
    ("params", "params", "{:,}"),
    ("peak_memory_mb", "peak MB", "{:.0f}"),
    ("n", "n", "{}"),
    ("notes", "notes", "notes"),
]
CONSOLE_COLUMNS = ["name", "status", "accuracy", "accuracy_ci", "val_accuracy", "train_accuracy", "reported",
                   "mae", "digit_accuracy", "p_vs_best", "latency_ms_p50", "throughput", "fit_seconds", "work", "notes"]


def _reported_text(fig: dict | None) -> str:
    if not fig:
        return ""
    parts = [f"{fig[k]:.2f}%" if isinstance(fig.get(k), (int, float)) else None for k in ("train", "val")]
    if parts[0] and parts[1]:
        return f"{parts[0]} / {parts[1]}"
    return parts[1] or parts[0] or fig.get("text", "")


def fmt(row: dict, key: str, style: str) -> str:
    value = row.get(key)
    if key == "reported":
        return _reported_text(value)
    if value is None or value == "" or value == {}:
        return ""
    if style == "pct":
        return f"{100 * value:.2f}%"
    if style == "acc":                 # over several training seeds: mean ± sample sd, in points
        sd = row.get("accuracy_sd")
        return f"{100 * value:.2f}% ± {100 * sd:.2f}" if sd is not None else f"{100 * value:.2f}%"
    if style == "count":
        return str(len(value))
    if style == "ci":
        return f"{100 * value[0]:.1f}–{100 * value[1]:.1f}"
    if style == "p":
        return "best" if value == "best" else f"{value:.3g}"
    if style == "notes":
        parts = [row["reason"]] if row.get("reason") else []
        parts += [f"{k}: {v}" for k, v in value.items() if k != "warnings"]
        return "; ".join(parts)
    return style.format(value)


def sort_rows(rows: list[dict]) -> list[dict]:
    order = {"ok": 0, "failed": 1, "skipped": 2}
    return sorted(rows, key=lambda r: (order.get(r["status"], 3), -(r.get("accuracy") or 0), r["name"]))


def markdown_table(rows: list[dict], columns=None) -> str:
    cols = [c for c in COLUMNS if columns is None or c[0] in columns]
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        cells = [fmt(row, k, s).replace("|", "\\|").replace("\n", " ") for k, _, s in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def console_table(rows: list[dict], title: str):
    from rich.table import Table
    table = Table(title=title, show_lines=False)
    cols = [c for c in COLUMNS if c[0] in CONSOLE_COLUMNS]
    for key, header, _ in cols:
        table.add_column(header, overflow="fold", max_width=60 if key == "notes" else None,
                         justify="left" if key in ("name", "status", "notes", "reported") else "right")
    for row in sort_rows(rows):
        style = {"failed": "red", "skipped": "yellow"}.get(row["status"])
        table.add_row(*[fmt(row, k, s) for k, _, s in cols], style=style)
    return table
