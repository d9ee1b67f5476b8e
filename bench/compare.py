"""Frameworks like with like: `gan-bench compare`'s table and the report summary's speed rows.

`like_with_like` compares within a mode class (eager with eager; compiled or XLA with
compiled or XLA) and says over what its interval runs: over the jobs when a key has several
per framework (run-to-run drift included), else over one job's timed rounds (narrow: it
leaves that drift out). A key whose frameworks share no class is compared as "unlike".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.figures import text_column
from bench.stats import bootstrap_ratio_of_medians

KEYS = ["model", "variant", "device", "batch_size"]
MODE_CLASSES = {"eager": "eager", "compiled": "graph", "xla": "graph"}
ROUNDS_NOTE = "timed rounds of 1 job each (narrow)"


# --- like with like -------------------------------------------------------------------------


def job_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per throughput job: its keys, mode class, median steps/s and timed rounds."""
    ok = frame[(frame["suite"] == "throughput") & (frame["status"] == "ok")]
    ok = ok.assign(variant=text_column(ok, "variant", "base"))
    medians = ok[ok["metric"] == "steps_per_s"]
    rounds = ok[ok["metric"] == "round_steps_per_s"].groupby("job_id")["value"].apply(
        lambda v: v.to_numpy(dtype=float))
    jobs = medians[KEYS + ["framework", "mode", "job_id", "value"]].copy()
    jobs["rounds"] = jobs["job_id"].map(rounds)
    jobs["mode_class"] = jobs["mode"].map(MODE_CLASSES).fillna(jobs["mode"])
    return jobs[jobs["rounds"].notna()]


def best_mode(jobs: pd.DataFrame) -> pd.DataFrame:
    """The jobs of the mode with the highest median steps/s (over its jobs)."""
    medians = jobs.groupby("mode")["value"].median()
    return jobs[jobs["mode"] == medians.idxmax()]


def compared_side(jobs: pd.DataFrame) -> dict:
    rounds = np.concatenate(jobs["rounds"].tolist())
    q25, q75 = np.percentile(rounds, [25, 75])
    return {"mode": jobs["mode"].iloc[0], "median": float(np.median(jobs["value"])),
            "iqr": float(q75 - q25), "jobs": jobs["value"].to_numpy(), "rounds": rounds}


def ratio_interval(base: dict, other: dict) -> tuple[float, float, float, str]:
    """other/base with its 95% bootstrap interval, over jobs where both sides have several."""
    if len(base["jobs"]) > 1 and len(other["jobs"]) > 1:
        ratio, lo, hi = bootstrap_ratio_of_medians(other["jobs"], base["jobs"])
        return ratio, lo, hi, f"{len(base['jobs'])} and {len(other['jobs'])} jobs"
    ratio, lo, hi = bootstrap_ratio_of_medians(other["rounds"], base["rounds"])
    return ratio, lo, hi, ROUNDS_NOTE


def comparison_row(base_jobs: pd.DataFrame, other_jobs: pd.DataFrame, compared: str,
                   frameworks: tuple[str, str]) -> dict:
    base, other = compared_side(best_mode(base_jobs)), compared_side(best_mode(other_jobs))
    ratio, lo, hi, over = ratio_interval(base, other)
    modes = f"{base['mode']} vs {other['mode']}"
    row = {"compared": f"{compared}: {modes}" if compared == "unlike" else compared}
    for name, side in zip(frameworks, (base, other), strict=True):
        row[f"{name} steps/s"] = side["median"]
        row[f"{name} IQR (steps/s)"] = side["iqr"]
    row.update({f"{frameworks[1]}/{frameworks[0]}": ratio, "95% interval": (lo, hi),
                "interval over": over})
    return row


def like_with_like(frame: pd.DataFrame, frameworks: tuple[str, str]) -> pd.DataFrame:
    """Per (model, variant, device, batch) and mode class both frameworks ran: steps/s of each
    (median, IQR of rounds) and the ratio of the second to the first with its interval."""
    jobs = job_rates(frame)
    rows = []
    for key, group in jobs.groupby(KEYS, sort=False):
        by_fw = {fw: group[group["framework"] == fw] for fw in frameworks}
        if any(side.empty for side in by_fw.values()):
            continue
        base, other = by_fw[frameworks[0]], by_fw[frameworks[1]]
        shared = [c for c in ("eager", "graph") if c in set(base["mode_class"])
                  and c in set(other["mode_class"])]
        pairs = [(c, base[base["mode_class"] == c], other[other["mode_class"] == c])
                 for c in shared] or [("unlike", base, other)]
        keys = dict(zip(KEYS, key, strict=True))
        rows += [{**keys, **comparison_row(b, o, compared, frameworks)}
                 for compared, b, o in pairs]
    return pd.DataFrame(rows)
