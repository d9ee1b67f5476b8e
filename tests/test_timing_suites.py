"""The throughput and overhead suites: which jobs a request expands to, their profile tables,
the throughput samples' figure, and a real overhead run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import registry
from bench.errors import UsageError
from bench.jobs import Job
from bench.records import Measurement, make_record
from bench.report.pages import run_frame
from bench.report.tables import artifact_rows
from bench.suite import Request
from bench.timing import MIN_ROUNDS, Timing, rounds_within
from conftest import invoke, run_cli
from gan_bench_testing.runs import (
    ENV,
    THROUGHPUT_JOBS,
    artifact_records,
    throughput_records,
    write_run,
)
from suites import overhead, throughput


def modes_and_sizes(jobs) -> set[tuple[str, str, int | None]]:
    return {(job.framework, job.mode, job.config.get("batch_size")) for job in jobs}


def test_throughput_takes_the_profiles_modes_and_batch_sizes():
    """Standard times every declared mode. Quick times each framework's default, the way
    its users train on the job's device: the as-used comparison and no more."""
    jobs = throughput.jobs(Request(models=("dcgan",), frameworks=("torch", "tf"),
                                   profile="standard"))
    assert modes_and_sizes(jobs) == {
        (framework, mode, size) for framework in ("torch", "tf")
        for mode in registry.framework(framework).mode_names() for size in (16, 64, 256)}
    quick = throughput.jobs(Request(models=("dcgan",), frameworks=("torch", "tf", "jax")))
    assert [(j.framework, j.mode) for j in quick] == [("torch", "eager"), ("tf", "compiled"),
                                                      ("jax", "jit")]
    on_gpu = throughput.jobs(Request(models=("dcgan",), frameworks=("tf",), devices=("cuda",),
                                     profile="standard"))
    modes = list(dict.fromkeys(j.mode for j in on_gpu))
    assert modes == ["xla", "eager", "compiled"]  # Keras' fit on a GPU, then the others


def test_requested_modes_and_batch_sizes_replace_the_profiles():
    """A mode goes to every framework that declares it; FRAMEWORK:MODE to that one only."""
    request = Request(models=("dcgan",), frameworks=("torch", "tf"), profile="standard",
                      modes=("compiled", "tf:xla"), batch_sizes=(32,))
    assert modes_and_sizes(throughput.jobs(request)) == {
        ("torch", "compiled", 32), ("tf", "compiled", 32), ("tf", "xla", 32)}
    assert {(j.framework, j.mode) for j in overhead.jobs(request)} == {
        ("torch", "compiled"), ("tf", "compiled"), ("tf", "xla")}
    default = Request(models=("dcgan",), frameworks=("torch", "tf"), modes=("default",))
    assert [(j.framework, j.mode) for j in throughput.jobs(default)] == [
        ("torch", "eager"), ("tf", "compiled")]


@pytest.mark.parametrize("modes, message", [
    ("xla,warp", "unknown mode 'warp'; the selected frameworks declare compiled, eager, xla"),
    ("torch:xla", "torch has no mode 'xla'; its modes: eager, compiled"),
    ("caffe:eager", "'caffe' is not among the selected frameworks (torch, tf)"),
])
def test_a_mode_no_selected_framework_declares_is_one_line_and_exit_2(modes, message):
    done = invoke("run", "throughput", "--models", "mlp_gan", "--frameworks", "torch,tf",
                  "--modes", modes)
    assert done.returncode == 2
    assert done.stderr.startswith("gan-bench: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_family_without_a_batch_sweep_keeps_one_size():
    request = Request(models=("style_transfer",), frameworks=("torch",), profile="standard")
    assert len(throughput.jobs(request)) == len(registry.framework("torch").modes)


@pytest.mark.slow
def test_overhead_run_pairs_every_round_and_skips_families_without_a_bare_loop(tmp_path):
    done = run_cli("run", "overhead", "--models", "mlp_gan,progan", "--frameworks", "torch",
                   "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    progan = [r for r in records if r["model"] == "progan"]
    assert [r["status"] for r in progan] == ["skipped"]
    assert "no hand-written torch loop for progan" in progan[0]["error"]
    values = {r["metric"]: r["value"] for r in records if r["model"] == "mlp_gan"
              and r["step"] is None}
    rounds = overhead.PROFILES["quick"].rounds
    assert values["rounds"] == rounds
    assert values["harness_over_bare_lo95"] <= values["harness_over_bare"]
    assert values["harness_over_bare"] <= values["harness_over_bare_hi95"]
    per_round = [r for r in records if r["metric"] == "harness_round_steps_per_s"]
    assert len(per_round) == rounds and all(r["value"] > 0 for r in per_round)
    assert "harness overhead" in (tmp_path / "report.md").read_text()


def test_overhead_compares_the_modes_throughput_times_and_says_an_unknown_profile_once():
    for name, settings in overhead.PROFILES.items():
        assert settings.timing is throughput.PROFILES[name]  # borrowed deliberately, not copied
    for suite in (throughput, overhead):
        with pytest.raises(UsageError, match="unknown profile 'huge'; use one of quick, standard"):
            suite.jobs(Request(models=("dcgan",), frameworks=("torch",), profile="huge"))


def test_throughput_samples_are_drawn_as_untrained_with_their_timing_steps(tmp_path):
    records = []
    for framework, steps in (("tf", 55), ("torch", 40)):
        job = Job(suite="throughput", model="dcgan", framework=framework,
                  params={"variant": "base"})
        records += artifact_records(tmp_path, job, np.zeros((4, 8, 8, 1)), variant="base",
                                    trained=False, step=steps)
    frame = run_frame(write_run(tmp_path, records))
    out = tmp_path / "figures"
    out.mkdir()
    assert [f.name for f in throughput.figures(frame, out)] == ["samples-throughput-dcgan-base"]
    rows = artifact_rows(frame, "throughput").sort_values("framework")
    assert [throughput.untrained_caption(row, many_devices=False)
            for _, row in rows.iterrows()] == ["tf: untrained, after 55 timing steps",
                                               "torch: untrained, after 40 timing steps"]
    assert not rows["trained"].any()


def test_untrained_samples_name_the_dataset_only_where_the_family_has_one():
    from bench.registry import family_config

    assert throughput.dataset_name(family_config("mlp_gan").for_profile("quick")) == "digits"
    assert throughput.dataset_name(family_config("style_transfer").for_profile("quick")) == ""


def test_a_slow_model_times_fewer_rounds_but_never_fewer_than_the_minimum():
    quick = throughput.PROFILES["quick"]
    assert rounds_within(quick.max_timed_s, 0.152, quick.rounds) == 21  # a round of ~0.15 s
    assert rounds_within(quick.max_timed_s, 0.3, quick.rounds) == 10
    assert rounds_within(quick.max_timed_s, 1.25, quick.rounds) == MIN_ROUNDS
    assert rounds_within(float("inf"), 5.0, 15) == 15  # standard: no budget
    assert rounds_within(quick.max_timed_s, 0.1, 5) == 5  # never more than asked


def test_a_timing_reports_its_median_and_fastest_round_and_the_cores_it_used():
    timing = Timing(first_step_s=1.0, warmup_s=0.3, round_s=np.array([0.2, 0.1, 0.4, 0.1]),
                    round_cpu_s=np.array([0.2, 0.1, 0.2, 0.1]), steps_per_round=10)
    summary = timing.summary()
    assert summary["steps_per_s"] == pytest.approx(75.0)  # rounds of 50, 100, 25, 100 steps/s
    assert summary["best_steps_per_s"] == pytest.approx(100.0)
    assert summary["round_spread"] == pytest.approx(4.0) and summary["unstable"] == 1.0
    assert summary["cores_used"] == pytest.approx(1.0)  # the slow round held half a core


def test_where_the_time_goes_keeps_a_row_its_framework_could_not_profile(tmp_path):
    """One job carries a profile, the others none (a framework whose profiler cannot
    attribute op time): every row stays, and the unprofiled ones say so."""
    profiled = THROUGHPUT_JOBS[0]
    job = Job(suite="throughput", model=profiled.model, framework=profiled.framework,
              mode=profiled.mode, profile="quick", params={"variant": profiled.variant})
    shares = {"matmul_conv_share": 0.6, "optimizer_share": 0.1, "other_ops_share": 0.3}
    extra = [make_record("synthetic", job, Measurement(name, value,
                                                       tags={"variant": profiled.variant}),
                         batch_size=64, env=ENV) for name, value in shares.items()]
    frame = run_frame(write_run(tmp_path, throughput_records() + extra))
    where = throughput.tables(frame)["where the time goes"]
    assert len(where) == len(THROUGHPUT_JOBS)
    measured = where[where["profile"] == "measured"]
    assert list(zip(measured["framework"], measured["mode"], strict=True)) == [
        (profiled.framework, profiled.mode)]
    assert measured["matmul_conv_share"].tolist() == [0.6]
    unprofiled = where[where["profile"] == throughput.NOT_PROFILED]
    assert len(unprofiled) == len(THROUGHPUT_JOBS) - 1
    assert unprofiled["matmul_conv_share"].isna().all()
