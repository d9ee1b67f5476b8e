"""Sample quality over training (METRICS.md "FID and friends"); the evaluation other suites reuse.

A job trains one (model, framework, device, seed) for the profile's step budget with
bench.training and evaluates every K steps on N samples, drawn as numpy from the adapter, so
both frameworks go through this one code path:

- 2-D points (ring8, grid25): fid_raw, precision/recall and density/coverage on the
  coordinates (`*_raw`), and PacGAN's mode statistics (modes_captured, high_quality_share,
  modes_kl_uniform).
- Images: fid_digits, kid_digits, precision/recall and density/coverage (`*_digits`) on the
  features of the harness's digits classifier at the data's resolution; classes_covered and
  classes_kl_uniform from its predictions (stacked digits: one digit per channel, 1,000
  classes); NDB on pixels (ndb, ndb_share, ndb_js). The classifier's held-out accuracy is
  recorded once per job. A progressive GAN's samples from an earlier, lower resolution are
  upsampled to the data's by nearest neighbour first, and tagged `upsampled`.
- fid_inception, only when a job asks (param fid_inception), at the last step only (minutes on
  a CPU). Without the Inception weights it is a `skipped` record that says how to provide them.

Every record of a job carries `dataset` and `n_samples` (N); its last samples go to the run's
samples/ folder for the report's grids and scatters. The settings of each profile
are in QUALITY_PROFILES; every one of them travels in the job's params, so a job describes
its own budget and its hash changes with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.adapter import Adapter, FamilyConfig
from bench.build import build_adapter
from bench.data import POINT_DATASETS
from bench.errors import UsageError
from bench.fresh_process import FreshProcessError, run_fresh
from bench.features import DigitsClassifier, digits_classifier, raw_features
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
from bench.records import Measurement
from bench.registry import family_config
from bench.training import Budget, Diverged, Evaluator, finite_samples, train
from bench.suite import Artifact, JobResult, Request

SUITE = "fid"
UNITS = {"modes_kl_uniform": "nat", "classes_kl_uniform": "nat", "ndb_js": "nat"}
SHOWN_IMAGES = 64  # the report's sample grid is 8 x 8


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

    def budget(self) -> Budget:
        return Budget(self.steps, self.eval_every)


@dataclass(frozen=True)
class QualityProfile:
    """A profile's settings; steps per family, since a step costs very different amounts."""

    steps: dict[str, int]
    default_steps: int
    eval_every: int
    n_samples: int
    kid_subsets: int
    kid_subset_size: int
    ndb_k: int

    def settings(self, model: str) -> QualitySettings:
        return QualitySettings(self.steps.get(model, self.default_steps), self.eval_every,
                               self.n_samples, self.kid_subsets, self.kid_subset_size, self.ndb_k)


# quick: minutes on 2 CPU cores, enough to see the curves move, not to converge.
# standard: a laptop or one GPU, about an hour for all families; full: the long runs.
# The progressive GAN's quick schedule reaches 32x32 after 56 steps (fade/stable 512 images).
# KID subsets are torch-fidelity's 1,000 samples, except in quick: with N = 1,000 every subset
# would be the whole set and the spread over subsets a meaningless 0.
QUALITY_PROFILES = {
    "quick": QualityProfile({"mlp_gan": 300, "dcgan": 150, "progan": 200}, 200,
                            eval_every=50, n_samples=1000, kid_subsets=20, kid_subset_size=500,
                            ndb_k=20),
    "standard": QualityProfile({"mlp_gan": 5000, "dcgan": 3000, "progan": 5000}, 3000,
                               eval_every=500, n_samples=2000, kid_subsets=100,
                               kid_subset_size=1000, ndb_k=50),
    "full": QualityProfile({"mlp_gan": 30_000, "dcgan": 20_000, "progan": 40_000}, 20_000,
                           eval_every=1000, n_samples=10_000, kid_subsets=100,
                           kid_subset_size=1000, ndb_k=100),
}


def quality_settings(profile: str, model: str) -> QualitySettings:
    if profile not in QUALITY_PROFILES:
        raise UsageError(f"unknown profile {profile!r}; use one of {', '.join(QUALITY_PROFILES)}")
    return QUALITY_PROFILES[profile].settings(model)


# --- jobs -----------------------------------------------------------------------------------

#: The datasets a suite trains a family on; None: the dataset of the family's profile.
DatasetChoice = Callable[[type[FamilyConfig], str], Sequence[str | None]]


def quality_jobs(suite: str, request: Request, datasets: DatasetChoice) -> list[Job]:
    """models x datasets x frameworks x devices x seeds; families that generate no distribution
    (style transfer) are left out."""
    out = []
    for model in request.models:
        family = family_config(model)
        if not family.generates_distribution:
            continue
        settings = quality_settings(request.profile, model)
        params = dataclasses.asdict(
            dataclasses.replace(settings, fid_inception=request.fid_inception))
        for dataset in datasets(family, request.profile):
            config = {} if dataset is None else {"dataset": dataset}
            out += [Job(suite=suite, model=model, framework=framework, device=device,
                        profile=request.profile, seed=seed, config=config, params=params,
                        threads=request.threads, timeout_s=request.timeout_s)
                    for framework in request.frameworks
                    for device in request.devices
                    for seed in range(request.seeds)]
    return out


def jobs(request: Request) -> list[Job]:
    return quality_jobs(SUITE, request, lambda family, profile: [None])


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


def upsample_nearest(images: np.ndarray, resolution: int) -> np.ndarray:
    """NHWC images at `resolution` (an integer multiple of theirs), each pixel repeated."""
    size = images.shape[1]
    if resolution % size:
        raise UsageError(f"samples of {size}x{size} cannot be upsampled to "
                         f"{resolution}x{resolution} by an integer factor")
    factor = resolution // size
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


def upsampling_note(adapter: Adapter, samples: np.ndarray, resolution: int) -> str:
    """'nearest RxR->SxS' when the model generates below the data's resolution, else ''.

    A progressive GAN may upsample inside its adapter already; its `resolution` tag tells.
    """
    generated = int(adapter.tags().get("resolution", samples.shape[1]))
    return f"nearest {generated}x{generated}->{resolution}x{resolution}" if (
        generated < resolution) else ""


@dataclass
class ImageQuality:
    """The evaluator for digit images: classifier features, predictions, and pixel bins."""

    classifier: DigitsClassifier
    real: np.ndarray
    settings: QualitySettings
    seed: int
    real_features: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.real_features = self.classifier.features(self.real)

    def __call__(self, adapter: Adapter) -> list[Measurement]:
        fake = finite_samples(adapter, len(self.real), self.seed)
        resolution = self.classifier.resolution
        note = upsampling_note(adapter, fake, resolution)
        fake = upsample_nearest(fake, resolution)
        features = self.classifier.features(fake)
        kid, kid_std = kid_from_features(self.real_features, features,
                                         subsets=self.settings.kid_subsets,
                                         subset_size=self.settings.kid_subset_size,
                                         seed=self.seed)
        classes = self.class_stats(fake)
        bins = ndb(self.real.reshape(len(self.real), -1), fake.reshape(len(fake), -1),
                   k=self.settings.ndb_k, seed=self.seed)
        values = {
            "fid_digits": fid_from_features(self.real_features, features),
            "kid_digits": kid,
            "kid_digits_std": kid_std,
            **neighbour_metrics(self.real_features, features, "digits"),
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
    return ImageQuality(classifier, real, settings, seed), [accuracy]


# --- fid_inception --------------------------------------------------------------------------

def inception_fid(real: np.ndarray, fake: np.ndarray, device: str, threads: int) -> float:
    """fid_inception of two image sets; UsageError with the reason when it cannot be computed.

    torch-fidelity imports torchvision, which must not share a process with tensorflow
    (DESIGN.md): the features come from a fresh process, for both frameworks alike.
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
    return Measurement("fid_inception", value, step=step)


# --- the job --------------------------------------------------------------------------------


def final_samples(adapter: Adapter, job: Job, dataset: str, n_points: int, step: int
                  ) -> list[Artifact]:
    """The last samples for the report's grids and scatters; none after a divergence."""
    points = dataset in POINT_DATASETS
    try:
        samples = finite_samples(adapter, n_points if points else SHOWN_IMAGES, job.seed)
    except Diverged:
        return []
    return [Artifact("samples", samples, {"dataset": dataset, "step": step, "trained": True})]


def execute(job: Job) -> JobResult:
    settings = QualitySettings(**job.params)
    built = build_adapter(job)
    config = built.config
    data = config.load_data(job.seed)
    real = reference_sample(data, settings.n_samples, job.seed)
    evaluate, once = make_evaluator(config, real, settings, job.seed)
    measurements = once + train(built.adapter, data, settings.budget(), evaluate, job.seed)
    if settings.fid_inception:
        last_step = measurements[-1].step
        measurements.append(inception_measurement(built.adapter, real, job, last_step))
    dataset = config.data_spec().name
    job_tags = {"dataset": dataset, "n_samples": len(real)}
    measurements = [dataclasses.replace(m, tags={**job_tags, **m.tags}) for m in measurements]
    return JobResult(measurements, batch_size=config.batch_size, env=built.env,
                     artifacts=final_samples(built.adapter, job, dataset, len(real),
                                             measurements[-1].step))


# --- summary tables -------------------------------------------------------------------------

FID_METRICS = ("fid_raw", "fid_digits", "fid_inception", "kid_digits", "precision_raw",
               "recall_raw", "density_raw", "coverage_raw", "precision_digits", "recall_digits",
               "density_digits", "coverage_digits", "diverged")
TABLE_KEYS = ["model", "dataset", "device", "n_samples", "metric"]


def final_values(frame: pd.DataFrame, suite: str, metrics: Sequence[str]) -> pd.DataFrame:
    """Each job's measurements at its last step (where it stopped, diverged or not)."""
    rows = frame[(frame["suite"] == suite) & (frame["status"] == "ok") & frame["step"].notna()]
    rows = rows[rows["step"] == rows.groupby("job_id")["step"].transform("max")]
    rows = rows[rows["metric"].isin(metrics)].copy()
    # Rows in the suite's metric order, not alphabetical.
    rows["metric"] = pd.Categorical(rows["metric"], [m for m in metrics if m in set(rows.metric)])
    return rows


def side_by_side(table: pd.DataFrame, frameworks: list[str]) -> pd.DataFrame:
    """Columns grouped per framework, in the order the frameworks were run."""
    columns = [c for fw in frameworks for c in table.columns if c.split(" ")[0] == fw]
    return table[columns].reset_index()


def quality_tables(frame: pd.DataFrame, suite: str, metrics: Sequence[str]
                   ) -> dict[str, pd.DataFrame]:
    """Final values per (model, framework, seed), and their mean and spread over seeds."""
    final = final_values(frame, suite, metrics)
    if final.empty:
        return {}
    frameworks = list(dict.fromkeys(final["framework"]))
    per_seed = final.pivot_table(index=[*TABLE_KEYS, "seed"], columns="framework",
                                 values="value", aggfunc="first", observed=True)
    stats = final.groupby([*TABLE_KEYS, "framework"], observed=True)["value"].agg(
        ["mean", "std", "count"]).rename(columns={"count": "seeds"}).unstack("framework")
    stats.columns = [f"{fw} {stat}" for stat, fw in stats.columns]
    return {f"{suite} final per seed": side_by_side(per_seed, frameworks),
            f"{suite} over seeds": side_by_side(stats, frameworks)}


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return quality_tables(frame, SUITE, FID_METRICS)
