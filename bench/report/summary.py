"""The report's first section: what a reader wants before any table of raw figures.

Per family, torch and tf like with like (bench.report.comparison) with the ratio's interval;
the best MFU of each; the quality headline where quality suites ran (final FID and coverage
per framework, mean and spread over seeds); the gate's verdict when a check wrote its table
into the run folder; the jobs flagged unstable or failed; and the machine it all ran on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.report.comparison import (
    AS_USED,
    COMPARISONS,
    EAGER,
    FASTEST,
    SEQUENTIAL_NOTE,
    comparison_table,
    ratio_figure,
    sequential_sides,
    wide,
)
from bench.report.figures import Figure
from bench.report.formatting import format_value, header
from bench.report.tables import framework_sort_key, int_text, text_column
from bench.runner import CONTEXT_AT_END, RUN_FILE
from bench.suite import MetricSpec, metric_spec, metric_specs

#: The tables the checks write into a run folder: the check's name and the column holding
#: each row's verdict. A baseline check's table also has a `gate` column: an advisory
#: REGRESSED row (throughput or memory against a baseline from another day) never fails.
CHECK_TABLES = {"check.csv": ("baseline check", "status"), "ab-check.csv": ("A/B check", "verdict")}
#: A run-context measurement (a suite's reading of the machine, such as its matmul peak) that
#: moved this much between the run's start and its end: the machine's speed changed meanwhile.
CONTEXT_DRIFT = 0.10


@dataclass
class Summary:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def frameworks_of(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["framework"].dropna().unique(), key=framework_sort_key)


# --- speed ----------------------------------------------------------------------------------

COMPARE_FILE = "compare.csv"  # what `gan-bench compare` writes into its run folder
COMPARISON_TITLES = {AS_USED: "as used", FASTEST: "at its fastest", EAGER: "eager (diagnostic)"}


def speed_comparison(frame: pd.DataFrame, run_dir: Path) -> tuple[pd.DataFrame, bool]:
    """compare.csv where `gan-bench compare` wrote one (side by side), else the comparison of
    the run's sequential timing jobs; and whether it is side by side."""
    path = run_dir / COMPARE_FILE
    if path.exists():
        return pd.read_csv(path, keep_default_na=True), True
    sides = {}
    for spec in metric_specs().values():
        if spec.lead and spec.rounds:  # a rate timed in rounds: what comparisons compare
            sides.update(sequential_sides(frame, spec.name, spec.rounds))
    return comparison_table(sides, frameworks_of(frame)) if sides else pd.DataFrame(), False


def side_by_side_figures(run_dir: Path, out_dir: Path) -> list[Figure]:
    """The as-used ratios of compare.csv, where `gan-bench compare` wrote one."""
    path = run_dir / COMPARE_FILE
    figure = ratio_figure(pd.read_csv(path), AS_USED, out_dir) if path.exists() else None
    return [figure] if figure else []


def speed_tables(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    reference = table["reference_framework"].iloc[0]
    tables = {}
    for comparison, title in COMPARISON_TITLES.items():
        shown = wide(table, comparison, format_value)
        if not shown.empty:
            tables[f"speed {title}: against {reference}"] = shown
    return tables


def speed_notes(table: pd.DataFrame, side_by_side: bool) -> list[str]:
    reference = table["reference_framework"].iloc[0]
    notes = [f"Speed: a ratio above 1 means faster than {reference}. As used: "
             f"{COMPARISONS[AS_USED]}; at its fastest: {COMPARISONS[FASTEST]}; eager: "
             f"{COMPARISONS[EAGER]}."]
    if not side_by_side:
        notes.append(SEQUENTIAL_NOTE)
    return notes


def best_values_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per metric a suite declares `best`: each framework's best value in each family, and
    the job that reached it."""
    tables = {}
    for spec in metric_specs().values():
        if spec.best:
            table = best_value_table(frame, spec)
            if not table.empty:
                tables[f"best {spec.label or spec.name} per framework"] = table
    return tables


def best_value_table(frame: pd.DataFrame, spec: MetricSpec) -> pd.DataFrame:
    rows = frame[(frame["status"] == "ok") & (frame["metric"] == spec.name)]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(variant=text_column(rows, "variant", "base"))
    pick = "idxmin" if spec.better == "lower" else "idxmax"
    best = rows.loc[getattr(rows.groupby(["model", "framework"])["value"], pick)()]
    out = []
    for model, group in best.groupby("model", sort=True):
        row = {"family": model}
        for _, job in group.sort_values("framework", key=lambda s: s.map(framework_sort_key)
                                        ).iterrows():
            row[f"{job['framework']} {spec.name}"] = job["value"]
            row[f"{job['framework']} reached at"] = (
                f"{job['variant']}, {job['mode']}, batch {int_text(job['batch_size'])}")
        out.append(row)
    return pd.DataFrame(out)


# --- quality --------------------------------------------------------------------------------


def specs_where(metrics: pd.Series, wanted: Callable[[MetricSpec], bool]) -> pd.Series:
    """Per record, whether its metric's declaration (bench.suite) is `wanted`."""
    verdicts = {m: (spec := metric_spec(m)) is not None and wanted(spec) for m in metrics.unique()}
    return metrics.map(verdicts).astype(bool)


def quality_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The lead metrics measured along training (declared `lead`: final FID and coverage) per
    (suite, family, dataset) and framework at the last step: mean ± sd over seeds."""
    ok = frame[(frame["status"] == "ok") & specs_where(frame["metric"], lambda s: s.lead)]
    ok = ok[pd.to_numeric(ok["step"], errors="coerce").notna()]
    if "perturbation" in ok:
        ok = ok[text_column(ok, "perturbation", "base") == "base"]  # convergence's base runs
    if ok.empty:
        return pd.DataFrame()
    last = ok[ok["step"] == ok.groupby("job_id")["step"].transform("max")]
    last = last.assign(dataset=text_column(last, "dataset"))
    keys = ["suite", "model", "dataset", "metric"]
    out = []
    for key, group in last.groupby(keys, sort=True):
        row = dict(zip(["suite", "family", "dataset", "metric"], key, strict=True))
        for fw, values in sorted(group.groupby("framework")["value"],
                                 key=lambda item: framework_sort_key(item[0])):
            row[f"{fw} final (mean ± sd over seeds)"] = spread_text(values)
        out.append(row)
    return pd.DataFrame(out)


def spread_text(values: pd.Series) -> str:
    n = values.count()
    if n < 2:
        return f"{format_value(float(values.mean()))} (1 seed)"
    return f"{format_value(float(values.mean()))} ± {format_value(float(values.std()))} ({n} seeds)"


# --- verdicts and flags ---------------------------------------------------------------------


def check_verdicts(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Per check table in the run folder: its failing rows (its `fails` column: a baseline
    check also fails on a missing key, an A/B check on a job that fails in the head tree
    only) and its advisory REGRESSED ones."""
    found = {}
    for file, (check, column) in CHECK_TABLES.items():
        if (run_dir / file).exists():
            table = pd.read_csv(run_dir / file, dtype=str, keep_default_na=False)
            regressed = table[column] == "REGRESSED"
            advisory = table.get("gate", pd.Series("", index=table.index)) == "advisory"
            found[check] = (int((table["fails"] == "yes").sum()),
                            int((regressed & advisory).sum()))
    return found


def check_regressions(run_dir: Path) -> dict[str, int]:
    """Per check that ran on the run folder: how many of its rows say REGRESSED and fail."""
    return {name: failing for name, (failing, _) in check_verdicts(run_dir).items()}


def gate_notes(run_dir: Path) -> list[str]:
    found = check_verdicts(run_dir)
    if not found:
        return [f"Gate: no check ran on this folder (no {' or '.join(CHECK_TABLES)})."]
    return [gate_note(name, failing, advisory) for name, (failing, advisory) in found.items()]


def gate_note(name: str, failing: int, advisory: int) -> str:
    if failing:
        return f"Gate ({name}): FAILED in {failing} comparison{'s' if failing > 1 else ''}."
    flagged = (f"; {advisory} advisory flag{'s' if advisory > 1 else ''} (speed or memory "
               "against a baseline from another day, which never fails)") if advisory else ""
    return f"Gate ({name}): passed, no regression{flagged}."


def flag_detail(ok: pd.DataFrame, job_id: str, metric: str) -> str:
    """'round spread (max/min) 1.9': the job's value of the metric that explains its flag."""
    values = ok[(ok["job_id"] == job_id) & (ok["metric"] == metric)]["value"]
    spec = metric_spec(metric)
    value = float(values.median()) * (spec.scale if spec else 1.0) if len(values) else math.nan
    return f"{header(metric)} {format_value(value)}"


def flagged_jobs(frame: pd.DataFrame) -> pd.DataFrame:
    """Jobs whose flag that lists a job (declared `flags_job`, as throughput's unstable
    timing) is set, and jobs that failed."""
    ok = frame[frame["status"] == "ok"]
    flagged = ok[specs_where(ok["metric"], lambda s: bool(s.flags_job)) & (ok["value"] == 1)]
    flagged = flagged.assign(variant=text_column(flagged, "variant", "base"))
    rows = [{"suite": r["suite"], "model": r["model"], "variant": r["variant"],
             "framework": r["framework"], "mode": r["mode"], "flag": r["metric"],
             "detail": flag_detail(ok, r["job_id"], metric_spec(r["metric"]).flags_job)}
            for _, r in flagged.iterrows()]
    bad = frame[frame["status"].isin(["error", "skipped"])]
    bad = bad.assign(variant=text_column(bad, "variant", "base"))
    rows += [{"suite": r["suite"], "model": r["model"], "variant": r["variant"],
              "framework": r["framework"], "mode": r["mode"], "flag": r["status"],
              "detail": first_line(r.get("error"))} for _, r in bad.iterrows()]
    return pd.DataFrame(rows).drop_duplicates() if rows else pd.DataFrame()


def first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0][:160] if lines else ""


# --- environment ----------------------------------------------------------------------------


def values_of(frame: pd.DataFrame, column: str) -> str:
    if column not in frame:
        return "not recorded"
    values = [format_value(v) for v in frame[column].dropna().unique() if str(v) != ""]
    return ", ".join(sorted(set(values), key=str)) or "not recorded"


def environment_table(frame: pd.DataFrame, drift: list[tuple[str, float, float]] = ()
                      ) -> pd.DataFrame:
    """What the run ran on: machine, threads, versions, code, load at start, and the run
    context's measurements of the machine at the run's start and end."""
    shas = [str(s) for s in frame.get("git_sha", pd.Series(dtype=str)).dropna().unique()]
    rows = [("CPU", values_of(frame, "cpu")), ("cores", values_of(frame, "cores")),
            ("CPUs allowed (affinity)", values_of(frame, "cpus_allowed")),
            ("threads per job", values_of(frame, "threads")),
            ("OpenMP wait policy", values_of(frame, "wait_policy")),
            ("load at start (1 min)", values_of(frame, "load_at_start")),
            *context_rows(drift)]
    for fw in frameworks_of(frame):
        rows.append((f"{fw} version", values_of(frame[frame["framework"] == fw],
                                                "framework_version")))
    commits = dict.fromkeys(s.removesuffix("+dirty") for s in shas)  # a resumed run: once each
    rows += [("git commit", ", ".join(commits) or "not recorded"),
             ("uncommitted changes", "yes" if any(s.endswith("+dirty") for s in shas) else "no"),
             ("python", values_of(frame, "python")), ("host", values_of(frame, "hostname")),
             ("profile", values_of(frame, "profile")),
             ("started", str(frame["timestamp"].dropna().min())
              if "timestamp" in frame else "not recorded")]
    return pd.DataFrame(rows, columns=["item", "value"])


def context_drift(run_dir: Path) -> list[tuple[str, float, float]]:
    """(suite: name, at start, at end) of every run-context number measured at both ends."""
    path = run_dir / RUN_FILE
    saved = json.loads(path.read_text()) if path.exists() else {}
    start, end = saved.get("context", {}), saved.get(CONTEXT_AT_END, {})
    return [(f"{suite}: {name}", float(value), float(end[suite][name]))
            for suite, values in start.items() for name, value in values.items()
            if name in end.get(suite, {})]


def context_rows(drift: list[tuple[str, float, float]]) -> list[tuple[str, str]]:
    rows = []
    for name, start, end in drift:
        suite, _, metric = name.rpartition(": ")
        scale = getattr(metric_spec(metric), "scale", 1.0)  # as the suite declares it
        rows.append((f"{suite}: {header(metric)} at start, at end",
                     f"{format_value(start * scale)}, {format_value(end * scale)} "
                     f"({end / start - 1:+.0%})"))
    return rows


def context_notes(drift: list[tuple[str, float, float]]) -> list[str]:
    moved = [f"{name} {end / start - 1:+.0%}" for name, start, end in drift
             if abs(end / start - 1) > CONTEXT_DRIFT]
    return [f"The machine's speed moved while the jobs ran ({', '.join(moved)} between the "
            "run's start and its end): timings of early and late jobs are not comparable."
            ] if moved else []


# --- the summary ----------------------------------------------------------------------------


def summarise(frame: pd.DataFrame, run_dir: Path) -> Summary:
    drift = context_drift(run_dir)
    summary = Summary(notes=gate_notes(run_dir) + context_notes(drift))
    speed, side_by_side = speed_comparison(frame, run_dir)
    if not speed.empty:
        summary.tables.update(speed_tables(speed))
        summary.notes += speed_notes(speed, side_by_side)
    summary.tables.update(best_values_tables(frame))
    for name, table in (("quality at the last step", quality_table(frame)),
                        ("jobs flagged", flagged_jobs(frame)),
                        ("environment", environment_table(frame, drift))):
        if not table.empty:
            summary.tables[name] = table
    if "jobs flagged" not in summary.tables:
        summary.notes.insert(1, "No job failed and none was flagged.")
    return summary
