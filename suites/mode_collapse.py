"""Mode collapse (docs/metrics.md#modes-2d): how many of the data's modes a generator keeps.

Families that train on 2-D points (the MLP GAN) run on PacGAN's ring8 and grid25; image
families run on digits (classes covered, KL from uniform, NDB), and on stacked digits (1,000
modes) only where the family accepts that dataset (3 channels); the others are left out of it.
A job is the quality engine's (suites.quality_engine), as the fid suite's: the same training
and the same evaluation at every step, so the curves of both suites read alike; this suite's
tables show the mode statistics, its figures the curves and the last samples.

A family with a packing degree (PacGAN, `packing`) runs at each m of PACKINGS, on ring8 and
grid25; its rows are labelled `<model>-m<m>` in the tables and figures, and one more table sets
its mean and standard error over seeds beside Lin et al. 2018's Table 1 (PAPER_TABLE_1).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.adapter import FamilyConfig
from bench.data import POINT_DATASETS
from bench.errors import UsageError
from bench.jobs import Job
from bench.profiles import profile_settings
from bench.report.figures import Figure, colour, pyplot, save
from bench.suite import Request
from suites import quality_engine

SUITE = "mode-collapse"
METRICS = quality_engine.METRICS
PROFILES = quality_engine.PROFILES  # the quality engine's budgets, shared with fid
KEY_METRIC = ("modes_captured", "classes_covered")
IMAGE_DATASETS = ("digits", "stacked_digits")
MODE_METRICS = ("modes_captured", "high_quality_share", "modes_kl_uniform", "classes_covered",
                "classes_kl_uniform", "ndb", "ndb_share", "ndb_js", "diverged")

execute = quality_engine.execute


def accepts(family: type[FamilyConfig], profile: str, dataset: str) -> bool:
    """Whether the family's config validates with this dataset (its own list decides)."""
    try:
        family.for_profile(profile, dataset=dataset)
    except (UsageError, TypeError):  # TypeError: a family without a dataset field
        return False
    return True


def datasets(family: type[FamilyConfig], profile: str) -> list[str]:
    points = [d for d in POINT_DATASETS if accepts(family, profile, d)]
    return points or [d for d in IMAGE_DATASETS if accepts(family, profile, d)]


def variants(family: type[FamilyConfig], profile: str) -> list[dict[str, Any]]:
    """A config per dataset; for a family with a packing degree, per dataset and m of PACKINGS."""
    configs = [{"dataset": dataset} for dataset in datasets(family, profile)]
    if has_packing(family):
        configs = [{**config, "packing": m} for config in configs
                   for m in profile_settings(PACKINGS, profile)]
    return configs


def jobs(request: Request) -> list[Job]:
    return quality_engine.quality_jobs(SUITE, request, variants)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    frame = with_packing(frame)
    out = quality_engine.quality_tables(labelled_by_packing(frame), SUITE, MODE_METRICS)
    paper = pacgan_table(frame)
    if not paper.empty:
        out[PACGAN_TABLE] = paper
    return out


def figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    frame = with_packing(frame)
    return [*quality_engine.quality_figures(labelled_by_packing(frame), out_dir, SUITE),
            *pacgan_figure(frame, out_dir)]


# --- PacGAN: packing degrees, and the paper's Table 1 beside ours ---------------------------

#: The packing degrees m a family with a `packing` field runs at, per profile (the paper: 1-4).
PACKINGS = {"quick": (1, 2), "standard": (1, 2), "full": (1, 2, 3, 4)}
PACGAN = "pacgan"
PACGAN_TABLE = f"{SUITE} {PACGAN} beside Lin et al. 2018, Table 1"
#: Lin et al. 2018 (PacGAN), Table 1: mean and standard error over 10 trials of 2,500 samples,
#: per (dataset, m): modes captured, high-quality samples (%), reverse KL. m = 1 is the
#: paper's GAN row, m = 2..4 its PacGAN2..4 rows; read from the table in the paper's
#: repository (fjxmlzn/PacGAN, synthetic_data_experiments/results/Table1.png).
PAPER_TABLE_1 = {
    ("ring8", 1): ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
    ("ring8", 2): ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
    ("ring8", 3): ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
    ("ring8", 4): ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
    ("grid25", 1): ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
    ("grid25", 2): ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
    ("grid25", 3): ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
    ("grid25", 4): ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
}
PAPER_TRIALS = 10
#: Our metric -> its mean's and its standard error's columns and the factor to the paper's
#: unit; in the order of PAPER_TABLE_1's entries.
PACGAN_METRICS = {"modes_captured": ("modes", "modes s.e.", 1.0),
                  "high_quality_share": ("high quality (%)", "high quality s.e. (%)", 100.0),
                  "modes_kl_uniform": ("reverse KL", "reverse KL s.e.", 1.0)}
PACGAN_KEYS = ["dataset", "framework", "device", "n_samples", "m"]
#: Modes and reverse KL count high-quality samples only; a cell where some seed had fewer than
#: this many says so instead of a number: at this count even a perfect (uniform) histogram's
#: KL stays under a quarter of the paper's PacGAN2 value (ring8 0.07, grid25 0.13) in 99 % of
#: draws (derivation: docs/metrics.md#too-few-high-quality).
MIN_HIGH_QUALITY = {"ring8": 550, "grid25": 700}
TOO_FEW = "too few high-quality samples"
COUNTED_ON_HIGH_QUALITY = ("modes_captured", "modes_kl_uniform")


def has_packing(family: type[FamilyConfig]) -> bool:
    return dataclasses.is_dataclass(family) and "packing" in {
        f.name for f in dataclasses.fields(family)}


def with_packing(frame: pd.DataFrame) -> pd.DataFrame:
    """Every record of a job that tagged its packing degree gets it, as a number: the sample
    artifacts and the last-step `diverged` records carry no adapter tags of their own."""
    if "packing" not in frame or "job_id" not in frame:
        return frame
    tagged = pd.to_numeric(frame["packing"], errors="coerce")
    per_job = tagged.groupby(frame["job_id"]).first()
    return frame.assign(packing=frame["job_id"].map(per_job))


def labelled_by_packing(frame: pd.DataFrame) -> pd.DataFrame:
    """A packed job's model as `<model>-m<m>`, so tables and figures keep each m apart."""
    if "packing" not in frame:
        return frame
    packed = frame["packing"].notna()
    labels = frame["model"].astype(str).where(
        ~packed, frame["model"].astype(str) + "-m" + frame["packing"].map(
            lambda m: f"{m:g}" if pd.notna(m) else ""))
    return frame.assign(model=labels)


def standard_error(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def short_of_high_quality(shares: pd.DataFrame) -> pd.Series:
    """Per high_quality_share record (value, n_samples, dataset): whether it counts fewer
    high-quality samples than its dataset's minimum."""
    return (shares["value"] * shares["n_samples"].astype(float)
            < shares["dataset"].astype(str).map(MIN_HIGH_QUALITY).astype(float))


def too_few_high_quality(group: pd.DataFrame) -> bool:
    """Whether some seed's last evaluation had fewer high-quality samples than the minimum."""
    return bool(short_of_high_quality(group[group["metric"] == "high_quality_share"]).any())


def measured_cells(group: pd.DataFrame, too_few: bool) -> dict[str, float | str]:
    """Mean and standard error over seeds per statistic, in the paper's units; TOO_FEW (and no
    standard error) for the statistics that too few high-quality samples cannot support."""
    cells: dict[str, float | str] = {}
    for metric, (mean, se, factor) in PACGAN_METRICS.items():
        values = group.loc[group["metric"] == metric, "value"] * factor
        if too_few and metric in COUNTED_ON_HIGH_QUALITY:
            cells[mean], cells[se] = TOO_FEW, float("nan")
            continue
        cells[mean] = float(values.mean()) if values.notna().any() else float("nan")
        cells[se] = standard_error(values)
    return cells


def pacgan_table(frame: pd.DataFrame) -> pd.DataFrame:
    """PacGAN's final mode statistics per (dataset, framework, device, N, m): mean and standard
    error over seeds (TOO_FEW where the high-quality samples cannot support one), the seeds
    counted, and the paper's Table 1 values beside them (blank for an m or a dataset the paper
    has no row for)."""
    if "packing" not in frame:
        return pd.DataFrame()
    final = quality_engine.last_step_records(frame, SUITE, tuple(PACGAN_METRICS))
    final = final[(final["model"] == PACGAN) & final["packing"].notna()]
    if final.empty:
        return pd.DataFrame()
    final = final.assign(m=final["packing"].astype(int), metric=final["metric"].astype(str),
                         dataset=final["dataset"].astype(str))
    rows = []
    for key, group in final.groupby(PACGAN_KEYS, sort=True):
        row = dict(zip(PACGAN_KEYS, key, strict=True))
        row["m"] = int(row["m"])
        row["seeds"] = group.loc[group["metric"] == "modes_captured", "seed"].nunique()
        row.update(measured_cells(group, too_few_high_quality(group)))
        paper = PAPER_TABLE_1.get((row["dataset"], row["m"]))
        row["paper trials"] = PAPER_TRIALS if paper else float("nan")
        blank = [(float("nan"), float("nan"))] * len(PACGAN_METRICS)
        for (mean, se, _), values in zip(PACGAN_METRICS.values(), paper or blank, strict=True):
            row[f"paper {mean}"], row[f"paper {se}"] = values
        rows.append(row)
    return pd.DataFrame(rows)


PACKING_STYLES = ("-", "--", ":", "-.")  # m = 1, 2, 3, 4


CURVE_KEYS = ["dataset", "framework", "m", "step"]


def pacgan_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """PacGAN's mode statistics at every evaluation, averaged over seeds per (dataset,
    framework, m, metric, step), in the paper's units; `too_few` where some seed had fewer
    high-quality samples at that evaluation than the table's minimum."""
    rows = quality_engine.curve_records(frame, SUITE, lambda metric: metric in PACGAN_METRICS)
    if rows.empty or "packing" not in rows:
        return pd.DataFrame()
    rows = rows[(rows["model"] == PACGAN) & rows["packing"].notna()]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(m=rows["packing"].astype(int), metric=rows["metric"].astype(str))
    share = rows[rows["metric"] == "high_quality_share"]
    too_few = share.assign(too_few=short_of_high_quality(share)).groupby(
        CURVE_KEYS, as_index=False, observed=True)["too_few"].any()
    rows = rows.assign(value=rows["value"] * rows["metric"].map(
        lambda metric: PACGAN_METRICS[metric][2]))
    curves = rows.groupby([*CURVE_KEYS, "metric"], as_index=False, observed=True)["value"].mean()
    return curves.merge(too_few, on=CURVE_KEYS, how="left").fillna({"too_few": False})


def pacgan_figure(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    """pacgan-steps: per dataset and statistic, the mean over seeds against step for each
    framework and m, with the paper's Table 1 value for each m as a thin grey line: how far
    a budget gets toward the published numbers. Modes and reverse KL from too few
    high-quality samples are hollow points: the table shows no number there."""
    curves = pacgan_curves(frame)
    if curves.empty:
        return []
    plt = pyplot()
    datasets = sorted(curves["dataset"].unique())
    fig, axes = plt.subplots(len(datasets), len(PACGAN_METRICS), squeeze=False,
                             figsize=(4.6 * len(PACGAN_METRICS), 3.3 * len(datasets)))
    for row, dataset in zip(axes, datasets, strict=True):
        for ax, (metric, (label, _, _)) in zip(row, PACGAN_METRICS.items(), strict=True):
            panel = curves[(curves["dataset"] == dataset) & (curves["metric"] == metric)]
            for (framework, m), line in panel.groupby(["framework", "m"], sort=True):
                ax.plot(line["step"], line["value"], color=colour(framework), marker=".",
                        ls=PACKING_STYLES[(m - 1) % len(PACKING_STYLES)],
                        label=f"{framework} m={m}")
                if metric in COUNTED_ON_HIGH_QUALITY:  # what the table would not give
                    few = line[line["too_few"]]
                    ax.plot(few["step"], few["value"], ls="none", marker="o", mfc="white",
                            color=colour(framework))
            for m in sorted(panel["m"].unique()):
                paper = PAPER_TABLE_1.get((dataset, m))
                if paper:
                    index = list(PACGAN_METRICS).index(metric)
                    ax.axhline(paper[index][0], color="0.5", lw=0.8,
                               ls=PACKING_STYLES[(m - 1) % len(PACKING_STYLES)])
            ax.set_title(f"{dataset}: {label}")
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    title = ("PacGAN against step; grey: Lin et al. 2018, Table 1 (same line style per m); "
             "hollow: too few high-quality samples")
    fig.suptitle(title)
    fig.tight_layout()
    return [save(fig, out_dir, "pacgan-steps", title)]
