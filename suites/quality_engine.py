"""The quality engine: training with evaluations along the way, shared by the quality suites.

The fid, mode-collapse and convergence suites are suites on it (docs/metrics.md).
A job trains one (model, framework, device, seed) for its step budget with bench.training and
evaluates every K steps on N samples, drawn as numpy from the adapter, so both frameworks go
through this one code path:

- 2-D points (ring8, grid25): fid_raw, precision/recall and density/coverage on the
  coordinates (`*_raw`), and PacGAN's mode statistics (modes_captured, high_quality_share,
  modes_kl_uniform).
- Images: fid_digits, kid_digits, precision/recall and density/coverage (`*_digits`) on the
  features of the harness's digits classifier at the data's resolution; classes_covered and
  classes_kl_uniform from its predictions (stacked digits: one digit per channel, 1,000
  classes); NDB on pixels (ndb, ndb_share, ndb_js). The classifier's held-out accuracy is
  recorded once per job. A progressive GAN's samples from an earlier, lower resolution are
  upsampled to the data's by nearest neighbour first, and tagged `upsampled`; the real
  images it is compared with are taken to its phase the same way (FamilyConfig.real_at_phase:
  pooled to its resolution, upsampled back), so the classifier and its features stay one.
  Such a model is evaluated at the end of every phase too, and its samples at the end of each
  resolution come back for the growth figure (suites.growth).
- fid_inception, only when a job asks (param fid_inception), at the last step only (minutes on
  a CPU), on its own sample count (inception_samples: 2,048, the feature dimension, from
  standard on; 10,000 in full). Without the Inception weights it is a `skipped` record that
  says how to provide them. Under 2,048 samples (quick, or a dataset with fewer images, like
  scikit-learn's 1,797 digits) the covariance is singular and the value biased, not comparable
  with published numbers: its record says so, `fid_inception_biased` true, with its
  `n_samples`.

Every record of a job carries `dataset` and `n_samples` (N); its last samples come back as an
artifact (dataset, step and `trained` tags) for the report's grids and scatters. The settings
of each profile are in PROFILES, a family's steps on its FamilyConfig (`quality_steps`: a
family without them is left out, bench.suite.served); every one of them travels in the job's
params, so a job describes its own budget and its hash changes with it.

Tables: each job's values at its last step, per seed and over seeds, frameworks side by side.
Figures: loss and metric curves against step, and the last samples (caption: seed and step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import registry
from bench.adapter import Adapter, FamilyConfig
from bench.build import build_adapter
from bench.data import POINT_DATASETS, upsample_nearest
from bench.errors import UsageError
from bench.features import DigitsClassifier, digits_classifier, raw_features
from bench.fresh_process import FreshProcessError, run_fresh
from bench.jobs import Job
from bench.metrics import (
    class_coverage,
    density_coverage,
    fid_from_features,
    kid_from_features,
    mode_stats_2d,
    ndb,
    precision_recall,
    stacked_labels,
)
from bench.profiles import profile_settings
from bench.records import ARTIFACT_METRIC, Measurement
from bench.registry import family_config
from bench.report.figures import Figure, SamplePanel, curves_figure, load_samples, sample_figure
from bench.report.tables import artifact_rows, framework_sort_key, ok_rows, text_column
from bench.suite import Artifact, Gate, JobResult, MetricSpec, Request, served
from bench.training import Budget, Diverged, Evaluator, finite_samples, train
from suites import growth

UNITS = {"modes_kl_uniform": "nat", "classes_kl_uniform": "nat", "ndb_js": "nat"}
SHOWN_IMAGES = 64  # the report's sample grid is 8 x 8
#: A job's headline metric: whichever of these its data gives (points or images).
QUALITY_METRICS = ("fid_raw", "fid_digits")


def judged(name: str, better: str, relative: float = 0.0, absolute: float = 0.0,
           **shown: object) -> MetricSpec:
    """A quality metric the baseline check gates: seeded runs compare their last values, and
    may worsen by max(relative * |baseline|, absolute); absolute alone for shares and counts,
    whose relative change near zero means nothing."""
    return MetricSpec(name, better=better, gate=Gate(relative, absolute), **shown)


#: The quality engine's metrics; the suites on it declare these (bench.suite). The summary
#: leads with the final FID and coverage.
METRICS = (
    MetricSpec("*_std"),  # the spread of an estimate (kid_*_std), not a quality
    *(judged(name, "lower", 0.20, 0.05, lead=True) for name in QUALITY_METRICS),
    judged("fid_*", "lower", 0.20, 0.05),
    judged("kid*", "lower", 0.25, 0.002),
    judged("precision*", "higher", absolute=0.05),
    judged("recall*", "higher", absolute=0.05),
    judged("density*", "higher", 0.10, 0.05),
    *(judged(f"coverage_{data}", "higher", absolute=0.05, lead=True)
      for data in ("raw", "digits")),
    judged("coverage*", "higher", absolute=0.05),
    judged("modes_captured", "higher", 0.10, 1),
    judged("modes_covered", "higher", 0.10, 1),
    judged("classes_covered", "higher", absolute=1),
    judged("high_quality_share", "higher", absolute=0.10, unit="%", scale=100,
           label="high quality share"),
    judged("*kl_uniform", "lower", 0.25, 0.05, unit="nat"),
    judged("ndb", "lower", 0.25, 2),
    judged("ndb_share", "lower", 0.25, 0.02, unit="%", scale=100, label="ndb share"),
    judged("ndb_js", "lower", 0.25, 0.01, unit="nat"),
    judged("diverged", "lower", absolute=0.5, flag=True),  # 0 or 1: a run that starts diverging
)
#: InceptionV3's pool features: fid_inception on fewer samples is biased (singular covariance).
INCEPTION_DIM = 2048


@dataclass(frozen=True)
class QualitySettings:
    """One job's budget and evaluation settings (its params, field by field)."""

    steps: int
    eval_every: int
    n_samples: int
    kid_subsets: int
    kid_subset_size: int
    ndb_k: int
    fid_inception: bool = False
    inception_samples: int = INCEPTION_DIM

    def budget(self, also_at: tuple[int, ...] = ()) -> Budget:
        return Budget(self.steps, self.eval_every, also_at)


@dataclass(frozen=True)
class QualityProfile:
    """A profile's evaluation settings; the steps are each family's (its `quality_steps`),
    and a family may evaluate less often or on its own sample count (FamilyConfig)."""

    eval_every: int
    n_samples: int
    kid_subsets: int
    kid_subset_size: int
    ndb_k: int
    inception_samples: int = INCEPTION_DIM

    def settings(self, family: type[FamilyConfig], profile: str) -> QualitySettings:
        """A family's settings at this profile; UsageError where it declares no quality run."""
        return QualitySettings(family.declared("quality_steps", profile),
                               family.quality_eval_every.get(profile, self.eval_every),
                               family.quality_samples or self.n_samples, self.kid_subsets,
                               self.kid_subset_size, self.ndb_k,
                               inception_samples=self.inception_samples)


# quick: minutes on 2 CPU cores, enough to see the curves move, not to converge.
# standard: a laptop or one GPU, about an hour for all families; full: the long runs.
# KID subsets are torch-fidelity's 1,000 samples, except in quick: with N = 1,000 every subset
# would be the whole set and the spread over subsets a meaningless 0.
# --fid-inception draws its own inception_samples: 2,048 (InceptionV3's feature dimension) in
# standard, 10,000 in full; quick's 1,000 keep a CPU run short, and their records say biased.
PROFILES = {
    "quick": QualityProfile(eval_every=50, n_samples=1000, kid_subsets=20, kid_subset_size=500,
                            ndb_k=20, inception_samples=1000),
    "standard": QualityProfile(eval_every=500, n_samples=2000, kid_subsets=100,
                               kid_subset_size=1000, ndb_k=50),
    "full": QualityProfile(eval_every=1000, n_samples=10_000, kid_subsets=100,
                           kid_subset_size=1000, ndb_k=100, inception_samples=10_000),
}


# --- jobs -----------------------------------------------------------------------------------

def training_mode(framework: str, device: str) -> str:
    """The mode a quality run trains in: the framework's default, as its users train (parity
    holds in every mode, so the paired numerics hold too); every record names it."""
    return registry.framework(framework).default_for(device)


#: The configs a suite trains a family on, as overrides of its profile's config ({}: the
#: profile's own): one per dataset, say, or per dataset and packing degree.
VariantChoice = Callable[[type[FamilyConfig], str], Sequence[dict[str, Any]]]


def quality_jobs(suite: str, request: Request, variants: VariantChoice) -> list[Job]:
    """models x variants x frameworks x devices x seeds, for the families that declare a
    quality run at the request's profile (`quality_steps`; bench.suite.served)."""
    profile = profile_settings(PROFILES, request.profile)

    def plan(model: str) -> tuple[QualitySettings, Sequence[dict[str, Any]]]:
        family = family_config(model)
        configs = variants(family, request.profile)
        if not configs:
            raise UsageError(f"{model} accepts none of the {suite} suite's datasets; choose "
                             "a family that does (gan-bench list)")
        settings = profile.settings(family, request.profile)
        if request.steps:
            settings = dataclasses.replace(settings, steps=request.steps)
        return settings, configs

    out = []
    for model, (settings, configs) in served(suite, request.models, plan).items():
        params = dataclasses.asdict(
            dataclasses.replace(settings, fid_inception=request.fid_inception))
        for config in configs:
            out += [Job(suite=suite, model=model, framework=framework, device=device,
                        mode=training_mode(framework, device), profile=request.profile, seed=seed,
                        config=config, params=params,
                        **request.runtime())
                    for framework in request.frameworks
                    for device in request.devices
                    for seed in range(request.seeds)]
    return out


# --- evaluation -----------------------------------------------------------------------------


def neighbour_metrics(real: np.ndarray, fake: np.ndarray, features: str) -> dict[str, float]:
    """Precision, recall (k = 3), density and coverage (k = 5), named after their features."""
    precision, recall = precision_recall(real, fake)
    density, coverage = density_coverage(real, fake)
    return {f"precision_{features}": precision, f"recall_{features}": recall,
            f"density_{features}": density, f"coverage_{features}": coverage}


def as_measurements(values: dict[str, float], tags: dict[str, Any] | None = None
                    ) -> list[Measurement]:
    return [Measurement(name, float(value), UNITS.get(name, ""), tags=dict(tags or {}))
            for name, value in values.items()]


@dataclass
class PointQuality:
    """The evaluator for 2-D mixtures: metrics on the raw coordinates and PacGAN's modes."""

    dataset: str
    real: np.ndarray
    seed: int

    def __call__(self, adapter: Adapter) -> list[Measurement]:
        fake = finite_samples(adapter, len(self.real), self.seed)
        modes = mode_stats_2d(fake, self.dataset)
        return as_measurements({
            "fid_raw": fid_from_features(raw_features(self.real), raw_features(fake)),
            **neighbour_metrics(self.real, fake, "raw"),
            "modes_captured": modes["modes_captured"],
            "high_quality_share": modes["high_quality_share"],
            "modes_kl_uniform": modes["kl_uniform"],
        })


def upsampling_note(adapter: Adapter, samples: np.ndarray, resolution: int) -> str:
    """'nearest RxR->SxS' when the model generates below the data's resolution, else ''.

    A progressive GAN may upsample inside its adapter already; its `resolution` tag tells.
    """
    generated = int(adapter.tags().get("resolution", samples.shape[1]))
    return f"nearest {generated}x{generated}->{resolution}x{resolution}" if (
        generated < resolution) else ""


def data_as_it_is(real: np.ndarray, phase: Mapping[str, str]) -> np.ndarray:
    return real


@dataclass
class ImageQuality:
    """The evaluator for digit images: classifier features, predictions, and pixel bins.

    The samples are compared with `phase_target(real, adapter.tags())`: for a model that
    grows, the real images at its current resolution (FamilyConfig.real_at_phase).
    """

    classifier: DigitsClassifier
    real: np.ndarray
    settings: QualitySettings
    seed: int
    phase_target: Callable[[np.ndarray, Mapping[str, str]], np.ndarray] = data_as_it_is
    # The last phase's target images and their features: a phase lasts many evaluations.
    _target: tuple[dict[str, str], np.ndarray, np.ndarray] | None = field(default=None,
                                                                          init=False)

    def target(self, phase: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
        """The real images to compare with at `phase`, and their features."""
        if self._target is None or self._target[0] != phase:
            real = self.phase_target(self.real, phase)
            self._target = (phase, real, self.classifier.features(real))
        return self._target[1], self._target[2]

    def __call__(self, adapter: Adapter) -> list[Measurement]:
        real, real_features = self.target(adapter.tags())
        fake = finite_samples(adapter, len(real), self.seed)
        resolution = self.classifier.resolution
        note = upsampling_note(adapter, fake, resolution)
        fake = upsample_nearest(fake, resolution)
        features = self.classifier.features(fake)
        kid, kid_std = kid_from_features(real_features, features,
                                         subsets=self.settings.kid_subsets,
                                         subset_size=self.settings.kid_subset_size,
                                         seed=self.seed)
        classes = self.class_stats(fake)
        bins = ndb(real.reshape(len(real), -1), fake.reshape(len(fake), -1),
                   k=self.settings.ndb_k, seed=self.seed)
        values = {
            "fid_digits": fid_from_features(real_features, features),
            "kid_digits": kid,
            "kid_digits_std": kid_std,
            **neighbour_metrics(real_features, features, "digits"),
            "classes_covered": classes["classes_covered"],
            "classes_kl_uniform": classes["kl_uniform"],
            "ndb": bins["ndb"],
            "ndb_share": bins["ndb_share"],
            "ndb_js": bins["js"],
        }
        return as_measurements(values, {"ndb_k": self.settings.ndb_k} | (
            {"upsampled": note} if note else {}))

    def class_stats(self, images: np.ndarray) -> dict:
        """Classes covered and KL from uniform: 10 digits, or 1,000 stacked-digit modes."""
        if images.shape[3] == 1:
            return class_coverage(self.classifier.predict(images), 10)
        return class_coverage(stacked_labels(self.classifier.predict_channels(images)), 1000)


def reference_sample(data: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The real samples every evaluation of a job compares with: N drawn once, seeded."""
    rng = np.random.default_rng(seed)
    return data[rng.choice(len(data), min(n, len(data)), replace=False)]


def make_evaluator(config: FamilyConfig, real: np.ndarray, settings: QualitySettings,
                   seed: int) -> tuple[Evaluator, list[Measurement]]:
    """The evaluator for the config's data, and the measurements made once per job."""
    spec = config.data_spec()
    if spec.name in POINT_DATASETS:
        return PointQuality(spec.name, real, seed), []
    # One classifier seed for every job, so that all runs share the same features.
    classifier = digits_classifier(spec.resolution, seed=0)
    accuracy = Measurement("classifier_test_accuracy", classifier.test_accuracy,
                           tags={"classifier": f"digits {spec.resolution}x{spec.resolution}"})
    return ImageQuality(classifier, real, settings, seed, config.real_at_phase), [accuracy]


# --- fid_inception --------------------------------------------------------------------------

def inception_fid(real: np.ndarray, fake: np.ndarray, device: str, threads: int) -> float:
    """fid_inception of two image sets; UsageError with the reason when it cannot be computed.

    torch-fidelity imports torchvision, which must not share a process with tensorflow
    (docs/design.md): the features come from a fresh process, for both frameworks alike.
    """
    try:
        features = [run_fresh("bench.features:inception_features",
                              {"images": images, "device": device}, threads=threads)
                    for images in (real, fake)]
    except FreshProcessError as exc:
        raise UsageError(f"Inception features failed: {exc.reason}") from None
    return fid_from_features(*features)


def inception_measurement(adapter: Adapter, real: np.ndarray, job: Job, step: int
                          ) -> Measurement:
    """fid_inception at the last step, or a `skipped` record saying why it was not computed."""
    try:
        if real.ndim != 4:
            raise UsageError("fid_inception needs images; this dataset is 2-D points")
        fake = finite_samples(adapter, len(real), job.seed)
        value = inception_fid(real, fake, job.device, job.threads)
    except (UsageError, Diverged) as exc:
        # The record's own status: the job's other measurements stand.
        return Measurement("fid_inception", float("nan"), step=step,
                           tags={"status": "skipped", "error": f"fid_inception: {exc}"})
    biased = len(real) < INCEPTION_DIM
    return Measurement("fid_inception", value, step=step,
                       tags={"n_samples": len(real), "fid_inception_biased": biased})


# --- the job --------------------------------------------------------------------------------


def final_samples(adapter: Adapter, job: Job, tags: dict[str, Any]) -> list[Artifact]:
    """The last samples for the report's grids and scatters (as many points as the evaluation
    draws, or one grid of images); none after a divergence."""
    points = tags["dataset"] in POINT_DATASETS
    try:
        samples = finite_samples(adapter, tags["n_samples"] if points else SHOWN_IMAGES,
                                 job.seed)
    except Diverged:
        return []
    return [Artifact("samples", samples, {**tags, "trained": True})]


def execute(job: Job) -> JobResult:
    settings = QualitySettings(**job.params)
    built = build_adapter(job)
    config = built.config
    data = config.load_data(job.seed)
    real = reference_sample(data, settings.n_samples, job.seed)
    evaluate, once = make_evaluator(config, real, settings, job.seed)
    snapshots = growth.PhaseSamples(evaluate, SHOWN_IMAGES, job.seed)
    measurements = once + train(built.adapter, data, settings.budget(config.phase_end_steps()),
                                snapshots, job.seed)
    if settings.fid_inception:
        last_step = measurements[-1].step
        inception_real = reference_sample(data, settings.inception_samples, job.seed)
        measurements.append(inception_measurement(built.adapter, inception_real, job, last_step))
    job_tags = {"dataset": config.data_spec().name, "n_samples": len(real)}
    measurements = [dataclasses.replace(m, tags={**job_tags, **m.tags}) for m in measurements]
    samples = final_samples(built.adapter, job, {**job_tags, "step": measurements[-1].step})
    return JobResult(measurements, batch_size=config.batch_size, env=built.env,
                     artifacts=samples + snapshots.artifacts(measurements, job_tags))


# --- summary tables -------------------------------------------------------------------------

TABLE_KEYS = ["model", "dataset", "device", "n_samples", "metric"]


def last_step_records(frame: pd.DataFrame, suite: str, metrics: Sequence[str]) -> pd.DataFrame:
    """Each job's measurements at its last step (where it stopped, diverged or not)."""
    rows = ok_rows(frame, suite)
    rows = rows[rows["step"].notna() & (rows["metric"] != ARTIFACT_METRIC)]
    rows = rows[rows["step"] == rows.groupby("job_id")["step"].transform("max")]
    rows = rows[rows["metric"].isin(metrics)].copy()
    # Rows in the suite's metric order, not alphabetical.
    rows["metric"] = pd.Categorical(rows["metric"], [m for m in metrics if m in set(rows.metric)])
    return rows


def framework_columns(table: pd.DataFrame, frameworks: list[str]) -> pd.DataFrame:
    """Columns grouped per framework, in the order the frameworks were run."""
    columns = [c for fw in frameworks for c in table.columns if c.split(" ")[0] == fw]
    return table[columns].reset_index()


def quality_tables(frame: pd.DataFrame, suite: str, metrics: Sequence[str]
                   ) -> dict[str, pd.DataFrame]:
    """Final values per (model, framework, seed), and their mean and spread over seeds."""
    final = last_step_records(frame, suite, metrics)
    if final.empty:
        return {}
    frameworks = list(dict.fromkeys(final["framework"]))
    per_seed = final.pivot_table(index=[*TABLE_KEYS, "seed"], columns="framework",
                                 values="value", aggfunc="first", observed=True)
    stats = final.groupby([*TABLE_KEYS, "framework"], observed=True)["value"].agg(
        ["mean", "std", "count"]).rename(columns={"count": "seeds"}).unstack("framework")
    stats.columns = [f"{fw} {stat}" for stat, fw in stats.columns]
    return {f"{suite} final per seed": framework_columns(per_seed, frameworks),
            f"{suite} over seeds": framework_columns(stats, frameworks)}


# --- figures --------------------------------------------------------------------------------


def is_loss(metric: str) -> bool:
    return metric.startswith("loss_")


def is_step_metric(metric: str) -> bool:
    """Quality metrics tracked during training (fid_*, kid, ...): not losses, not spreads."""
    return not is_loss(metric) and not metric.endswith("_std") and metric != ARTIFACT_METRIC


def curve_records(frame: pd.DataFrame, suite: str, wanted: Callable[[str], bool]
                  ) -> pd.DataFrame:
    """The suite's records of curves: metric chosen by `wanted`, with a step.

    When a run perturbs hyperparameters, only the base configuration is drawn: every
    perturbation's curve in one panel is unreadable, and the convergence heatmap
    summarises them.
    """
    rows = ok_rows(frame, suite)
    rows = rows[rows["metric"].map(wanted).astype(bool)]
    rows = rows[pd.to_numeric(rows["step"], errors="coerce").notna()]
    if rows.empty:
        return rows
    perturbation = text_column(rows, "perturbation", "base")
    if (perturbation == "base").any():
        rows = rows[perturbation == "base"]
    return rows.assign(step=pd.to_numeric(rows["step"]), dataset=text_column(rows, "dataset"))


def curves_figures(frame: pd.DataFrame, out_dir: Path, suite: str, name: str, title: str,
                   wanted: Callable[[str], bool]) -> list[Figure]:
    """<name>-<suite>: a panel per (model, dataset, metric) with a curve of at least 2 steps."""
    curves = curve_records(frame, suite, wanted)
    if curves.empty:
        return []
    panels = [(" ".join(filter(None, key)), panel) for key, panel in
              curves.groupby(["model", "dataset", "metric"], sort=True)
              if panel.groupby("job_id")["step"].nunique().max() >= 2]
    if not panels:
        return []
    return [curves_figure(panels, out_dir, f"{name}-{suite}", f"{title} ({suite})")]


def sample_caption(row: pd.Series, many_devices: bool) -> str:
    device = f" {row['device']}" if many_devices else ""
    return f"{row['framework']}{device} seed {int(row['seed'])}, step {int(row['step'])}"


def sample_figures(frame: pd.DataFrame, out_dir: Path, suite: str) -> list[Figure]:
    """Per (model, dataset): each job's last samples, captioned with its seed and step."""
    rows = artifact_rows(frame, suite)
    rows = rows[~growth.is_phase_end(rows)]  # those are the growth figure's
    if rows.empty:
        return []
    rows = rows.assign(dataset=text_column(rows, "dataset"),
                       order=rows["framework"].map(framework_sort_key))
    many_devices = rows["device"].nunique() > 1
    figures = []
    for (model, dataset), group in rows.groupby(["model", "dataset"], sort=True):
        group = group.sort_values(["order", "device", "seed"])
        panels = [SamplePanel(sample_caption(row, many_devices), row["framework"],
                              load_samples(row["path"])) for _, row in group.iterrows()]
        title = f"Samples after training: {model} on {dataset} ({suite})"
        figures.append(sample_figure(panels, out_dir, f"samples-{suite}-{model}-{dataset}",
                                     title))
    return figures


def quality_figures(frame: pd.DataFrame, out_dir: Path, suite: str) -> list[Figure]:
    """Loss curves, metric curves, samples, and the growth of models that grow."""
    return [*curves_figures(frame, out_dir, suite, "losses", "Loss curves", is_loss),
            *curves_figures(frame, out_dir, suite, "metrics", "Metrics against step",
                            is_step_metric),
            *sample_figures(frame, out_dir, suite),
            *growth.growth_figures(frame, out_dir, suite, QUALITY_METRICS)]
