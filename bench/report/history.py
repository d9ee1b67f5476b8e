"""History: each followed metric across run folders, in time order, like asv's graphs.

Which metrics it follows, how it scales and labels them, and where their intervals come from,
the suites declare (bench.suite.MetricSpec: `history`, `rounds`, `scales_with`). A run's time
is its first record's timestamp; its commit, the git_sha its records carry. Each point is one
job key's value in one run (a metric measured along training: at the job's last step) with an
interval: a rate timed in rounds has the interquartile range of its rounds, and a metric in
proportion to it that range scaled alike; the others have none. A run whose check (check.csv
or ab-check.csv in its folder) said REGRESSED is marked in the tables and the figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import UsageError
from bench.report.figures import Figure, colour, framework_legend, panel_grid, pyplot, save
from bench.report.formatting import format_value, header, natural_order
from bench.report.pages import FIGURES_DIR, Section, html_page, markdown_page, run_frame
from bench.report.summary import check_regressions
from bench.report.tables import framework_sort_key, int_text, text_column
from bench.suite import MetricSpec, metric_spec, metric_specs

KEYS = ["suite", "model", "variant", "framework", "device", "mode", "batch_size"]


def spec_of(metric: str) -> MetricSpec:
    """The declaration of a metric history follows (every point's metric has one)."""
    spec = metric_spec(metric)
    assert spec is not None, metric
    return spec


def followed(ok: pd.DataFrame) -> pd.DataFrame:
    """The records of metrics their suite declares with history=True, keys as text."""
    wanted = {m for m in ok["metric"].unique() if getattr(metric_spec(m), "history", False)}
    rows = ok[ok["metric"].isin(wanted)]
    keys = {k: rows[k].map(lambda v: "" if pd.isna(v) else int_text(v)) if k in rows else ""
            for k in KEYS}
    return rows.assign(**{**keys, "variant": text_column(rows, "variant", "base")})


def last_values(rows: pd.DataFrame) -> pd.DataFrame:
    """Per job and metric, the median of its values at its last step (or of all, unstepped)."""
    step = pd.to_numeric(rows["step"], errors="coerce").fillna(-1)
    last = step == step.groupby([rows["job_id"], rows["metric"]]).transform("max")
    return rows[last].groupby([*KEYS, "job_id", "metric"], as_index=False)["value"].median()


def add_intervals(values: pd.DataFrame, ok: pd.DataFrame) -> pd.DataFrame:
    """q25 and q75: a rate's rounds' quartiles; for a metric in proportion to it, scaled."""
    values = values.assign(q25=np.nan, q75=np.nan)
    for metric in values["metric"].unique():
        spec = spec_of(metric)
        anchor = metric if spec.rounds else spec.scales_with
        rounds = getattr(metric_spec(anchor), "rounds", "") if anchor else ""
        if not rounds:
            continue
        quartiles = ok[ok["metric"] == rounds].groupby("job_id")["value"].quantile(
            [0.25, 0.75]).unstack()
        anchors = ok[ok["metric"] == anchor].groupby("job_id")["value"].median()
        at = values["metric"] == metric
        jobs = values.loc[at, "job_id"]
        scale = values.loc[at, "value"] / jobs.map(anchors)
        values.loc[at, "q25"] = jobs.map(quartiles[0.25]) * scale
        values.loc[at, "q75"] = jobs.map(quartiles[0.75]) * scale
    return values


def run_points(run_dir: Path) -> pd.DataFrame:
    """One row per (job key, metric) of a run: value, q25 and q75, and the run's identity."""
    frame = run_frame(Path(run_dir))
    ok = frame[frame["status"] == "ok"]
    rows = followed(ok)
    if rows.empty:
        raise UsageError(f"{run_dir} has no records of a metric that history follows; give "
                         "run folders of suites that declare one (MetricSpec history=True)")
    values = add_intervals(last_values(rows), ok)
    shas = text_column(frame, "git_sha").replace("", np.nan).dropna()
    regressions = check_regressions(Path(run_dir))
    return values.drop(columns="job_id").assign(
        run=Path(run_dir).name,
        time=pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601").min(),
        commit=shas.iloc[0] if len(shas) else "unknown",
        regressed=any(regressions.values()))


def history_frame(run_dirs: list[Path]) -> pd.DataFrame:
    """Every run's points, runs in time order (ties by name), numbered from 1."""
    if len(run_dirs) < 2:
        raise UsageError("history needs two or more run folders, e.g. gan-bench history "
                         "results/run1 results/run2 --out results/history")
    points = pd.concat([run_points(Path(d)) for d in run_dirs], ignore_index=True)
    order = points[["run", "time"]].drop_duplicates().sort_values(["time", "run"])
    number = {run: i + 1 for i, run in enumerate(order["run"])}
    return points.assign(order=points["run"].map(number)).sort_values("order")


def run_label(run: pd.Series) -> str:
    mark = " REGRESSED" if run["regressed"] else ""
    return f"{run['order']}. {run['run']} ({run['commit']}){mark}"


def metric_table(points: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per job key, one column per run in order: 'value (q25 to q75)'."""
    rows = points[points["metric"] == metric].copy()
    scale = spec_of(metric).scale
    rows["cell"] = [cell_text(v * scale, lo * scale, hi * scale)
                    for v, lo, hi in zip(rows["value"], rows["q25"], rows["q75"], strict=True)]
    rows["label"] = rows.apply(run_label, axis=1)
    labels = list(dict.fromkeys(rows.sort_values("order")["label"]))
    table = rows.pivot_table(index=KEYS, columns="label", values="cell", aggfunc="first")
    return natural_order(table.reindex(columns=labels).reset_index().fillna(""))


def cell_text(value: float, lo: float, hi: float) -> str:
    if np.isnan(lo):
        return format_value(value)
    return f"{format_value(value)} ({format_value(lo)} to {format_value(hi)})"


def metric_title(metric: str) -> str:
    return header(metric)


# --- figures --------------------------------------------------------------------------------


def series_label(key: dict[str, str]) -> str:
    parts = [key["variant"] if key["variant"] != "base" else "", key["framework"], key["mode"],
             f"b{key['batch_size']}" if key["batch_size"] else ""]
    return " ".join(p for p in parts if p)


def history_figure(points: pd.DataFrame, metric: str, out_dir: Path) -> Figure:
    """A panel per model: each job key's value per run, error bars over its interval; the
    runs a check called REGRESSED shaded red."""
    rows = points[points["metric"] == metric]
    scale = spec_of(metric).scale
    runs = rows[["order", "run", "commit", "regressed"]].drop_duplicates().sort_values("order")
    models = sorted(rows["model"].unique())
    plt = pyplot()
    fig, axes = panel_grid(plt, len(models), 6.5, 3.8, max_columns=2)
    for ax, model in zip(axes, models, strict=True):
        panel = rows[rows["model"] == model]
        series = [(dict(zip(KEYS, key, strict=True)), line) for key, line in panel.groupby(KEYS)]
        for key, line in sorted(series, key=lambda item: framework_sort_key(item[0]["framework"])):
            line = line.sort_values("order")
            errors = np.abs(np.array([line["value"] - line["q25"], line["q75"] - line["value"]]))
            ax.errorbar(line["order"], line["value"] * scale,
                        yerr=None if np.isnan(errors).all() else errors * scale,
                        color=colour(key["framework"]), marker="o", capsize=3, lw=1.2,
                        ls="-" if key["mode"] == "eager" else "--", label=series_label(key))
        for order in runs.loc[runs["regressed"], "order"]:
            ax.axvspan(order - 0.4, order + 0.4, color="#d62728", alpha=0.15, lw=0)
        ax.set_xticks(runs["order"], [f"{o}\n{c[:8]}" for o, c in
                                      zip(runs["order"], runs["commit"], strict=True)],
                      fontsize=8)
        ax.set_title(model)
        ax.set_ylabel(metric_title(metric))
        ax.set_xlabel("run (time order) and commit; red: check said REGRESSED")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    framework_legend(fig, rows["framework"].tolist(), lines=True)
    title = f"History of {metric_title(metric)} across runs"
    return save(fig, out_dir, f"history-{metric}", title)


# --- the page -------------------------------------------------------------------------------


def runs_table(points: pd.DataFrame) -> pd.DataFrame:
    runs = points[["order", "run", "time", "commit", "regressed"]].drop_duplicates()
    runs = runs.sort_values("order").assign(
        time=lambda t: t["time"].dt.strftime("%Y-%m-%d %H:%M %Z"),
        check=lambda t: t["regressed"].map({True: "REGRESSED", False: ""}))
    return runs.drop(columns="regressed").rename(columns={"order": "#"})


def write_history(run_dirs: list[Path], out: Path) -> Path:
    """history.md, history.html and history.csv in `out`, figures under out/figures/."""
    points = history_frame([Path(d) for d in run_dirs])
    out = Path(out)
    (out / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    for stale in (out / FIGURES_DIR).glob("history-*.png"):
        stale.unlink()
    declared = list(metric_specs().values())
    metrics = sorted(points["metric"].unique(), key=lambda m: declared.index(spec_of(m)))
    notes = ["Runs in time order (first record's timestamp). Cells: the median (a metric "
             "measured along training: at the last step), and in brackets the interquartile "
             "range of the timed rounds of a rate timed in rounds (scaled alike for a metric "
             "in proportion to it; none for the others).",
             "REGRESSED: the run's check (check.csv or ab-check.csv) said so."]
    sections = [Section("runs", {"runs": runs_table(points)}, notes)]
    sections += [Section(metric_title(m), {metric_title(m): metric_table(points, m)},
                         figures=[history_figure(points, m, out / FIGURES_DIR)])
                 for m in metrics]
    title = f"gan-bench history of {points['run'].nunique()} runs"
    (out / "history.html").write_text(html_page(title, sections))
    points.drop(columns="order").to_csv(out / "history.csv", index=False)
    page = out / "history.md"
    page.write_text(markdown_page(title, sections, out))
    return page
