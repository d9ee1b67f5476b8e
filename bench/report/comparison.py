"""Frameworks compared: the tables `gan-bench compare` writes and the report's summary leads with.

Three comparisons per key (family, variant, device, batch), each framework against the
reference framework (the first of the run's):

- **as used**: each framework in its default mode, the way its users train
  (bench.framework: PyTorch eager, TensorFlow what Keras' fit runs);
- **at its fastest**: each framework in its fastest mode measured, named in the row; a
  framework with declared modes the profile did not run says so, since its fastest may be
  among them;
- **eager**: each framework's eager mode, a diagnostic of dispatch cost.

A side's figures come either from side-by-side timing (bench.side_by_side: the workers of a
key alive at once, one round each per turn; a pair's ratio is the median of its turns'
ratios, the interval a bootstrap over pairs) or from a run's sequential jobs (the ratio of two
jobs' medians, the interval over their rounds: narrow, as it leaves out the drift between
jobs minutes apart; such rows say so).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bench import registry
from bench.framework import EAGER
from bench.report.figures import Figure
from bench.side_by_side import Side
from bench.stats import bootstrap_median, bootstrap_ratio_of_medians

KEYS = ["model", "variant", "device", "batch_size"]
AS_USED, FASTEST = "as_used", "fastest"
COMPARISONS = {
    AS_USED: "each framework in its default mode, the way its users train",
    FASTEST: "each framework in its fastest mode measured (named in the row)",
    EAGER: "each framework eager: a diagnostic of dispatch cost",
}
COLUMNS = ["comparison", "family", "variant", "batch", "device", "framework", "mode",
           "steps_per_s", "reference_framework", "ratio", "ci_low", "ci_high", "pairs", "note"]
SEQUENTIAL_NOTE = ("These ratios come from sequential jobs, minutes apart: their intervals "
                   "cover one job's rounds and leave out the drift between jobs. "
                   "`gan-bench compare` times the frameworks side by side.")


def ratio_to(reference: Side, other: Side) -> tuple[float, float, float, int]:
    """other/reference, its 95% interval, and the pairs it rests on (0: sequential jobs)."""
    if reference.turns is not None and other.turns is not None:
        ratios = np.array([np.median(o / r) for r, o in zip(reference.turns, other.turns,
                                                            strict=True)
                           if len(r) and np.isfinite(r).all() and np.isfinite(o).all()])
        if not len(ratios):
            return math.nan, math.nan, math.nan, 0
        ratio, low, high = bootstrap_median(ratios)
        return ratio, low, high, len(ratios)
    if not (len(reference.rounds) and len(other.rounds)):
        return math.nan, math.nan, math.nan, 0
    ratio, low, high = bootstrap_ratio_of_medians(other.rounds, reference.rounds)
    return ratio, low, high, 0


# --- which mode each comparison takes --------------------------------------------------------


def measured(sides: dict[str, Side]) -> dict[str, Side]:
    return {mode: s for mode, s in sides.items() if not s.error and
            math.isfinite(s.steps_per_s)}


def as_used_mode(framework: str, device: str, sides: dict[str, Side]) -> tuple[str | None, str]:
    default = registry.framework(framework).default_for(device)
    if default in sides and sides[default].error:
        return None, f"default mode {default} failed: {sides[default].error}"
    if default in measured(sides):
        return default, ""
    return None, f"{default} not run in this profile"


def fastest_mode(framework: str, device: str, sides: dict[str, Side]) -> tuple[str | None, str]:
    ok = measured(sides)
    if not ok:
        return None, "no mode measured"
    best = max(ok, key=lambda mode: ok[mode].steps_per_s)
    declared = registry.framework(framework)
    missing = [declared.mode(m).label for m in declared.mode_names() if m not in sides]
    note = f"{', '.join(missing)} not run in this profile" if missing else ""
    return best, note


def eager_mode(framework: str, device: str, sides: dict[str, Side]) -> tuple[str | None, str]:
    if EAGER in measured(sides):
        return EAGER, ""
    return None, f"{EAGER} not run in this profile"


CHOOSERS: dict[str, Callable[[str, str, dict[str, Side]], tuple[str | None, str]]] = {
    AS_USED: as_used_mode, FASTEST: fastest_mode, EAGER: eager_mode}


# --- the table --------------------------------------------------------------------------------


def key_rows(key: dict, sides: dict[tuple[str, str], Side], frameworks: list[str]
             ) -> list[dict]:
    """Every comparison's rows for one key: one per framework, the reference's first."""
    by_framework = {fw: {mode: s for (f, mode), s in sides.items() if f == fw}
                    for fw in frameworks}
    reference = frameworks[0]
    rows = []
    for comparison, choose in CHOOSERS.items():
        chosen = {fw: choose(fw, key["device"], by_framework[fw]) for fw in frameworks}
        ref_mode = chosen[reference][0]
        for fw in frameworks:
            mode, why = chosen[fw]
            side = by_framework[fw].get(mode) if mode else None
            ratio = (math.nan,) * 3 + (0,)
            if side is not None and ref_mode is not None:
                ratio = ratio_to(by_framework[reference][ref_mode], side)
            rows.append({
                "comparison": comparison, "family": key["model"], "variant": key["variant"],
                "batch": key["batch_size"], "device": key["device"], "framework": fw,
                "mode": mode or "", "steps_per_s": side.steps_per_s if side else math.nan,
                "reference_framework": reference, "ratio": ratio[0], "ci_low": ratio[1],
                "ci_high": ratio[2], "pairs": ratio[3],
                "note": why})
    return rows


def comparison_table(sides_by_key: dict[tuple, dict[tuple[str, str], Side]],
                     frameworks: list[str]) -> pd.DataFrame:
    """compare.csv: every key's as-used, fastest and eager rows, in that order."""
    rows = []
    for key, sides in sides_by_key.items():
        present = [fw for fw in frameworks if any(f == fw for f, _ in sides)]
        if len(present) >= 2:
            rows += key_rows(dict(zip(KEYS, key, strict=True)), sides, present)
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = {name: i for i, name in enumerate(COMPARISONS)}
    return table.sort_values("comparison", key=lambda c: c.map(order), kind="stable",
                             ignore_index=True)


# --- from a run's sequential jobs -------------------------------------------------------------


def sequential_sides(frame: pd.DataFrame, key_metric: str, round_metric: str
                     ) -> dict[tuple, dict[tuple[str, str], Side]]:
    """Per key, each (framework, mode) job that measured `key_metric`, with its rounds."""
    ok = frame[frame["metric"].isin([key_metric, round_metric]) & (frame["status"] == "ok")]
    if ok.empty:
        return {}
    variant = ok["variant"].fillna("base").astype(str) if "variant" in ok else "base"
    ok = ok.assign(variant=variant)
    rounds = ok[ok["metric"] == round_metric].groupby("job_id")["value"].apply(
        lambda v: v.to_numpy(dtype=float))
    jobs = ok[ok["metric"] == key_metric].drop_duplicates("job_id")
    out: dict[tuple, dict[tuple[str, str], Side]] = {}
    for _, job in jobs.iterrows():
        if job["job_id"] in rounds:
            key = tuple(job[k] for k in KEYS)
            out.setdefault(key, {})[(job["framework"], job["mode"])] = Side(
                job["framework"], job["mode"], rounds=rounds[job["job_id"]])
    return out


# --- for reading ------------------------------------------------------------------------------


def wide(table: pd.DataFrame, comparison: str, fmt: Callable[[float], str]) -> pd.DataFrame:
    """One comparison as one row per key, each framework its own columns: mode and steps/s,
    and for all but the reference the ratio to it with its interval."""
    rows = table[table["comparison"] == comparison]
    out = []
    keys = ["family", "variant", "batch", "device"]
    for key, group in rows.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key, strict=True))
        notes = []
        for _, side in group.iterrows():
            fw = side["framework"]
            row[f"{fw} mode"] = side["mode"]
            row[f"{fw} steps/s"] = fmt(side["steps_per_s"])
            if fw != side["reference_framework"]:
                ref = side["reference_framework"]
                row[f"{fw}/{ref}"] = fmt(side["ratio"])
                row[f"{fw}/{ref} 95% interval"] = (
                    f"{fmt(side['ci_low'])} to {fmt(side['ci_high'])}"
                    if math.isfinite(side["ci_low"]) else "")
            if isinstance(side["note"], str) and side["note"]:
                notes.append(f"{fw}: {side['note']}")
        row["pairs"] = int(group["pairs"].max())
        row["note"] = "; ".join(dict.fromkeys(notes))
        out.append(row)
    frame = pd.DataFrame(out)
    if not frame.empty and frame["device"].nunique() == 1:
        frame = frame.drop(columns="device")  # the environment says which
    if not frame.empty and not frame["pairs"].any():
        frame = frame.drop(columns="pairs")  # sequential jobs: the summary's note says so
    return frame


def ratio_figure(table: pd.DataFrame, comparison: str, out_dir: Path) -> Figure | None:
    """One panel per family: each framework's ratio to the reference per variant, with its
    interval, in the framework's colour; the reference's line at 1."""
    from bench.report.figures import colour, framework_legend, pyplot, save

    rows = table[(table["comparison"] == comparison) & table["ratio"].notna()]
    if rows.empty:
        return None
    plt = pyplot()
    families = list(dict.fromkeys(rows["family"]))
    fig, axes = plt.subplots(1, len(families), squeeze=False, figsize=(4.5 * len(families), 3.6))
    frameworks = list(dict.fromkeys(rows["framework"]))
    width = 0.8 / len(frameworks)
    for ax, family in zip(axes[0], families, strict=True):
        shown = rows[rows["family"] == family]
        variants = list(dict.fromkeys(shown["variant"].astype(str)))
        for i, fw in enumerate(frameworks):
            side = shown[shown["framework"] == fw]
            side = side.set_index(side["variant"].astype(str)).reindex(variants)
            x = np.arange(len(variants)) + (i - (len(frameworks) - 1) / 2) * width
            errors = [side["ratio"] - side["ci_low"], side["ci_high"] - side["ratio"]]
            ax.bar(x, side["ratio"], width, yerr=np.nan_to_num(errors), capsize=3,
                   color=colour(fw), label=f"{fw} ({side['mode'].dropna().iloc[0]})")
        ax.axhline(1, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(variants)), variants)
        ax.set_title(family)
        ax.set_ylabel(f"steps/s against {rows['reference_framework'].iloc[0]}")
        ax.grid(axis="y", alpha=0.3)
    framework_legend(fig, frameworks)
    fig.tight_layout()
    title = f"{comparison.replace('_', ' ')}: {COMPARISONS[comparison]}"
    return save(fig, out_dir, f"compare-{comparison.replace('_', '-')}", title)
