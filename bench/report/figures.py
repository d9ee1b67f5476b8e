"""The shared drawing tools of the suites' figures (matplotlib, Agg backend).

Each suite draws its own figures (`figures(frame, out_dir)`, bench.suite) from its own tables;
this module holds what they share: the Figure record and saving, the framework colours and
line styles, curves against step, and sample panels (image grids, point scatters). Which
records a figure draws, and in which framework order, bench.report.tables says.

A sample panel loads the array an `artifact` record names (bench.report.tables.artifact_rows):
NHWC float32 images in [-1, 1] or N x 2 points. matplotlib is imported only when a figure is
drawn: reading records needs no plotting stack.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import UsageError
from bench.report.tables import framework_sort_key

GRID_SIDE = 8  # an 8 x 8 grid of samples per panel


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, also the anchor in the report
    title: str
    path: Path
    # Samples of untrained networks: the report shows them apart, collapsed and labelled, as
    # a check that generation runs, never next to results.
    smoke_check: bool = False


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: reports are written on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, out_dir: Path, name: str, title: str, smoke_check: bool = False) -> Figure:
    path = Path(out_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)  # the first figure of a run makes its folder
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return Figure(name, title, path, smoke_check)


def colour(framework: str) -> str:
    """The framework's declared colour (bench.framework)."""
    from bench.registry import framework as declaration

    return declaration(framework).colour


def line_style(framework: str) -> str:
    """Solid for the reference framework (the first registered), dashed for the others."""
    return "-" if framework_sort_key(framework)[0] == 0 else "--"


def framework_legend(fig: Any, frameworks: Sequence[str], lines: bool = False) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = sorted(set(frameworks), key=framework_sort_key)
    handles = [Line2D([], [], color=colour(f), ls=line_style(f), label=f) if lines
               else Patch(color=colour(f), label=f) for f in names]
    # Above the panels: inside, it would cover a title or a bar.
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
               ncols=len(names), frameon=False)


def panel_grid(plt: Any, panels: int, width: float, height: float, max_columns: int = 3
               ) -> tuple[Any, np.ndarray]:
    """A figure with `panels` axes in rows of up to max_columns; the spare axes hidden."""
    columns = min(max_columns, panels)
    rows = math.ceil(panels / columns)
    # Constrained layout keeps a row's titles clear of the row above (tight_layout let them
    # overlap under a suptitle).
    fig, axes = plt.subplots(rows, columns, squeeze=False, layout="constrained",
                             figsize=(width * columns, height * rows))
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    return fig, axes.flat[:panels]


# --- curves against step --------------------------------------------------------------------


def curves_figure(panels: list[tuple[str, pd.DataFrame]], out_dir: Path, name: str,
                  title: str) -> Figure:
    """One panel per (title, records of one metric), one line per job, coloured by framework.

    The second framework's lines are dashed: where the implementations agree, the lines
    coincide and a solid line would hide the other.
    """
    plt = pyplot()
    fig, axes = panel_grid(plt, len(panels), 5, 3.4)
    for ax, (panel_title, panel) in zip(axes, panels, strict=True):
        for _, job in panel.groupby("job_id", sort=True):
            job = job.sort_values("step")
            framework = str(job["framework"].iloc[0])
            ax.plot(job["step"], job["value"], color=colour(framework), alpha=0.8, lw=1.2,
                    ls=line_style(framework), marker="." if len(job) <= 30 else None)
        values = panel["value"].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
            ax.set_yscale("log")  # FID falls by orders of magnitude early in training
        ax.set_title(panel_title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    framework_legend(fig, pd.concat([p["framework"] for _, p in panels]).tolist(), lines=True)
    return save(fig, out_dir, name, title)


# --- samples --------------------------------------------------------------------------------


def load_samples(path: str | Path) -> np.ndarray:
    samples = np.load(path)
    if samples.ndim == 4 or (samples.ndim == 2 and samples.shape[1] == 2):
        return samples
    raise UsageError(f"{path} holds an array of shape {samples.shape}; sample files hold NHWC "
                     "images in [-1, 1] or N x 2 points")


def image_grid(images: np.ndarray, side: int = GRID_SIDE) -> np.ndarray:
    """Up to side x side NHWC images in [-1, 1] tiled into one HWC image in [0, 1]."""
    images = np.clip((np.asarray(images[: side * side], dtype=np.float32) + 1) / 2, 0, 1)
    n, h, w, c = images.shape
    columns = min(side, n)
    rows = math.ceil(n / columns)
    grid = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1, c), dtype=np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + col * (w + 1):1 + col * (w + 1) + w] = image
    return grid


@dataclass(frozen=True)
class SamplePanel:
    """One sample array in a figure, with its caption; coloured by its framework."""

    caption: str
    framework: str
    samples: np.ndarray


def sample_figure(panels: list[SamplePanel], out_dir: Path, name: str, title: str,
                  smoke_check: bool = False) -> Figure:
    """Sample arrays side by side: image grids, or scatters of points on one shared range.

    smoke_check: the samples are of untrained networks (see Figure)."""
    limits = shared_limits([p.samples for p in panels])
    plt = pyplot()
    fig, axes = panel_grid(plt, len(panels), 4.2, 4.4, max_columns=4)
    for ax, panel in zip(axes, panels, strict=True):
        draw_samples(ax, panel.samples, limits, colour(panel.framework))
        ax.set_title(panel.caption, color=colour(panel.framework), fontsize=9)
    fig.suptitle(title)
    return save(fig, out_dir, name, title, smoke_check)


def draw_samples(ax: Any, samples: np.ndarray, limits: tuple[float, float] | None,
                 points_colour: str) -> None:
    if samples.ndim == 2 and samples.shape[1] == 2:
        ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.5, color=points_colour)
        ax.set_aspect("equal")
        if limits:
            ax.set_xlim(limits)
            ax.set_ylim(limits)
        return
    grid = image_grid(samples)
    if grid.shape[-1] == 1:
        ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid[..., :3], interpolation="nearest")
    ax.axis("off")


def shared_limits(arrays: list[np.ndarray]) -> tuple[float, float] | None:
    """One square range for every point panel, so the frameworks' scatters compare by eye."""
    points = [a for a in arrays if a.ndim == 2 and a.shape[1] == 2]
    if not points:
        return None
    finite = np.concatenate([p[np.isfinite(p).all(axis=1)] for p in points])
    if finite.size == 0:
        return None
    lo, hi = np.percentile(finite, [0.5, 99.5])
    pad = 0.1 * (hi - lo or 1)
    return float(lo - pad), float(hi + pad)
