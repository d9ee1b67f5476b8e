"""Convergence under hyperparameter perturbations (METRICS.md), after Lucic et al. 2018.

Perturbations. Each family's base is its profile's config. One axis at a time, a value either
scales the base (`lr=x0.1`) or replaces it (`beta1=0.9`); a value equal to the base is left
out, since the base run is that run. Axes a family's config lacks are left out too (the
progressive GAN has no d_steps; only it, a WGAN-GP, has gp_weight). The random search, the
study's own protocol, draws every axis at once per configuration (`random=<i>`), each from the
base and the same values, from a fixed seed: both frameworks get the same configurations, and
a longer search extends a shorter one. Every point runs with the same seeds in every
framework: the request's when it asks for more than one, else the profile's (METRICS.md: 3;
quick: 1). Perturbation label, config overrides and seed are part of a job's identity, so
`--resume` skips exactly the runs that finished.

Runs. A job is the fid suite's job (`suites.fid.execute`: the same training loop and the same
evaluator every K steps), so every run is a curve of fid_raw and PacGAN's mode statistics
(2-D points) or fid_digits and class coverage (digits). The worker then classifies the run,
in this order (`classify`):

- diverged: a loss or a sample became NaN or inf (bench.training stops the run there);
- converged: at the last evaluation the quality metric is at most the threshold and the
  coverage at least its minimum (CRITERIA); on 2-D data, where modes count only
  high-quality samples, with enough of those for the count to mean something;
- discriminator_won: a saturating (BCE) D's loss, median over the last half of the
  evaluations, is under BCE_D_WON while G's metric did not improve by 10 % from the first
  half to the second. A WGAN-GP critic has no such state (its loss is an unbounded estimate
  of a distance), so the progressive GAN never gets this outcome;
- collapsed: the last coverage is under its minimum (on 2-D data, with enough high-quality
  samples: a blurry G is not converged, not collapsed);
- not_converged: none of these within the step budget.

steps_to_threshold is the first evaluation step at which the convergence criterion held
(NaN if never), even for a run that lost it again by the end.

Records. Besides the curves (metric per step, as in the fid suite), one run adds three records
without a step, so figures never draw them as curves: `outcome` (the code in OUTCOMES),
`converged` (1 or 0, what bench.figures' sensitivity heatmap reads) and `steps_to_threshold`.
Those three carry the run's summary as columns: outcome, quality_metric, final_quality,
coverage_metric, final_coverage, final_high_quality (2-D data; empty for images),
steps_to_threshold and criterion; the final values are empty for a diverged run. Every
record of a run carries dataset, axis and setting ("base" and "" for the base run, "random"
and its index for the search) and the run's effective hyperparameters (lr, beta1, d_steps,
latent, gp_weight; batch_size is a record column already).

Tables: the runs, one row each; per (model, dataset, framework, perturbation) the success
rate, the median steps to threshold and the final metric's median and quartiles; the
frameworks' agreement on outcomes, seed by seed; and the budget curve, the best final metric
among k runs over random orders (bench.figures' resampling, so table and figure agree).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from bench.adapter import FamilyConfig
from bench.build import job_config
from bench.errors import UsageError
from bench.figures import budget_curve, framework_sort_key, perturbation_sort_key
from bench.jobs import Job
from bench.records import Measurement
from bench.registry import family_config
from bench.suite import JobResult, Request
from suites import fid

SUITE = "convergence"
# TensorFlow's eager steps dispatch op by op: 2,000 quick MLP GAN steps took minutes, as a
# tf.function 9 s. torch.compile would spend longer compiling than these runs train, and XLA
# changes the numerics; the runs compare outcomes, not speed.
TRAINING_MODES = {"tf": "compiled"}
SEARCH_SEED = 0  # the random search's configurations: one fixed sequence per family and data
BUDGET_SEED = 0  # the random orders the budget curve resamples

CONVERGED, NOT_CONVERGED, COLLAPSED, DISCRIMINATOR_WON, DIVERGED = OUTCOMES = (
    "converged", "not_converged", "collapsed", "discriminator_won", "diverged")


# --- perturbation axes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One hyperparameter: the config field it sets and the values it tries."""

    name: str
    values: tuple[float, ...]
    relative: bool  # True: a value multiplies the base (labelled x0.1); False: replaces it

    def only(self, *values: float) -> Axis:
        return dataclasses.replace(self, values=values)

    def applies(self, config: FamilyConfig) -> bool:
        return self.name in {f.name for f in dataclasses.fields(config)}

    def base(self, config: FamilyConfig) -> Any:
        value = getattr(config, self.name)
        # The MLP GAN's latent 0 stands for its variant's size (z_dim): scale that one.
        return getattr(config, "z_dim", value) if self.name == "latent" else value

    def setting(self, config: FamilyConfig, value: float) -> int | float:
        """The config value for one of the axis's values; integer fields stay integers."""
        base = self.base(config)
        new = base * value if self.relative else value
        return max(1, round(new)) if isinstance(base, int) else float(new)

    def label(self, value: float) -> str:
        return f"{self.name}={'x' if self.relative else ''}{value:g}"


LR = Axis("lr", (0.1, 0.3, 3, 10), relative=True)
BETA1 = Axis("beta1", (0, 0.5, 0.9), relative=False)
BATCH_SIZE = Axis("batch_size", (0.5, 2), relative=True)
D_STEPS = Axis("d_steps", (1, 2, 5), relative=False)
LATENT = Axis("latent", (0.5, 2), relative=True)
GP_WEIGHT = Axis("gp_weight", (1, 10, 100), relative=False)
AXES = (LR, BETA1, BATCH_SIZE, D_STEPS, LATENT, GP_WEIGHT)


@dataclass(frozen=True)
class Perturbation:
    label: str  # "base", "lr=x0.1", "random=3"
    overrides: dict[str, Any]


def one_at_a_time(base: FamilyConfig, axes: Sequence[Axis]) -> list[Perturbation]:
    """The base run, then each axis's values that differ from the base."""
    out = [Perturbation("base", {})]
    for axis in axes:
        for value in axis.values:
            setting = axis.setting(base, value)
            if setting != axis.base(base):
                out.append(Perturbation(axis.label(value), {axis.name: setting}))
    return out


def random_search(base: FamilyConfig, axes: Sequence[Axis], count: int) -> list[Perturbation]:
    """`count` configurations, each axis drawn uniformly from its base and its values."""
    rng = np.random.default_rng(SEARCH_SEED)
    out = []
    for i in range(count):
        overrides = {}
        for axis in axes:
            choice = int(rng.integers(len(axis.values) + 1))  # 0 keeps the base value
            if choice:
                overrides[axis.name] = axis.setting(base, axis.values[choice - 1])
        out.append(Perturbation(f"random={i}", overrides))
    return out


def perturbations(base: FamilyConfig, axes: Sequence[Axis], search: int) -> list[Perturbation]:
    applicable = [axis for axis in axes if axis.applies(base)]
    return one_at_a_time(base, applicable) + random_search(base, applicable, search)


# --- profiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvergenceProfile:
    """What a profile runs: families and their data, axes, budgets, seeds, search size."""

    datasets: Mapping[str, tuple[str, ...]]  # model -> datasets; models not named are left out
    axes: tuple[Axis, ...]
    steps: Mapping[str, int]  # per model: a step costs very different amounts
    evaluations: int  # per run: K = steps / evaluations
    n_samples: int
    ndb_k: int
    seeds: int  # when the request leaves --seeds at 1 (METRICS.md: 3 by default)
    search: int = 0  # random-search configurations, on top of the one-axis runs

    def settings(self, model: str) -> fid.QualitySettings:
        steps = self.steps[model]
        # KID and NDB come with the fid evaluator; convergence reads neither, so they stay small.
        return fid.QualitySettings(steps, max(1, steps // self.evaluations), self.n_samples,
                                   kid_subsets=10, kid_subset_size=self.n_samples // 2,
                                   ndb_k=self.ndb_k)


ALL_FAMILIES = {"mlp_gan": ("ring8", "digits"), "dcgan": ("digits",), "progan": ("digits",)}

# quick: the MLP GAN only, 1 seed, 16 runs for two frameworks: minutes on 2 CPU cores.
# 2,000 steps take ring8 from a blurry ring to its modes (measured: 6 to 8 modes captured).
# standard: 13 points x 3 seeds per family and dataset, 78 runs for two frameworks: a GPU or
# several CPU workers (--jobs, --executor ray). ProGAN's standard schedule reaches 32x32 at
# step 2,188 (7 phases of 20,000 images, batch 64); 2,000 steps took the quick, narrower
# DCGAN to fid_digits 17 (measured), under its threshold of 30 from step 750 on.
PROFILES = {
    "quick": ConvergenceProfile({"mlp_gan": ("ring8", "digits")}, (LR.only(0.1, 10),
                                BETA1.only(0.9)), {"mlp_gan": 2000}, evaluations=8,
                                n_samples=1000, ndb_k=10, seeds=1),
    "standard": ConvergenceProfile(ALL_FAMILIES, AXES,
                                   {"mlp_gan": 5000, "dcgan": 2000, "progan": 3000},
                                   evaluations=10, n_samples=2000, ndb_k=20, seeds=3),
    "full": ConvergenceProfile({**ALL_FAMILIES, "mlp_gan": ("ring8", "grid25", "digits")}, AXES,
                               {"mlp_gan": 30_000, "dcgan": 20_000, "progan": 40_000},
                               evaluations=20, n_samples=5000, ndb_k=50, seeds=3, search=20),
}


def convergence_profile(profile: str) -> ConvergenceProfile:
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    return PROFILES[profile]


# --- jobs -----------------------------------------------------------------------------------


def seeds_for(request: Request, plan: ConvergenceProfile) -> range:
    """The request's seeds when it asks for several, else the profile's (--seeds defaults to 1)."""
    return range(request.seeds if request.seeds > 1 else plan.seeds)


def jobs(request: Request) -> list[Job]:
    """models x datasets x perturbations x frameworks x devices x seeds."""
    plan = convergence_profile(request.profile)
    out = []
    for model in request.models:
        for dataset in plan.datasets.get(model, ()):
            criteria_for(model, dataset)  # no thresholds: say so now, not in every worker
            base = family_config(model).for_profile(request.profile, dataset=dataset)
            params = dataclasses.asdict(plan.settings(model))
            for p, framework, device, seed in product(
                    perturbations(base, plan.axes, plan.search), request.frameworks,
                    request.devices, seeds_for(request, plan)):
                out.append(Job(suite=SUITE, model=model, framework=framework, device=device,
                               mode=TRAINING_MODES.get(framework, "eager"),
                               profile=request.profile, seed=seed, perturbation=p.label,
                               config={"dataset": dataset, **p.overrides}, params=params,
                               threads=request.threads, timeout_s=request.timeout_s))
    if request.models and not out:
        raise UsageError(f"the convergence suite's {request.profile} profile runs "
                         f"{', '.join(plan.datasets)}; not {', '.join(request.models)}")
    return out


# --- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One evaluation of a run."""

    step: int
    quality: float
    coverage: float
    high_quality: float  # share of samples near some mode (2-D data); NaN for images
    loss_d: float


@dataclass(frozen=True)
class Criteria:
    """When a run on one dataset counts as converged or collapsed."""

    metric: str  # the quality metric: lower is better
    threshold: float
    coverage: str  # modes or classes captured: higher is better
    min_coverage: float
    d_won_loss: float | None = None  # a BCE D's loss under this: D wins; None: not judged
    #: 2-D modes count only high-quality samples; with too few of those (a blurry G) the count
    #: says nothing about collapse, so coverage is judged from this share on. None: images,
    #: where the classifier labels every sample.
    min_high_quality: float | None = None

    def coverage_seen(self, point: Point) -> bool:
        return self.min_high_quality is None or point.high_quality >= self.min_high_quality

    def met(self, point: Point) -> bool:
        return (point.quality <= self.threshold and self.coverage_seen(point)
                and point.coverage >= self.min_coverage)

    def collapsed(self, point: Point) -> bool:
        return self.coverage_seen(point) and point.coverage < self.min_coverage

    def describe(self) -> str:
        text = f"{self.metric} <= {self.threshold:g} and {self.coverage} >= {self.min_coverage:g}"
        if self.min_high_quality is None:
            return text
        return f"{text} with high_quality_share >= {self.min_high_quality:g}"


# BCE's D loss is log 4 = 1.39 at the equilibrium and 0 for a perfect D; under 0.1 both of
# its terms are under 0.05: D tells real from fake with about 95 % confidence.
BCE_D_WON = 0.1
IMPROVEMENT = 0.9  # G improved when its best late metric is under 90 % of its best early one

# Thresholds per (family, dataset), measured on N = 1,000 samples (the quick profile's N):
# - fid_raw on 2-D data is in squared data units: ring8's total variance is 1, grid25's 16;
#   0.05 and 0.8 are 5 % of them. Real against real scores 0.0004 (ring8) and 0.06 (grid25),
#   one ring8 mode alone about 2. But a Gaussian blob with the data's mean and covariance
#   scores 0.0014 on ring8: two moments cannot see modes. So convergence also needs the
#   modes captured (PacGAN: a high-quality sample within 3 sigma), and the blob captures 0 to
#   4 of 8; collapse is fewer than 3/4 of the modes (6 of 8, 19 of 25). Modes count only
#   high-quality samples, and a blurry G has few: the quick MLP GAN's share rose from under
#   1 % to 10 to 25 % between steps 1,500 and 2,000 (real data: 99 %, a uniform circle 8 %).
#   Coverage is judged from 5 % on (ring8: 50 of 1,000 samples; were they spread over the
#   modes, one would stay empty with probability (7/8)^50 = 0.1 %) and 10 % on grid25
#   ((24/25)^100 = 1.7 %); under that the run is not converged, rather than collapsed.
# - fid_digits (the harness's classifier features, 28x28 for the MLP GAN, 32x32 for the
#   others): real against real 2.1 (1.7 at 32x32), real digits with N(0, 0.3) pixel noise 10
#   (0.5: 34), only five of the ten classes 88 (99), one class 600, uniform noise 950. A
#   family's threshold is one its base config reaches within the standard budget, so that
#   the heatmap shows what a perturbation costs: the MLP GAN reaches 60 to 90 after 2,000 to
#   6,000 steps at the standard width (165 at quick's, after 2,000), so 100; the quick DCGAN
#   30 after 750 steps and 17 after 2,000, the quick ProGAN 40 after 1,000 and 32 after
#   1,500, so 30 for both: heavy pixel noise, but every class. 8 of 10 classes keeps a
#   half-collapsed G out.
CRITERIA = {
    ("mlp_gan", "ring8"): Criteria("fid_raw", 0.05, "modes_captured", 6, BCE_D_WON, 0.05),
    ("mlp_gan", "grid25"): Criteria("fid_raw", 0.8, "modes_captured", 19, BCE_D_WON, 0.1),
    ("mlp_gan", "digits"): Criteria("fid_digits", 100.0, "classes_covered", 8, BCE_D_WON),
    ("dcgan", "digits"): Criteria("fid_digits", 30.0, "classes_covered", 8, BCE_D_WON),
    ("progan", "digits"): Criteria("fid_digits", 30.0, "classes_covered", 8),
}


def criteria_for(model: str, dataset: str) -> Criteria:
    if (model, dataset) not in CRITERIA:
        known = ", ".join(f"{m} on {d}" for m, d in CRITERIA)
        raise UsageError(f"the convergence suite has no thresholds for {model} on {dataset}; "
                         f"it has them for {known}")
    return CRITERIA[model, dataset]


@dataclass(frozen=True)
class Curve:
    """One run's evaluations in step order, and whether training stopped on NaN or inf."""

    points: list[Point]
    diverged: bool


@dataclass(frozen=True)
class Verdict:
    outcome: str
    steps_to_threshold: int | None
    final: Point | None  # the last evaluation; None when the run diverged (no quality left)


def run_curve(measurements: Sequence[Measurement], criteria: Criteria) -> Curve:
    """The curve from bench.training's measurements: every evaluation point has loss_d."""
    by_metric: dict[str, dict[int, float]] = {}
    for m in measurements:
        if m.step is not None:
            by_metric.setdefault(m.metric, {})[m.step] = m.value

    def value(metric: str, step: int) -> float:
        return by_metric.get(metric, {}).get(step, math.nan)

    points = [Point(step, value(criteria.metric, step), value(criteria.coverage, step),
                    value("high_quality_share", step), value("loss_d", step))
              for step in sorted(by_metric.get("loss_d", {}))]
    return Curve(points, any(m.metric == "diverged" and m.value for m in measurements))


def discriminator_won(points: Sequence[Point], limit: float) -> bool:
    """D's late loss is near 0 while G's metric did not improve from early to late."""
    half = len(points) // 2
    if half == 0:
        return False  # one evaluation cannot show a trend
    early = np.nanmin([p.quality for p in points[:half]])
    late = np.nanmin([p.quality for p in points[half:]])
    late_loss = np.median([p.loss_d for p in points[half:]])
    return bool(late_loss < limit and not late < IMPROVEMENT * early)


def outcome(curve: Curve, criteria: Criteria) -> str:
    last = curve.points[-1]
    if curve.diverged:
        return DIVERGED
    if criteria.met(last):
        return CONVERGED
    if criteria.d_won_loss is not None and discriminator_won(curve.points, criteria.d_won_loss):
        return DISCRIMINATOR_WON
    if criteria.collapsed(last):
        return COLLAPSED
    return NOT_CONVERGED


def classify(curve: Curve, criteria: Criteria) -> Verdict:
    """The run's outcome (module docstring) and the step it first met the criterion."""
    if not curve.points:
        return Verdict(DIVERGED if curve.diverged else NOT_CONVERGED, None, None)
    reached = next((p.step for p in curve.points if criteria.met(p)), None)
    final = None if curve.diverged else curve.points[-1]
    return Verdict(outcome(curve, criteria), reached, final)


def final_values(final: Point | None) -> dict[str, float | None]:
    """The last evaluation's values as tags: JSON, where records.jsonl allows no NaN (null)."""
    values = (final.quality, final.coverage, final.high_quality) if final else (None,) * 3
    return {tag: value if value is not None and math.isfinite(value) else None
            for tag, value in zip(("final_quality", "final_coverage", "final_high_quality"),
                                  values, strict=True)}


def outcome_measurements(verdict: Verdict, criteria: Criteria) -> list[Measurement]:
    tags = {"outcome": verdict.outcome, "criterion": criteria.describe(),
            "quality_metric": criteria.metric, "coverage_metric": criteria.coverage,
            "steps_to_threshold": verdict.steps_to_threshold, **final_values(verdict.final)}
    reached = math.nan if verdict.steps_to_threshold is None else verdict.steps_to_threshold
    return [Measurement("outcome", float(OUTCOMES.index(verdict.outcome)), tags=tags),
            Measurement("converged", float(verdict.outcome == CONVERGED), tags=tags),
            Measurement("steps_to_threshold", float(reached), "step", tags=tags)]


def run_tags(job: Job, config: FamilyConfig) -> dict[str, Any]:
    """Dataset, axis and setting, and the effective value of every axis the family has."""
    axis, _, setting = job.perturbation.partition("=")
    values = {a.name: a.base(config) for a in AXES if a.applies(config) and a is not BATCH_SIZE}
    return {"dataset": config.data_spec().name, "axis": axis, "setting": setting, **values}


def execute(job: Job) -> JobResult:
    result = fid.execute(job)
    config = job_config(job)
    criteria = criteria_for(job.model, config.data_spec().name)
    verdict = classify(run_curve(result.measurements, criteria), criteria)
    tags = run_tags(job, config)
    measurements = [dataclasses.replace(m, tags={**tags, **m.tags})
                    for m in result.measurements + outcome_measurements(verdict, criteria)]
    # Sample files are named without the perturbation: only the base run's are kept.
    artifacts = result.artifacts if job.perturbation == "base" else []
    return dataclasses.replace(result, measurements=measurements, artifacts=artifacts)


# --- summary tables -------------------------------------------------------------------------

RUN_COLUMNS = ["model", "dataset", "framework", "device", "perturbation", "axis", "setting",
               "seed", "outcome", "steps_to_threshold", "quality_metric", "final_quality",
               "coverage_metric", "final_coverage", "final_high_quality"]


def runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: its outcome, step to threshold and final values."""
    ok = frame[(frame["suite"] == SUITE) & (frame["status"] == "ok")]
    rows = ok[ok["metric"] == "outcome"]
    if rows.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    rows = rows.assign(order=rows["perturbation"].map(perturbation_sort_key),
                       framework_order=rows["framework"].map(framework_sort_key))
    keys = ["model", "dataset", "framework_order", "device", "order", "seed"]
    return rows.sort_values(keys)[RUN_COLUMNS].reset_index(drop=True)


def outcome_counts(outcomes: pd.Series) -> str:
    counts = outcomes.value_counts()
    return ", ".join(f"{name} {counts[name]}" for name in OUTCOMES if name in counts)


def summary_table(per_run: pd.DataFrame) -> pd.DataFrame:
    """Success rate, median steps to threshold and final metric (median, IQR) per point."""
    keys = ["model", "dataset", "framework", "device", "perturbation", "axis", "setting"]

    def summarise(group: pd.DataFrame) -> pd.Series:
        final = group["final_quality"]
        return pd.Series({
            "runs": len(group),
            "success_rate": (group["outcome"] == CONVERGED).mean(),
            "outcomes": outcome_counts(group["outcome"]),
            "median_steps_to_threshold": group["steps_to_threshold"].median(),
            "quality_metric": group["quality_metric"].iloc[0],
            "final_median": final.median(),
            "final_q25": final.quantile(0.25),
            "final_q75": final.quantile(0.75),
        })

    measured = ["outcome", "steps_to_threshold", "quality_metric", "final_quality"]
    return per_run.groupby(keys, sort=False)[measured].apply(summarise).reset_index()


def agreement_table(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per point: the seeds every framework ran, and the share where their outcomes agree."""
    keys = ["model", "dataset", "device", "perturbation", "axis", "setting"]
    both = per_run.groupby([*keys, "seed"], sort=False).filter(
        lambda g: g["framework"].nunique() > 1)
    if both.empty:
        return pd.DataFrame()
    said = both["framework"] + " " + both["outcome"]
    seeds = both.assign(said=said).groupby([*keys, "seed"], sort=False).agg(
        agree=("outcome", lambda o: o.nunique() == 1), outcomes=("said", ", ".join))
    seeds = seeds.reset_index()
    seeds["disagreement"] = np.where(seeds["agree"], "",
                                     "seed " + seeds["seed"].astype(str) + ": " + seeds["outcomes"])
    table = seeds.groupby(keys, sort=False).agg(
        seeds=("agree", "size"), agree=("agree", "sum"),
        disagreements=("disagreement", lambda d: "; ".join(x for x in d if x)))
    table["share_agree"] = table["agree"] / table["seeds"]
    return table.reset_index()


def budget_ticks(n: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... configurations up to n, and n itself."""
    ticks = {m * 10**e for e in range(len(str(n))) for m in (1, 2, 5)}
    return sorted(t for t in ticks | {n} if t <= n)


def budget_table(per_run: pd.DataFrame) -> pd.DataFrame:
    """Best final metric among k runs tried, over random orders (Lucic et al.'s budget curve)."""
    rows = []
    keys = ["model", "dataset", "framework", "device", "quality_metric"]
    for key, group in per_run.groupby(keys, sort=False):
        median, (q25, q75) = budget_curve(group["final_quality"].to_numpy(dtype=float),
                                          seed=BUDGET_SEED)
        rows += [{**dict(zip(keys, key, strict=True)), "configurations": k,
                  "best_median": median[k - 1], "best_q25": q25[k - 1], "best_q75": q75[k - 1]}
                 for k in budget_ticks(len(group))]
    return pd.DataFrame(rows)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    per_run = runs(frame)
    if per_run.empty:
        return {}
    out = {"convergence runs": per_run, "convergence summary": summary_table(per_run),
           "convergence framework agreement": agreement_table(per_run),
           "convergence budget curve": budget_table(per_run)}
    return {name: table for name, table in out.items() if not table.empty}
