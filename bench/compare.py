"""The side-by-side table of `gan-bench compare`: one column per framework and their ratio."""

from __future__ import annotations

import pandas as pd

from bench.stats import bootstrap_ratio_of_medians

KEYS = ["model", "variant", "device", "batch_size"]


def fastest_modes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (model, variant, device, batch, framework): the mode with the highest median steps/s."""
    ok = frame[(frame["suite"] == "throughput") & (frame["status"] == "ok")]
    medians = ok[ok["metric"] == "steps_per_s"]
    best = medians.loc[medians.groupby(KEYS + ["framework"])["value"].idxmax()]
    return best[KEYS + ["framework", "mode", "job_id", "value"]]


def side_by_side(frame: pd.DataFrame, frameworks: list[str]) -> pd.DataFrame:
    """Steps/s of each framework's fastest mode, and the ratio of the last to the first.

    The ratio's 95% interval comes from a bootstrap over the timed rounds of both jobs.
    """
    if len(frameworks) < 2:
        raise ValueError("a comparison needs two frameworks")
    best = fastest_modes(frame)
    rounds = frame[frame["metric"] == "round_steps_per_s"].groupby("job_id")["value"]
    rows = []
    for key, group in best.groupby(KEYS):
        by_fw = group.set_index("framework")
        row = dict(zip(KEYS, key, strict=True))
        for fw in frameworks:
            if fw in by_fw.index:
                row[f"{fw} steps/s"] = by_fw.at[fw, "value"]
                row[f"{fw} mode"] = by_fw.at[fw, "mode"]
        base, other = frameworks[0], frameworks[-1]
        if base in by_fw.index and other in by_fw.index:
            ratio, lo, hi = bootstrap_ratio_of_medians(
                rounds.get_group(by_fw.at[other, "job_id"]).to_numpy(),
                rounds.get_group(by_fw.at[base, "job_id"]).to_numpy())
            row[f"{other}/{base}"] = ratio
            row["95% interval"] = f"{lo:.2f} to {hi:.2f}"
        rows.append(row)
    return pd.DataFrame(rows)
