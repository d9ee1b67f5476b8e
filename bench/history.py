"""History: each throughput metric across run folders, in time order, like asv's graphs.

A run's time is its first record's timestamp; its commit, the git_sha its records carry. Each
point is one job key's value in one run with an interval: steps/s has the interquartile range
of its timed rounds, and the metrics proportional to it (samples/s, MFU) that range scaled
alike; peak memory and first-step time have none. A run whose check (check.csv or
ab-check.csv in its folder) said REGRESSED is marked in the tables and the figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import UsageError
from bench.figures import (
    Figure,
    colour,
    framework_legend,
    framework_sort_key,
    ok_rows,
    panel_grid,
    pyplot,
    save,
    text_column,
)
from bench.formatting import format_value, header, natural_order
from bench.report import FIGURES_DIR, Section, html_page, markdown_page, run_frame
from bench.summary import check_regressions

KEYS = ["model", "variant", "framework", "device", "mode", "batch_size"]
#: metric -> whether it moves with steps/s (so the rounds' IQR, scaled, is its interval)
METRICS = {"steps_per_s": True, "samples_per_s": True, "mfu": True,
           "peak_memory_bytes": False, "first_step_s": False}


def run_points(run_dir: Path) -> pd.DataFrame:
    """One row per (job key, metric) of a run: value, q25 and q75, and the run's identity."""
    frame = run_frame(Path(run_dir))
    rows = ok_rows(frame, "throughput")
    if rows.empty:
        raise UsageError(f"{run_dir} has no throughput records; history follows the "
                         "throughput suite's metrics")
    rows = rows.assign(variant=text_column(rows, "variant", "base"))
    rounds = rows[rows["metric"] == "round_steps_per_s"].groupby("job_id")["value"]
    quartiles = rounds.quantile([0.25, 0.75]).unstack()
    values = rows[rows["metric"].isin(METRICS)].groupby([*KEYS, "job_id", "metric"],
                                                         as_index=False)["value"].median()
    steps = values[values["metric"] == "steps_per_s"].set_index("job_id")["value"]
    scale = values["value"] / values["job_id"].map(steps)
    moves = values["metric"].map(METRICS).astype(bool)
    values["q25"] = np.where(moves, values["job_id"].map(quartiles[0.25]) * scale, np.nan)
    values["q75"] = np.where(moves, values["job_id"].map(quartiles[0.75]) * scale, np.nan)
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
    scale = 100 if metric == "mfu" else 2**-20 if metric == "peak_memory_bytes" else 1
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
    unit = {"mfu": "MFU (%)", "peak_memory_bytes": "peak memory (MiB)"}
    return unit.get(metric, header(metric))


# --- figures --------------------------------------------------------------------------------


def series_label(key: tuple) -> str:
    model, variant, framework, device, mode, batch = key
    parts = [variant if variant != "base" else "", framework, mode, f"b{format_value(batch)}"]
    return " ".join(p for p in parts if p)


def history_figure(points: pd.DataFrame, metric: str, out_dir: Path) -> Figure:
    """A panel per model: each job key's value per run, error bars over its interval; the
    runs a check called REGRESSED shaded red."""
    rows = points[points["metric"] == metric]
    scale = 100 if metric == "mfu" else 2**-20 if metric == "peak_memory_bytes" else 1
    runs = rows[["order", "run", "commit", "regressed"]].drop_duplicates().sort_values("order")
    models = sorted(rows["model"].unique())
    plt = pyplot()
    fig, axes = panel_grid(plt, len(models), 6.5, 3.8, max_columns=2)
    for ax, model in zip(axes, models, strict=True):
        panel = rows[rows["model"] == model]
        series = sorted(panel.groupby(KEYS), key=lambda item: framework_sort_key(item[0][2]))
        for key, line in series:
            line = line.sort_values("order")
            errors = np.abs(np.array([line["value"] - line["q25"], line["q75"] - line["value"]]))
            ax.errorbar(line["order"], line["value"] * scale,
                        yerr=None if np.isnan(errors).all() else errors * scale,
                        color=colour(key[2]), marker="o", capsize=3, lw=1.2,
                        ls="-" if key[4] == "eager" else "--", label=series_label(key))
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
        time=lambda t: t["time"].dt.strftime("%Y-%m-%d %H:%M UTC"),
        check=lambda t: t["regressed"].map({True: "REGRESSED", False: ""}))
    return runs.drop(columns="regressed").rename(columns={"order": "#"})


def write_history(run_dirs: list[Path], out: Path) -> Path:
    """history.md, history.html and history.csv in `out`, figures under out/figures/."""
    points = history_frame([Path(d) for d in run_dirs])
    out = Path(out)
    (out / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    for stale in (out / FIGURES_DIR).glob("history-*.png"):
        stale.unlink()
    metrics = [m for m in METRICS if m in set(points["metric"])]
    notes = ["Runs in time order (first record's timestamp). Cells: the median, and in "
             "brackets the interquartile range of the timed rounds (scaled alike for "
             "samples/s and MFU; none for memory and first-step time).",
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
