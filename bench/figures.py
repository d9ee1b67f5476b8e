"""The report's figures, drawn from the tidy records with matplotlib's Agg backend.

Each figure appears only when the run holds its records: throughput bars (median steps/s
with the interquartile range of the timed rounds, and MFU), loss curves, quality metrics
against step, the convergence suite's sensitivity heatmap and budget curve, and sample grids.

Conventions the suites write to:
- convergence outcomes: one record per run (model, framework, perturbation, seed) with
  metric "converged", value 1 when the run reached its threshold within the budget, else 0;
- sample arrays: RUN_DIR/samples/<model>-<framework>[-<tag>].npy, NHWC float32 images in
  [-1, 1] or N x 2 points; the files of one (model, tag) are drawn side by side.
matplotlib is imported only when a figure is drawn: reading records needs no plotting stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import UsageError

FIGURES_DIR = "figures"
SAMPLES_DIR = "samples"
CONVERGED_METRIC = "converged"
FRAMEWORK_ORDER = ("torch", "tf")
FRAMEWORK_COLOURS = {"torch": "#d55e00", "tf": "#0072b2"}  # colour-blind safe pair
OTHER_COLOURS = ("#009e73", "#cc79a7", "#e69f00", "#56b4e9")
BUDGET_RESAMPLES = 500
GRID_SIDE = 8  # an 8 x 8 grid of samples per framework


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, also the anchor in the report
    title: str
    path: Path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: reports are written on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def colour(framework: str) -> str:
    if framework in FRAMEWORK_COLOURS:
        return FRAMEWORK_COLOURS[framework]
    return OTHER_COLOURS[sum(map(ord, framework)) % len(OTHER_COLOURS)]


def line_style(framework: str) -> str:
    return "-" if framework_sort_key(framework)[0] == 0 else "--"


def framework_sort_key(framework: str) -> tuple[int, str]:
    order = FRAMEWORK_ORDER.index(framework) if framework in FRAMEWORK_ORDER else 99
    return order, framework


def _save(fig: Any, out_dir: Path, name: str, title: str) -> Figure:
    path = out_dir / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return Figure(name, title, path)


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"] if "status" in frame else frame


def _column(frame: pd.DataFrame, name: str, default: str = "") -> pd.Series:
    if name not in frame:
        return pd.Series(default, index=frame.index)
    return frame[name].fillna(default).astype(str)


def _int_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


# --- throughput ---------------------------------------------------------------------------


def throughput_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per throughput job: its label, median steps/s, the rounds' quartiles and MFU."""
    ok = _ok(frame)
    ok = ok[ok["suite"] == "throughput"]
    rounds = ok[ok["metric"] == "round_steps_per_s"]
    if rounds.empty:
        return pd.DataFrame()
    many_devices = ok["device"].nunique() > 1
    rows = []
    for job_id, group in rounds.groupby("job_id", sort=False):
        first = group.iloc[0]
        mfu = ok.loc[(ok["job_id"] == job_id) & (ok["metric"] == "mfu"), "value"]
        q25, median, q75 = np.percentile(group["value"], [25, 50, 75])
        label = [_column(group, "variant").iloc[0], first["framework"], first["mode"]]
        if many_devices:
            label.insert(1, first["device"])
        resolution = first.get("resolution")  # a progressive GAN's phase
        if resolution is not None and pd.notna(resolution):
            label.append(f"{_int_text(resolution)}px")
        label.append(f"b{_int_text(first['batch_size'])}")
        rows.append({"model": first["model"], "framework": first["framework"],
                     "label": " ".join(p for p in label if p and p != "base"),
                     "median": median, "q25": q25, "q75": q75,
                     "mfu": float(mfu.median()) if not mfu.empty else math.nan})
    table = pd.DataFrame(rows)
    order = table["framework"].map(framework_sort_key)
    return table.assign(order=order).sort_values(["model", "order", "label"]).drop(columns="order")


def throughput_figure(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    summary = throughput_summary(frame)
    if summary.empty:
        return []
    plt = _pyplot()
    models = list(dict.fromkeys(summary["model"]))
    widest = summary.groupby("model").size().max()
    fig, axes = plt.subplots(len(models), 2, squeeze=False,
                             figsize=(max(8, 2 + 0.9 * widest), 3.6 * len(models)))
    for (ax_steps, ax_mfu), model in zip(axes, models, strict=True):
        rows = summary[summary["model"] == model]
        x = np.arange(len(rows))
        colours = [colour(f) for f in rows["framework"]]
        errors = [rows["median"] - rows["q25"], rows["q75"] - rows["median"]]
        ax_steps.bar(x, rows["median"], yerr=errors, capsize=4, color=colours)
        ax_steps.set_ylabel("steps/s (median, IQR of rounds)")
        ax_mfu.bar(x, rows["mfu"] * 100, color=colours)
        ax_mfu.set_ylabel("MFU (% of measured matmul peak)")
        for ax, what in ((ax_steps, "training steps per second"), (ax_mfu, "model FLOPs use")):
            ax.set_title(f"{model}: {what}")
            ax.set_xticks(x, rows["label"], rotation=30, ha="right")
            ax.grid(axis="y", alpha=0.3)
    _framework_legend(fig, summary["framework"])
    fig.tight_layout()
    return [_save(fig, out_dir, "throughput", "Throughput and MFU")]


def _framework_legend(fig: Any, frameworks: pd.Series, lines: bool = False) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = sorted(set(frameworks), key=framework_sort_key)
    handles = [Line2D([], [], color=colour(f), ls=line_style(f), label=f) if lines
               else Patch(color=colour(f), label=f) for f in names]
    # Above the panels: inside, it would cover a title or a bar.
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
               ncols=len(names), frameon=False)


# --- curves against step -----------------------------------------------------------------


def _curve_records(frame: pd.DataFrame, wanted: Callable[[str], bool]) -> pd.DataFrame:
    """Records of curves: metric chosen by `wanted`, with steps, outside the throughput suite.

    When a run perturbs hyperparameters, only the base configuration is drawn: every
    perturbation's curve in one panel is unreadable, and the heatmap summarises them.
    """
    ok = _ok(frame)
    ok = ok[(ok["suite"] != "throughput") & ok["metric"].map(wanted)]
    ok = ok[pd.to_numeric(ok["step"], errors="coerce").notna()] if "step" in ok else ok.iloc[:0]
    if ok.empty:
        return ok
    perturbation = _column(ok, "perturbation", "base")
    if (perturbation == "base").any():
        ok = ok[perturbation == "base"]
    return ok.assign(step=pd.to_numeric(ok["step"]))


def curves_figures(frame: pd.DataFrame, out_dir: Path, name: str, title: str,
                   wanted: Callable[[str], bool]) -> list[Figure]:
    """One figure per suite, named <name>-<suite>; see curves_figure."""
    curves = _curve_records(frame, wanted)
    if curves.empty:
        return []
    curves = curves.assign(dataset=_column(curves, "dataset"))
    figures = []
    for suite, records in curves.groupby("suite", sort=True):
        panels = [(key, panel) for key, panel in
                  records.groupby(["model", "dataset", "metric"], sort=True)
                  if panel.groupby("job_id")["step"].nunique().max() >= 2]
        if panels:
            figures.append(curves_figure(panels, out_dir, f"{name}-{suite}",
                                         f"{title} ({suite})"))
    return figures


def curves_figure(panels: list[tuple[tuple[str, str, str], pd.DataFrame]], out_dir: Path,
                  name: str, title: str) -> Figure:
    """One panel per (model, dataset, metric), one line per job, coloured by framework.

    The second framework's lines are dashed: where the implementations agree, the lines
    coincide and a solid line would hide the other.
    """
    plt = _pyplot()
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False, figsize=(5 * columns, 3.4 * rows))
    for ax, ((model, dataset, metric), panel) in zip(axes.flat, panels, strict=False):
        for _, job in panel.groupby("job_id", sort=True):
            job = job.sort_values("step")
            framework = str(job["framework"].iloc[0])
            ax.plot(job["step"], job["value"], color=colour(framework), alpha=0.8, lw=1.2,
                    ls=line_style(framework), marker="." if len(job) <= 30 else None)
        values = panel["value"].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
            ax.set_yscale("log")  # FID falls by orders of magnitude early in training
        ax.set_title(" ".join(filter(None, [model, dataset, metric])))
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    _framework_legend(fig, pd.concat([p["framework"] for _, p in panels]), lines=True)
    fig.tight_layout()
    return _save(fig, out_dir, name, title)


def is_loss(metric: str) -> bool:
    return metric.startswith("loss_")


def is_step_metric(metric: str) -> bool:
    """Quality metrics tracked during training (fid_*, kid, ...): not losses, not spreads."""
    return not is_loss(metric) and not metric.endswith("_std") and metric != CONVERGED_METRIC


# --- convergence --------------------------------------------------------------------------


def perturbation_sort_key(perturbation: str) -> tuple[int, str, float, str]:
    """base first, then by axis, then by the numeric part of the value ("lr=x0.3" -> 0.3)."""
    if perturbation == "base":
        return 0, "", 0.0, ""
    axis, _, value = perturbation.partition("=")
    digits = value.lstrip("x")
    try:
        number = float(digits)
    except ValueError:
        number = math.inf
    return 1, axis, number, value


def _outcomes(frame: pd.DataFrame, aggregate: str) -> pd.DataFrame:
    """The "converged" outcomes aggregated per (model / framework) row and perturbation."""
    ok = _ok(frame)
    outcomes = ok[ok["metric"] == CONVERGED_METRIC]
    if outcomes.empty:
        return pd.DataFrame()
    outcomes = outcomes.assign(row=outcomes["model"] + " / " + outcomes["framework"],
                               perturbation=_column(outcomes, "perturbation", "base"))
    table = outcomes.pivot_table(index="row", columns="perturbation", values="value",
                                 aggfunc=aggregate)
    return table.reindex(columns=sorted(table.columns, key=perturbation_sort_key))


def success_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of seeds that converged, per (model, framework) row and perturbation column."""
    return _outcomes(frame, "mean")


def sensitivity_figure(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    rates = success_rates(frame)
    if rates.empty:
        return []
    counts = _outcomes(frame, "count")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.5 + 0.75 * rates.shape[1], 1.2 + 0.5 * rates.shape[0]))
    image = ax.imshow(rates.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1,
                      aspect="auto")
    for (i, j), rate in np.ndenumerate(rates.to_numpy(dtype=float)):
        if not math.isnan(rate):
            n = int(counts.iat[i, j])
            ax.text(j, i, f"{round(rate * n)}/{n}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(rates.shape[1]), rates.columns, rotation=45, ha="right")
    ax.set_yticks(range(rates.shape[0]), rates.index)
    ax.set_title("Convergence: share of seeds that reached the threshold")
    fig.colorbar(image, ax=ax, label="success rate")
    fig.tight_layout()
    return [_save(fig, out_dir, "sensitivity", "Sensitivity to hyperparameters")]


def final_values(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per convergence run (model, framework, perturbation, seed): the metric's last value."""
    ok = _ok(frame)
    rows = ok[(ok["suite"] == "convergence") & (ok["metric"] == metric)]
    if rows.empty:
        return rows
    rows = rows.assign(step=pd.to_numeric(rows["step"], errors="coerce").fillna(-1))
    last = rows.sort_values("step").groupby("job_id").tail(1)
    return last[["model", "framework", "value"]]


def budget_curve(values: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Best (lowest) value among k configurations drawn without replacement, for each k.

    Returns the median and the 25th/75th percentiles over resamples (Lucic et al. 2018).
    NaN (a diverged run) counts as the worst value: trying it finds nothing.
    """
    values = np.where(np.isfinite(values), values, np.inf)
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((BUDGET_RESAMPLES, len(values))), axis=1)
    running_best = np.minimum.accumulate(values[orders], axis=1)
    return (np.percentile(running_best, 50, axis=0),
            np.percentile(running_best, [25, 75], axis=0))


def budget_figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    ok = _ok(frame)
    metrics = sorted(m for m in ok.loc[ok["suite"] == "convergence", "metric"].unique()
                     if m.startswith("fid_"))
    figures = []
    for metric in metrics:
        finals = final_values(frame, metric)
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for (model, framework), group in finals.groupby(["model", "framework"], sort=True):
            median, (lo, hi) = budget_curve(group["value"].to_numpy(dtype=float))
            k = np.arange(1, len(median) + 1)
            ax.plot(k, median, marker="o", ms=3, color=colour(framework),
                    label=f"{model} / {framework}")
            ax.fill_between(k, lo, hi, color=colour(framework), alpha=0.2)
        ax.set_xlabel("configurations tried")
        ax.set_ylabel(f"best {metric} found (median, IQR)")
        ax.set_title(f"Budget curve: best {metric} against search budget")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        fig.tight_layout()
        figures.append(_save(fig, out_dir, f"budget_{metric}", f"Budget curve ({metric})"))
    return figures


# --- samples ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleFile:
    model: str
    framework: str
    tag: str
    path: Path


def sample_files(run_dir: Path) -> list[SampleFile]:
    """RUN_DIR/samples/<model>-<framework>[-<tag>].npy (model names use underscores)."""
    files = []
    for path in sorted((Path(run_dir) / SAMPLES_DIR).glob("*.npy")):
        parts = path.stem.split("-", 2)
        if len(parts) >= 2:
            files.append(SampleFile(parts[0], parts[1], parts[2] if len(parts) > 2 else "",
                                    path))
    return files


def load_samples(path: Path) -> np.ndarray:
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


def _draw_samples(ax: Any, samples: np.ndarray, limits: tuple[float, float] | None,
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


def sample_figures(run_dir: Path, out_dir: Path) -> list[Figure]:
    groups: dict[tuple[str, str], list[SampleFile]] = {}
    for f in sample_files(run_dir):
        groups.setdefault((f.model, f.tag), []).append(f)
    figures = []
    for (model, tag), files in sorted(groups.items()):
        files.sort(key=lambda f: framework_sort_key(f.framework))
        arrays = [load_samples(f.path) for f in files]
        limits = _shared_limits(arrays)
        plt = _pyplot()
        fig, axes = plt.subplots(1, len(files), squeeze=False, figsize=(4.2 * len(files), 4.4))
        for ax, f, samples in zip(axes[0], files, arrays, strict=True):
            _draw_samples(ax, samples, limits, colour(f.framework))
            ax.set_title(f.framework, color=colour(f.framework))
        name = "-".join(filter(None, ["samples", model, tag]))
        title = f"Samples: {model}" + (f" ({tag})" if tag else "")
        fig.suptitle(title)
        fig.tight_layout()
        figures.append(_save(fig, out_dir, name, title))
    return figures


def _shared_limits(arrays: list[np.ndarray]) -> tuple[float, float] | None:
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


# --- all of them --------------------------------------------------------------------------


def write_figures(frame: pd.DataFrame, run_dir: Path) -> list[Figure]:
    """Every figure the run's records and sample files support, under RUN_DIR/figures/."""
    run_dir = Path(run_dir)
    out_dir = run_dir / FIGURES_DIR
    out_dir.mkdir(exist_ok=True)
    for stale in out_dir.glob("*.png"):
        stale.unlink()  # figures of records since removed must not linger in the report
    return [
        *throughput_figure(frame, out_dir),
        *curves_figures(frame, out_dir, "losses", "Loss curves", is_loss),
        *curves_figures(frame, out_dir, "metrics", "Metrics against step", is_step_metric),
        *sensitivity_figure(frame, out_dir),
        *budget_figures(frame, out_dir),
        *sample_figures(run_dir, out_dir),
    ]
