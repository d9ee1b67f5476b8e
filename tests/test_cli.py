"""The command line: listing, exit codes, and one-line errors for bad input.

Bad input is checked in this process, with click's CliRunner: what is tested is the message
and the exit status, not a fresh interpreter. A few tests run the real entry point in a fresh
process (`run_cli`), for the exit status a shell sees and for real runs.
"""

from __future__ import annotations

import json

import pytest

from conftest import invoke, run_cli


def test_list_shows_every_model_and_framework():
    done = run_cli("list", "--json")
    assert done.returncode == 0
    rows = json.loads(done.stdout)["adapters"]
    pairs = {(r["model"], r["framework"]) for r in rows}
    models = ("mlp_gan", "dcgan", "progan", "style_transfer")
    assert {(m, fw) for m in models for fw in ("torch", "tf")} <= pairs
    assert all(r["installed"] for r in rows)
    style = [r["quality_suites"] for r in rows if r["model"] == "style_transfer"]
    assert len(style) >= 2 and not any(style)  # not a generator, in every framework


def test_list_table_is_readable():
    done = run_cli("list")
    assert done.returncode == 0
    blocks = done.stdout.split("\n\n")
    assert blocks[0].splitlines()[0].split()[:3] == ["framework", "modes", "default"]
    assert blocks[1].splitlines()[0].split()[:3] == ["model", "framework", "installed"]


def test_list_shows_every_suite_and_where_it_comes_from():
    listed = json.loads(run_cli("list", "--json").stdout)["suites"]
    sources = {row["suite"]: row["source"] for row in listed}
    builtins = ("throughput", "fid", "mode-collapse", "overhead", "convergence")
    assert {name: sources.get(name) for name in builtins} == dict.fromkeys(builtins, "built-in")
    assert sources["faults"] == "gan-bench-testing"  # the test distribution's suite
    lines = run_cli("list").stdout.splitlines()
    assert lines[[i for i, line in enumerate(lines) if not line][1] + 1].split() == [
        "suite", "source"]
    assert "faults" in {line.split()[0] for line in lines if line}


@pytest.mark.parametrize("args, message", [
    (["run", "nosuch"], "unknown suite 'nosuch'"),
    (["run", "throughput", "--models", "nosuch"], "unknown model 'nosuch'"),
    (["run", "throughput", "--frameworks", "mxnet"], "unknown framework 'mxnet'"),
    (["run", "throughput", "--profile", "huge"], "'huge' is not one of 'quick', 'standard'"),
    (["run", "throughput", "--seeds", "0"], "--seeds"),
    (["run", "throughput", "--device", "tpu"], "'tpu' is not one of"),
    (["compare", "--frameworks", "torch"], "compare needs two frameworks"),
    (["report", "/nonexistent/run"], "has no records.jsonl"),
    (["report", "results", "--format", "pdf"], "unknown report format 'pdf'"),
    (["parity", "--models", "nosuch"], "unknown model 'nosuch'"),
    (["parity", "--devices", "cpu"], "parity compares a reference with other frameworks"),
    (["parity", "--devices", "cpu,tpu"], "unknown device 'tpu'"),
    (["parity", "--frameworks", "torch,torch"], "both sides are torch on cpu"),
    (["nosuchcommand"], "No such command"),
    (["run", "throughput", "--data-dir", "/nonexistent/mnist"], "does not exist"),
    (["run", "throughput", "--jobs", "0"], "--jobs"),
    (["run", "throughput", "--timeout", "0"], "--timeout"),
    (["run", "throughput", "--executor", "spark"], "'spark' is not one of"),
    (["run", "throughput", "--resume", "--out", "/nonexistent/run"], "no run to resume"),
    (["run", "throughput", "--modes", "warp"], "unknown mode 'warp'"),
    (["run", "throughput", "--batch-sizes", "64,0"], "--batch-sizes takes positive integers"),
    (["compare", "--batch-sizes", "big"], "--batch-sizes takes positive integers"),
    (["run", "mode-collapse", "--steps", "0"], "--steps"),
    (["run", "mode-collapse", "--only", "grid25"], "--only takes KEY=VALUE pairs"),
    (["run", "mode-collapse", "--models", "pacgan", "--profile", "standard", "--only",
      "dataset=grid26"], "--only dataset=grid26 matches none of the run's jobs; choose among "
                         "dataset=grid25, dataset=ring8, packing=1, packing=2"),
    (["check", "--models", "mlp_gan", "--only", "dataset=grid26"],
     "--only dataset=grid26 matches none of the run's jobs; choose among batch_size=64, "
     "dataset=ring8"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = invoke(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_bad_input_from_the_real_entry_point_exits_2_in_one_line():
    done = run_cli("run", "throughput", "--models", "nosuch")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip()] and "unknown model 'nosuch'" in done.stderr


def test_an_output_folder_that_cannot_be_written_is_a_usage_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = invoke("run", "throughput", "--models", "mlp_gan", "--out", str(blocker / "run"))
    assert done.returncode == 2
    assert "cannot write to output folder" in done.stderr
    assert blocker.read_text() == "not a folder"


def test_help_on_every_command():
    for command in ("list", "run", "compare", "parity", "report", "check", "baseline"):
        done = invoke(command, "--help")
        assert done.returncode == 0
        assert "Usage:" in done.stdout


def test_importing_bench_loads_no_framework():
    from conftest import run_python

    done = run_python(
        "import sys, bench, bench.cli, bench.runner, bench.report.pages, bench.parity, bench.data, "
        "suites.throughput; print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))")
    assert done.stdout.strip() == "[]"


# The fault suite (tests/gan_bench_testing) runs any model name as a job that measures
# answer=42+seed (framework "none") in a worker that loads no framework: a real CLI run in
# seconds.
FAULT_RUN = ("run", "faults", "--models", "mlp_gan", "--frameworks", "torch", "--seeds", "2")


def folder_bytes(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def fault_run(tmp_path):
    out = tmp_path / "run"
    done = run_cli(*FAULT_RUN, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done


@pytest.mark.slow
def test_without_a_terminal_each_finished_job_is_one_line_with_its_key_figure(fault_run):
    _, done = fault_run  # one worker at a time: the jobs finish in order
    assert done.stderr.splitlines() == [
        "[1/2] faults:mlp_gan/none/cpu/eager/base/seed0 ok answer=42",
        "[2/2] faults:mlp_gan/none/cpu/eager/base/seed1 ok answer=43"]


@pytest.mark.slow
def test_resume_with_the_same_options_reruns_nothing(fault_run):
    out, _ = fault_run
    before = (out / "records.jsonl").read_text()
    done = run_cli(*FAULT_RUN, "--out", str(out), "--resume", "--timeout", "60")
    assert done.returncode == 0, done.stderr
    assert "(2 jobs, 2 resumed, 0 failed)" in done.stdout
    assert (out / "records.jsonl").read_text() == before


@pytest.mark.slow
def test_resume_with_more_seeds_runs_only_the_new_seeds(fault_run):
    out, _ = fault_run
    before = (out / "records.jsonl").read_text()
    done = run_cli(*FAULT_RUN[:-1], "3", "--out", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert "(3 jobs, 2 resumed, 0 failed)" in done.stdout
    assert (out / "records.jsonl").read_text().startswith(before)  # the first seeds' kept
    assert json.loads((out / "run.json").read_text())["request"]["seeds"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("change, named", [
    (["--seeds", "1"], "in seeds;"),
    (["--profile", "standard"], "in profile;"),
    (["--seeds", "1", "--frameworks", "tf"], "in frameworks, seeds;"),
])
def test_resume_with_other_options_is_one_line_and_exit_2(fault_run, change, named):
    out, _ = fault_run
    before = folder_bytes(out)
    done = run_cli(*FAULT_RUN, "--out", str(out), "--resume", *change)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"--resume: the command line differs from {out / 'run.json'} {named}" in done.stderr
    assert "rerun with the options it holds" in done.stderr and "another --out" in done.stderr
    assert folder_bytes(out) == before  # nothing lost, nothing swapped
