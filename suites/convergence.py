"""Convergence under hyperparameter perturbations (docs/metrics.md), after Lucic et al. 2018.

Perturbations. Each family's base is its profile's config. One axis at a time, a value either
scales the base (`lr=x0.1`) or replaces it (`beta1=0.9`); a value equal to the base is left
out, since the base run is that run. A family perturbs the axes it declares
(FamilyConfig.convergence_axes: the progressive GAN has no d_steps; only it, a WGAN-GP, has
gp_weight) and runs on the data and for the steps it declares per profile (convergence_data,
convergence_steps); a family without them is left out (bench.suite.served). The random search,
the study's own protocol, draws every axis at once per configuration (`random=<i>`), each from
the base and the same values, from a fixed seed: both frameworks get the same configurations,
and a longer search extends a shorter one. Every point runs with the same seeds in every
framework: the request's when it asks for more than one, else the profile's (3;
quick: 1). Perturbation label, config overrides and seed are part of a job's identity, so
`--resume` skips exactly the runs that finished.

Runs. A job is the quality engine's job (`suites.quality_engine.execute`: the same training
loop and the same evaluator every K steps), so every run is a curve of fid_raw and PacGAN's
mode statistics (2-D points) or fid_digits and class coverage (digits). The worker then
classifies the run, in this order (`classify`):

- diverged: a loss or a sample became NaN or inf (bench.training stops the run there);
- converged: at the last evaluation the quality metric is at most the threshold and the
  coverage at least its minimum (`criteria_for`); on 2-D data also the real data's
  structure: a high-quality share near real's and a bounded KL of the mode histogram, so a
  uniform ring or a blur is never converged. Thresholds are calibrated against the real
  distribution at the run's sample count (scripts/calibrate_outcomes.py; numbers and
  reasons at REAL_POINTS);
- discriminator_won: a saturating (BCE) D's loss, median over the last half of the
  evaluations, is under the family's `d_won_loss` while G's metric did not improve by 10 %
  from the first half to the second. A WGAN-GP critic has no such state (its loss is an
  unbounded estimate of a distance), so the progressive GAN never gets this outcome;
- undetermined: on 2-D data, fewer than JUDGED_PER_MODE high-quality samples per mode at the
  last evaluation: the mode statistics cannot tell a collapse from a blur;
- collapsed: the last coverage is under its collapse limit, with evidence of a trained
  generator (2-D data: the high-quality samples above; digits: fid under the noisy-digits
  anchor, so an untrained G's one class is not a collapse);
- not_converged: none of these within the step budget.

steps_to_threshold is the first evaluation step at which the convergence criterion held
(NaN if never), even for a run that lost it again by the end.

Records. Besides the curves (metric per step, as in every quality suite), one run adds three records
without a step, so figures never draw them as curves: `outcome` (the code in OUTCOMES),
`converged` (1 or 0) and `steps_to_threshold`.
Those three carry the run's summary as columns: outcome, quality_metric, final_quality,
coverage_metric, final_coverage, final_high_quality and final_kl (2-D data; empty for images),
steps_to_threshold and criterion; the final values are empty for a diverged run. Every
record of a run carries dataset, axis and setting ("base" and "" for the base run, "random"
and its index for the search) and the run's effective hyperparameters (lr, beta1, d_steps,
latent, gp_weight; batch_size is a record column already).

Tables: the runs, one row each; per (model, dataset, framework, perturbation) the success
rate, the median steps to threshold and the final metric's median and quartiles; the
frameworks' agreement on outcomes, seed by seed; and the budget curve, the best final metric
among k runs over random orders, where a diverged run counts as the worst outcome (inf).

Figures: the quality engine's curves (base runs) and samples; the sensitivity heatmap, which
draws the summary table's success rates; and the budget curve, which draws the budget
table's rows: each figure plots its table, so the two cannot disagree.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.adapter import FamilyConfig
from bench.build import job_config
from bench.data import DIGITS_COUNT, DataSpec, mixture_params
from bench.errors import UsageError
from bench.jobs import Job
from bench.profiles import profile_settings
from bench.records import Measurement
from bench.registry import family_config
from bench.report.figures import Figure, colour, line_style, pyplot, save
from bench.report.tables import framework_sort_key, ok_rows
from bench.suite import Gate, JobResult, MetricSpec, Request, served
from suites import quality_engine

SUITE = "convergence"
KEY_METRIC = quality_engine.QUALITY_METRICS
METRICS = (*quality_engine.METRICS,
           MetricSpec("converged", better="higher", flag=True),
           MetricSpec("steps_to_threshold", better="lower"),
           MetricSpec("success_rate", better="higher", gate=Gate(absolute=0.20)))
SEARCH_SEED = 0  # the random search's configurations: one fixed sequence per family and data
BUDGET_SEED = 0  # the random orders the budget curve resamples
BUDGET_RESAMPLES = 500

# New outcomes go last: a record's value is the outcome's index here.
CONVERGED, NOT_CONVERGED, COLLAPSED, DISCRIMINATOR_WON, DIVERGED, UNDETERMINED = OUTCOMES = (
    "converged", "not_converged", "collapsed", "discriminator_won", "diverged", "undetermined")


# --- perturbation axes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One hyperparameter: the config field it sets and the values it tries."""

    name: str
    values: tuple[float, ...]
    relative: bool  # True: a value multiplies the base (labelled x0.1); False: replaces it

    def only(self, *values: float) -> Axis:
        return dataclasses.replace(self, values=values)

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
    return one_at_a_time(base, axes) + random_search(base, axes, search)


def family_axes(family: type[FamilyConfig], axes: Sequence[Axis]) -> tuple[Axis, ...]:
    """Those of `axes` the family declares (`convergence_axes`), checked: a name the suite has
    no axis for, or the config no field for, is a UsageError naming it."""
    fields = {f.name for f in dataclasses.fields(family)}
    for name in family.convergence_axes:
        if name not in {axis.name for axis in AXES}:
            raise UsageError(f"{family.family} declares convergence axis {name!r}; the suite "
                             f"perturbs {', '.join(axis.name for axis in AXES)}")
        if name not in fields:
            raise UsageError(f"{family.family} declares convergence axis {name!r}, which its "
                             "config has no field for; declare only its own fields")
    return tuple(axis for axis in axes if axis.name in family.convergence_axes)


# --- profiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvergenceProfile:
    """What a profile runs: the axes' values, evaluations, seeds, search size. Each family
    declares its own data, steps and axes (FamilyConfig.convergence_*)."""

    axes: tuple[Axis, ...]
    evaluations: int  # per run: K = steps / evaluations
    n_samples: int
    ndb_k: int
    seeds: int  # when the request leaves --seeds at 1 (3 by default)
    search: int = 0  # random-search configurations, on top of the one-axis runs

    def settings(self, steps: int) -> quality_engine.QualitySettings:
        # KID and NDB come with the image evaluator; convergence reads neither: they stay small.
        return quality_engine.QualitySettings(steps, max(1, steps // self.evaluations),
                                              self.n_samples, kid_subsets=10,
                                              kid_subset_size=self.n_samples // 2,
                                              ndb_k=self.ndb_k)


# quick: few axis values, 1 seed: the built-in families that declare quick data (the MLP GAN:
# 16 runs for two frameworks) take minutes on 2 CPU cores.
# standard: 13 points x 3 seeds per family and dataset, 78 runs for two frameworks: a GPU or
# several CPU workers (--jobs, --executor ray).
PROFILES = {
    "quick": ConvergenceProfile((LR.only(0.1, 10), BETA1.only(0.9)), evaluations=8,
                                n_samples=1000, ndb_k=10, seeds=1),
    "standard": ConvergenceProfile(AXES, evaluations=10, n_samples=2000, ndb_k=20, seeds=3),
    "full": ConvergenceProfile(AXES, evaluations=20, n_samples=5000, ndb_k=50, seeds=3,
                               search=20),
}

#: The sample counts the profiles evaluate on: the outcome thresholds are calibrated at each.
CALIBRATED_COUNTS = tuple(sorted({plan.n_samples for plan in PROFILES.values()}))
#: Digits are evaluated on min(N, DIGITS_COUNT) samples (the evaluator's reference sample has
#: no more): their thresholds are calibrated at those counts.
DIGITS_COUNTS = tuple(sorted({min(n, DIGITS_COUNT) for n in CALIBRATED_COUNTS}))


# --- jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    """What one family runs at a profile: a base config per dataset, steps and axes."""

    bases: tuple[FamilyConfig, ...]
    steps: int
    axes: tuple[Axis, ...]


def study(model: str, profile: str, plan: ConvergenceProfile) -> Study:
    """The family's declared study at this profile; UsageError, one line with its fix, where it
    declares none, or data the suite has no thresholds for."""
    family = family_config(model)
    datasets = family.declared("convergence_data", profile)
    steps = family.declared("convergence_steps", profile)
    bases = tuple(family.for_profile(profile, dataset=dataset) for dataset in datasets)
    for base in bases:
        criteria_for(model, base.data_spec(), plan.n_samples)  # say so now, not in every worker
    return Study(bases, steps, family_axes(family, plan.axes))


def seeds_for(request: Request, plan: ConvergenceProfile) -> range:
    """The request's seeds when it asks for several, else the profile's (--seeds defaults to 1)."""
    return range(request.seeds if request.seeds > 1 else plan.seeds)


def jobs(request: Request) -> list[Job]:
    """models x datasets x perturbations x frameworks x devices x seeds, for the families that
    declare a study at the request's profile (bench.suite.served)."""
    plan = profile_settings(PROFILES, request.profile)
    studies = served(SUITE, request.models, lambda model: study(model, request.profile, plan))
    out = []
    for model, family_study in studies.items():
        params = dataclasses.asdict(plan.settings(request.steps or family_study.steps))
        for base in family_study.bases:
            dataset = base.data_spec().name
            for p, framework, device, seed in product(
                    perturbations(base, family_study.axes, plan.search), request.frameworks,
                    request.devices, seeds_for(request, plan)):
                out.append(Job(suite=SUITE, model=model, framework=framework, device=device,
                               mode=quality_engine.training_mode(framework, device),
                               profile=request.profile, seed=seed, perturbation=p.label,
                               config={"dataset": dataset, **p.overrides}, params=params,
                               **request.runtime()))
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
    kl: float = math.nan  # KL of the mode histogram from uniform (2-D data); NaN for images


@dataclass(frozen=True)
class Structure:
    """The real data's structure on 2-D data, at one sample count: what `converged` needs
    besides the quality metric and the modes."""

    min_high_quality: float  # share of samples within 3 sigma of their mode
    max_kl: float  # KL of the high-quality samples' mode histogram from uniform (nats)

    def present(self, point: Point) -> bool:
        return point.high_quality >= self.min_high_quality and point.kl <= self.max_kl


@dataclass(frozen=True)
class Criteria:
    """When a run on one dataset, evaluated on one sample count, is converged or collapsed."""

    metric: str  # the quality metric: lower is better
    threshold: float
    coverage: str  # modes or classes captured: higher is better
    min_coverage: float  # converged needs at least this coverage
    collapsed_under: float  # a coverage under this, seen, is a collapse
    d_won_loss: float | None = None  # a BCE D's loss under this: D wins; None: not judged
    #: 2-D modes count only high-quality samples; under this share (JUDGED_PER_MODE per mode)
    #: the count cannot tell a collapse from chance. None: images, where the classifier labels
    #: every sample.
    judged_from: float | None = None
    #: Images: a quality metric under this shows a trained generator (the noisy-digits
    #: anchor), so missing classes are a collapse. None: 2-D data, where enough high-quality
    #: samples are that evidence.
    trained_under: float | None = None
    structure: Structure | None = None  # 2-D data; None: images

    def judged(self, point: Point) -> bool:
        return self.judged_from is None or point.high_quality >= self.judged_from

    def trained(self, point: Point) -> bool:
        return self.trained_under is None or point.quality < self.trained_under

    def met(self, point: Point) -> bool:
        return (point.quality <= self.threshold and point.coverage >= self.min_coverage
                and (self.structure is None or self.structure.present(point)))

    def collapsed(self, point: Point) -> bool:
        return self.trained(point) and point.coverage < self.collapsed_under

    def describe(self) -> str:
        text = f"{self.metric} <= {self.threshold:.3g} and {self.coverage} >= {self.min_coverage:g}"
        if self.structure is None:
            return text
        return (f"{text} and high_quality_share >= {self.structure.min_high_quality:.3g} and "
                f"modes_kl_uniform <= {self.structure.max_kl:.3g}")


IMPROVEMENT = 0.9  # G improved when its best late metric is under 90 % of its best early one

# Calibration: a generator equal to the real distribution, drawn many times at each sample
# count the evaluations compare (scripts/calibrate_outcomes.py prints these lines):
# scripts/calibrate_outcomes.py (docs/measurements.md): 1000 draws per 2-D count, 30 per
# image count, seed 0
# (dataset, N): (high_quality_share q01, mode KL q99, fid_raw real-vs-real q99)
REAL_POINTS = {
    ("ring8", 1000): (0.9810, 0.0090, 0.0093),
    ("ring8", 2000): (0.9830, 0.0049, 0.0049),
    ("ring8", 5000): (0.9854, 0.0017, 0.0021),
    ("grid25", 1000): (0.9810, 0.0210, 0.1824),
    ("grid25", 2000): (0.9835, 0.0106, 0.0826),
    ("grid25", 5000): (0.9854, 0.0044, 0.0338),
}
# (resolution, N evaluated): (fid_digits real q99, uniform noise median, N(0, 0.5)
# pixel noise median)  # anchor: five classes (median)
REAL_DIGITS = {
    (28, 1000): (3.67, 948, 36.1),  # 82.7
    (28, 1797): (1.70, 947, 35.3),  # 79.6
    (32, 1000): (3.41, 935, 35.4),  # 99.7
    (32, 1797): (1.43, 934, 33.9),  # 97.8
}

# The thresholds from the calibration, and why (docs/metrics.md#outcomes):
# - 2-D data. fid_raw is in squared data units (ring8's total variance is 1, grid25's 16): 0.05
#   and 0.8 are 5 % of them, 5 and 4 times real-against-real's 99th percentile at 1,000
#   samples; one ring8 mode alone scores about 2. But two moments cannot see modes (a blob
#   with the data's mean and covariance passes), so `converged` needs the real data's
#   structure too (PacGAN's statistics): a high-quality share at least real's 1st percentile
#   minus HIGH_QUALITY_MARGIN, and a mode KL at most real's 99th percentile plus
#   KL_TOLERANCE. The two are tolerances for a trained generator, not quantiles: the
#   calibration already lets real data through; these let through a generator whose
#   continuous map leaves a few samples on the bridges between modes (at most 8 points of
#   share more than real's worst percentile) and whose mode weights are even to about a third
#   (KL ~ cv^2 / 2 for weights with relative spread cv: 0.05 nats is cv ~ 0.32).
HIGH_QUALITY_MARGIN = 0.08
KL_TOLERANCE = 0.05
FID_RAW = {"ring8": 0.05, "grid25": 0.8}
MODES = {"ring8": (8, 6), "grid25": (24, 19)}  # converged needs, collapsed under
#: Mode statistics judge a run from this many high-quality samples per mode on. At 5 per mode
#: a mode that the generator does draw is missed with probability e^-5 < 1 %, so a count
#: under the collapse limit is the generator's, not chance's; under it: `undetermined`.
JUDGED_PER_MODE = 5
# - digits: the threshold sits DIGITS_FRACTION of the way from real against real to uniform
#   noise against real; converged needs all ten classes (real data at every calibrated count
#   shows all ten: tests/test_convergence.py); collapsed needs a fid under the noisy-digits
#   anchor (every digit under N(0, 0.5) pixel noise), the evidence that the generator draws
#   digits at all, and misses a class.
DIGITS_FRACTION = 0.05
DIGIT_CLASSES = 10
#: The image data the digits thresholds are calibrated on (REAL_DIGITS); 2-D data: FID_RAW's.
DIGITS = "digits"


def calibration(table: Mapping[tuple[Any, int], tuple[float, ...]], key: Any, n: int
                ) -> tuple[float, ...]:
    if (key, n) not in table:
        raise UsageError(f"the convergence thresholds are not calibrated for {key} at {n} "
                         "samples; run scripts/calibrate_outcomes.py and paste its lines into "
                         "suites/convergence.py")
    return table[key, n]


def point_criteria(dataset: str, n: int, d_won_loss: float | None) -> Criteria:
    high_quality, kl, _ = calibration(REAL_POINTS, dataset, n)
    converged, collapsed = MODES[dataset]
    modes = len(mixture_params(dataset)[0])
    return Criteria("fid_raw", FID_RAW[dataset], "modes_captured", converged, collapsed,
                    d_won_loss, judged_from=JUDGED_PER_MODE * modes / n,
                    structure=Structure(high_quality - HIGH_QUALITY_MARGIN, kl + KL_TOLERANCE))


def digits_criteria(resolution: int, n: int, d_won_loss: float | None) -> Criteria:
    """On the min(n, DIGITS_COUNT) samples the evaluator compares."""
    real, noise, noisy = calibration(REAL_DIGITS, resolution, min(n, DIGITS_COUNT))
    return Criteria("fid_digits", real + DIGITS_FRACTION * (noise - real), "classes_covered",
                    DIGIT_CLASSES, DIGIT_CLASSES, d_won_loss, trained_under=noisy)


def criteria_for(model: str, data: DataSpec, n_samples: int) -> Criteria:
    """The thresholds for a model on its data, evaluated on n_samples samples; whether its D
    can win is the family's (`d_won_loss`)."""
    d_won_loss = family_config(model).d_won_loss
    if data.name in FID_RAW:
        return point_criteria(data.name, n_samples, d_won_loss)
    if data.name == DIGITS:
        return digits_criteria(data.resolution, n_samples, d_won_loss)
    raise UsageError(f"{model} declares convergence data {data.name}, which the convergence "
                     f"suite has no thresholds for; declare {', '.join([*FID_RAW, DIGITS])}, "
                     "or calibrate it (scripts/calibrate_outcomes.py)")


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
                    value("high_quality_share", step), value("loss_d", step),
                    value("modes_kl_uniform", step))
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
    if not criteria.judged(last):
        return UNDETERMINED
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


FINAL_TAGS = ("final_quality", "final_coverage", "final_high_quality", "final_kl")


def final_tags(final: Point | None) -> dict[str, float | None]:
    """The last evaluation's values as tags: JSON, where records.jsonl allows no NaN (null)."""
    values = (final.quality, final.coverage, final.high_quality, final.kl) if final else (
        (None,) * len(FINAL_TAGS))
    return {tag: value if value is not None and math.isfinite(value) else None
            for tag, value in zip(FINAL_TAGS, values, strict=True)}


def outcome_measurements(verdict: Verdict, criteria: Criteria) -> list[Measurement]:
    tags = {"outcome": verdict.outcome, "criterion": criteria.describe(),
            "quality_metric": criteria.metric, "coverage_metric": criteria.coverage,
            "steps_to_threshold": verdict.steps_to_threshold, **final_tags(verdict.final)}
    reached = math.nan if verdict.steps_to_threshold is None else verdict.steps_to_threshold
    return [Measurement("outcome", float(OUTCOMES.index(verdict.outcome)), tags=tags),
            Measurement("converged", float(verdict.outcome == CONVERGED), tags=tags),
            Measurement("steps_to_threshold", float(reached), "step", tags=tags)]


def run_tags(job: Job, config: FamilyConfig) -> dict[str, Any]:
    """Dataset, axis and setting, and the effective value of every axis the family has."""
    axis, _, setting = job.perturbation.partition("=")
    values = {a.name: a.base(config) for a in family_axes(type(config), AXES)
              if a is not BATCH_SIZE}
    return {"dataset": config.data_spec().name, "axis": axis, "setting": setting, **values}


def execute(job: Job) -> JobResult:
    result = quality_engine.execute(job)
    config = job_config(job)
    criteria = criteria_for(job.model, config.data_spec(), job.params["n_samples"])
    verdict = classify(run_curve(result.measurements, criteria), criteria)
    tags = run_tags(job, config)
    measurements = [dataclasses.replace(m, tags={**tags, **m.tags})
                    for m in result.measurements + outcome_measurements(verdict, criteria)]
    # The report shows the base run's samples; the perturbations' would only fill the folder.
    artifacts = [dataclasses.replace(a, tags={**tags, **a.tags}) for a in result.artifacts
                 ] if job.perturbation == "base" else []
    return dataclasses.replace(result, measurements=measurements, artifacts=artifacts)


# --- summary tables -------------------------------------------------------------------------

RUN_COLUMNS = ["model", "dataset", "framework", "device", "perturbation", "axis", "setting",
               "seed", "outcome", "steps_to_threshold", "quality_metric", "final_quality",
               "coverage_metric", "final_coverage", "final_high_quality", "final_kl"]


def runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: its outcome, step to threshold and final values."""
    ok = ok_rows(frame, SUITE)
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


AGREEMENT_KEYS = ["model", "dataset", "device", "perturbation", "axis", "setting"]


def curve_gaps(frame: pd.DataFrame) -> pd.Series:
    """Per (point, seed) run by two or more frameworks: how far apart their paired curves of
    the quality metric are, the largest |a - b| / mean(|a|, |b|) over the steps both reached.

    Paired runs start from one init and consume one batch and noise stream, so a gap is the
    frameworks' own numerics, amplified by training."""
    ok = ok_rows(frame, SUITE)
    metric_of = ok.loc[ok["metric"] == "outcome"].groupby("job_id")["quality_metric"].first()
    curves = ok[ok["metric"] == ok["job_id"].map(metric_of)]
    curves = curves[pd.to_numeric(curves["step"], errors="coerce").notna()]
    if curves.empty:
        return pd.Series(dtype=float)
    paired = curves.pivot_table(index=[*AGREEMENT_KEYS, "seed", "step"], columns="framework",
                                values="value", aggfunc="first").dropna()
    if paired.shape[1] < 2:
        return pd.Series(dtype=float)
    values = paired.to_numpy(dtype=float)
    gap = (values.max(axis=1) - values.min(axis=1)) / np.abs(values).mean(axis=1)
    return pd.Series(gap, index=paired.index).groupby(level=[*AGREEMENT_KEYS, "seed"]).max()


def agreement_table(per_run: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Per point: the seeds every framework ran, the share where their outcomes agree, and how
    far apart their paired quality curves are (the median and largest gap over seeds)."""
    keys = AGREEMENT_KEYS
    both = per_run.groupby([*keys, "seed"], sort=False).filter(
        lambda g: g["framework"].nunique() > 1)
    if both.empty:
        return pd.DataFrame()
    said = both["framework"] + " " + both["outcome"]
    seeds = both.assign(said=said).groupby([*keys, "seed"], sort=False).agg(
        agree=("outcome", lambda o: o.nunique() == 1), outcomes=("said", ", ".join))
    seeds["curve_gap"] = curve_gaps(frame).reindex(seeds.index)
    seeds = seeds.reset_index()
    seeds["disagreement"] = np.where(seeds["agree"], "",
                                     "seed " + seeds["seed"].astype(str) + ": " + seeds["outcomes"])
    table = seeds.groupby(keys, sort=False).agg(
        seeds=("agree", "size"), agree=("agree", "sum"),
        disagreements=("disagreement", lambda d: "; ".join(x for x in d if x)),
        curve_gap_median=("curve_gap", "median"), curve_gap_max=("curve_gap", "max"))
    table["share_agree"] = table["agree"] / table["seeds"]
    return table.reset_index()


def budget_ticks(n: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... configurations up to n, and n itself."""
    ticks = {m * 10**e for e in range(len(str(n))) for m in (1, 2, 5)}
    return sorted(t for t in ticks | {n} if t <= n)


def budget_curve(values: np.ndarray, seed: int = BUDGET_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Best (lowest) value among k configurations drawn without replacement, for each k.

    Returns the median and the 25th/75th percentiles over resamples (Lucic et al. 2018).
    NaN (a diverged run) counts as the worst value, inf: trying it finds nothing. The
    percentiles are values the resamples reached (no interpolation), so a share of inf
    reads as inf, never as the NaN of inf - inf.
    """
    values = np.where(np.isfinite(values), values, np.inf)
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((BUDGET_RESAMPLES, len(values))), axis=1)
    running_best = np.minimum.accumulate(values[orders], axis=1)
    quartiles = np.percentile(running_best, [25, 50, 75], axis=0, method="inverted_cdf")
    return quartiles[1], quartiles[[0, 2]]


BUDGET_KEYS = ["model", "dataset", "framework", "device", "quality_metric"]


def budget_table(per_run: pd.DataFrame) -> pd.DataFrame:
    """Best final metric among k runs tried, over random orders (Lucic et al.'s budget curve).

    Per (model, dataset, framework, device): datasets and devices are never pooled. The
    budget figure draws these rows.
    """
    rows = []
    for key, group in per_run.groupby(BUDGET_KEYS, sort=False):
        median, (q25, q75) = budget_curve(group["final_quality"].to_numpy(dtype=float))
        rows += [{**dict(zip(BUDGET_KEYS, key, strict=True)), "configurations": k,
                  "best_median": median[k - 1], "best_q25": q25[k - 1], "best_q75": q75[k - 1]}
                 for k in budget_ticks(len(group))]
    return pd.DataFrame(rows)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    per_run = runs(frame)
    if per_run.empty:
        return {}
    out = {"convergence runs": per_run, "convergence summary": summary_table(per_run),
           "convergence framework agreement": agreement_table(per_run, frame),
           "convergence budget curve": budget_table(per_run)}
    return {name: table for name, table in out.items() if not table.empty}


# --- figures --------------------------------------------------------------------------------


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


def run_label(row: pd.Series, many_devices: bool) -> str:
    """'model dataset / framework' (and the device when the run used several)."""
    device = f" {row['device']}" if many_devices else ""
    return f"{row['model']} {row['dataset']} / {row['framework']}{device}"


def success_grid(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary table's success rates and run counts: a row per run label, a column per
    perturbation (base first)."""
    many_devices = summary["device"].nunique() > 1
    labelled = summary.assign(row=[run_label(r, many_devices) for _, r in summary.iterrows()])
    rows = list(dict.fromkeys(labelled["row"]))

    def grid(column: str) -> pd.DataFrame:
        table = labelled.pivot_table(index="row", columns="perturbation", values=column,
                                     aggfunc="first")
        return table.reindex(index=rows,
                             columns=sorted(table.columns, key=perturbation_sort_key))

    return grid("success_rate"), grid("runs")


def sensitivity_figure(summary: pd.DataFrame, out_dir: Path) -> list[Figure]:
    """Heatmap of the summary table's success rate per run label and perturbation."""
    rates, counts = success_grid(summary)
    plt = pyplot()
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
    return [save(fig, out_dir, "sensitivity", "Sensitivity to hyperparameters")]


def budget_plot(budget: pd.DataFrame) -> Any:
    """The budget table's rows of one quality metric as a matplotlib figure: a line per
    (model, dataset, framework, device) through its best_median, the quartiles as a band.
    A row at inf (every run tried so far diverged) is a gap in its line."""
    (metric,) = budget["quality_metric"].unique()
    many_devices = budget["device"].nunique() > 1
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    keys = [k for k in BUDGET_KEYS if k != "quality_metric"]
    for _, group in budget.groupby(keys, sort=False):
        first = group.iloc[0]
        framework = str(first["framework"])
        ax.plot(group["configurations"], group["best_median"], marker="o", ms=3,
                color=colour(framework), ls=line_style(framework),
                label=run_label(first, many_devices))
        ax.fill_between(group["configurations"], group["best_q25"], group["best_q75"],
                        color=colour(framework), alpha=0.2)
    ticks = sorted(budget["configurations"].unique())
    if ticks[-1] >= 10:
        ax.set_xscale("log")
    ax.set_xticks(ticks, [str(k) for k in ticks])  # the table's rows, not powers of ten
    ax.minorticks_off()
    ax.set_xlabel("configurations tried")
    ax.set_ylabel(f"best {metric} found (median, IQR)")
    ax.set_title(f"Budget curve: best {metric} against search budget")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def budget_figures(budget: pd.DataFrame, out_dir: Path) -> list[Figure]:
    """One figure per quality metric, drawn from the budget table."""
    return [save(budget_plot(rows), out_dir, f"budget_{metric}", f"Budget curve ({metric})")
            for metric, rows in budget.groupby("quality_metric", sort=True)]


def figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    curves = quality_engine.quality_figures(frame, out_dir, SUITE)
    per_run = runs(frame)
    if per_run.empty:
        return curves
    return [*curves, *sensitivity_figure(summary_table(per_run), out_dir),
            *budget_figures(budget_table(per_run), out_dir)]
