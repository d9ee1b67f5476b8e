"""The command line: listing, exit codes, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli


def test_list_shows_every_model_and_framework():
    done = run_cli("list", "--json")
    assert done.returncode == 0
    rows = json.loads(done.stdout)
    pairs = {(r["model"], r["framework"]) for r in rows}
    models = ("mlp_gan", "dcgan", "progan", "style_transfer")
    assert {(m, fw) for m in models for fw in ("torch", "tf")} <= pairs
    assert all(r["installed"] for r in rows)
    assert [r["quality_suites"] for r in rows if r["model"] == "style_transfer"] == [False] * 2


def test_list_table_is_readable():
    done = run_cli("list")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].split()[:3] == ["model", "framework", "installed"]


@pytest.mark.parametrize("args, message", [
    (["run", "nosuch"], "unknown suite 'nosuch'"),
    (["run", "throughput", "--models", "nosuch"], "unknown model 'nosuch'"),
    (["run", "throughput", "--frameworks", "mxnet"], "unknown framework 'mxnet'"),
    (["run", "throughput", "--profile", "huge"], "'huge' is not one of"),
    (["run", "throughput", "--seeds", "0"], "--seeds"),
    (["run", "throughput", "--device", "tpu"], "'tpu' is not one of"),
    (["compare", "--frameworks", "torch"], "compare needs two frameworks"),
    (["report", "/nonexistent/run"], "has no records.jsonl"),
    (["report", "results", "--format", "pdf"], "unknown report format 'pdf'"),
    (["parity", "--models", "nosuch"], "unknown model 'nosuch'"),
    (["nosuchcommand"], "No such command"),
    (["run", "throughput", "--data-dir", "/nonexistent/mnist"], "does not exist"),
    (["run", "throughput", "--jobs", "0"], "--jobs"),
    (["run", "throughput", "--timeout", "0"], "--timeout"),
    (["run", "throughput", "--executor", "spark"], "'spark' is not one of"),
    (["run", "throughput", "--resume", "--out", "/nonexistent/run"], "no run to resume"),
    (["run", "throughput", "--modes", "jit"], "unknown mode 'jit'"),
    (["run", "throughput", "--batch-sizes", "64,0"], "--batch-sizes takes positive integers"),
    (["compare", "--batch-sizes", "big"], "--batch-sizes takes positive integers"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = run_cli(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_an_output_folder_that_cannot_be_written_is_a_usage_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_cli("run", "throughput", "--models", "mlp_gan", "--out", str(blocker / "run"))
    assert done.returncode == 2
    assert "cannot write to output folder" in done.stderr
    assert blocker.read_text() == "not a folder"


def test_help_on_every_command():
    for command in ("list", "run", "compare", "parity", "report", "check", "baseline"):
        done = run_cli(command, "--help")
        assert done.returncode == 0
        assert "Usage:" in done.stdout


def test_importing_bench_loads_no_framework():
    from conftest import run_python

    done = run_python(
        "import sys, bench, bench.cli, bench.runner, bench.report, bench.parity, bench.data, "
        "suites.throughput; print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))")
    assert done.stdout.strip() == "[]"
