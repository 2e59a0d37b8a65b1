"""The results table: its columns, how each cell is written, and the tables people read: a summary of the
figures that matter first (it fits a 100-column terminal and pastes into an issue), with the notes and
failure reasons as lines under it, and every column for the CSV, the JSON and the page's detail view."""
from __future__ import annotations

import statistics

COLUMNS = [  # key, header, format
    ("name", "approach", "{}"),
    ("status", "status", "{}"),
    ("accuracy", "exact-sum acc", "acc"),
    ("accuracy_ci", "95% CI", "ci"),
    ("seeds", "seeds", "count"),
    ("val_accuracy", "val acc", "pct"),
    ("train_accuracy", "train acc", "pct"),
    ("pooled_accuracy", "train+val+test acc", "pct"),
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
    ("epochs_trained", "epochs trained", "{:g}"),
    ("params", "params", "{:,}"),
    ("peak_memory_mb", "peak MB", "{:.0f}"),
    ("host", "host", "{}"),
    ("threads", "threads", "{}"),
    ("n", "n", "{}"),
    ("notes", "notes", "notes"),
]
HEADERS = {key: header for key, header, _ in COLUMNS}
STYLES = {key: style for key, _, style in COLUMNS}

# The summary: what to read first. "sum_acc" is exact-sum accuracy with its spread (± sd over training
# seeds, else the 95% interval over test images), in percent.
SUMMARY = ["name", "status", "sum_acc", "digit_accuracy", "reported", "latency_ms_p50", "throughput", "fit_seconds"]
WIDE = ["val_accuracy", "train_accuracy", "mae", "p_vs_best", "work"]      # added where the terminal is wide
SHORT = {"name": "approach", "sum_acc": "sum acc %", "digit_accuracy": "digit %", "reported": "report %",
         "latency_ms_p50": "p50 ms", "throughput": "img/s", "fit_seconds": "train s", "val_accuracy": "val %",
         "train_accuracy": "train %", "p_vs_best": "p vs best"}
TEXT_COLUMNS = {"name", "status", "reported", "work", "notes", "p_test", "host"}


def _reported_text(fig: dict | None, short: bool = False) -> str:
    """The report's train / val figures; `short`: in percent without the sign, and numbers only."""
    if not fig:
        return ""
    parts = [f"{fig[k]:.2f}" + ("" if short else "%") if isinstance(fig.get(k), (int, float)) else None
             for k in ("train", "val")]
    if parts[0] and parts[1]:
        return f"{parts[0]}/{parts[1]}" if short else f"{parts[0]} / {parts[1]}"
    return parts[1] or parts[0] or ("" if short else fig.get("text", ""))


def format_p(value) -> str:
    """A p-value as people read it: 3 significant digits, and "< 1e-300" where it underflows."""
    if value == "best":
        return "best"
    return "< 1e-300" if value < 1e-300 else f"{value:.3g}"


def fmt(row: dict, key: str, style: str) -> str:
    value = row.get(key)
    if key == "reported":
        return _reported_text(value)
    if style == "notes":
        parts = [row["reason"]] if row.get("reason") else []
        parts += [f"{k}: {v}" for k, v in (value or {}).items() if k != "warnings"]
        return "; ".join(parts)
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
        return format_p(value)
    return style.format(value)


def summary_cell(row: dict, key: str) -> str:
    """A cell of the summary: percentages without the % sign (the header says it), compact spreads."""
    if key == "sum_acc":
        if row.get("accuracy") is None:
            return ""
        if row.get("accuracy_sd") is not None:
            return f"{100 * row['accuracy']:.2f} ± {100 * row['accuracy_sd']:.2f}"
        ci = row.get("accuracy_ci")
        return f"{100 * row['accuracy']:.2f} ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else \
            f"{100 * row['accuracy']:.2f}"
    if key == "reported":
        return _reported_text(row.get("reported"), short=True)
    if STYLES.get(key) == "pct":
        return f"{100 * row[key]:.2f}" if isinstance(row.get(key), (int, float)) else ""
    return fmt(row, key, STYLES.get(key, "{}"))


def header(key: str) -> str:
    return SHORT.get(key) or HEADERS.get(key, key)


def note_lines(rows: list[dict]) -> list[str]:
    """One line per row that has a failure reason or notes: 'name: reason; key: value; ...'."""
    return [f"{r['name']}: {text}" for r in sort_rows(rows) if (text := fmt(r, "notes", "notes"))]


def per_seed_rows(row: dict) -> list[dict]:
    return row.get("per_seed") or [row]


def timing_note(meta: dict, rows: list[dict]) -> str | None:
    """Where the timing columns are not those of one machine running one job at a time (a cluster run):
    jobs timed on several hosts, or several jobs at once on one host."""
    hosts = sorted({r["host"] for row in rows for r in per_seed_rows(row) if r.get("host")})
    shared = {host: n for host, n in (meta.get("executor") or {}).get("jobs_at_once", {}).items() if n > 1}
    parts = []
    if len(hosts) > 1:
        parts.append(f"jobs were timed on {len(hosts)} hosts ({', '.join(hosts)}): latency, throughput and training "
                     "seconds compare only between rows of one host")
    if shared:
        parts.append("up to " + ", ".join(f"{n} jobs ran at once on {host}" for host, n in shared.items())
                     + ", so each job's timings are those of a share of that machine")
    return "Timing: " + "; ".join(parts) + "." if parts else None


def sort_rows(rows: list[dict]) -> list[dict]:
    order = {"ok": 0, "failed": 1, "skipped": 2}
    return sorted(rows, key=lambda r: (order.get(r["status"], 3), -(r.get("accuracy") or 0), r["name"]))


def markdown_summary(rows: list[dict]) -> str:
    """The summary table in Markdown, then the notes as a list."""
    lines = ["| " + " | ".join(header(k) for k in SUMMARY) + " |",
             "|" + "|".join("---" if k in TEXT_COLUMNS else "---:" for k in SUMMARY) + "|"]
    for row in sort_rows(rows):
        lines.append("| " + " | ".join(summary_cell(row, k).replace("|", "\\|") for k in SUMMARY) + " |")
    notes = note_lines(rows)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def console_columns(width: int, columns: list[str] | None = None) -> list[str]:
    """The summary's columns, more where the terminal is wide, or the ones asked for (--columns)."""
    if columns:
        return columns
    return SUMMARY + (WIDE if width >= 150 else [])


def console_table(rows: list[dict], title: str, width: int = 100, columns: list[str] | None = None):
    """The summary as a rich table that fits `width` columns without wrapping a cell; the notes go under
    it (console_notes)."""
    from rich import box
    from rich.table import Table
    keys = console_columns(width, columns)
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for key in keys:
        table.add_column(header(key), no_wrap=True, overflow="ellipsis" if key == "notes" else "fold",
                         justify="left" if key in TEXT_COLUMNS else "right")
    for row in sort_rows(rows):
        style = {"failed": "red", "skipped": "yellow"}.get(row["status"])
        table.add_row(*[summary_cell(row, k) for k in keys], style=style)
    return table


def console_notes(rows: list[dict]):
    """The notes and failure reasons, one line per row, folded at the terminal's width."""
    from rich.text import Text
    lines = note_lines(rows)
    return Text("\n".join(["notes:"] + [f"  {n}" for n in lines])) if lines else Text("")


# ------------------------------------------------------------------ a publication's rows beside ours
REPORTED_ON = {"val": "val_accuracy", "pooled": "pooled_accuracy", "test": "accuracy"}
ON_WORDS = {"val": "val", "pooled": "train+val+test", "test": "test"}


def seed_spread(row: dict, key: str) -> str:
    """A metric over the training seeds, in percent: the mean ± sd (or the one value)."""
    values = [100 * r[key] for r in per_seed_rows(row) if isinstance(r.get(key), (int, float))]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def verdict(row: dict) -> str:
    """The publication's figure against ours on the same kind of set: reproduced (within 2 points, or
    within our range over seeds), better or worse; for a publication that gives no figure, what happened."""
    reported = row.get("reported") or {}
    if row["status"] != "ok":
        if "val" not in reported and row["status"] == "failed":
            return f"reproduced: it could not be used here either ({row.get('reason', '')})"
        return f"not run here: {row.get('reason', '')}"
    key = REPORTED_ON[reported.get("on", "val")]
    values = [100 * r[key] for r in per_seed_rows(row) if isinstance(r.get(key), (int, float))]
    if "val" not in reported or not values:
        return ""
    theirs, ours = reported["val"], sum(values) / len(values)
    if abs(ours - theirs) <= 2 or min(values) <= theirs <= max(values):
        return "reproduced"
    return "better" if ours > theirs else "worse"


def markdown_reproduction(rows: list[dict]) -> str:
    """The rows that reproduce a publication, its figures beside ours (mean ± sd over training seeds)."""
    lines = ["| approach | report: train / val (on) | ours: train | val | test | train+val+test | work (epochs "
             "trained) | train s | verdict |", "|---|---|---:|---:|---:|---:|---|---:|---|"]
    for row in sort_rows([r for r in rows if r.get("reported")]):
        reported = row["reported"]
        on = f" ({ON_WORDS[reported.get('on', 'val')]})" if "val" in reported else ""
        epochs = [r["epochs_trained"] for r in per_seed_rows(row) if r.get("epochs_trained")]
        trained = f" ({min(epochs)}–{max(epochs)})" if epochs and min(epochs) != max(epochs) else \
            f" ({epochs[0]})" if epochs else ""
        cells = [row["name"], _reported_text(reported) + on, seed_spread(row, "train_accuracy"),
                 seed_spread(row, "val_accuracy"), seed_spread(row, "accuracy"), seed_spread(row, "pooled_accuracy"),
                 (row.get("work") or "") + trained, fmt(row, "fit_seconds", "{:.0f}"), verdict(row)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
