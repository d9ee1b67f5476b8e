"""The baseline check (bench.checks.baseline): it fails real regressions, passes noise and
slower machines, and says clearly what is wrong with bad input. Every run here is synthetic,
so no verdict depends on how busy the machine running the tests is."""

from __future__ import annotations

import json
import math

import pytest
from scipy.stats import mannwhitneyu

from bench.checks.baseline import (
    ALPHA,
    KEY_FIELDS,
    check,
    compare,
    comparison_table,
    gated_spec,
    make_baseline,
    read_baseline,
    worsening,
    write_baseline,
)
from bench.errors import UsageError
from bench.records import load_frame
from conftest import invoke, run_cli
from gan_bench_testing.runs import (
    THROUGHPUT_JOBS,
    ThroughputJob,
    error_record,
    mode_records,
    quality_records,
    scaled,
    throughput_records,
    write_run,
)

ROUND_METRICS = ("round_steps_per_s", "steps_per_s", "samples_per_s", "mfu")
THROUGHPUT_METRIC = "steps_per_s"


@pytest.fixture
def baseline(tmp_path):
    """A baseline from a synthetic throughput-and-quality run."""
    run = write_run(tmp_path / "base-run", throughput_records() + quality_records(),
                    suites=("throughput",))
    return write_baseline(make_baseline([run]), tmp_path / "baseline.json")


def statuses(result) -> dict[str, int]:
    return {s: n for s, n in result.counts().items() if n}


def test_a_copy_of_the_baseline_run_passes(tmp_path, baseline):
    run = write_run(tmp_path / "copy", throughput_records() + quality_records())
    result = check(run, baseline)
    assert not result.failed
    assert statuses(result) == {"ok": len(result.rows)}


def test_a_rerun_with_fresh_noise_passes(tmp_path, baseline):
    run = write_run(tmp_path / "rerun", throughput_records(seed=7) + quality_records())
    assert not check(run, baseline).failed


def test_throughput_25_percent_lower_is_flagged_with_its_size_and_confidence(tmp_path, baseline):
    """Flagged, and advisory: a baseline from another day cannot gate speed (the A/B check
    does); the verdict is there to read."""
    slower = scaled(throughput_records(), ROUND_METRICS, 0.75)
    run = write_run(tmp_path / "slower", slower + quality_records())
    result = check(run, baseline)
    assert not result.failed
    regressed = [r for r in result.advised if r.metric == THROUGHPUT_METRIC]
    assert len(regressed) == len(THROUGHPUT_JOBS)
    for row in regressed:
        assert row.status == "REGRESSED" and row.advisory
        assert row.change == pytest.approx(-0.25, abs=1e-9)
        assert row.p_value < ALPHA
        assert row.interval  # the bootstrap interval of the ratio is reported


def test_a_slower_machine_is_not_a_regression(tmp_path, baseline):
    """Rounds and the matmul peak both 0.6x: the code is as efficient as before."""
    records = scaled(throughput_records(seed=3, peak_scale=0.6), ROUND_METRICS, 0.6)
    run = write_run(tmp_path / "slow-machine", records + quality_records())
    result = check(run, baseline)
    assert not result.failed
    row = next(r for r in result.rows if r.metric == THROUGHPUT_METRIC)
    assert row.current == pytest.approx(0.6 * row.baseline, rel=0.1)
    assert "matmul peak x0.6" in row.note


def test_the_same_slowdown_on_the_same_machine_is_flagged(tmp_path, baseline):
    """The mirror of the slower machine: rounds 0.6x while the peak stays: a regression."""
    records = scaled(throughput_records(seed=3), ROUND_METRICS, 0.6)
    run = write_run(tmp_path / "slow-code", records + quality_records())
    assert check(run, baseline).advised


def test_peak_memory_is_advisory_and_throughput_never_fails_the_check(tmp_path, baseline):
    """Identical TF runs moved their peak memory 27%: a gate on it cries wolf."""
    records = scaled(throughput_records(), ["peak_memory_bytes"], 1.27)
    records = scaled(records, ROUND_METRICS, 0.5)
    result = check(write_run(tmp_path / "noisy", records + quality_records()), baseline)
    assert not result.failed
    assert {r.metric for r in result.advised} == {"peak_memory_bytes", THROUGHPUT_METRIC}
    assert "advisory" in result.summary()


def test_a_drop_beyond_the_tolerance_without_significance_passes(tmp_path):
    """Widely scattered rounds whose median dips 20%: not enough evidence to fail CI."""
    job = (ThroughputJob("mlp_gan", "images", "torch", "eager", 100.0),)
    base = throughput_records(jobs=job)
    rounds = [60.0, 150.0, 100.0, 75.0, 130.0, 90.0, 110.0]
    dipped = [r * 0.8 if r <= 100 else r for r in rounds]  # median 100 -> 80
    assert mannwhitneyu(dipped, rounds, alternative="less").pvalue >= ALPHA

    def with_rounds(records, values):
        out = [r for r in records if r["metric"] != "round_steps_per_s"]
        template = next(r for r in records if r["metric"] == "round_steps_per_s")
        return out + [{**template, "step": i, "value": v} for i, v in enumerate(values)]

    base_run = write_run(tmp_path / "base", with_rounds(base, rounds))
    path = write_baseline(make_baseline([base_run]), tmp_path / "b.json")
    run = write_run(tmp_path / "dipped", with_rounds(base, dipped))
    row = next(r for r in check(run, path).rows if r.metric == THROUGHPUT_METRIC)
    assert row.change == pytest.approx(-0.2)
    assert row.status == "ok"


def test_a_clearly_worse_quality_metric_fails(tmp_path, baseline):
    run = write_run(tmp_path / "worse", throughput_records() + quality_records(fid_scale=1.5))
    failed = check(run, baseline).failed
    assert {(r.metric, r.status) for r in failed} == {("fid_digits", "REGRESSED")}
    assert all(r.change == pytest.approx(0.5) for r in failed)


def _quality_baseline(tmp_path, fid_scales):
    runs = [write_run(tmp_path / f"q{i}", [{**r, "run_id": f"q{i}"}
                                           for r in quality_records(fid_scale=scale)])
            for i, scale in enumerate(fid_scales)]
    return write_baseline(make_baseline(runs), tmp_path / "quality.json")


def test_seeded_reruns_that_differ_widen_the_quality_tolerance_and_say_so(tmp_path):
    """TensorFlow's seeded reruns on a CPU differ: 0.75x to 1.3x of one FID here. A run 1.4x
    the median is within that; a run 2.5x is a clearly worse generator and fails."""
    baseline = _quality_baseline(tmp_path, (1.0, 0.75, 1.3))
    within = write_run(tmp_path / "within", quality_records(fid_scale=1.4))
    rows = [r for r in check(within, baseline).rows if r.metric == "fid_digits"]
    assert {r.status for r in rows} == {"ok"}
    assert all(r.allowed.endswith("(rerun spread)") for r in rows)
    worse = write_run(tmp_path / "worse", quality_records(fid_scale=2.5))
    assert {(r.metric, r.status) for r in check(worse, baseline).failed} == {
        ("fid_digits", "REGRESSED")}


def test_steady_seeded_reruns_keep_the_quality_tolerance(tmp_path):
    baseline = _quality_baseline(tmp_path, (1.0, 1.0, 1.01))
    worse = write_run(tmp_path / "worse", quality_records(fid_scale=1.5))
    failed = check(worse, baseline).failed
    assert {r.metric for r in failed} == {"fid_digits"}
    assert {r.allowed for r in failed} == {"+20%"}


def test_a_quality_change_inside_the_tolerance_passes(tmp_path, baseline):
    run = write_run(tmp_path / "close", throughput_records() + quality_records(fid_scale=1.05))
    assert not check(run, baseline).failed


def test_datasets_of_one_suite_are_separate_keys(tmp_path):
    base = write_run(tmp_path / "base", mode_records())
    path = write_baseline(make_baseline([base]), tmp_path / "b.json")
    run = write_run(tmp_path / "run", mode_records(grid25_modes=20))
    failed = check(run, path).failed
    dataset = KEY_FIELDS.index("dataset")
    assert [(r.key[dataset], r.baseline, r.current) for r in failed] == [("grid25", 25, 20)]


def test_a_diverged_run_is_the_worst_value(tmp_path, baseline):
    records = throughput_records() + quality_records(steps=5)
    final = max(r["step"] or 0 for r in records if r["metric"] == "fid_digits")
    records = [{**r, "value": "nan"} if r["metric"] == "fid_digits" and r["step"] == final
               else r for r in records]
    run = write_run(tmp_path / "diverged", records)
    assert {r.metric for r in check(run, baseline).failed} == {"fid_digits"}


def test_a_better_run_is_improved_not_failed(tmp_path, baseline):
    faster = scaled(throughput_records(seed=5), ROUND_METRICS, 1.4)
    run = write_run(tmp_path / "faster", faster + quality_records(fid_scale=0.5))
    result = check(run, baseline)
    assert not result.failed
    assert statuses(result)["improved"] == len(THROUGHPUT_JOBS) + 2  # + fid of both frameworks


def test_a_key_missing_from_the_run_fails_and_says_why(tmp_path, baseline):
    records = [r for r in throughput_records() + quality_records()
               if not (r["framework"] == "tf" and r["mode"] == "xla")]
    records.append(error_record("synthetic", "mlp_gan", "tf", "xla", "Killed: out of memory"))
    run = write_run(tmp_path / "crashed", records)
    result = check(run, baseline)
    assert {(r.metric, r.status, r.note) for r in result.failed} == {
        (metric, "missing", "job failed: Killed: out of memory")
        for metric in ("steps_per_s", "peak_memory_bytes")}
    assert list(comparison_table(result).query("fails == 'yes'")["status"]) == ["missing"] * 2
    allowed = check(run, baseline, allow_missing=True)
    assert not allowed.failed
    assert set(comparison_table(allowed)["fails"]) == {"no"}


def test_a_key_new_in_the_run_is_reported_and_passes(tmp_path, baseline):
    extra = ThroughputJob("dcgan", "base", "torch", "eager", 20.0)
    run = write_run(tmp_path / "grown", throughput_records(jobs=(*THROUGHPUT_JOBS, extra))
                    + quality_records())
    result = check(run, baseline)
    assert not result.failed
    assert {(r.key[1], r.metric) for r in result.rows if r.status == "new"} == {
        ("dcgan", "steps_per_s"), ("dcgan", "peak_memory_bytes")}


def test_values_are_compared_at_the_last_step_and_a_different_one_is_noted(tmp_path, baseline):
    run = write_run(tmp_path / "longer", throughput_records() + quality_records(steps=6))
    rows = [r for r in check(run, baseline).rows if r.metric == "fid_digits"]
    assert [r.status for r in rows] == ["ok", "ok"]  # one more step of training: a bit better
    assert all(r.note == "last step: run 600, baseline 500" for r in rows)


def test_several_runs_pool_their_rounds(tmp_path):
    runs = [write_run(tmp_path / f"r{i}", throughput_records(run_id=f"r{i}", seed=i))
            for i in range(3)]
    baseline = make_baseline(runs)
    entry = next(e for e in baseline.entries.values() if e.metric == THROUGHPUT_METRIC)
    assert len(entry.normalised_rounds) == 21
    assert [s["run_id"] for s in baseline.sources] == ["r0", "r1", "r2"]


def _pooled_baseline(tmp_path, scales):
    runs = [write_run(tmp_path / f"b{i}", scaled(throughput_records(run_id=f"b{i}", seed=i),
                                                  ROUND_METRICS, scale))
            for i, scale in enumerate(scales)]
    return write_baseline(make_baseline(runs), tmp_path / "pooled.json")


def test_a_baseline_of_steady_reruns_keeps_the_tolerance(tmp_path):
    baseline = _pooled_baseline(tmp_path, (1.0, 0.98, 1.02))
    run = write_run(tmp_path / "slower", scaled(throughput_records(seed=9), ROUND_METRICS, 0.75))
    flagged = check(run, baseline).advised
    assert len(flagged) == len(THROUGHPUT_JOBS)
    assert {r.allowed for r in flagged} == {"-15%"}


def test_a_baseline_of_drifting_reruns_widens_the_tolerance_and_says_so(tmp_path):
    """Reruns 0.6x to 1.4x apart: a 25% dip is within what the machine itself does."""
    baseline = _pooled_baseline(tmp_path, (1.0, 0.6, 1.4))
    run = write_run(tmp_path / "slower", scaled(throughput_records(seed=9), ROUND_METRICS, 0.75))
    rows = [r for r in check(run, baseline).rows if r.metric == THROUGHPUT_METRIC]
    assert {r.status for r in rows} == {"ok"}
    assert all(r.allowed.endswith("(rerun noise)") for r in rows)
    collapsed = write_run(tmp_path / "collapsed",
                          scaled(throughput_records(seed=9), ROUND_METRICS, 0.2))
    assert len(check(collapsed, baseline).advised) == len(THROUGHPUT_JOBS)


def test_a_baseline_survives_its_file(tmp_path):
    run = write_run(tmp_path / "run", throughput_records() + quality_records())
    made = make_baseline([run])
    again = read_baseline(write_baseline(made, tmp_path / "b.json"))
    assert again.entries == made.entries
    assert again.profile == "quick"


def test_a_baseline_needs_a_clean_run(tmp_path):
    records = throughput_records() + [error_record("x", "dcgan", "tf", "xla", "boom")]
    run = write_run(tmp_path / "dirty", records)
    with pytest.raises(UsageError, match="1 failed jobs"):
        make_baseline([run])


def test_profiles_must_match(tmp_path, baseline):
    run = write_run(tmp_path / "standard", throughput_records(profile="standard"))
    with pytest.raises(UsageError, match="profile 'standard' but the baseline 'quick'"):
        compare(read_baseline(baseline), load_frame(run))


@pytest.mark.parametrize("metric, direction", [
    ("steps_per_s", "higher"), ("fid_digits", "lower"), ("fid_inception", "lower"),
    ("kid_digits", "lower"), ("precision", "higher"), ("recall", "higher"),
    ("coverage_digits", "higher"), ("modes_captured", "higher"), ("modes_kl_uniform", "lower"),
    ("classes_kl_uniform", "lower"), ("ndb_js", "lower"), ("diverged", "lower"),
    ("kid_digits_std", None), ("loss_d", None), ("round_steps_per_s", None),
])
def test_every_gated_metric_has_a_direction(metric, direction):
    spec = gated_spec(metric)
    assert (spec.better if spec else None) == direction


def test_tolerances_are_relative_or_absolute_whichever_is_larger():
    fid, precision = gated_spec("fid_digits"), gated_spec("precision")
    assert fid.gate.allowed(10.0) == pytest.approx(2.0)
    assert fid.gate.allowed(0.01) == pytest.approx(0.05)
    assert precision.gate.allowed(0.9) == pytest.approx(0.05)
    assert worsening(precision, 0.8, math.nan) == math.inf


# --- the command line ---------------------------------------------------------------------


@pytest.mark.slow
def test_check_exit_codes_and_table(tmp_path, baseline):
    same = write_run(tmp_path / "same", throughput_records() + quality_records())
    done = run_cli("check", str(same), "--baseline", str(baseline))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check passed" in done.stdout

    slower = write_run(tmp_path / "slower", scaled(throughput_records(), ROUND_METRICS, 0.75)
                       + quality_records())
    done = run_cli("check", str(slower), "--baseline", str(baseline))
    assert done.returncode == 0, done.stdout + done.stderr  # throughput is advisory here
    assert "advisory (never failing): what the suites declare so, timings" in done.stdout
    shared, header = done.stdout.splitlines()[:2]
    assert shared == ("suite=throughput model=mlp_gan device=cpu batch_size=64 threads=1 "
                      "wait_policy=passive perturbation=base seed=0")
    columns = {cell.strip() for cell in header.split("|")}
    for column in ("status", "gate", "metric", "baseline", "run", "change", "p",
                   "95% interval"):
        assert column in columns
    assert done.stdout.count("REGRESSED") == len(THROUGHPUT_JOBS)
    assert (slower / "check.md").exists() and (slower / "check.csv").exists()

    worse = write_run(tmp_path / "worse", throughput_records() + quality_records(fid_scale=1.5))
    done = run_cli("check", str(worse), "--baseline", str(baseline))
    assert done.returncode == 1, done.stdout + done.stderr  # quality is gated
    # The check rewrites the run's report: its summary opens with the verdict it reached.
    for run, verdict in ((same, "passed, no regression"), (worse, "FAILED in")):
        summary = (run / "report.md").read_text().split("\n## ", 2)[1]
        assert f"Gate (baseline check): {verdict}" in summary
        assert "Gate (baseline check)" in (run / "report.html").read_text()


def test_baseline_command_writes_a_file_check_reads(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    out = tmp_path / "baselines" / "cpu-quick.json"
    done = invoke("baseline", str(run), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["format"] == "gan-bench-baseline"
    assert invoke("check", str(run), "--baseline", str(out)).returncode == 0


def _malformed(tmp_path, text: str):
    path = tmp_path / "bad.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ('{"entries": []}', "is not a gan-bench baseline"),
    ('{"format": "gan-bench-baseline", "version": 99, "profile": "quick", "entries": []}',
     "has version 99"),
    ('{"format": "gan-bench-baseline", "version": 2, "entries": []}', 'lacks "profile"'),
    ('{"format": "gan-bench-baseline", "version": 2, "profile": "quick", "entries": [{}]}',
     "entry 0 is malformed"),
    ('{"format": "gan-bench-baseline", "version": 2, "profile": "quick", "entries": '
     '[{"key": {}, "metric": "steps_per_s", "value": 1, "normalised_rounds": [1]}]}',
     "needs at least 2 normalised_rounds"),
])
def test_bad_baselines_name_the_problem_and_the_fix(tmp_path, content, message):
    path = tmp_path / "absent.json" if content is None else _malformed(tmp_path, content)
    with pytest.raises(UsageError, match=message) as error:
        read_baseline(path)
    assert "gan-bench baseline RUN_DIR --out FILE" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_bad_baseline_is_one_line_and_exit_2(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    done = invoke("check", str(run), "--baseline", str(_malformed(tmp_path, "{not json")))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is not valid JSON" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["check", "baseline"])
def test_a_run_folder_without_records_is_exit_2(tmp_path, baseline, command):
    extra = ["--baseline", str(baseline)] if command == "check" else ["--out", "x.json"]
    done = invoke(command, str(tmp_path / "nowhere"), *extra)
    assert done.returncode == 2
    assert "has no records.jsonl" in done.stderr


def test_the_gate_loads_no_framework():
    from conftest import run_python

    done = run_python(
        "import sys, bench.checks.baseline, bench.report.figures, bench.report.pages; "
        "print(sorted({'torch', 'tensorflow', 'keras', 'matplotlib'} & set(sys.modules)))")
    assert done.stdout.strip() == "[]"


def test_check_and_baseline_have_help():
    for command in ("check", "baseline"):
        done = run_cli(command, "--help")
        assert done.returncode == 0
        assert "Usage:" in done.stdout
