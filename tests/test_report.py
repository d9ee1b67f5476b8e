"""Reports: each suite's tables in every format and its figures, only when their records exist,
and a self-contained HTML page. Runs are synthetic: the figures' inputs are chosen, not
measured."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import registry
from bench.errors import UsageError
from bench.framework import Framework, Mode
from bench.jobs import Job
from bench.profiles import PROFILE_NAMES, profile_settings
from bench.records import load_frame
from bench.registry import load_suite
from bench.report.comparison import comparison_table, ratio_figure
from bench.report.figures import image_grid
from bench.report.formatting import format_value, natural_order, to_html, to_markdown
from bench.report.pages import parse_formats, run_frame, run_tables, write_report
from bench.report.tables import artifact_rows
from bench.side_by_side import Side
from gan_bench_testing.runs import (
    PERTURBATIONS,
    artifact_records,
    convergence_records,
    error_record,
    quality_records,
    throughput_records,
    write_run,
)
from suites.convergence import (
    budget_curve,
    perturbation_sort_key,
    runs,
    success_grid,
    summary_table,
)
from suites.throughput import throughput_bars

BUILT_IN_SUITES = ("throughput", "fid", "mode-collapse", "overhead", "convergence")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def figure_names(run_dir) -> set[str]:
    return {p.stem for p in (run_dir / "figures").glob("*.png")}


def fid_records() -> list[dict]:
    """The synthetic quality records with the tags every record of the fid suite carries."""
    return [{**r, "dataset": "digits", "n_samples": 1000} for r in quality_records()]


def sample_records(run_dir, rng: np.random.Generator) -> list[dict]:
    """Samples of both kinds: trained digits of the fid suite, untrained ring8 points of the
    throughput suite."""
    records = []
    for framework in ("torch", "tf"):
        fid_job = Job(suite="fid", model="mlp_gan", framework=framework)
        records += artifact_records(run_dir, fid_job, rng.uniform(-1, 1, (64, 8, 8, 1)),
                                    dataset="digits", step=500, trained=True)
        angles = rng.integers(0, 8, 500) * 2 * np.pi / 8
        ring = np.stack([np.cos(angles), np.sin(angles)], 1) + 0.02 * rng.normal(size=(500, 2))
        timed = Job(suite="throughput", model="mlp_gan", framework=framework,
                    params={"variant": "points"})
        records += artifact_records(run_dir, timed, ring, variant="points", trained=False,
                                    step=40)
    return records


@pytest.fixture
def full_run(tmp_path):
    """Throughput, a quality suite and convergence records, plus samples of both kinds."""
    run = tmp_path / "run"
    records = sample_records(run, np.random.default_rng(0))
    return write_run(run, throughput_records() + fid_records() + convergence_records()
                     + records, suites=("throughput", "fid", "convergence"))


def test_the_report_has_tables_in_every_format_and_every_figure(full_run):
    report = write_report(full_run, parse_formats("md,html,csv,parquet"))
    assert figure_names(full_run) == {
        "throughput", "losses-fid", "metrics-fid", "metrics-convergence", "sensitivity",
        "budget_fid_digits",
        "samples-fid-mlp_gan-digits", "samples-throughput-mlp_gan-points"}
    for png in (full_run / "figures").glob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC)
    text = report.read_text()
    assert "## throughput" in text
    assert "![Throughput and MFU](figures/throughput.png)" in text
    csv = pd.read_csv(full_run / "tables" / "throughput.csv")
    parquet = pd.read_parquet(full_run / "tables" / "throughput.parquet")
    assert list(csv.columns) == list(parquet.columns)
    assert csv["steps_per_s"].tolist() == pytest.approx(parquet["steps_per_s"].tolist())


def test_the_html_report_is_self_contained(full_run):
    write_report(full_run, ["md", "html"])
    page = (full_run / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(figure_names(full_run))
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing fetched from elsewhere


def test_a_throughput_run_draws_only_the_throughput_figure(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    write_report(run, ["md"])
    assert figure_names(run) == {"throughput"}
    assert not (run / "report.html").exists()


def test_figures_of_records_since_removed_do_not_linger(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    (run / "figures").mkdir()
    (run / "figures" / "sensitivity.png").write_bytes(PNG_MAGIC)
    write_report(run, ["md"])
    assert figure_names(run) == {"throughput"}


def test_throughput_bars_use_the_rounds_quartiles_and_mfu(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    frame = load_frame(run)
    summary = throughput_bars(frame)
    assert len(summary) == 5
    assert (summary["q25"] <= summary["median"]).all()
    assert (summary["median"] <= summary["q75"]).all()
    assert summary["framework"].tolist()[:2] == ["torch", "torch"]  # torch first, then tf
    job = frame[frame["metric"] == "steps_per_s"].iloc[0]
    row = summary[np.isclose(summary["median"], job["value"])]
    assert len(row) == 1
    assert row["mfu"].iloc[0] == pytest.approx(
        frame.loc[(frame["job_id"] == job["job_id"]) & (frame["metric"] == "mfu"), "value"]
        .iloc[0])
    # The bar is the throughput table's figure, not a second computation of it.
    table = load_suite("throughput").tables(frame)["throughput"]
    assert sorted(summary["median"]) == pytest.approx(sorted(table["steps_per_s"]))


def test_success_rates_count_converged_seeds_per_perturbation(tmp_path):
    frame = load_frame(write_run(tmp_path / "run", convergence_records(seeds=3)))
    summary = summary_table(runs(frame))
    rates, counts = success_grid(summary)
    assert list(rates.index) == ["mlp_gan digits / torch", "mlp_gan digits / tf"]
    assert list(rates.columns) == sorted(PERTURBATIONS, key=perturbation_sort_key)
    assert rates.loc["mlp_gan digits / torch", "base"] == 1.0
    # perturbation p, seed s converges unless (p + s) % 3 == 0: lr=x0.1 is p=1, so seed 2 fails
    assert rates.loc["mlp_gan digits / torch", "lr=x0.1"] == pytest.approx(2 / 3)
    assert (counts == 3).all().all()
    # The heatmap's cells are the summary table's success rates.
    cells = summary.set_index(["framework", "perturbation"])["success_rate"]
    assert rates.loc["mlp_gan digits / tf", "lr=x0.1"] == cells.loc[("tf", "lr=x0.1")]


def test_perturbations_sort_by_axis_then_number():
    ordered = sorted(["lr=x10", "beta1=0.9", "lr=x0.1", "base", "lr=x3", "beta1=0"],
                     key=perturbation_sort_key)
    assert ordered == ["base", "beta1=0", "beta1=0.9", "lr=x0.1", "lr=x3", "lr=x10"]


def test_the_budget_curve_falls_to_the_best_value_and_ignores_diverged_runs():
    values = np.array([30.0, 12.0, math.nan, 8.0, 50.0])
    median, (lo, hi) = budget_curve(values)
    assert len(median) == len(values)
    assert np.all(np.diff(median) <= 0)
    assert median[-1] == 8.0
    assert median[0] == pytest.approx(30.0)  # a random single configuration: the median one
    assert np.all(lo <= median) and np.all(median <= hi)


def test_samples_are_found_from_artifact_records_not_file_names(tmp_path):
    records = []
    for model, framework, variant in (("mlp_gan", "torch", "base"), ("mlp_gan", "tf", "points"),
                                      ("style_transfer", "tf", "final")):
        job = Job(suite="throughput", model=model, framework=framework,
                  params={"variant": variant})
        records += artifact_records(tmp_path, job, np.zeros((4, 2)), variant=variant,
                                    trained=False, step=12)
    frame = run_frame(write_run(tmp_path, records))
    rows = artifact_rows(frame, "throughput")
    found = {(r.model, r.framework, r.variant) for r in rows.itertuples()}
    assert found == {("mlp_gan", "torch", "base"), ("mlp_gan", "tf", "points"),
                     ("style_transfer", "tf", "final")}
    assert all(np.load(path).shape == (4, 2) for path in rows["path"])


def test_image_grids_tile_and_rescale_to_unit_range():
    images = np.full((10, 4, 5, 3), -1.0)
    images[3] = 1.0
    grid = image_grid(images, side=4)
    assert grid.shape == (3 * 5 + 1, 4 * 6 + 1, 3)  # 10 images in rows of 4, 1-px borders
    assert grid.min() == 0.0 and grid.max() == 1.0
    assert grid[1, 1 + 3 * 6].tolist() == [1.0, 1.0, 1.0]  # image 3 is white


def test_a_sample_file_of_the_wrong_shape_is_named(tmp_path):
    job = Job(suite="throughput", model="mlp_gan", framework="torch")
    samples = artifact_records(tmp_path / "run", job, np.zeros((5, 3)), variant="base",
                               trained=False, step=12)
    run = write_run(tmp_path / "run", throughput_records() + samples)
    with pytest.raises(UsageError, match=rf"{job.job_id}-samples.npy holds an array of shape "
                                         r"\(5, 3\)"):
        write_report(run, ["md"])


def test_the_existing_api_still_works(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    tables = run_tables(run)
    assert list(tables) == ["throughput"]
    # tabulate pads cells to the column's width: the header reads model, variant, ...
    assert re.match(r"\| model +\| variant +\|", to_markdown(tables["throughput"]))
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        parse_formats("md,pdf")


def test_parquet_without_pyarrow_is_refused_when_the_formats_are_read(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else find_spec(name, *a))
    with pytest.raises(UsageError, match="parquet tables need pyarrow, which this install lacks; "
                                         "pip install pyarrow, or leave parquet out of --format"):
        parse_formats("md,parquet")
    assert parse_formats("md,csv") == ["md", "csv"]


def test_the_table_of_failed_jobs_goes_to_parquet_too(tmp_path):
    records = throughput_records() + [error_record("x", "dcgan", "tf", "xla", "boom\ntrace")]
    run = write_run(tmp_path / "run", records)
    write_report(run, ["md", "parquet"])
    failed = pd.read_parquet(run / "tables" / "jobs_not_measured.parquet")
    assert failed[["model", "status", "reason"]].values.tolist() == [["dcgan", "error", "boom"]]


@pytest.mark.parametrize("name", BUILT_IN_SUITES)
def test_every_suite_keeps_the_protocol_and_one_profile_table(name):
    suite = load_suite(name)
    assert set(suite.PROFILES) == set(PROFILE_NAMES)
    assert profile_settings(suite.PROFILES, "quick") is suite.PROFILES["quick"]
    key = suite.KEY_METRIC
    assert isinstance(key, str) or (isinstance(key, tuple) and all(isinstance(k, str)
                                                                    for k in key))
    for part in ("jobs", "execute", "tables", "figures"):
        assert callable(getattr(suite, part))
    empty = load_frame(Path("/nonexistent"))
    assert suite.tables(empty) == {} and suite.figures(empty, Path("/nonexistent")) == []


def test_figures_come_only_from_the_suites_the_run_asked_for(tmp_path):
    run = write_run(tmp_path / "run", throughput_records() + fid_records(), suites=("fid",))
    write_report(run, ["md"])
    assert figure_names(run) == {"losses-fid", "metrics-fid"}


# --- summary and formatting ------------------------------------------------------------------


def unstable_records(job_row: dict, spread: float) -> list[dict]:
    """A throughput job's `unstable` and `round_spread` records, as the suite writes them."""
    return [{**job_row, "metric": "unstable", "value": 1.0, "step": None},
            {**job_row, "metric": "round_spread", "value": spread, "step": None}]


def test_the_report_opens_with_a_summary_of_speed_as_used_and_the_environment(tmp_path):
    records = throughput_records()
    torch_images = next(r for r in records if r["framework"] == "torch"
                        and r["variant"] == "images" and r["metric"] == "steps_per_s")
    records += unstable_records(torch_images, 1.8)
    records = [{**r, "cores": "16", "cpus_allowed": "0-3,8", "load_at_start": "0.42",
                "git_sha": "abc123+dirty",
                "framework_version": "2.5.0" if r["framework"] == "torch" else "tf 2.18"}
               for r in records]
    run = write_run(tmp_path / "run", records)
    (run / "check.csv").write_text("status,gate,fails,metric\nREGRESSED,gated,yes,steps_per_s\n"
                                   "ok,gated,no,fid_raw\n")
    text = write_report(run, ["md"]).read_text()
    assert text.index("## Summary") < text.index("## throughput")
    summary = text[text.index("## Summary"):text.index("## throughput")]
    assert "Gate (baseline check): FAILED in 1 comparison." in summary
    # An advisory flag (a baseline check's throughput) is no regression of the gate.
    (run / "check.csv").write_text("status,gate,fails,metric\n"
                                   "REGRESSED,advisory,no,steps_per_s\n")
    advised = write_report(run, ["md"]).read_text().split("## throughput")[0]
    assert ("Gate (baseline check): passed, no regression; 1 advisory flag (speed or memory "
            "against a baseline from another day, which never fails).") in advised
    # An A/B check's table names its verdict in a `verdict` column; a job that fails in the
    # head tree only fails the check as a regression does.
    (run / "check.csv").unlink()
    (run / "ab-check.csv").write_text("verdict,fails,model\nok,no,mlp_gan\n"
                                      "REGRESSED,yes,dcgan\nerror,yes,style_transfer\n")
    ab = write_report(run, ["md"]).read_text().split("## throughput")[0]
    assert "Gate (A/B check): FAILED in 2 comparisons." in ab
    # A baseline check names the rows that fail it: a missing key fails unless allowed.
    (run / "ab-check.csv").unlink()
    for fails, verdict in (("yes", "FAILED in 1 comparison."), ("no", "passed, no regression.")):
        (run / "check.csv").write_text(f"status,gate,fails,metric\nmissing,gated,{fails},"
                                       "steps_per_s\nok,gated,no,fid_raw\n")
        missing = write_report(run, ["md"]).read_text().split("## throughput")[0]
        assert f"Gate (baseline check): {verdict}" in missing
    as_used = summary[summary.index("### speed as used"):summary.index("### speed at its")]
    # torch eager 180 against tf's default on a CPU (a tf.function, "compiled") at 120
    assert re.search(r"\| mlp_gan +\| images +\| +64 \| eager +\| 1[78]\d +\| compiled +\| "
                     r"1[12]\d +\| 0\.6\d+ +\| 0\.6\d* to 0\.6\d* +\|", as_used)
    fastest = summary[summary.index("### speed at its fastest"):]
    assert re.search(r"\| images +\| +64 \| eager +\| 1[78]\d +\| xla +\| 1[45]\d +\| 0\.8\d",
                     fastest)
    assert "torch: torch.compile not run in this profile" in fastest
    assert "These ratios come from sequential jobs" in summary
    assert re.search(r"\| images +\| torch +\| eager +\| unstable +\| "
                     r"round spread \(max/min\) 1.8", summary)
    for item, value in (("cores", "16"), ("CPUs allowed \\(affinity\\)", "0-3,8"),
                        ("load at start \\(1 min\\)", "0.42"),
                        ("torch version", "2.5.0"), ("tf version", "tf 2.18"),
                        ("git commit", "abc123"), ("uncommitted changes", "yes")):
        assert re.search(rf"\| {item} +\| {value} +\|", summary), item


def test_the_summary_shows_the_machine_measured_at_the_runs_start_and_end(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    peaks = {"context": {"throughput": {"matmul_peak_flops_per_s": 100e9,
                                        "torch_matmul_flops_per_s": 90e9}},
             "context_at_end": {"throughput": {"matmul_peak_flops_per_s": 80e9,
                                               "torch_matmul_flops_per_s": 93e9}}}
    (run / "run.json").write_text(json.dumps({"suites": ["throughput"], **peaks}))
    summary = write_report(run, ["md"]).read_text().split("## throughput")[0]
    assert re.search(r"\| throughput: matmul peak \(GFLOP/s\) at start, at end +\| "
                     r"100, 80 \(-20%\) +\|", summary)
    assert re.search(r"torch matmul \(GFLOP/s\) at start, at end +\| 90, 93 \(\+3%\)", summary)
    # Only the change past 10% is a note: the machine's speed moved during the run.
    assert ("The machine's speed moved while the jobs ran (throughput: "
            "matmul_peak_flops_per_s -20% between the run's start and its end)") in summary
    del peaks["context_at_end"]  # a run from before the end was measured: no row, no note
    (run / "run.json").write_text(json.dumps({"suites": ["throughput"], **peaks}))
    older = write_report(run, ["md"]).read_text().split("## throughput")[0]
    assert "at start, at end" not in older and "speed moved" not in older


def paired_side(framework: str, mode: str, rate: float, machine: np.ndarray) -> Side:
    """A side timed side by side: its own rate times the machine's speed at each turn."""
    return Side(framework, mode, turns=[rate * speed for speed in machine])


def test_side_by_side_ratios_cancel_the_machines_drift_and_name_each_mode(monkeypatch):
    """The machine's speed swings twofold from turn to turn and pair to pair; each turn's
    rounds meet the same moment, so every pair's ratio is exact and the interval is tight,
    where the same rates taken as sequential rounds give a wide one. A third framework
    (declared here, jit by default) gets its own rows against the reference."""
    third = Framework("fw3", module="fw3", install="", colour="#000000",
                      modes=(Mode("eager", "eager"), Mode("jit", "fw3.jit")), default_mode="jit")
    declared = registry.framework
    monkeypatch.setattr(registry, "framework",
                        lambda name: third if name == "fw3" else declared(name))
    rng = np.random.default_rng(0)
    machine = [rng.uniform(0.5, 1.0, size=21) for _ in range(5)]
    sides = {("torch", "eager"): paired_side("torch", "eager", 100.0, machine),
             ("tf", "eager"): paired_side("tf", "eager", 25.0, machine),
             ("tf", "compiled"): paired_side("tf", "compiled", 130.0, machine),
             ("fw3", "jit"): paired_side("fw3", "jit", 150.0, machine),
             ("fw3", "eager"): paired_side("fw3", "eager", 10.0, machine)}
    key = ("mlp_gan", "images", "cpu", 64)
    table = comparison_table({key: sides}, ["torch", "tf", "fw3"])
    got = {(r.comparison, r.framework): (r.mode, r.ratio, r.ci_low, r.ci_high, r.pairs)
           for r in table.itertuples()}
    assert got[("as_used", "tf")][:2] == ("compiled", pytest.approx(1.3))
    assert got[("as_used", "fw3")][:2] == ("jit", pytest.approx(1.5))
    assert got[("eager", "tf")][:2] == ("eager", pytest.approx(0.25))
    assert got[("eager", "fw3")][:2] == ("eager", pytest.approx(0.1))
    assert got[("as_used", "torch")][:2] == ("eager", pytest.approx(1.0))
    assert all(v[4] == 5 for v in got.values())
    assert got[("as_used", "tf")][3] - got[("as_used", "tf")][2] < 1e-9
    sequential = {k: Side(*k, rounds=np.concatenate(s.turns)) for k, s in sides.items()}
    loose = comparison_table({key: sequential}, ["torch", "tf"])
    row = loose[(loose["comparison"] == "as_used") & (loose["framework"] == "tf")].iloc[0]
    assert row["ci_high"] - row["ci_low"] > 0.1 and row["pairs"] == 0
    assert table["comparison"].tolist()[:3] == ["as_used"] * 3  # as used leads


def test_the_as_used_figure_draws_every_framework_against_the_reference(tmp_path):
    machine = [np.ones(7)] * 5
    sides = {("torch", "eager"): paired_side("torch", "eager", 100.0, machine),
             ("tf", "compiled"): paired_side("tf", "compiled", 130.0, machine)}
    table = comparison_table({("dcgan", "base", "cpu", 64): sides}, ["torch", "tf"])
    figure = ratio_figure(table, "as_used", tmp_path)
    assert figure.path == tmp_path / "compare-as-used.png" and figure.path.stat().st_size > 5000
    assert ratio_figure(table.iloc[0:0], "as_used", tmp_path / "none") is None
    # A run folder with the compare.csv that `gan-bench compare` writes: its report draws the
    # figure with the others (it survives the report's redrawing of its figures) and shows it.
    run = write_run(tmp_path / "run", throughput_records())
    table.to_csv(run / "compare.csv", index=False)
    for _ in range(2):
        text = write_report(run, ["md"]).read_text()
        assert (run / "figures" / "compare-as-used.png").exists()
        assert "figures/compare-as-used.png" in text


def test_the_fastest_comparison_says_which_declared_modes_were_not_run():
    machine = [np.ones(7)] * 5
    sides = {("torch", "eager"): paired_side("torch", "eager", 100.0, machine),
             ("tf", "compiled"): paired_side("tf", "compiled", 130.0, machine),
             ("tf", "eager"): paired_side("tf", "eager", 20.0, machine)}
    table = comparison_table({("dcgan", "base", "cpu", 64): sides}, ["torch", "tf"])
    fastest = table[table["comparison"] == "fastest"].set_index("framework")
    assert fastest.loc["torch", "note"] == "torch.compile not run in this profile"
    assert fastest.loc["tf", "note"] == "tf.function(jit_compile=True) not run in this profile"
    assert fastest.loc["tf", "mode"] == "compiled"
    # A failed default is said, not swapped for another mode.
    sides[("tf", "compiled")].error = "worker exited with code 1: boom"
    broken = comparison_table({("dcgan", "base", "cpu", 64): sides}, ["torch", "tf"])
    as_used = broken[broken["comparison"] == "as_used"].set_index("framework")
    assert as_used.loc["tf", "note"].startswith("default mode compiled failed: worker exited")
    assert np.isnan(as_used.loc["tf", "ratio"])


def test_progressive_phases_sort_by_resolution_then_alpha():
    table = pd.DataFrame({"model": ["progan"] * 4,
                          "variant": ["16x16 a=0.5", "4x4", "8x8 a=1", "8x8 a=0.5"],
                          "framework": ["tf", "torch", "tf", "torch"], "steps_per_s": 1.0})
    assert natural_order(table)["variant"].tolist() == ["4x4", "8x8 a=0.5", "8x8 a=1",
                                                       "16x16 a=0.5"]


def test_markdown_and_html_show_the_same_formatted_cells_with_units_and_no_index():
    table = pd.DataFrame({"model": ["mlp_gan"], "steps_per_s": [1532.801577],
                          "mfu": [0.244783], "peak_memory_bytes": [476.837158 * 2**20],
                          "unstable": [0.0]})
    table.columns.name = "metric"  # as a pivot leaves it
    md = to_markdown(table)
    header, rule, row = md.splitlines()
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "model", "steps/s", "MFU (%)", "peak memory (MiB)", "unstable"]
    assert [c.strip() for c in row.strip("|").split("|")] == ["mlp_gan", "1,533", "24.5", "477",
                                                              "no"]
    page = to_html(table)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert cells == ["mlp_gan", "1,533", "24.5", "477", "no"]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", page) == [
        "model", "steps/s", "MFU (%)", "peak memory (MiB)", "unstable"]  # no index, no "metric"
    assert page.startswith('<div class="table-wrap">')


@pytest.mark.parametrize(("value", "shown"), [
    (1532.801577, "1,533"), (0.244783, "0.245"), (12.0, "12"), (3.14159, "3.14"),
    (2.5e-5, "2.50e-05"), (float("nan"), ""), (64, "64"), (1.2e10, "1.20e+10"), ("eager", "eager")])
def test_numbers_show_three_significant_figures(value, shown):
    assert format_value(value) == shown


def test_untrained_samples_are_a_smoke_check_apart_from_the_results(full_run):
    write_report(full_run, ["md", "html"])
    text = (full_run / "report.md").read_text()
    smoke = text.index("## smoke check (untrained)")
    assert smoke > text.index("## figures")
    assert text.index("samples-throughput-mlp_gan-points.png") > smoke
    assert text.index("samples-fid-mlp_gan-digits.png") < smoke  # trained: with the results
    page = (full_run / "report.html").read_text()
    details = page[page.index("<details>"):]
    assert "smoke check (untrained)" in details and details.count("<img") == 1
