"""Reports: the run's records pivoted into tables, written as Markdown, HTML, CSV, Parquet.

report.md links the figures under RUN_DIR/figures/; report.html embeds them as base64 PNG so
the one file can be mailed or attached to a CI job and still show everything.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import pandas as pd

from bench.errors import UsageError
from bench.figures import Figure, write_figures
from bench.records import RECORDS_FILE, load_frame
from bench.runner import RUN_FILE
from bench.registry import load_suite

FORMATS = ("md", "html", "csv", "parquet")


def format_value(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)


def markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    rows = ["| " + " | ".join(format_value(v) for v in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def problems_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Jobs that did not produce measurements, with the first line of why."""
    bad = frame[frame["status"].isin(["error", "skipped"])]
    if bad.empty:
        return pd.DataFrame()
    cols = ["suite", "model", "framework", "device", "mode", "status"]
    table = bad[cols].copy()
    table["reason"] = bad["error"].fillna("").map(lambda e: e.splitlines()[0] if e else "")
    return table.drop_duplicates().reset_index(drop=True)


def run_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    run_dir = Path(run_dir)
    if not (run_dir / RECORDS_FILE).exists():
        raise UsageError(f"{run_dir} has no {RECORDS_FILE}; give a folder written by gan-bench run")
    frame = load_frame(run_dir)
    suites = json.loads((run_dir / RUN_FILE).read_text())["suites"] if (
        run_dir / RUN_FILE).exists() else sorted(frame["suite"].dropna().unique())
    tables: dict[str, pd.DataFrame] = {}
    for name in suites:
        tables.update(load_suite(name).tables(frame))
    problems = problems_table(frame)
    if not problems.empty:
        tables["jobs not measured"] = problems
    return tables


def parse_formats(text: str) -> list[str]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    for f in formats:
        if f not in FORMATS:
            raise UsageError(f"unknown report format {f!r}; use some of {', '.join(FORMATS)}")
    return formats


def write_report(run_dir: Path, formats: list[str] | tuple[str, ...] = ("md", "csv")) -> Path:
    """Write report.md (always) with the figures, and the other formats asked for."""
    run_dir = Path(run_dir)
    tables = run_tables(run_dir)
    figures = write_figures(load_frame(run_dir), run_dir)
    title = f"gan-bench run {run_dir.name}"
    write_table_files(run_dir, tables, formats)
    if "html" in formats:
        (run_dir / "report.html").write_text(html_report(title, tables, figures))
    report = run_dir / "report.md"
    report.write_text(markdown_report(title, tables, figures, run_dir))
    return report


def write_table_files(run_dir: Path, tables: dict[str, pd.DataFrame],
                      formats: list[str] | tuple[str, ...]) -> None:
    if "csv" not in formats and "parquet" not in formats:
        return
    (run_dir / "tables").mkdir(exist_ok=True)
    for name, table in tables.items():
        stem = run_dir / "tables" / name.replace(" ", "_")
        if "csv" in formats:
            table.to_csv(stem.with_suffix(".csv"), index=False)
        if "parquet" in formats:
            # Parquet columns need one type; mixed object columns (a key that is "" or 64)
            # go in as text, missing values as nulls, rather than failing the whole report.
            table.astype({c: "string" for c in table.columns if table[c].dtype == object}
                         ).to_parquet(stem.with_suffix(".parquet"), index=False)


def markdown_report(title: str, tables: dict[str, pd.DataFrame], figures: list[Figure],
                    run_dir: Path) -> str:
    md = [f"# {title}", ""]
    for name, table in tables.items():
        md += [f"## {name}", "", markdown_table(table), ""]
    if figures:
        md += ["## figures", ""]
        md += [f"![{f.title}]({f.path.relative_to(run_dir).as_posix()})\n" for f in figures]
    return "\n".join(md)


HTML_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#f3f3f3}img{max-width:100%;margin:1em 0}"
)


def html_report(title: str, tables: dict[str, pd.DataFrame], figures: list[Figure]) -> str:
    body = "".join(f"<h2>{html.escape(n)}</h2>{t.to_html(index=False, na_rep='')}"
                   for n, t in tables.items())
    if figures:
        body += "<h2>figures</h2>" + "".join(
            f"<h3 id={html.escape(f.name)}>{html.escape(f.title)}</h3>"
            f"<img alt=\"{html.escape(f.title)}\" src=\"data:image/png;base64,"
            f"{base64.b64encode(f.path.read_bytes()).decode()}\">" for f in figures)
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{HTML_STYLE}</style><h1>{html.escape(title)}</h1>{body}")
