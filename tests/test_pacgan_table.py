"""The mode-collapse suite's PacGAN side: a job per packing degree m, tables that keep each m
apart, and the table of our mean and standard error beside Lin et al. 2018's Table 1.

This process imports neither framework.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.jobs import Job
from bench.records import Measurement, make_record
from bench.report.pages import run_frame
from bench.suite import Request
from gan_bench_testing.runs import artifact_records, write_run
from suites import mode_collapse

#: (dataset, framework, m) -> final modes_captured per seed; high quality and KL derive from it.
MODES = {("ring8", "torch", 1): [6, 7, 5], ("ring8", "torch", 2): [8, 8, 7],
         ("ring8", "tf", 1): [5, 6, 6], ("grid25", "torch", 2): [24, 22, 23],
         ("grid25", "torch", 5): [25, 25, 25]}


def share(modes: int) -> float:
    return 0.9 + modes / 1000


def kl(modes: int) -> float:
    return 1.0 / modes


def records_frame() -> pd.DataFrame:
    """Each job: metrics at steps 10 and 20 (only 20 counts), tagged with its packing as the
    adapters tag it; its last-step `diverged` record and its samples carry no packing tag."""
    records = []
    for (dataset, framework, m), per_seed in MODES.items():
        for seed, modes in enumerate(per_seed):
            job = Job(suite="mode-collapse", model="pacgan", framework=framework, seed=seed,
                      config={"dataset": dataset, "packing": m})
            tags = {"dataset": dataset, "n_samples": 1000}
            out = [Measurement(name, value, step=step, tags={**tags, "packing": str(m)})
                   for step, scale in ((10, 0.5), (20, 1.0))
                   for name, value in (("modes_captured", modes * scale),
                                       ("high_quality_share", share(modes) * scale),
                                       ("modes_kl_uniform", kl(modes) * scale),
                                       ("loss_d", 1.2))]
            out += [Measurement("diverged", 0.0, step=20, tags=tags),
                    Measurement("artifact", 1000, step=20, tags={**tags, "trained": True})]
            records += [make_record("run", job, m_) for m_ in out]
    # Another family in the same suite: untouched by the packing labels, absent from PacGAN's.
    mlp = Job(suite="mode-collapse", model="mlp_gan", framework="torch")
    records.append(make_record("run", mlp, Measurement(
        "modes_captured", 8, step=20, tags={"dataset": "ring8", "n_samples": 1000})))
    return pd.DataFrame.from_records(records)


def test_pacgan_runs_each_packing_of_the_profile_on_both_datasets():
    for profile, packings in (("quick", {1, 2}), ("full", {1, 2, 3, 4})):
        request = Request(models=("pacgan", "mlp_gan"), frameworks=("torch", "tf"),
                          profile=profile, seeds=2)
        jobs = mode_collapse.jobs(request)
        pacgan = {(j.config["dataset"], j.config["packing"], j.framework, j.seed)
                  for j in jobs if j.model == "pacgan"}
        assert pacgan == {(d, m, fw, s) for d in ("ring8", "grid25") for m in packings
                          for fw in ("torch", "tf") for s in (0, 1)}
        assert len({j.job_id for j in jobs if j.model == "pacgan"}) == len(pacgan)
        assert all("packing" not in j.config for j in jobs if j.model == "mlp_gan")


def test_the_table_shows_mean_and_standard_error_beside_the_papers():
    table = mode_collapse.tables(records_frame())[mode_collapse.PACGAN_TABLE]
    assert list(table.columns) == [
        "dataset", "framework", "device", "n_samples", "m", "seeds",
        "modes", "modes s.e.", "high quality (%)", "high quality s.e. (%)",
        "reverse KL", "reverse KL s.e.", "paper trials",
        "paper modes", "paper modes s.e.", "paper high quality (%)",
        "paper high quality s.e. (%)", "paper reverse KL", "paper reverse KL s.e."]
    rows = table.set_index(["dataset", "framework", "m"])
    assert len(rows) == len(MODES)
    for (dataset, framework, m), per_seed in MODES.items():
        row = rows.loc[(dataset, framework, m)]
        modes = np.array(per_seed, float)
        assert row["seeds"] == 3
        assert row["modes"] == pytest.approx(modes.mean())
        assert row["modes s.e."] == pytest.approx(modes.std(ddof=1) / math.sqrt(3))
        shares = 100 * share(modes)
        assert row["high quality (%)"] == pytest.approx(shares.mean())
        assert row["high quality s.e. (%)"] == pytest.approx(shares.std(ddof=1) / math.sqrt(3))
        assert row["reverse KL"] == pytest.approx(kl(modes).mean())
        assert row["reverse KL s.e."] == pytest.approx(kl(modes).std(ddof=1) / math.sqrt(3))
    # The paper's columns: GAN = m 1, PacGAN2 = m 2 (docs/models.md#pacgan), blank past m = 4.
    ring_gan, grid_pac2 = rows.loc[("ring8", "torch", 1)], rows.loc[("grid25", "torch", 2)]
    assert (ring_gan["paper modes"], ring_gan["paper modes s.e."]) == (6.3, 0.5)
    assert (ring_gan["paper high quality (%)"], ring_gan["paper reverse KL"]) == (98.2, 0.45)
    assert (grid_pac2["paper modes"], grid_pac2["paper high quality s.e. (%)"]) == (23.8, 0.8)
    assert (grid_pac2["paper reverse KL"], grid_pac2["paper trials"]) == (0.13, 10)
    assert rows.loc[("ring8", "tf", 1), "paper modes"] == 6.3  # each framework beside the paper
    assert rows.loc[("grid25", "torch", 5)][[c for c in table if "paper" in c]].isna().all()


def test_the_papers_gan_and_pacgan2_rows_are_models_md_s():
    paper = mode_collapse.PAPER_TABLE_1
    assert paper[("ring8", 1)] == ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09))
    assert paper[("ring8", 2)] == ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03))
    assert paper[("grid25", 1)] == ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07))
    assert paper[("grid25", 2)] == ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04))
    assert {m for _, m in paper} == {1, 2, 3, 4}


def test_the_suites_other_tables_keep_each_packing_apart():
    tables = mode_collapse.tables(records_frame())
    over = tables["mode-collapse over seeds"]
    assert set(over["model"]) == {"pacgan-m1", "pacgan-m2", "pacgan-m5", "mlp_gan"}
    row = over[(over["model"] == "pacgan-m2") & (over["dataset"] == "ring8")
               & (over["metric"] == "modes_captured")].iloc[0]
    assert row["torch mean"] == pytest.approx(np.mean(MODES[("ring8", "torch", 2)]))


def test_untagged_records_of_a_packed_job_get_its_packing():
    frame = mode_collapse.with_packing(records_frame())
    pacgan = frame[frame["model"] == "pacgan"]
    assert pacgan["packing"].notna().all()
    artifacts = pacgan[pacgan["metric"] == "artifact"]
    assert set(mode_collapse.labelled_by_packing(artifacts)["model"]) == {
        "pacgan-m1", "pacgan-m2", "pacgan-m5"}
    assert frame.loc[frame["model"] == "mlp_gan", "packing"].isna().all()


def test_no_pacgan_jobs_no_pacgan_table():
    frame = records_frame()
    assert mode_collapse.PACGAN_TABLE not in mode_collapse.tables(
        frame[frame["model"] != "pacgan"])
    untagged = frame.drop(columns="packing")
    assert mode_collapse.PACGAN_TABLE not in mode_collapse.tables(untagged)


def test_figures_keep_each_packing_apart(tmp_path):
    """The samples of m = 1 and m = 2 go to figures of their own, though only the job's
    metric records carry the packing tag."""
    records, run_dir = [], tmp_path / "run"
    run_dir.mkdir()
    for m in (1, 2):
        job = Job(suite="mode-collapse", model="pacgan", framework="torch",
                  config={"dataset": "ring8", "packing": m})
        records += artifact_records(run_dir, job, np.zeros((16, 2)), dataset="ring8", step=20,
                                    trained=True, n_samples=16)
        records += [make_record("run", job, Measurement(
            "modes_captured", 8.0 - m, step=step, tags={"dataset": "ring8", "n_samples": 16,
                                                         "packing": str(m)}))
                    for step in (10, 20)]
    write_run(run_dir, records, suites=("mode-collapse",))
    out = tmp_path / "figures"
    out.mkdir()
    names = [f.name for f in mode_collapse.figures(run_frame(run_dir), out)]
    assert names == ["metrics-mode-collapse", "samples-mode-collapse-pacgan-m1-ring8",
                     "samples-mode-collapse-pacgan-m2-ring8", "pacgan-steps"]
    assert (out / "pacgan-steps.png").stat().st_size > 0


def test_step_curves_average_seeds_in_the_papers_units():
    curves = mode_collapse.pacgan_curves(mode_collapse.with_packing(records_frame()))
    curves = curves.set_index(["dataset", "framework", "m", "metric", "step"])["value"]
    # ring8 torch m = 1: modes 6, 7, 5 at step 20, half of that at step 10.
    assert curves[("ring8", "torch", 1, "modes_captured", 20)] == pytest.approx(6.0)
    assert curves[("ring8", "torch", 1, "modes_captured", 10)] == pytest.approx(3.0)
    expected = 100 * np.mean([share(m) for m in (8, 8, 7)])
    assert curves[("ring8", "torch", 2, "high_quality_share", 20)] == pytest.approx(expected)
    # The MLP GAN's ring8 record (8 modes at step 20, torch) is not PacGAN's: m = 1 stays 6.
    assert len(curves) == 2 * 3 * len(MODES)


def test_step_curves_mark_the_evaluations_with_too_few_high_quality_samples():
    """At step 10 every share is about 0.45 of 1,000 samples: under ring8's 550 and grid25's
    700; at step 20 about 0.9, over both, except one grid25 seed set to 0.6 (600 < 700)."""
    frame = records_frame()
    low = ((frame["metric"] == "high_quality_share") & (frame["dataset"] == "grid25")
           & (frame["seed"] == 1) & (frame["step"] == 20) & (frame["packing"] == "2"))
    frame.loc[low, "value"] = 0.6
    curves = mode_collapse.pacgan_curves(mode_collapse.with_packing(frame))
    flags = curves.groupby(["dataset", "m", "step"])["too_few"].agg(["all", "any"])
    assert flags.loc[[key for key in flags.index if key[2] == 10], "all"].all()
    assert flags.loc[("grid25", 2, 20), "all"]  # one seed short marks the mean
    assert not flags.loc[[key for key in flags.index
                          if key[2] == 20 and key[:2] != ("grid25", 2)], "any"].any()


def test_modes_and_kl_from_too_few_high_quality_samples_say_so():
    frame = records_frame()
    # grid25 m = 2, seed 1: 600 high-quality samples of 1,000, under grid25's 700.
    low = ((frame["metric"] == "high_quality_share") & (frame["dataset"] == "grid25")
           & (frame["seed"] == 1) & (frame["step"] == 20) & (frame["packing"] == "2"))
    assert low.sum() == 1
    frame.loc[low, "value"] = 0.6
    rows = mode_collapse.tables(frame)[mode_collapse.PACGAN_TABLE].set_index(
        ["dataset", "framework", "m"])
    cell = rows.loc[("grid25", "torch", 2)]
    assert cell["modes"] == cell["reverse KL"] == mode_collapse.TOO_FEW
    assert math.isnan(cell["modes s.e."]) and math.isnan(cell["reverse KL s.e."])
    assert cell["high quality (%)"] == pytest.approx((92.4 + 60 + 92.3) / 3)  # all samples
    assert cell["paper reverse KL"] == 0.13  # the paper's value stays beside it
    assert rows.loc[("ring8", "torch", 2), "modes"] == pytest.approx(23 / 3)  # others: numbers


def perfect_histogram_kl_q99(n: int, modes: int, rng: np.random.Generator) -> float:
    """99th percentile of the KL from uniform of n samples spread uniformly over the modes."""
    p = rng.multinomial(n, np.full(modes, 1 / modes), size=20_000) / n
    kl = np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) * modes), 0), axis=1)
    return float(np.quantile(kl, 0.99))


@pytest.mark.parametrize(("dataset", "modes"), [("ring8", 8), ("grid25", 25)])
def test_the_minimum_keeps_a_perfect_histograms_kl_under_a_quarter_of_the_papers(dataset,
                                                                                 modes):
    # The chi-square approximation (2 n KL ~ chi2 with K - 1 degrees of freedom) set the
    # minimum; the simulation checks it, and that it is not much looser than it needs to be.
    rng = np.random.default_rng(0)
    target = mode_collapse.PAPER_TABLE_1[dataset, 2][2][0] / 4
    minimum = mode_collapse.MIN_HIGH_QUALITY[dataset]
    assert perfect_histogram_kl_q99(minimum, modes, rng) <= target
    assert perfect_histogram_kl_q99(int(0.8 * minimum), modes, rng) > target
