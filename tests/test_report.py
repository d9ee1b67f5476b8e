"""Reports: tables in every format, figures only when their records exist, and a self-contained
HTML page. Runs are synthetic: the figures' inputs are chosen, not measured."""

from __future__ import annotations

import base64
import math
import re

import numpy as np
import pandas as pd
import pytest

from bench.errors import UsageError
from bench.figures import (
    budget_curve,
    image_grid,
    perturbation_sort_key,
    sample_files,
    success_rates,
    throughput_summary,
)
from bench.records import load_frame
from bench.report import markdown_table, parse_formats, run_tables, write_report
from gan_bench_testing.runs import (
    PERTURBATIONS,
    convergence_records,
    error_record,
    quality_records,
    throughput_records,
    write_run,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def figure_names(run_dir) -> set[str]:
    return {p.stem for p in (run_dir / "figures").glob("*.png")}


def write_samples(run_dir, name: str, array: np.ndarray) -> None:
    (run_dir / "samples").mkdir(exist_ok=True)
    np.save(run_dir / "samples" / f"{name}.npy", array.astype(np.float32))


@pytest.fixture
def full_run(tmp_path):
    """Throughput, a quality suite and convergence records, plus samples of both kinds."""
    run = write_run(tmp_path / "run", throughput_records() + quality_records()
                    + convergence_records(), suites=("throughput",))
    rng = np.random.default_rng(0)
    for framework in ("torch", "tf"):
        write_samples(run, f"mlp_gan-{framework}", rng.uniform(-1, 1, (64, 8, 8, 1)))
        angles = rng.integers(0, 8, 500) * 2 * np.pi / 8
        ring = np.stack([np.cos(angles), np.sin(angles)], 1) + 0.02 * rng.normal(size=(500, 2))
        write_samples(run, f"mlp_gan-{framework}-ring8", ring)
    return run


def test_the_report_has_tables_in_every_format_and_every_figure(full_run):
    report = write_report(full_run, parse_formats("md,html,csv,parquet"))
    assert figure_names(full_run) == {
        "throughput", "losses-fid", "metrics-fid", "metrics-convergence", "sensitivity",
        "budget_fid_digits",
        "samples-mlp_gan", "samples-mlp_gan-ring8"}
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
    summary = throughput_summary(frame)
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


def test_success_rates_count_converged_seeds_per_perturbation(tmp_path):
    frame = load_frame(write_run(tmp_path / "run", convergence_records(seeds=3)))
    rates = success_rates(frame)
    assert list(rates.index) == ["mlp_gan / tf", "mlp_gan / torch"]
    assert list(rates.columns) == sorted(PERTURBATIONS, key=perturbation_sort_key)
    assert rates.loc["mlp_gan / torch", "base"] == 1.0
    # perturbation p, seed s converges unless (p + s) % 3 == 0: lr=x0.1 is p=1, so seed 2 fails
    assert rates.loc["mlp_gan / torch", "lr=x0.1"] == pytest.approx(2 / 3)


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


def test_sample_files_follow_the_naming_convention(tmp_path):
    for name in ("mlp_gan-torch", "mlp_gan-tf-ring8", "style_transfer-tf-final"):
        write_samples(tmp_path, name, np.zeros((4, 2)))
    found = {(f.model, f.framework, f.tag) for f in sample_files(tmp_path)}
    assert found == {("mlp_gan", "torch", ""), ("mlp_gan", "tf", "ring8"),
                     ("style_transfer", "tf", "final")}


def test_image_grids_tile_and_rescale_to_unit_range():
    images = np.full((10, 4, 5, 3), -1.0)
    images[3] = 1.0
    grid = image_grid(images, side=4)
    assert grid.shape == (3 * 5 + 1, 4 * 6 + 1, 3)  # 10 images in rows of 4, 1-px borders
    assert grid.min() == 0.0 and grid.max() == 1.0
    assert grid[1, 1 + 3 * 6].tolist() == [1.0, 1.0, 1.0]  # image 3 is white


def test_a_sample_file_of_the_wrong_shape_is_named(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    write_samples(run, "mlp_gan-torch", np.zeros((5, 3)))
    with pytest.raises(UsageError, match=r"mlp_gan-torch.npy holds an array of shape \(5, 3\)"):
        write_report(run, ["md"])


def test_the_existing_api_still_works(tmp_path):
    run = write_run(tmp_path / "run", throughput_records())
    tables = run_tables(run)
    assert list(tables) == ["throughput"]
    assert markdown_table(tables["throughput"]).startswith("| model | variant |")
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        parse_formats("md,pdf")


def test_the_table_of_failed_jobs_goes_to_parquet_too(tmp_path):
    records = throughput_records() + [error_record("x", "dcgan", "tf", "xla", "boom\ntrace")]
    run = write_run(tmp_path / "run", records)
    write_report(run, ["md", "parquet"])
    failed = pd.read_parquet(run / "tables" / "jobs_not_measured.parquet")
    assert failed[["model", "status", "reason"]].values.tolist() == [["dcgan", "error", "boom"]]
