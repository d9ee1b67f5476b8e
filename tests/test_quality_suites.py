"""The quality engine and the fid and mode-collapse suites on it: jobs, the evaluation on numpy
fakes, tables, figures, and one real quick run of the fid suite through the runner, with both
frameworks in worker processes."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from bench.adapter import FamilyConfig, require_choice
from bench.data import DataSpec, load_digits_images, sample_mixture, upsample_nearest
from bench.errors import UsageError
from bench.features import CACHE_ENV, INCEPTION_WEIGHTS_ENV, digits_classifier
from bench.jobs import Job
from bench.records import Measurement, load_frame, make_record
from bench.registry import load_suite
from bench.report.figures import load_samples
from bench.report.pages import run_frame, write_report
from bench.report.tables import artifact_rows
from bench.runner import RunOptions, expand_jobs, run, saved_request
from bench.suite import Request
from bench.training import Diverged
from conftest import run_python
from gan_bench_testing.runs import artifact_records, write_run
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.spec.progan import ProGANConfig
from suites import fid, mode_collapse, quality_engine

TINY = quality_engine.QualityProfile(eval_every=10, n_samples=200, kid_subsets=2,
                                     kid_subset_size=100, ndb_k=5)


# --- jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PainterConfig(FamilyConfig):
    """Stands in for style transfer: a family that declares no quality run."""

    family: ClassVar[str] = "painter"
    generates_distribution: ClassVar[bool] = False
    profiles: ClassVar[dict] = {"quick": {}}


@dataclass(frozen=True)
class ImageOnlyConfig(FamilyConfig):
    """An image family that accepts digits only (like DCGAN: one channel, no stacked digits)."""

    family: ClassVar[str] = "images"
    profiles: ClassVar[dict] = {"quick": {}, "standard": {}}
    quality_steps: ClassVar[dict] = {"quick": 120, "standard": 700}
    quality_eval_every: ClassVar[dict] = {"standard": 70}
    quality_samples: ClassVar[int] = 333
    datasets: ClassVar[tuple[str, ...]] = ("digits", "mnist")
    dataset: str = "digits"

    def validate(self) -> None:
        super().validate()
        require_choice("dataset", self.dataset, self.datasets)

    def data_spec(self) -> DataSpec:
        return DataSpec(self.dataset, 32)


@dataclass(frozen=True)
class ThreeChannelConfig(ImageOnlyConfig):
    family: ClassVar[str] = "stacked"
    datasets: ClassVar[tuple[str, ...]] = ("digits", "stacked_digits")


@dataclass(frozen=True)
class TextConfig(ImageOnlyConfig):
    """Declares quality runs but accepts none of the mode-collapse suite's datasets."""

    family: ClassVar[str] = "text"
    datasets: ClassVar[tuple[str, ...]] = ("letters",)
    dataset: str = "letters"


FAMILIES = {"mlp_gan": MLPGANConfig, "painter": PainterConfig, "images": ImageOnlyConfig,
            "stacked": ThreeChannelConfig, "text": TextConfig}


@pytest.fixture
def families(monkeypatch):
    monkeypatch.setattr(quality_engine, "family_config", FAMILIES.__getitem__)


def request_for(*models: str, seeds: int = 2) -> Request:
    return Request(models=models, frameworks=("torch", "tf"), devices=("cpu",), seeds=seeds)


def test_fid_jobs_are_models_frameworks_devices_seeds_without_non_generators(families):
    jobs = fid.jobs(request_for("mlp_gan", "painter", "images", seeds=3))
    assert {j.model for j in jobs} == {"mlp_gan", "images"}
    assert len(jobs) == 2 * 2 * 3
    assert {(j.framework, j.seed) for j in jobs if j.model == "mlp_gan"} == {
        (fw, s) for fw in ("torch", "tf") for s in range(3)}
    mlp = next(j for j in jobs if j.model == "mlp_gan")
    assert mlp.config == {}  # the profile's own dataset
    quick = quality_engine.PROFILES["quick"]
    assert mlp.params == dataclasses.asdict(quick.settings(MLPGANConfig, "quick"))
    assert mlp.params["steps"] == 300 and not mlp.params["fid_inception"]


def test_a_family_runs_the_budget_and_evaluation_it_declares(families):
    quick, standard = (quality_engine.PROFILES[name] for name in ("quick", "standard"))
    assert quick.settings(ImageOnlyConfig, "quick") == dataclasses.replace(
        quick.settings(MLPGANConfig, "quick"), steps=120, n_samples=333)
    settings = standard.settings(ImageOnlyConfig, "standard")
    assert (settings.steps, settings.eval_every, settings.n_samples) == (700, 70, 333)
    assert standard.settings(MLPGANConfig, "standard").eval_every == standard.eval_every
    [job] = fid.jobs(dataclasses.replace(request_for("images", seeds=1), frameworks=("torch",),
                                         profile="standard"))
    assert job.params == dataclasses.asdict(settings)


def test_steps_and_only_narrow_a_run_to_a_longer_one_of_the_jobs_asked(tmp_path):
    """--steps trains longer at the profile's evaluation interval; --only keeps the jobs whose
    config matches (here PacGAN's grid25 at m = 1); both are the run's question on resume."""
    request = Request(models=("pacgan",), frameworks=("torch", "tf"), profile="standard",
                      steps=40_000, only=(("dataset", "grid25"), ("packing", "1")))
    options = RunOptions(("mode-collapse",), request, tmp_path / "run")
    jobs = expand_jobs(options)
    assert sorted(job.framework for job in jobs) == ["tf", "torch"]
    assert all(job.config == {"dataset": "grid25", "packing": 1} for job in jobs)
    standard = expand_jobs(RunOptions(("mode-collapse",), dataclasses.replace(request, steps=0)))
    assert {job.params["steps"] for job in jobs} == {40_000}
    assert {job.params["eval_every"] for job in jobs} == {standard[0].params["eval_every"]}
    assert {job.job_id for job in jobs}.isdisjoint(job.job_id for job in standard)
    saved = json.loads(json.dumps(dataclasses.asdict(request)))  # run.json's request
    assert saved_request(saved) == request


def test_families_that_cannot_serve_are_named_on_one_line(families, capsys):
    jobs = fid.jobs(request_for("mlp_gan", "painter", seeds=1))
    assert {j.model for j in jobs} == {"mlp_gan"}
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("the fid suite leaves out painter: painter declares no quality_steps")
    jobs = mode_collapse.jobs(request_for("images", "text", seeds=1))
    assert {j.model for j in jobs} == {"images"}
    [line] = capsys.readouterr().err.splitlines()
    assert "text accepts none of the mode-collapse suite's datasets" in line


def test_a_request_no_family_can_serve_is_one_line_with_its_fix(families):
    with pytest.raises(UsageError) as refused:
        fid.jobs(request_for("painter"))
    message = str(refused.value)
    assert message.startswith("the fid suite cannot run painter: painter declares no "
                              "quality_steps for the quick profile")
    assert "declare it on its FamilyConfig" in message and "\n" not in message
    with pytest.raises(UsageError, match="no quality_steps for the full profile; use "
                                         "--profile quick or standard"):
        fid.jobs(dataclasses.replace(request_for("images"), profile="full"))


def test_mode_collapse_runs_points_on_rings_and_grids_and_images_on_digits(families):
    jobs = mode_collapse.jobs(request_for("mlp_gan", "images", "stacked", seeds=1))
    datasets = {(j.model, j.config["dataset"]) for j in jobs}
    assert datasets == {("mlp_gan", "ring8"), ("mlp_gan", "grid25"), ("images", "digits"),
                        ("stacked", "digits"), ("stacked", "stacked_digits")}
    assert len(jobs) == len(datasets) * 2
    assert {j.suite for j in jobs} == {"mode-collapse"}


@pytest.mark.parametrize("profile", ["quick", "standard", "full"])
def test_the_progressive_gans_budget_completes_its_schedule(profile):
    settings = quality_engine.PROFILES[profile].settings(ProGANConfig, profile)
    ends = ProGANConfig.for_profile(profile).phase_end_steps()
    assert len(ends) == 7 and settings.steps >= ends[-1]  # it reaches 32x32 and stabilises
    if profile == "standard":  # the budget ends with the schedule, evaluated inside phases
        assert settings.steps == ends[-1]
        assert all(end % settings.eval_every == 0 for end in ends)
        assert settings.budget(ends).eval_steps() == list(range(125, 3501, 125))


def test_quality_suites_are_registered_and_import_no_framework():
    assert load_suite("fid") is fid and load_suite("mode-collapse") is mode_collapse
    assert fid.PROFILES is mode_collapse.PROFILES is quality_engine.PROFILES  # one table, shared
    assert fid.execute is mode_collapse.execute is quality_engine.execute
    done = run_python("import sys, suites.fid, suites.mode_collapse, suites.quality_engine, "
                      "bench.training; "
                      "print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))")
    assert done.stdout.strip() == "[]"


# --- evaluation on numpy fakes --------------------------------------------------------------


class Sampler:
    """A fake adapter: `draw(n, rng)` makes its samples; `resolution` is its phase tag."""

    def __init__(self, draw, resolution: int | None = None) -> None:
        self.draw, self.resolution = draw, resolution

    def sample(self, n: int, seed: int) -> np.ndarray:
        return self.draw(n, np.random.default_rng(seed))

    def tags(self) -> dict[str, str]:
        return {} if self.resolution is None else {"resolution": str(self.resolution)}


def values(measurements: list[Measurement]) -> dict[str, float]:
    return {m.metric: m.value for m in measurements}


def test_points_from_the_data_score_as_the_data_and_a_collapse_shows():
    real = sample_mixture("ring8", 1000, np.random.default_rng(0))
    evaluate = quality_engine.PointQuality("ring8", real, seed=1)
    perfect = values(evaluate(Sampler(lambda n, rng: sample_mixture("ring8", n, rng))))
    # Within 3 sigma of its mean in 2-D: 1 - exp(-4.5) = 98.9 % of the data.
    assert perfect["modes_captured"] == 8 and perfect["high_quality_share"] > 0.97
    assert perfect["fid_raw"] < 0.01 and perfect["recall_raw"] > 0.9
    one_mode = values(evaluate(Sampler(lambda n, rng: real[np.argmax(real[:, 0])]
                                       + 0.01 * rng.standard_normal((n, 2)))))
    assert one_mode["modes_captured"] == 1
    assert one_mode["modes_kl_uniform"] == pytest.approx(math.log(8))
    assert one_mode["fid_raw"] > 0.5 and one_mode["recall_raw"] < 0.2


def test_non_finite_samples_are_a_divergence_not_a_crash():
    real = sample_mixture("grid25", 100, np.random.default_rng(0))
    with pytest.raises(Diverged):
        quality_engine.PointQuality("grid25", real, seed=0)(
            Sampler(lambda n, rng: np.full((n, 2), np.nan)))


@pytest.fixture(scope="module")
def classifier8(tmp_path_factory):
    return digits_classifier(8, cache_dir=tmp_path_factory.mktemp("features"))


def digits_evaluator(classifier, channels: int = 1, n: int = 300) -> quality_engine.ImageQuality:
    settings = quality_engine.QualitySettings(steps=1, eval_every=1, n_samples=n,
                                              kid_subsets=3, kid_subset_size=100, ndb_k=5)
    images = load_digits_images(8)
    rng = np.random.default_rng(0)
    real = np.concatenate([images[rng.integers(len(images), size=n)] for _ in range(channels)],
                          axis=-1)
    return quality_engine.ImageQuality(classifier, real, settings, seed=0)


def test_digits_from_the_data_cover_every_class(classifier8):
    evaluate = digits_evaluator(classifier8)
    images = load_digits_images(8)
    result = evaluate(Sampler(lambda n, rng: images[rng.integers(len(images), size=n)]))
    got = values(result)
    assert got["classes_covered"] == 10 and got["classes_kl_uniform"] < 0.05
    assert got["fid_digits"] < 0.2 * values(evaluate(Sampler(
        lambda n, rng: rng.uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32))))["fid_digits"]
    assert got["precision_digits"] > 0.8 and got["ndb_share"] <= 0.4
    assert {m.tags["ndb_k"] for m in result} == {5}
    assert not any("upsampled" in m.tags for m in result)
    fids = {name for name in got if name.startswith("fid")}
    assert fids == {"fid_digits"} <= set(quality_engine.QUALITY_METRICS)


def test_lower_resolution_samples_are_upsampled_nearest_and_say_so(classifier8):
    images = load_digits_images(8)
    evaluate = digits_evaluator(classifier8)
    coarse = Sampler(lambda n, rng: images[rng.integers(len(images), size=n), ::2, ::2], 4)
    result = evaluate(coarse)
    assert {m.tags["upsampled"] for m in result} == {"nearest 4x4->8x8"}
    # An adapter that upsampled inside (the progressive GAN's) is tagged just the same.
    inside = Sampler(lambda n, rng: upsample_nearest(coarse.sample(n, 0), 8), 4)
    assert {m.tags["upsampled"] for m in evaluate(inside)} == {"nearest 4x4->8x8"}


def test_upsample_nearest_repeats_each_pixel():
    image = np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1)
    out = upsample_nearest(image, 4)
    assert out[0, :, :, 0].tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    assert upsample_nearest(image, 2).shape == (1, 2, 2, 1)
    with pytest.raises(UsageError, match="integer factor"):
        upsample_nearest(image, 3)


def test_stacked_digits_count_a_thousand_modes(classifier8):
    evaluate = digits_evaluator(classifier8, channels=3)
    images = load_digits_images(8)
    got = values(evaluate(Sampler(lambda n, rng: np.concatenate(
        [images[rng.integers(len(images), size=n)] for _ in range(3)], axis=-1))))
    assert 150 < got["classes_covered"] <= 300  # ~260 distinct of 1,000 modes in 300 draws


def test_fid_inception_without_weights_is_a_clear_skipped_record(tmp_path, monkeypatch):
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    images = load_digits_images(8)[:20]
    job = Job(suite="fid", model="mlp_gan", framework="tf", params={"fid_inception": True})
    m = quality_engine.inception_measurement(Sampler(lambda n, rng: images[:n]), images, job,
                                             step=20)
    record = make_record("run", job, m)
    assert record["metric"] == "fid_inception" and record["status"] == "skipped"
    assert "missing.pth does not exist" in record["error"] and record["value"] == "nan"
    points = quality_engine.inception_measurement(Sampler(lambda n, rng: np.zeros((n, 2))),
                                                  np.zeros((5, 2)), job, step=20)
    assert points.tags["status"] == "skipped" and "needs images" in points.tags["error"]


def test_fid_inception_under_2048_samples_is_marked_biased(monkeypatch, families):
    # The Inception features themselves need torch; what is marked depends only on the count.
    monkeypatch.setattr(quality_engine, "inception_fid", lambda real, fake, device, threads: 12.5)
    job = Job(suite="fid", model="mlp_gan", framework="tf", params={"fid_inception": True})
    images = load_digits_images(8)
    few = quality_engine.inception_measurement(Sampler(lambda n, rng: images[:n]), images[:20],
                                               job, 20)
    assert few.value == 12.5 and few.tags == {"n_samples": 20, "fid_inception_biased": True}
    enough = quality_engine.reference_sample(np.concatenate([images, images]), 2048, seed=0)
    m = quality_engine.inception_measurement(Sampler(lambda n, rng: enough[:n]), enough, job, 20)
    assert m.tags == {"n_samples": 2048, "fid_inception_biased": False}
    assert make_record("run", job, m)["fid_inception_biased"] is False
    # --fid-inception: standard uses the feature dimension's 2,048 samples, full 10,000.
    counts = {name: profile.settings(MLPGANConfig, name).inception_samples
              for name, profile in quality_engine.PROFILES.items()}
    assert counts["standard"] >= quality_engine.INCEPTION_DIM == 2048 and counts["full"] == 10_000
    request = dataclasses.replace(request_for("mlp_gan", seeds=1), profile="standard",
                                  fid_inception=True)
    assert {j.params["inception_samples"] for j in fid.jobs(request)} == {counts["standard"]}


# --- tables ---------------------------------------------------------------------------------


def synthetic_frame() -> pd.DataFrame:
    """fid_digits curves for two frameworks and two seeds; tf seed 1 diverges at step 20."""
    records = []
    for framework in ("torch", "tf"):
        for seed in (0, 1):
            job = Job(suite="fid", model="dcgan", framework=framework, seed=seed)
            diverges = framework == "tf" and seed == 1
            steps = (10, 20) if diverges else (10, 20, 30)
            fid_steps = steps[:-1] if diverges else steps
            out = [Measurement("fid_digits", 100.0 / step + seed + (framework == "tf"), step=step)
                   for step in fid_steps]
            out += [Measurement("loss_d", 1.0, step=steps[-1]),
                    Measurement("diverged", float(diverges), step=steps[-1]),
                    Measurement("classifier_test_accuracy", 0.98)]
            records += [make_record("run", job, dataclasses.replace(
                m, tags={"dataset": "digits", "n_samples": 1000})) for m in out]
    return pd.DataFrame.from_records(records)


def test_tables_show_final_values_per_seed_and_over_seeds_side_by_side():
    tables = fid.tables(synthetic_frame())
    per_seed, over = tables["fid final per seed"], tables["fid over seeds"]
    assert list(per_seed.columns) == ["model", "dataset", "device", "n_samples", "metric", "seed",
                                      "torch", "tf"]
    rows = per_seed.set_index(["metric", "seed"])
    assert rows.loc[("fid_digits", 0), "torch"] == pytest.approx(100 / 30)
    assert rows.loc[("fid_digits", 0), "tf"] == pytest.approx(100 / 30 + 1)
    # A diverged run's final value is where it stopped: no metric there, diverged = 1.
    assert math.isnan(rows.loc[("fid_digits", 1), "tf"])
    assert rows.loc[("diverged", 1), "tf"] == 1.0
    assert set(rows.index.get_level_values("metric")) == {"fid_digits", "diverged"}
    assert list(over.columns) == ["model", "dataset", "device", "n_samples", "metric",
                                  "torch mean", "torch std", "torch seeds",
                                  "tf mean", "tf std", "tf seeds"]
    fid_row = over.set_index("metric").loc["fid_digits"]
    assert fid_row["torch mean"] == pytest.approx(100 / 30 + 0.5)
    assert fid_row["torch std"] == pytest.approx(np.std([0, 1], ddof=1))
    assert fid_row["tf seeds"] == 1
    assert mode_collapse.tables(synthetic_frame()) == {}  # another suite's records


# --- figures --------------------------------------------------------------------------------


def test_sample_figures_come_from_artifact_records_captioned_with_seed_and_step(tmp_path):
    records = []
    for framework in ("tf", "torch"):
        for seed in (1, 0):
            job = Job(suite="fid", model="dcgan", framework=framework, seed=seed)
            records += artifact_records(tmp_path, job, np.zeros((4, 8, 8, 1)), dataset="digits",
                                        step=150, trained=True)
    records += artifact_records(tmp_path, Job(suite="mode-collapse", model="dcgan",
                                              framework="tf"), np.zeros((4, 8, 8, 1)),
                                dataset="digits", step=150, trained=True)
    run_dir = write_run(tmp_path, records, suites=("fid",))
    frame = run_frame(run_dir)
    out = tmp_path / "figures"
    out.mkdir()
    assert [f.name for f in fid.figures(frame, out)] == ["samples-fid-dcgan-digits"]
    assert (out / "samples-fid-dcgan-digits.png").exists()
    rows = artifact_rows(frame, "fid").sort_values(["framework", "seed"])
    captions = [quality_engine.sample_caption(row, many_devices=False)
                for _, row in rows.iterrows()]
    assert captions == [
        "tf seed 0, step 150", "tf seed 1, step 150",
        "torch seed 0, step 150", "torch seed 1, step 150"]
    # Each file is named by its job, never parsed: the record says what it holds.
    assert all(Path(p).name.endswith("-samples.npy") for p in rows["path"])


def test_last_step_records_skip_artifacts_and_keep_the_suites_metric_order():
    frame = synthetic_frame()
    job = Job(suite="fid", model="dcgan", framework="torch")
    frame = pd.concat([frame, pd.DataFrame([make_record("run", job, Measurement(
        "artifact", 64, step=30, tags={"dataset": "digits", "n_samples": 1000}))])])
    final = quality_engine.last_step_records(frame, "fid", ("diverged", "fid_digits", "artifact"))
    assert "artifact" not in set(final["metric"])
    assert list(final["metric"].cat.categories) == ["diverged", "fid_digits"]
    torch0 = final[(final["framework"] == "torch") & (final["seed"] == 0)]
    assert set(torch0["step"]) == {30}


# --- a real quick run -----------------------------------------------------------------------


@pytest.mark.slow
def test_quick_fid_run_of_the_mlp_gan_in_both_frameworks(tmp_path, monkeypatch):
    # Tiny budgets ride in the jobs' params to the workers; the classifier is trained here
    # once (numpy and scikit-learn only) so that both workers read it from the cache.
    monkeypatch.setitem(quality_engine.PROFILES, "quick", TINY)
    monkeypatch.setattr(MLPGANConfig, "quality_steps", {"quick": 20})
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    accuracy = digits_classifier(28).test_accuracy
    request = Request(models=("mlp_gan",), frameworks=("torch", "tf"), threads=1, timeout_s=600)
    summary = run(RunOptions(("fid",), request, tmp_path / "run", workers=2))
    assert summary.errors == []

    frame = load_frame(summary.run_dir)
    assert set(frame["status"]) == {"ok"}
    for framework in ("torch", "tf"):
        rows = frame[frame["framework"] == framework]
        curve = rows[rows["metric"] == "fid_digits"].sort_values("step")
        assert curve["step"].tolist() == [10, 20]
        assert np.isfinite(curve["value"]).all() and (curve["value"] > 0).all()
        assert set(rows.loc[rows["metric"] == "loss_d", "step"]) == {10, 20}
        assert rows.loc[rows["metric"] == "classifier_test_accuracy", "value"].tolist() == [
            accuracy]
        assert rows.loc[rows["metric"] == "diverged", "value"].tolist() == [0.0]
    assert (frame["n_samples"] == 200).all() and (frame["dataset"] == "digits").all()
    # Paired runs: one init, one batch stream and one noise stream for the seed, so the two
    # frameworks' curves coincide up to float32 rounding (TF trains as a tf.function).
    assert set(frame.loc[frame["framework"] == "tf", "mode"]) == {"compiled"}
    for metric, tolerance in (("loss_d", 1e-4), ("loss_g", 1e-4), ("fid_digits", 1e-3)):
        curves = frame[frame["metric"] == metric].pivot_table(index="step", columns="framework",
                                                              values="value")
        np.testing.assert_allclose(curves["tf"], curves["torch"], rtol=tolerance)
    fids = {m for m in frame["metric"] if m.startswith("fid")}
    assert fids == {"fid_digits"} and "fid" not in set(frame["metric"])

    tables = fid.tables(frame)
    per_seed = tables["fid final per seed"].set_index("metric")
    final = frame[(frame["metric"] == "fid_digits") & (frame["step"] == 20)]
    for framework in ("torch", "tf"):
        expected = final.loc[final["framework"] == framework, "value"].item()
        assert per_seed.loc["fid_digits", framework] == pytest.approx(expected)
    assert {"torch mean", "tf mean"} <= set(tables["fid over seeds"].columns)
    artifacts = frame[frame["metric"] == "artifact"].set_index("framework")
    for framework in ("torch", "tf"):
        row = artifacts.loc[framework]
        samples = load_samples(summary.run_dir / row["path"])
        assert samples.shape == (quality_engine.SHOWN_IMAGES, 28, 28, 1)
        assert (row["dataset"], row["step"], row["trained"], row["seed"]) == ("digits", 20, True, 0)
    report = write_report(summary.run_dir).read_text()
    assert "## fid final per seed" in report and "## fid over seeds" in report
    assert "(figures/samples-fid-mlp_gan-digits.png)" in report
    assert "(figures/metrics-fid.png)" in report and "(figures/losses-fid.png)" in report
