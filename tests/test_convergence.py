"""The convergence suite: job expansion, outcome classification on synthetic curves, summary
tables on synthetic records, and one tiny real run (both frameworks, in worker processes)
where one perturbation diverges."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from bench.data import (
    DataSpec,
    load_digits_images,
    load_digits_labels,
    mixture_params,
    sample_mixture,
)
from bench.errors import UsageError
from bench.features import digits_classifier, raw_features
from bench.jobs import Job
from bench.metrics import fid_from_features, mode_stats_2d
from bench.records import Measurement, RecordWriter, load_frame, make_record
from bench.registry import load_suite, models
from bench.report.pages import write_report
from bench.runner import RunOptions, run
from bench.suite import Request
from conftest import TESTS, invoke, run_python
from implementations.spec.mlp_gan import MLPGANConfig
from suites import convergence, fid, quality_engine
from suites.convergence import (
    BETA1,
    COLLAPSED,
    CONVERGED,
    DIVERGED,
    LR,
    NOT_CONVERGED,
    UNDETERMINED,
    Criteria,
    Curve,
    Point,
    Structure,
    Verdict,
    classify,
    criteria_for,
    run_curve,
)

DISCRIMINATOR_WON = convergence.DISCRIMINATOR_WON


def request_for(*models: str, profile: str = "quick", seeds: int = 1) -> Request:
    return Request(models=models, frameworks=("torch", "tf"), profile=profile, seeds=seeds)


def labels(jobs: list[Job], model: str, dataset: str) -> set[str]:
    return {j.perturbation for j in jobs if j.model == model and j.config["dataset"] == dataset}


# --- jobs -----------------------------------------------------------------------------------


def test_quick_runs_the_mlp_gan_on_ring8_and_digits_with_few_perturbations():
    jobs = convergence.jobs(request_for("mlp_gan", "style_transfer"))
    assert {(j.model, j.config["dataset"]) for j in jobs} == {("mlp_gan", "ring8"),
                                                            ("mlp_gan", "digits")}
    assert labels(jobs, "mlp_gan", "ring8") == {"base", "lr=x0.1", "lr=x10", "beta1=0.9"}
    assert len(jobs) == 2 * 4 * 2 * 1  # datasets x perturbations x frameworks x seeds
    by_label = {j.perturbation: j.config for j in jobs if j.config["dataset"] == "ring8"}
    assert by_label["lr=x0.1"] == {"dataset": "ring8", "lr": pytest.approx(2e-5)}
    assert by_label["lr=x10"]["lr"] == pytest.approx(2e-3)
    assert by_label["beta1=0.9"] == {"dataset": "ring8", "beta1": 0.9}
    assert by_label["base"] == {"dataset": "ring8"}
    assert {j.params["steps"] for j in jobs} == {2000}
    assert {j.suite for j in jobs} == {"convergence"}
    assert {(j.framework, j.mode) for j in jobs} == {("torch", "eager"), ("tf", "compiled")}


def test_both_frameworks_get_the_same_points_and_seeds_and_every_run_its_own_id():
    jobs = convergence.jobs(request_for("mlp_gan", "dcgan", "progan", profile="standard",
                                        seeds=4))
    points = {fw: sorted((j.model, j.perturbation, j.seed, str(sorted(j.config.items())),
                          str(sorted(j.params.items())))
                         for j in jobs if j.framework == fw) for fw in ("torch", "tf")}
    assert points["torch"] == points["tf"]
    assert {j.seed for j in jobs} == {0, 1, 2, 3}  # the request's seeds, when it asks for more
    assert len({j.job_id for j in jobs}) == len(jobs)
    assert [j.job_id for j in jobs] == [j.job_id for j in convergence.jobs(
        request_for("mlp_gan", "dcgan", "progan", profile="standard", seeds=4))]


def test_standard_perturbs_only_the_axes_a_family_has_and_skips_the_base_values():
    jobs = convergence.jobs(request_for("mlp_gan", "dcgan", "progan", profile="standard"))
    assert {j.seed for j in jobs} == {0, 1, 2}  # --seeds left at 1: the profile's 3
    common = {"base", "lr=x0.1", "lr=x0.3", "lr=x3", "lr=x10", "batch_size=x0.5",
              "batch_size=x2", "latent=x0.5", "latent=x2"}
    # beta1 0.5 and d_steps 1 are the BCE families' base; beta1 0 and gp_weight 10 ProGAN's.
    bce = common | {"beta1=0", "beta1=0.9", "d_steps=2", "d_steps=5"}
    assert labels(jobs, "mlp_gan", "ring8") == labels(jobs, "mlp_gan", "digits") == bce
    assert labels(jobs, "dcgan", "digits") == bce
    assert labels(jobs, "progan", "digits") == common | {"beta1=0.5", "beta1=0.9",
                                                         "gp_weight=1", "gp_weight=100"}
    latent = {(j.config["dataset"], j.perturbation): j.config["latent"] for j in jobs
              if j.model == "mlp_gan" and j.perturbation.startswith("latent")}
    # The MLP GAN's latent 0 means 2 for points and 100 for images: those are scaled.
    assert latent == {("ring8", "latent=x0.5"): 1, ("ring8", "latent=x2"): 4,
                      ("digits", "latent=x0.5"): 50, ("digits", "latent=x2"): 200}
    batch = {j.config["batch_size"] for j in jobs if j.perturbation.startswith("batch_size")}
    assert batch == {32, 128} and all(isinstance(b, int) for b in batch)


def test_random_search_samples_every_axis_the_same_way_for_both_frameworks(monkeypatch):
    search = dataclasses.replace(convergence.PROFILES["standard"], search=6)
    monkeypatch.setitem(convergence.PROFILES, "standard", search)
    jobs = [j for j in convergence.jobs(request_for("progan", profile="standard"))
            if j.perturbation.startswith("random=")]
    configs = {fw: {(j.perturbation, j.seed): j.config for j in jobs if j.framework == fw}
               for fw in ("torch", "tf")}
    assert configs["torch"] == configs["tf"]
    assert {label for label, _ in configs["torch"]} == {f"random={i}" for i in range(6)}
    drawn = {key for config in configs["torch"].values() for key in config}
    assert drawn == {"dataset", "lr", "beta1", "batch_size", "latent", "gp_weight"}
    base = MLPGANConfig.for_profile("standard")
    shorter = convergence.random_search(base, [LR, BETA1], 2)
    assert convergence.random_search(base, [LR, BETA1], 5)[:2] == shorter  # it extends


def test_a_family_without_a_quick_study_is_refused_with_the_profiles_it_has():
    with pytest.raises(UsageError, match="the convergence suite cannot run dcgan: dcgan declares "
                                         "no convergence_data for the quick profile; use "
                                         "--profile standard or full"):
        convergence.jobs(request_for("dcgan"))
    with pytest.raises(UsageError, match="unknown profile"):
        convergence.jobs(request_for("mlp_gan", profile="huge"))


def test_families_left_out_are_named_on_one_line_on_stderr(capsys):
    jobs = convergence.jobs(request_for("mlp_gan", "dcgan", "style_transfer"))
    assert {j.model for j in jobs} == {"mlp_gan"}
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("the convergence suite leaves out dcgan, style_transfer: dcgan "
                           "declares no convergence_data for the quick profile")
    assert "style_transfer declares no convergence_data" in line


def test_style_transfer_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    done = invoke("run", "convergence", "--models", "style_transfer", "--frameworks", "torch",
                  "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "cannot run style_transfer: style_transfer declares no convergence_data" in line
    assert "choose a family that does (gan-bench list)" in line
    assert not (tmp_path / "run").exists()  # refused before a run folder was made


@dataclass(frozen=True)
class Declared(MLPGANConfig):
    """The MLP GAN with a study of its own: the suite reads it from the family alone."""

    family: ClassVar[str] = "declared"
    convergence_data: ClassVar[dict] = {"quick": ("grid25",)}
    convergence_steps: ClassVar[dict] = {"quick": 40}
    convergence_axes: ClassVar[tuple[str, ...]] = ("beta1",)
    d_won_loss: ClassVar[float | None] = None


def test_a_family_runs_the_data_steps_and_axes_it_declares(monkeypatch):
    monkeypatch.setattr(convergence, "family_config",
                        {"declared": Declared, "mlp_gan": MLPGANConfig}.__getitem__)
    jobs = convergence.jobs(request_for("declared"))
    assert {j.config["dataset"] for j in jobs} == {"grid25"}
    assert labels(jobs, "declared", "grid25") == {"base", "beta1=0.9"}  # lr: not declared
    assert {(j.params["steps"], j.params["eval_every"]) for j in jobs} == {(40, 5)}
    assert criteria_for("declared", DataSpec("grid25"), 1000).d_won_loss is None
    for axes, problem in ((("lr", "gp_weight"), "'gp_weight', which its config has no field for"),
                          (("lr", "momentum"), "axis 'momentum'; the suite perturbs lr, beta1")):
        monkeypatch.setattr(Declared, "convergence_axes", axes)
        with pytest.raises(UsageError, match=problem):
            convergence.jobs(request_for("declared"))
    monkeypatch.setattr(Declared, "convergence_data", {"quick": ("mnist",)})
    with pytest.raises(UsageError, match="declared declares convergence data mnist, which the "
                                         "convergence suite has no thresholds for"):
        convergence.jobs(request_for("declared"))


@pytest.fixture
def plugins(monkeypatch):
    """The plug-in distributions of tests/plugins installed (as tests/test_plugins.py does)."""
    monkeypatch.syspath_prepend(str(TESTS / "plugins"))


def test_a_plug_in_family_enters_convergence_and_quality_by_its_declarations(plugins, capsys):
    jobs = convergence.jobs(request_for("affine_gan", "mlp_gan"))
    affine = [j for j in jobs if j.model == "affine_gan"]
    assert labels(affine, "affine_gan", "ring8") == {"base", "lr=x0.1", "lr=x10", "beta1=0.9"}
    assert {j.params["steps"] for j in affine} == {200}
    assert criteria_for("affine_gan", DataSpec("ring8"), 1000).d_won_loss == 0.1
    assert {j.model for j in fid.jobs(request_for("affine_gan"))} == {"affine_gan"}
    assert capsys.readouterr().err == ""
    standard = convergence.jobs(request_for("affine_gan", "mlp_gan", profile="standard"))
    assert {j.model for j in standard} == {"mlp_gan"}
    assert ("leaves out affine_gan: affine_gan declares no convergence_data for the standard "
            "profile; use --profile quick") in capsys.readouterr().err


def test_suite_is_registered_and_imports_no_framework():
    assert load_suite("convergence") is convergence
    done = run_python("import sys, suites.convergence; "
                      "print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))")
    assert done.stdout.strip() == "[]"


# --- outcomes -------------------------------------------------------------------------------

RING = Criteria("fid_raw", 0.05, "modes_captured", 6, 6, d_won_loss=0.1,
                judged_from=0.04, structure=Structure(0.9, 0.06))
DIGITS = Criteria("fid_digits", 10, "classes_covered", 10, 10, d_won_loss=0.1, trained_under=36)


def curve(quality, coverage, loss_d=None, high_quality=None, diverged=False, kl=None) -> Curve:
    n = len(quality)
    points = [Point(100 * (i + 1), q, c, h, d, k) for i, (q, c, h, d, k) in enumerate(zip(
        quality, coverage, high_quality or [0.95] * n, loss_d or [1.3] * n, kl or [0.01] * n,
        strict=True))]
    return Curve(points, diverged)


@pytest.mark.parametrize(("run", "expected", "reached"), [
    (curve([0.9, 0.2, 0.04, 0.03], [3, 5, 7, 8]), CONVERGED, 300),
    # Met at step 200, lost by the end: not converged, but the first step is kept.
    (curve([0.3, 0.04, 0.2, 0.3], [5, 8, 8, 7]), NOT_CONVERGED, 200),
    (curve([0.9, 0.5, 0.3, 0.2], [6, 6, 4, 2]), COLLAPSED, None),
    # A blurry G: its few high-quality samples (under 5 per mode) capture few modes, which
    # says nothing of collapse; and fid_raw alone (two moments) passes it.
    (curve([0.9, 0.2, 0.01, 0.002], [1, 2, 4, 5], high_quality=[0.0, 0.001, 0.02, 0.039]),
     UNDETERMINED, None),
    # As many high-quality samples as the judgement needs: few modes are a collapse.
    (curve([0.9, 0.2, 0.01, 0.002], [1, 2, 4, 5], high_quality=[0.0, 0.001, 0.02, 0.04]),
     COLLAPSED, None),
    # D's loss near 0 and G stuck: D won (even though G also lost modes).
    (curve([2.0, 1.5, 1.6, 1.7], [2, 1, 1, 1], loss_d=[0.5, 0.2, 0.05, 0.02]),
     DISCRIMINATOR_WON, None),
    # D's loss near 0 but G still improving: not D's win.
    (curve([2.0, 1.5, 0.9, 0.6], [6, 6, 7, 7], loss_d=[0.5, 0.2, 0.05, 0.02]),
     NOT_CONVERGED, None),
    (curve([0.9, 0.04, math.nan], [3, 7, math.nan], loss_d=[1.3, 1.2, math.nan],
           diverged=True), DIVERGED, 200),
    # Every mode and fid_raw fine, but samples spread round the ring (few near a mode), or
    # the modes' weights far from even: not the real data's structure.
    (curve([0.3, 0.01, 0.005], [8, 8, 8], high_quality=[0.02, 0.07, 0.08]), NOT_CONVERGED, None),
    (curve([0.3, 0.01, 0.005], [8, 8, 8], kl=[0.5, 0.3, 0.3]), NOT_CONVERGED, None),
])
def test_each_outcome_on_a_synthetic_curve(run, expected, reached):
    verdict = classify(run, RING)
    assert verdict.outcome == expected
    assert verdict.steps_to_threshold == reached
    assert verdict.final == (None if expected == DIVERGED else run.points[-1])


def test_images_judge_coverage_without_a_high_quality_share():
    nan = [math.nan] * 3
    # One class, but nothing digit-like (fid over the noisy-digits anchor): not a collapse.
    assert classify(curve([900, 600, 500], [1, 1, 1], high_quality=nan), DIGITS).outcome == (
        NOT_CONVERGED)
    assert classify(curve([400, 30, 20], [4, 8, 8], high_quality=nan), DIGITS).outcome == (
        COLLAPSED)
    assert classify(curve([400, 12, 8], [4, 9, 9], high_quality=nan), DIGITS).outcome == (
        COLLAPSED)  # converged needs all ten classes
    good = curve([400, 12, 8], [4, 9, 10], high_quality=nan)
    assert classify(good, DIGITS) == Verdict(CONVERGED, 300, good.points[-1])


def test_a_wgan_critic_never_wins_and_one_evaluation_shows_no_trend():
    stuck = curve([2.0, 2.0, 2.0, 2.0], [6, 6, 6, 6], loss_d=[0.0] * 4)
    assert classify(stuck, dataclasses.replace(RING, d_won_loss=None)).outcome == NOT_CONVERGED
    assert classify(stuck, RING).outcome == DISCRIMINATOR_WON
    assert classify(curve([2.0], [6], loss_d=[0.0]), RING).outcome == NOT_CONVERGED
    assert criteria_for("progan", DataSpec("digits", 32), 1000).d_won_loss is None
    assert criteria_for("dcgan", DataSpec("digits", 32), 1000).d_won_loss == 0.1
    with pytest.raises(UsageError, match="dcgan declares convergence data stacked_digits, "
                                         "which the convergence suite has no thresholds for"):
        criteria_for("dcgan", DataSpec("stacked_digits", 32), 1000)


def test_the_curve_is_read_from_the_training_loops_measurements():
    # What bench.training returns for a run that diverges at its third evaluation.
    measured = [Measurement("classifier_test_accuracy", 0.98)]
    for step, (loss, fid_raw, modes) in zip((10, 20), ((1.3, 0.4, 4), (1.2, 0.03, 7)),
                                            strict=True):
        measured += [Measurement("loss_d", loss, step=step), Measurement("loss_g", 0.7, step=step),
                     Measurement("fid_raw", fid_raw, step=step),
                     Measurement("modes_captured", modes, step=step),
                     Measurement("modes_kl_uniform", 0.02, step=step),
                     Measurement("high_quality_share", 0.95, step=step)]
    measured += [Measurement("loss_d", math.nan, step=30),
                 Measurement("diverged", 1.0, step=30), Measurement("steps_trained", 30, step=30)]
    read = run_curve(measured, RING)
    assert [p.step for p in read.points] == [10, 20, 30] and read.diverged
    assert read.points[1] == Point(20, 0.03, 7, 0.95, 1.2, 0.02)
    assert math.isnan(read.points[2].quality) and math.isnan(read.points[2].loss_d)
    verdict = classify(read, RING)
    assert (verdict.outcome, verdict.steps_to_threshold) == (DIVERGED, 20)


class RealData:
    """A stand-in adapter whose samples are the real data: every criterion must pass it."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def sample(self, n: int, seed: int) -> np.ndarray:
        return self.data[np.random.default_rng(seed).choice(len(self.data), n)]

    def tags(self) -> dict[str, str]:
        return {}


def test_criteria_name_metrics_the_quality_evaluators_produce_and_real_data_passes(tmp_path):
    # A misspelt name would read as NaN and every run would quietly fail to converge.
    ring = sample_mixture("ring8", 1000, np.random.default_rng(0))
    evaluators = {"ring8": quality_engine.PointQuality("ring8", ring[:500], seed=1)}
    images = load_digits_images(8)
    settings = quality_engine.QualitySettings(1, 1, 500, kid_subsets=2, kid_subset_size=100,
                                              ndb_k=5)
    evaluators["digits"] = quality_engine.ImageQuality(digits_classifier(8, cache_dir=tmp_path),
                                                       images[:500], settings, seed=1)
    data = {"ring8": ring[500:], "digits": images[500:]}
    for dataset, evaluate in evaluators.items():
        got = {m.metric: m.value for m in evaluate(RealData(data[dataset]))}
        # The names matter here (at 8x8 and 500 samples, for speed); the thresholds at each
        # profile's count are tested below.
        criteria = criteria_for("mlp_gan", DataSpec(dataset, 28), 1000)
        point = Point(1, got[criteria.metric], got[criteria.coverage],
                      got.get("high_quality_share", math.nan), 1.3,
                      got.get("modes_kl_uniform", math.nan))
        assert criteria.met(point), (dataset, got)


def evaluated(fake: np.ndarray, dataset: str, rng: np.random.Generator) -> Curve:
    """One evaluation of 2-D samples as the point evaluator scores them, against real ones."""
    real = sample_mixture(dataset, len(fake), rng)
    stats = mode_stats_2d(fake, dataset)
    return Curve([Point(1, fid_from_features(raw_features(real), raw_features(fake)),
                        stats["modes_captured"], stats["high_quality_share"], 1.3,
                        stats["kl_uniform"])], diverged=False)


def uniform_ring(n: int, rng: np.random.Generator) -> np.ndarray:
    """Samples spread evenly round ring8's circle, with the data's radial spread: no modes."""
    angles = rng.uniform(0, 2 * np.pi, n)
    radii = 1 + 0.01 * rng.standard_normal(n)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def blurred_grid(n: int, rng: np.random.Generator) -> np.ndarray:
    """grid25's modes, twice as wide as the data's."""
    means, sigma = mixture_params("grid25")
    return means[rng.integers(len(means), size=n)] + 2 * sigma * rng.standard_normal((n, 2))


def untrained(n: int, rng: np.random.Generator) -> np.ndarray:
    """What an untrained MLP G draws (weights N(0, 0.02), biases 0): a small blob near the
    origin, off centre by its first layers' random weights."""
    return rng.normal(0, 0.15, 2) + 0.1 * rng.standard_normal((n, 2))


GENERATORS = {  # (dataset, generator): the outcome the rules give it
    ("ring8", "real"): CONVERGED, ("grid25", "real"): CONVERGED,
    ("ring8", "uniform ring"): NOT_CONVERGED, ("grid25", "blurred grid"): NOT_CONVERGED,
    ("ring8", "one mode"): COLLAPSED, ("grid25", "one mode"): COLLAPSED,
    # No sample near a mode: nothing to judge. (On grid25 the origin is a mode, so there an
    # untrained G reads as collapsed onto it: the mode statistics cannot tell the two apart.)
    ("ring8", "untrained"): UNDETERMINED,
}
DRAWS = 100  # per generator and count: 99 % of draws is then all but one


def draw(dataset: str, generator: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if generator == "real":
        return sample_mixture(dataset, n, rng)
    if generator == "uniform ring":
        return uniform_ring(n, rng)
    if generator == "blurred grid":
        return blurred_grid(n, rng)
    if generator == "untrained":
        return untrained(n, rng)
    means, sigma = mixture_params(dataset)  # one mode, as tight as the data's
    return means[3] + sigma * rng.standard_normal((n, 2))


def share_labelled(outcomes: list[str], expected: str) -> float:
    return sum(o == expected for o in outcomes) / len(outcomes)


@pytest.mark.parametrize("n", convergence.CALIBRATED_COUNTS)
@pytest.mark.parametrize(("dataset", "generator"), list(GENERATORS))
def test_each_2d_generator_gets_its_outcome_in_99_percent_of_draws(dataset, generator, n):
    rng = np.random.default_rng(n)
    criteria = criteria_for("mlp_gan", DataSpec(dataset), n)
    outcomes = [classify(evaluated(draw(dataset, generator, n, rng), dataset, rng),
                         criteria).outcome for _ in range(DRAWS)]
    assert share_labelled(outcomes, GENERATORS[dataset, generator]) >= 0.99, (
        criteria.describe(), sorted(set(outcomes)))


@pytest.mark.parametrize("dataset", ["ring8", "grid25"])
def test_a_generator_equal_to_the_data_converges_at_every_calibrated_count(dataset):
    # The thresholds must be reachable: the healthiest run converges with probability >= 0.99.
    # 300 draws at p = 0.99 would see 3 failures on average; p is far closer to 1 here.
    rng = np.random.default_rng(1)
    for n in convergence.CALIBRATED_COUNTS:
        criteria = criteria_for("mlp_gan", DataSpec(dataset), n)
        met = [criteria.met(evaluated(sample_mixture(dataset, n, rng), dataset, rng).points[0])
               for _ in range(300)]
        assert np.mean(met) >= 0.99, (n, criteria.describe())


@dataclass
class DigitPools:
    """Classifier features and labels of image pools, computed once: a draw resamples a pool,
    as the evaluator would score those images, at the cost of an index."""

    features: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]


DIGIT_GENERATORS = {  # the outcome the rules give each
    "real": CONVERGED,
    "eight classes": COLLAPSED,  # digit-like (fid under the noisy-digits anchor), two missing
    "one class": NOT_CONVERGED,  # a single class's fid is far over the anchor: no evidence
    "untrained": NOT_CONVERGED,  # grey images: tanh of G's small initial outputs
}


def digit_pools(resolution: int) -> DigitPools:
    classifier = digits_classifier(resolution, seed=0)  # the evaluator's, from its cache
    data, digit = load_digits_images(resolution), load_digits_labels()
    rng = np.random.default_rng(resolution)
    images = {"real": data, "eight classes": data[digit < 8], "one class": data[digit == 3],
              "untrained": np.tanh(0.12 * rng.standard_normal(data.shape)).astype(np.float32)}
    return DigitPools({k: classifier.features(v) for k, v in images.items()},
                      {k: classifier.predict(v) for k, v in images.items()})


@pytest.mark.parametrize(("resolution", "model"), [(28, "mlp_gan"), (32, "dcgan")])
def test_each_digits_generator_gets_its_outcome_in_99_percent_of_draws(resolution, model):
    pools = digit_pools(resolution)
    rng = np.random.default_rng(resolution)
    # One BLAS thread: on 64 x 64 matrices more threads only contend (30 times slower here).
    with threadpool_limits(1):
        assert_digit_outcomes(pools, model, resolution, rng)


def assert_digit_outcomes(pools: DigitPools, model: str, resolution: int,
                          rng: np.random.Generator) -> None:
    for n in convergence.CALIBRATED_COUNTS:
        criteria = criteria_for(model, DataSpec("digits", resolution), n)
        for generator, expected in DIGIT_GENERATORS.items():
            outcomes = []
            for seed in range(DRAWS):
                reference = quality_engine.reference_sample(pools.features["real"], n, seed)
                pick = rng.choice(len(pools.labels[generator]), len(reference))
                fid = fid_from_features(reference, pools.features[generator][pick])
                classes = len(set(pools.labels[generator][pick]))
                outcomes.append(classify(Curve([Point(1, fid, classes, math.nan, 1.3)], False),
                                         criteria).outcome)
            assert share_labelled(outcomes, expected) >= 0.99, (n, generator, sorted(set(outcomes)))


def test_every_declared_study_is_calibrated_and_thresholds_follow_the_sample_count():
    studies = 0
    for model in models():
        for name, plan in convergence.PROFILES.items():
            if name in convergence.family_config(model).convergence_data:
                study = convergence.study(model, name, plan)  # checks the thresholds
                studies += len(study.bases)
                for base in study.bases:
                    criteria = criteria_for(model, base.data_spec(), plan.n_samples)
                    assert criteria.metric in quality_engine.QUALITY_METRICS
    assert studies >= 7  # the MLP GAN on 2 or 3 data per profile, DCGAN and ProGAN on digits
    quick, full = (criteria_for("mlp_gan", DataSpec("ring8"), n).structure for n in (1000, 5000))
    assert 0.85 < quick.min_high_quality < full.min_high_quality < 0.95
    assert 0.05 < full.max_kl < quick.max_kl < 0.1
    with pytest.raises(UsageError, match="not calibrated for ring8 at 1234 samples"):
        criteria_for("mlp_gan", DataSpec("ring8"), 1234)


def test_digits_calibration_rows_are_keyed_by_the_count_evaluated():
    assert len(load_digits_images(8)) == convergence.DIGITS_COUNT
    assert {n for _, n in convergence.REAL_DIGITS} == set(convergence.DIGITS_COUNTS)
    assert max(convergence.DIGITS_COUNTS) == convergence.DIGITS_COUNT
    digits = DataSpec("digits", 28)
    assert criteria_for("mlp_gan", digits, 2000) == criteria_for("mlp_gan", digits, 5000)
    assert criteria_for("mlp_gan", digits, 1000) != criteria_for("mlp_gan", digits, 2000)


# --- tables on synthetic records ------------------------------------------------------------

# (framework, perturbation) -> per seed (outcome, final fid_raw, steps to threshold)
SYNTHETIC = {
    ("torch", "base"): [(CONVERGED, 0.01, 300), (CONVERGED, 0.03, 500), (COLLAPSED, 0.5, None)],
    ("tf", "base"): [(CONVERGED, 0.02, 400), (CONVERGED, 0.04, 400), (CONVERGED, 0.05, 600)],
    ("torch", "lr=x10"): [(DIVERGED, math.nan, None), (NOT_CONVERGED, 0.3, None),
                          (DIVERGED, math.nan, None)],
    ("tf", "lr=x10"): [(DIVERGED, math.nan, None), (NOT_CONVERGED, 0.2, None),
                       (DIVERGED, math.nan, None)],
}


def synthetic_records() -> list[dict]:
    records = []
    for (framework, perturbation), seeds in SYNTHETIC.items():
        for seed, (outcome, final, reached) in enumerate(seeds):
            job = Job(suite="convergence", model="mlp_gan", framework=framework, seed=seed,
                      perturbation=perturbation,
                      config={"dataset": "ring8", **({"lr": 2e-3} if "lr" in perturbation
                                                     else {})})
            config = MLPGANConfig.for_profile("quick", **job.config)
            tags = convergence.run_tags(job, config)
            last = Point(100, final, 8, 0.3, 1.3)
            verdict = Verdict(outcome, reached, None if outcome == DIVERGED else last)
            # The paired curves part by 0.1 per seed: tf's fid_raw is 1 + 0.1 * seed.
            measured = [Measurement("fid_raw", 1.0 + 0.1 * seed * (framework == "tf"), step=100)]
            measured += convergence.outcome_measurements(verdict, RING)
            records += [make_record("synthetic", job, dataclasses.replace(
                m, tags={**tags, **m.tags}), batch_size=config.batch_size) for m in measured]
    return records


@pytest.fixture
def synthetic_frame(tmp_path) -> pd.DataFrame:
    # Through records.jsonl: a diverged run's NaN finals must survive JSON (allow_nan=False).
    RecordWriter(tmp_path).append(synthetic_records())
    return load_frame(tmp_path)


def test_records_are_tidy_one_outcome_row_per_run(synthetic_frame):
    rows = synthetic_frame[synthetic_frame["metric"] == "outcome"]
    assert len(rows) == 12 and rows["step"].isna().all()
    assert {"model", "framework", "perturbation", "seed", "outcome", "final_quality",
            "final_coverage", "final_high_quality", "steps_to_threshold", "criterion",
            "axis", "setting", "dataset", "lr", "beta1", "d_steps", "latent"} <= set(rows.columns)
    diverged = rows[rows["outcome"] == DIVERGED]
    assert diverged["final_quality"].isna().all() and (diverged["value"] == 4).all()
    assert set(rows.loc[rows["perturbation"] == "lr=x10", "axis"]) == {"lr"}
    assert set(rows.loc[rows["perturbation"] == "lr=x10", "setting"]) == {"x10"}
    assert rows.loc[rows["perturbation"] == "lr=x10", "lr"].tolist() == pytest.approx([2e-3] * 6)
    converged = synthetic_frame[synthetic_frame["metric"] == "converged"]
    assert converged["value"].sum() == 5


def test_summary_gives_success_rate_median_steps_and_final_spread(synthetic_frame):
    summary = convergence.tables(synthetic_frame)["convergence summary"]
    row = summary.set_index(["framework", "perturbation"])
    assert list(summary["perturbation"]) == ["base", "lr=x10", "base", "lr=x10"]
    assert row.loc[("torch", "base"), "success_rate"] == pytest.approx(2 / 3)
    assert row.loc[("torch", "base"), "outcomes"] == "converged 2, collapsed 1"
    assert row.loc[("torch", "base"), "median_steps_to_threshold"] == 400
    assert row.loc[("tf", "base"), "final_median"] == pytest.approx(0.04)
    assert row.loc[("tf", "base"), "final_q25"] == pytest.approx(0.03)
    assert row.loc[("tf", "base"), "final_q75"] == pytest.approx(0.045)
    assert row.loc[("tf", "lr=x10"), "success_rate"] == 0
    assert math.isnan(row.loc[("tf", "lr=x10"), "median_steps_to_threshold"])
    assert row.loc[("tf", "lr=x10"), "outcomes"] == "not_converged 1, diverged 2"


def test_agreement_counts_seeds_where_both_frameworks_reach_the_same_outcome(synthetic_frame):
    table = convergence.tables(synthetic_frame)["convergence framework agreement"]
    row = table.set_index("perturbation")
    assert row.loc["base", "seeds"] == 3 and row.loc["base", "agree"] == 2
    assert row.loc["base", "share_agree"] == pytest.approx(2 / 3)
    assert row.loc["base", "disagreements"] == "seed 2: torch collapsed, tf converged"
    assert row.loc["lr=x10", "share_agree"] == 1 and row.loc["lr=x10", "disagreements"] == ""
    # |a - b| / mean(a, b) per seed: 0, 0.1 / 1.05, 0.2 / 1.1.
    assert row.loc["base", "curve_gap_median"] == pytest.approx(0.1 / 1.05)
    assert row.loc["base", "curve_gap_max"] == pytest.approx(0.2 / 1.1)


def test_budget_curve_is_the_best_final_metric_found_among_k_configurations(synthetic_frame):
    table = convergence.tables(synthetic_frame)["convergence budget curve"]
    torch = table[table["framework"] == "torch"].set_index("configurations")
    assert list(torch.index) == [1, 2, 5, 6]
    assert torch.loc[6, "best_median"] == pytest.approx(0.01)  # every run tried: the best
    assert list(torch["best_median"]) == sorted(torch["best_median"], reverse=True)
    again = convergence.tables(synthetic_frame)["convergence budget curve"]
    pd.testing.assert_frame_equal(table, again)  # resampled with a fixed seed
    assert convergence.budget_ticks(120) == [1, 2, 5, 10, 20, 50, 100, 120]


def test_the_budget_figure_draws_the_budget_tables_rows(synthetic_frame, tmp_path):
    table = convergence.tables(synthetic_frame)["convergence budget curve"]
    figure = convergence.budget_plot(table)
    lines = {line.get_label(): line for line in figure.axes[0].lines}
    assert set(lines) == {"mlp_gan ring8 / torch", "mlp_gan ring8 / tf"}
    for framework in ("torch", "tf"):
        rows = table[table["framework"] == framework]
        line = lines[f"mlp_gan ring8 / {framework}"]
        np.testing.assert_array_equal(line.get_xdata(), rows["configurations"])
        np.testing.assert_array_equal(line.get_ydata(), rows["best_median"])
    saved = convergence.budget_figures(table, tmp_path)
    assert [f.name for f in saved] == ["budget_fid_raw"] and saved[0].path.exists()


def test_a_diverged_run_is_the_worst_outcome_and_never_a_nan_row(synthetic_frame):
    table = convergence.tables(synthetic_frame)["convergence budget curve"]
    values = table[["best_median", "best_q25", "best_q75"]].to_numpy(dtype=float)
    assert not np.isnan(values).any()
    tf = table[table["framework"] == "tf"].set_index("configurations")
    # tf: 2 of 6 runs diverged, so a quarter of single tries or more find nothing: inf.
    assert tf.loc[1, "best_q75"] == math.inf and tf.loc[1, "best_median"] < math.inf
    per_run = convergence.runs(synthetic_frame)
    one = per_run[(per_run["framework"] == "tf") & (per_run["perturbation"] == "lr=x10")]
    only_diverged = convergence.budget_table(one[one["outcome"] == DIVERGED])
    assert (only_diverged["best_median"] == math.inf).all()
    # Datasets and devices are never pooled: each is its own curve.
    other = per_run.assign(dataset="grid25")
    both = convergence.budget_table(pd.concat([per_run, other]))
    assert set(zip(both["dataset"], both["framework"], strict=True)) == {
        (d, f) for d in ("ring8", "grid25") for f in ("torch", "tf")}


def test_no_convergence_records_no_tables():
    frame = pd.DataFrame.from_records(synthetic_records()).assign(suite="fid")
    assert convergence.tables(frame) == {}


# --- a real tiny run ------------------------------------------------------------------------

# lr x1e20: Adam steps of 2e16, so three layers overflow float32 at once, in both frameworks
# (at x1e12 PyTorch gives NaN but TensorFlow finite losses of 1e27: D wins, nothing diverges).
# 1,000 samples: a count the outcome thresholds are calibrated at.
TINY = convergence.ConvergenceProfile((LR.only(1e20),), evaluations=2, n_samples=1000, ndb_k=5,
                                      seeds=1)


@pytest.mark.slow
def test_tiny_run_records_curves_and_outcomes_and_a_divergence_is_an_outcome(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setitem(convergence.PROFILES, "quick", TINY)  # rides in the jobs' params
    monkeypatch.setattr(MLPGANConfig, "convergence_data", {"quick": ("ring8",)})
    monkeypatch.setattr(MLPGANConfig, "convergence_steps", {"quick": 20})
    request = Request(models=("mlp_gan",), frameworks=("torch", "tf"), threads=1,
                      timeout_s=600)
    summary = run(RunOptions(("convergence",), request, tmp_path / "run", workers=2))
    assert summary.errors == [] and summary.jobs == 4

    frame = load_frame(summary.run_dir)
    assert set(frame["status"]) == {"ok"}
    outcomes = frame[frame["metric"] == "outcome"].set_index(["framework", "perturbation"])
    for framework in ("torch", "tf"):
        assert outcomes.loc[(framework, "lr=x1e+20"), "outcome"] == DIVERGED
        assert outcomes.loc[(framework, "base"), "outcome"] != DIVERGED
        base = frame[(frame["framework"] == framework) & (frame["perturbation"] == "base")]
        assert sorted(base.loc[base["metric"] == "fid_raw", "step"]) == [10, 20]
        assert sorted(base.loc[base["metric"] == "modes_captured", "step"]) == [10, 20]
    diverged = frame[(frame["perturbation"] == "lr=x1e+20") & (frame["metric"] == "diverged")]
    assert (diverged["value"] == 1).all()

    tables = convergence.tables(frame)
    assert set(tables) == {"convergence runs", "convergence summary",
                           "convergence framework agreement", "convergence budget curve"}
    agreement = tables["convergence framework agreement"].set_index("perturbation")
    assert agreement.loc["lr=x1e+20", "share_agree"] == 1
    report = write_report(summary.run_dir).read_text()
    assert "## convergence summary" in report and "## convergence framework agreement" in report
    samples = frame[frame["metric"] == "artifact"]
    assert set(samples["perturbation"]) == {"base"}  # the perturbed runs' are left out
    assert set(samples["framework"]) == {"torch", "tf"} and set(samples["dataset"]) == {"ring8"}
    assert all((summary.run_dir / path).exists() for path in samples["path"])
    assert "(figures/samples-convergence-mlp_gan-ring8.png)" in report
    assert "(figures/budget_fid_raw.png)" in report and "(figures/sensitivity.png)" in report

    again = run(RunOptions(("convergence",), request, summary.run_dir, resume=True))
    assert again.resumed == 4 and again.errors == []
