"""Plug-ins from separate distributions work through the whole CLI.

tests/plugins/ holds two fake installed distributions, found only when that folder is on the
path: gan-bench-affine adds a model family (the affine GAN: its spec and an adapter in each
framework) and gan-bench-param-count adds a suite. Neither touches gan-bench; the CLI runs
in a fresh process with the folder on PYTHONPATH, as after `pip install` of each.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from bench import registry
from bench.checks.baseline import check, make_baseline, write_baseline
from bench.errors import UsageError
from bench.jobs import Job
from bench.records import Measurement, make_record, read_records
from bench.report.history import write_history
from bench.report.pages import write_report
from bench.suite import Request, metric_spec
from conftest import TESTS, run_cli
from gan_bench_testing.runs import write_run

# Real workers, training or parity probes in fresh processes: deselect with -m "not slow".
pytestmark = pytest.mark.slow

PLUGINS = TESTS / "plugins"
FAMILY, FAMILY_DIST = "affine_gan", "gan-bench-affine"
SUITE, SUITE_DIST = "param-count", "gan-bench-param-count"
#: A parity line: model, variant, check, worst, tolerance, result, (where).
PARITY_ROW = re.compile(rf"^{FAMILY} +\S+ +(.+?) +\S+ +\S+ +(ok|FAIL) +\(", re.MULTILINE)
AFFINE_PARAMS = 2 * 2 + 2 + 2 * 1 + 1  # G: 2x2 weight and 2 biases; D: 1x2 weight and 1 bias


@pytest.fixture
def plugins(monkeypatch):
    """Both distributions installed: on this process's path and on its children's."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGINS), os.environ["PYTHONPATH"]]))


def report_rows(report) -> list[list[str]]:
    """The cells of every Markdown table row of a report, stripped of their padding."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in report.read_text().splitlines() if line.startswith("|")]


def test_the_plug_ins_register_under_their_distributions_names(plugins):
    assert registry.families()[FAMILY].source == FAMILY_DIST
    assert {(e.framework, e.source) for e in registry.adapters() if e.model == FAMILY} == {
        ("torch", FAMILY_DIST), ("tf", FAMILY_DIST)}
    assert registry.suites()[SUITE].source == SUITE_DIST
    config = registry.family_config(FAMILY).for_profile("quick")
    assert config.param_count() == AFFINE_PARAMS
    # batch 32, latent 2: G forward 256, D forward 128; D step G + 4 D, G step 2 D + G.
    assert config.flops_per_step() == (256 + 4 * 128) + (2 * 128 + 256)
    jobs = registry.load_suite(SUITE).jobs(Request(models=("mlp_gan", FAMILY),
                                                   frameworks=("torch", "tf")))
    assert {(j.model, j.framework) for j in jobs} == {
        (m, f) for m in ("mlp_gan", FAMILY) for f in ("torch", "tf")}
    with pytest.raises(UsageError, match="unknown profile 'huge'"):
        registry.load_suite(SUITE).jobs(Request(models=(FAMILY,), frameworks=("torch",),
                                                profile="huge"))


def test_list_shows_the_plug_ins_only_once_installed(plugins, monkeypatch):
    listed = run_cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    assert {(r["framework"], r["source"], r["installed"]) for r in listing["adapters"]
            if r["model"] == FAMILY} == {("torch", FAMILY_DIST, True), ("tf", FAMILY_DIST, True)}
    assert {"suite": SUITE, "source": SUITE_DIST} in listing["suites"]
    monkeypatch.undo()
    again = run_cli("list", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    without = json.loads(again.stdout)
    assert FAMILY not in {r["model"] for r in without["adapters"]}
    assert SUITE not in {r["suite"] for r in without["suites"]}


def test_the_plug_in_family_passes_parity(plugins):
    done = run_cli("parity", "--models", FAMILY)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = dict(PARITY_ROW.findall(done.stdout))  # check name -> ok / FAIL
    assert set(checks) >= {"1 round trip (bit-exact)", "2 forward", "3 one step: weights",
                           "3 one step: losses"}
    assert set(checks.values()) == {"ok"}


def test_the_plug_in_family_runs_throughput_in_both_frameworks(plugins, tmp_path):
    done = run_cli("run", "throughput", "--models", FAMILY, "--profile", "quick",
                   "--threads", "1", "--out", str(tmp_path))  # its frameworks: torch and tf
    assert done.returncode == 0, done.stdout + done.stderr
    records = read_records(tmp_path)
    assert {r["status"] for r in records} == {"ok"}
    values = {(r["framework"], r["metric"]): r for r in records}
    config = registry.family_config(FAMILY).for_profile("quick")
    # One matmul peak per run, measured before the jobs, kept in run.json, used by every row.
    peak = json.loads((tmp_path / "run.json").read_text())["context"]["throughput"]
    assert peak["matmul_peak_flops_per_s"] > 1e9
    # Measured again the same way after the last job, to show whether the machine's speed moved.
    at_end = json.loads((tmp_path / "run.json").read_text())["context_at_end"]["throughput"]
    assert set(at_end) == {"matmul_peak_flops_per_s"} and at_end["matmul_peak_flops_per_s"] > 1e9
    for framework in ("torch", "tf"):
        assert values[framework, "matmul_peak_flops_per_s"]["value"] == pytest.approx(
            peak["matmul_peak_flops_per_s"])
        # Each framework's own matmul rate, measured once beside it, is a column of its own.
        assert values[framework, "framework_matmul_flops_per_s"]["value"] == pytest.approx(
            peak[f"{framework}_matmul_flops_per_s"])
    for framework in ("torch", "tf"):
        assert values[framework, "steps_per_s"]["value"] > 0
        assert values[framework, "params"]["value"] == AFFINE_PARAMS
        batch = values[framework, "flops_per_step"]["batch_size"]
        assert values[framework, "flops_per_step"]["value"] == config.replace(
            batch_size=batch).flops_per_step()
        # Memory as the total and as the increase over the process just after the framework's
        # import, which alone takes well over 100 MiB.
        total = values[framework, "peak_memory_bytes"]["value"]
        increase = values[framework, "memory_increase_bytes"]["value"]
        assert 0 <= increase < total - 100 * 2**20
        samples = values[framework, "artifact"]
        assert np.load(tmp_path / samples["path"]).shape == (samples["value"], 2)
    rows = report_rows(tmp_path / "report.md")
    assert [FAMILY, "base", "torch"] in [row[:3] for row in rows]
    assert [FAMILY, "base", "tf"] in [row[:3] for row in rows]


def test_the_plug_in_suite_runs_and_reports_its_table(plugins, tmp_path):
    models = ("mlp_gan", FAMILY)
    done = run_cli("run", SUITE, "--models", ",".join(models), "--threads", "1",
                   "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    records = read_records(tmp_path)
    assert {r["status"] for r in records} == {"ok"}
    for model in models:
        spec = registry.family_config(model).for_profile("quick")
        for framework in ("torch", "tf"):
            found = {r["metric"]: r["value"] for r in records
                     if (r["model"], r["framework"]) == (model, framework)}
            assert found == {"params": spec.param_count(), "flops_per_step": spec.flops_per_step(),
                             "weights_bytes": 4 * spec.param_count()}
    assert "## parameters" in (tmp_path / "report.md").read_text()
    assert [FAMILY, "tf", str(AFFINE_PARAMS)] in [row[:3] for row in
                                                  report_rows(tmp_path / "report.md")]


# --- a plug-in suite's own metric ------------------------------------------------------------

NEW_METRIC = "weights_bytes"  # declared only by the param-count plug-in


def param_count_run(path, weights_bytes: float, day: int):
    """A param-count run of one job whose weights take `weights_bytes`, recorded on `day`."""
    job = Job(suite=SUITE, model="mlp_gan", framework="torch", profile="quick")
    records = [make_record(path.name, job, Measurement(name, value, unit), batch_size=64)
               for name, value, unit in (("params", weights_bytes / 4, ""),
                                         (NEW_METRIC, weights_bytes, "B"))]
    return write_run(path, [{**r, "timestamp": f"2024-01-{day:02d}T12:00:00+0000",
                             "git_sha": f"sha{day}"} for r in records], suites=(SUITE,))


def test_a_plug_in_metric_is_shown_with_its_unit_gated_and_followed_by_its_declaration(
        plugins, tmp_path):
    assert metric_spec(NEW_METRIC).unit == "MiB"
    base = param_count_run(tmp_path / "base", 3 * 2**20, day=1)
    # The report: the suite's table shows the value in the declared unit, under its header.
    rows = report_rows(write_report(base, ["md"]))
    header = next(row for row in rows if "parameters" in row)
    values = dict(zip(header, next(row for row in rows if row[0] == "mlp_gan"), strict=True))
    assert values["weights (MiB)"] == "3"
    # The baseline check: 20% more bytes is past the declared 10% and fails (gated, not
    # advisory); 5% more passes.
    baseline = write_baseline(make_baseline([base]), tmp_path / "baseline.json")
    heavier = param_count_run(tmp_path / "heavier", 3.6 * 2**20, day=2)
    result = check(heavier, baseline)
    row = next(r for r in result.rows if r.metric == NEW_METRIC)
    assert (row.status, row.advisory, row.allowed) == ("REGRESSED", False, "+10%")
    assert result.failed == [row]
    assert not check(param_count_run(tmp_path / "same", 3.15 * 2**20, day=3), baseline).failed
    # History: its own section and figure, in MiB.
    page = write_history([base, heavier], tmp_path / "history").read_text()
    assert "## weights (MiB)" in page
    assert (tmp_path / "history" / "figures" / f"history-{NEW_METRIC}.png").exists()
    cells = [line for line in page.splitlines() if line.startswith("| param-count")]
    assert cells and cells[0].rstrip(" |").endswith("3.6")
    # And no line of the harness names it.
    found = subprocess.run(["grep", "-rn", NEW_METRIC, str(TESTS.parent / "bench")],
                           capture_output=True, text=True)
    assert found.returncode == 1, found.stdout


def test_a_framework_from_a_plug_in_passes_the_contract_and_parity_through_bench_testing(
        plugins):
    """gan-bench-torch-again registers one more framework name for the MLP GAN (a subclass of
    the built-in PyTorch adapter): `pytest --pyargs bench.testing` tests it, contract and
    parity against torch, in a fresh process with the plug-in on its path."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "bench.testing", "-v", "-p",
         "no:cacheprovider", "--gan-bench-framework", "torch_again"],
        capture_output=True, text=True, env=dict(os.environ), timeout=900, cwd=TESTS.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "test_the_family_computes_what_the_references_does[mlp_gan] PASSED" in done.stdout
    assert "test_weights_round_trip_bit_exact[mlp_gan] PASSED" in done.stdout
    listed = json.loads(run_cli("list", "--json").stdout)
    assert "torch_again" in {row["framework"] for row in listed["frameworks"]}
    assert {"model": "mlp_gan", "framework": "torch_again"}.items() <= next(
        row for row in listed["adapters"] if row["framework"] == "torch_again").items()
