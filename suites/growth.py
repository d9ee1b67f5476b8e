"""Evidence that a model grows: its samples at the end of each resolution, and one figure of
its quality curve with the phase boundaries marked, above those samples.

A growing model's adapter tags its records with `resolution` and fade-in `alpha` (between
steps, the phase its last step trained at), and the quality engine evaluates where each phase
ends (FamilyConfig.phase_end_steps): the last evaluation at a resolution is that resolution's
end. Models without a `resolution` tag leave nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.adapter import Adapter
from bench.records import Measurement
from bench.report.figures import (
    Figure,
    colour,
    draw_samples,
    framework_legend,
    line_style,
    load_samples,
    pyplot,
    save,
)
from bench.report.tables import artifact_rows, framework_sort_key, ok_rows, text_column
from bench.suite import Artifact
from bench.training import Evaluator, finite_samples

RESOLUTION = "resolution"
ALPHA = "alpha"
PHASE_END = "phase_end"  # the tag of the samples kept at the end of each resolution


@dataclass
class PhaseSamples:
    """An evaluator that also keeps, per resolution the adapter is tagged with, `n` samples
    from its last evaluation there."""

    evaluate: Evaluator
    n: int
    seed: int
    samples: dict[str, np.ndarray] = field(default_factory=dict)

    def __call__(self, adapter: Adapter) -> list[Measurement]:
        measurements = self.evaluate(adapter)
        resolution = adapter.tags().get(RESOLUTION)
        if resolution is not None:
            self.samples[resolution] = finite_samples(adapter, self.n, self.seed)
        return measurements

    def artifacts(self, measurements: list[Measurement], tags: dict[str, Any]
                  ) -> list[Artifact]:
        """The kept samples, each with the step of the last evaluation at its resolution."""
        out = []
        for resolution, samples in self.samples.items():
            step = max(m.step for m in measurements
                       if m.step is not None and m.tags.get(RESOLUTION) == resolution)
            out.append(Artifact(f"samples-{resolution}x{resolution}", samples,
                                {**tags, "step": step, RESOLUTION: resolution,
                                 PHASE_END: True, "trained": True}))
        return out


def is_phase_end(rows: pd.DataFrame) -> pd.Series:
    """Which artifact records are samples kept at the end of a resolution."""
    return text_column(rows, PHASE_END) == "True"


# --- the figure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    step: float
    label: str
    grows: bool  # True: the resolution grows here; False: a fade-in ends


def boundaries(job: pd.DataFrame) -> list[Boundary]:
    """Where one job's phases end, from its records' resolution and alpha tags: growth after
    the last evaluation at each resolution but the last, a fade's end at its last evaluation."""
    resolution = pd.to_numeric(job[RESOLUTION])
    fading = pd.to_numeric(text_column(job, ALPHA, "1")) < 1
    sizes = sorted(resolution.unique())
    out = [Boundary(job.loc[resolution == r, "step"].max(), f"{int(r) * 2}x{int(r) * 2}", True)
           for r in sizes[:-1]]
    out += [Boundary(job.loc[(resolution == r) & fading, "step"].max(), "", False)
            for r in sizes if ((resolution == r) & fading).any()]
    return out


def growth_records(frame: pd.DataFrame, suite: str, metrics: Sequence[str]) -> pd.DataFrame:
    """The records of the first of `metrics` a growing job measured, with their phase tags."""
    rows = ok_rows(frame, suite)
    if RESOLUTION not in rows:
        return rows.iloc[0:0]
    rows = rows[rows[RESOLUTION].notna() & rows["step"].notna()]
    present = [m for m in metrics if m in set(rows["metric"])]
    rows = rows[rows["metric"] == present[0]] if present else rows.iloc[0:0]
    return rows.assign(dataset=text_column(rows, "dataset"), step=pd.to_numeric(rows["step"]))


def draw_curves(ax: Any, records: pd.DataFrame) -> None:
    """One line per job, and the first job's phase boundaries as vertical lines."""
    jobs = sorted(records.groupby("job_id"),
                  key=lambda item: (framework_sort_key(item[1]["framework"].iloc[0]),
                                    item[1]["seed"].iloc[0]))
    for _, job in jobs:
        job = job.sort_values("step")
        framework = str(job["framework"].iloc[0])
        ax.plot(job["step"], job["value"], color=colour(framework), ls=line_style(framework),
                lw=1.2, alpha=0.8, marker=".")
    for boundary in boundaries(jobs[0][1]):
        ax.axvline(boundary.step, color="grey", lw=0.8, ls="-" if boundary.grows else ":")
        if boundary.grows:
            ax.annotate(f"-> {boundary.label}", (boundary.step, 1), fontsize=8, color="grey",
                        xycoords=("data", "axes fraction"), xytext=(2, -10),
                        textcoords="offset points")
    values = records["value"].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
        ax.set_yscale("log")  # FID falls by orders of magnitude early in training
    ax.set_xlabel("step (solid: the resolution grows; dotted: a fade-in ends)")
    ax.set_ylabel(str(records["metric"].iloc[0]))
    ax.grid(alpha=0.3)


def first_seeds(samples: pd.DataFrame) -> pd.DataFrame:
    """Per framework, the samples of its lowest seed."""
    lowest = samples.groupby("framework")["seed"].transform("min")
    return samples[samples["seed"] == lowest]


def growth_figure(records: pd.DataFrame, samples: pd.DataFrame, out_dir: Path, name: str,
                  title: str) -> Figure:
    """The curve with its phase boundaries on top; below, a row of grids per framework, one
    per resolution at its end."""
    rows = first_seeds(samples).assign(size=lambda f: pd.to_numeric(f[RESOLUTION]))
    frameworks = sorted(rows["framework"].unique(), key=framework_sort_key)
    sizes = sorted(rows["size"].unique())
    plt = pyplot()
    fig = plt.figure(layout="constrained",
                     figsize=(max(3.0 * len(sizes), 8), 3.6 + 3.2 * len(frameworks)))
    grid = fig.add_gridspec(1 + len(frameworks), max(len(sizes), 1),
                            height_ratios=[1.2] + [1] * len(frameworks))
    draw_curves(fig.add_subplot(grid[0, :]), records)
    for i, framework in enumerate(frameworks):
        for j, size in enumerate(sizes):
            ax = fig.add_subplot(grid[1 + i, j])
            match = rows[(rows["framework"] == framework) & (rows["size"] == size)]
            if match.empty:
                ax.set_visible(False)
                continue
            row = match.iloc[0]
            draw_samples(ax, load_samples(row["path"]), None, colour(framework))
            ax.set_title(f"{framework} seed {int(row['seed'])}: end of {int(size)}x{int(size)}, "
                         f"step {int(row['step'])}", color=colour(framework), fontsize=8)
    fig.suptitle(title)
    framework_legend(fig, records["framework"].tolist(), lines=True)
    return save(fig, out_dir, name, title)


def growth_figures(frame: pd.DataFrame, out_dir: Path, suite: str, metrics: Sequence[str]
                   ) -> list[Figure]:
    """growth-<suite>-<model>-<dataset>, per (model, dataset) whose jobs grew."""
    records = growth_records(frame, suite, metrics)
    artifacts = artifact_rows(frame, suite)
    kept = artifacts[is_phase_end(artifacts)]
    if records.empty or kept.empty:
        return []
    kept = kept.assign(dataset=text_column(kept, "dataset"))
    figures = []
    for (model, dataset), group in records.groupby(["model", "dataset"], sort=True):
        if group[RESOLUTION].nunique() < 2:
            continue
        samples = kept[(kept["model"] == model) & (kept["dataset"] == dataset)]
        title = f"Growth: {model} on {dataset} ({suite})"
        figures.append(growth_figure(group, samples, out_dir,
                                     f"growth-{suite}-{model}-{dataset}", title))
    return figures
