"""Reports: the run's records pivoted into tables, written as Markdown, HTML, CSV, Parquet.

A report opens with its Summary (bench.report.summary), then each suite's tables (found
through the registry) and the table of jobs not measured, then the figures; samples of
untrained networks (a suite's smoke-check figures) come last, collapsed in HTML and labelled
as such. Every table goes through bench.report.formatting, so Markdown and HTML show the
same numbers.
report.md links the figures under RUN_DIR/figures/; report.html embeds them as base64 PNG so
the one file can be mailed or attached to a CI job and still show everything.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from bench.errors import UsageError
from bench.records import ARTIFACT_METRIC, RECORDS_FILE, load_frame
from bench.registry import load_suite
from bench.report.figures import Figure
from bench.report.formatting import natural_order, to_html, to_markdown
from bench.report.summary import side_by_side_figures, summarise
from bench.runner import RUN_FILE

FORMATS = ("md", "html", "csv", "parquet")
FIGURES_DIR = "figures"
SMOKE_CHECK_NOTE = ("Samples of untrained networks, drawn after the timing steps on one batch: "
                    "they show that generation runs, not what a model learns. Trained samples "
                    "come from the quality suites (fid, mode-collapse).")


def write_measurement(rows: pd.DataFrame, table: pd.DataFrame, out: Path, rows_suffix: str,
                      note: str) -> None:
    """A measurement script's output: its raw rows (`out` with `rows_suffix`) and its summary
    table (`out`) as CSV, and the table printed under `note` (when, where, under what load)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out.with_suffix(rows_suffix), index=False)
    table.to_csv(out, index=False)
    print(f"\n{note}")
    print(to_markdown(table))


@dataclass
class Section:
    """One heading of a report: notes, tables and figures; collapsed in HTML when asked."""

    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    collapsed: bool = False


def problems_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Jobs that did not produce measurements, with the first line of why."""
    bad = frame[frame["status"].isin(["error", "skipped"])]
    if bad.empty:
        return pd.DataFrame()
    cols = ["suite", "model", "framework", "device", "mode", "status"]
    table = bad[cols].copy()
    table["reason"] = bad["error"].fillna("").map(lambda e: e.splitlines()[0] if e else "")
    return table.drop_duplicates().reset_index(drop=True)


def run_frame(run_dir: Path) -> pd.DataFrame:
    """The run's records; artifact paths made absolute, so a suite's figures can load them."""
    if not (run_dir / RECORDS_FILE).exists():
        raise UsageError(f"{run_dir} has no {RECORDS_FILE}; give a folder written by gan-bench run")
    frame = load_frame(run_dir)
    artifacts = frame["metric"] == ARTIFACT_METRIC
    if artifacts.any():
        frame.loc[artifacts, "path"] = [str(run_dir / p) for p in frame.loc[artifacts, "path"]]
    return frame


def run_suites(run_dir: Path, frame: pd.DataFrame) -> list[str]:
    """The suites the run asked for (run.json), else those its records name."""
    if (run_dir / RUN_FILE).exists():
        return json.loads((run_dir / RUN_FILE).read_text())["suites"]
    return sorted(frame["suite"].dropna().unique())


def run_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    run_dir = Path(run_dir)
    frame = run_frame(run_dir)
    return suite_tables(frame, run_suites(run_dir, frame))


def suite_tables(frame: pd.DataFrame, suites: list[str]) -> dict[str, pd.DataFrame]:
    """Each suite's tables in natural row order, then the jobs that measured nothing."""
    tables: dict[str, pd.DataFrame] = {}
    for name in suites:
        tables.update(load_suite(name).tables(frame))
    problems = problems_table(frame)
    if not problems.empty:
        tables["jobs not measured"] = problems
    return {name: natural_order(table) for name, table in tables.items()}


def parse_formats(text: str) -> list[str]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    for f in formats:
        if f not in FORMATS:
            raise UsageError(f"unknown report format {f!r}; use some of {', '.join(FORMATS)}")
    if "parquet" in formats and importlib.util.find_spec("pyarrow") is None:
        raise UsageError("parquet tables need pyarrow, which this install lacks; "
                         "pip install pyarrow, or leave parquet out of --format")
    return formats


def write_report(run_dir: Path, formats: list[str] | tuple[str, ...] = ("md", "csv")) -> Path:
    """Write report.md (always) with the figures, and the other formats asked for."""
    run_dir = Path(run_dir)
    frame = run_frame(run_dir)
    suites = run_suites(run_dir, frame)
    tables = suite_tables(frame, suites)
    figures = write_figures(frame, suites, run_dir / FIGURES_DIR)
    figures += side_by_side_figures(run_dir, run_dir / FIGURES_DIR)
    sections = report_sections(frame, run_dir, tables, figures)
    title = f"gan-bench run {run_dir.name}"
    write_table_files(run_dir, tables, formats)
    if "html" in formats:
        (run_dir / "report.html").write_text(html_page(title, sections))
    report = run_dir / "report.md"
    report.write_text(markdown_page(title, sections, run_dir))
    return report


def report_sections(frame: pd.DataFrame, run_dir: Path, tables: dict[str, pd.DataFrame],
                    figures: list[Figure]) -> list[Section]:
    """Summary first; each table under its own heading; figures; the smoke check last."""
    summary = summarise(frame, run_dir)
    sections = [Section("Summary", summary.tables, summary.notes)]
    sections += [Section(name, {name: table}) for name, table in tables.items()]
    results = [f for f in figures if not f.smoke_check]
    smoke = [f for f in figures if f.smoke_check]
    if results:
        sections.append(Section("figures", figures=results))
    if smoke:
        sections.append(Section("smoke check (untrained)", notes=[SMOKE_CHECK_NOTE],
                                figures=smoke, collapsed=True))
    return sections


def write_figures(frame: pd.DataFrame, suites: list[str], out_dir: Path) -> list[Figure]:
    """Every figure of the run's suites, in out_dir (figures drawn before are removed)."""
    out_dir.mkdir(exist_ok=True)
    for stale in out_dir.glob("*.png"):
        stale.unlink()  # figures of records since removed must not linger in the report
    return [figure for name in suites for figure in load_suite(name).figures(frame, out_dir)]


def write_table_files(run_dir: Path, tables: dict[str, pd.DataFrame],
                      formats: list[str] | tuple[str, ...]) -> None:
    """CSV and Parquet keep the raw column names and values: they are for programs."""
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


# --- pages ----------------------------------------------------------------------------------


def markdown_page(title: str, sections: list[Section], base_dir: Path) -> str:
    md = [f"# {title}", ""]
    for section in sections:
        md += [f"## {section.title}", ""]
        md += [f"- {note}" for note in section.notes]
        md += [""] if section.notes else []
        for name, table in section.tables.items():
            md += ([] if name == section.title else [f"### {name}", ""])
            md += [to_markdown(table), ""]
        md += [f"![{f.title}]({f.path.relative_to(base_dir).as_posix()})\n"
               for f in section.figures]
    return "\n".join(md)


HTML_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1320px;padding:0 1em;
     color:#222;line-height:1.4}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.table-wrap{overflow-x:auto;max-width:100%;margin:.8em 0}
table.data{border-collapse:collapse;font-size:85%}
table.data th,table.data td{border:1px solid #ccc;padding:3px 7px}
table.data th{background:#f3f3f3;text-align:center;vertical-align:bottom}
table.data td{white-space:nowrap}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto}
figcaption{font-size:90%;color:#555}
details{margin-top:1.6em}details>summary{cursor:pointer}
details>summary h2{display:inline;border:0}
"""

PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{{ style }}</style></head><body>
<h1>{{ title }}</h1>
{% for s in sections %}
{% if s.collapsed %}<details><summary><h2>{{ s.title }}</h2></summary>
{% else %}<section><h2>{{ s.title }}</h2>{% endif %}
{% if s.notes %}<ul>{% for note in s.notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
{% for name, table in s.tables %}{% if name != s.title %}<h3>{{ name }}</h3>{% endif %}
{{ table }}{% endfor %}
{% for f in s.figures %}<figure><img alt="{{ f.title }}" src="data:image/png;base64,{{ f.data }}">
<figcaption>{{ f.title }}</figcaption></figure>{% endfor %}
{% if s.collapsed %}</details>{% else %}</section>{% endif %}
{% endfor %}
</body></html>
""")


def html_page(title: str, sections: list[Section]) -> str:
    """One self-contained page: tables through pandas' Styler, figures embedded. Markup marks
    the HTML made here (Styler tables, the style sheet) so the template inserts it as is."""
    shown = [{"title": s.title, "notes": s.notes, "collapsed": s.collapsed,
              "tables": [(name, Markup(to_html(t))) for name, t in s.tables.items()],
              "figures": [{"title": f.title,
                           "data": base64.b64encode(f.path.read_bytes()).decode()}
                          for f in s.figures]}
             for s in sections]
    return PAGE.render(title=title, style=Markup(HTML_STYLE), sections=shown)
