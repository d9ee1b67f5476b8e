"""Sessions: tests, bench, compare, parity, lint. `pip install nox && nox -s tests` sets up all."""

from __future__ import annotations

import shutil

import nox

nox.options.default_venv_backend = "uv" if shutil.which("uv") else "virtualenv"
nox.options.sessions = ["lint", "tests"]

ALL = ".[torch,tf,ray,dev]"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite. PyTorch and TensorFlow tests run in separate pytest processes."""
    session.install("-e", ALL)
    args = session.posargs or []
    session.run("pytest", "tests", "--ignore=tests/tf", "--ignore=tests/benchmarks", *args)
    session.run("pytest", "tests/tf", *args)


BENCH_RUN = "results/nox-bench"
BASELINE = "results/baselines/cpu-quick.json"


@nox.session
def bench(session: nox.Session) -> None:
    """The quick throughput suite into results/nox-bench/, its report, then the regression gate."""
    session.install("-e", ALL)
    shutil.rmtree(BENCH_RUN, ignore_errors=True)  # a run folder appends: start it afresh
    session.run("gan-bench", "run", "throughput", "--profile", "quick", "--out", BENCH_RUN,
                *session.posargs)
    session.run("gan-bench", "check", BENCH_RUN, "--baseline", BASELINE)


@nox.session
def baseline(session: nox.Session) -> None:
    """Regenerate results/baselines/cpu-quick.json from fresh quick runs (an idle machine)."""
    session.install("-e", ALL)
    session.run("python", "scripts/update_baseline.py", *session.posargs)


@nox.session
def benchmarks(session: nox.Session) -> None:
    """pytest-benchmark timings of the harness's own hot paths (the metric code)."""
    session.install("-e", ALL)
    session.run("pytest", "tests/benchmarks", "--benchmark-only", *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """`gan-bench compare`; arguments after -- go to it (default: --frameworks torch,tf)."""
    session.install("-e", ALL)
    session.run("gan-bench", "compare", *(session.posargs or ["--frameworks", "torch,tf"]))


@nox.session
def parity(session: nox.Session) -> None:
    """`gan-bench parity` for every family."""
    session.install("-e", ALL)
    session.run("gan-bench", "parity", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
