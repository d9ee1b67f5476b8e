"""Sessions: tests, bench, compare, parity, docs, lint.

`pip install nox && nox -s tests` sets up all."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv" if shutil.which("uv") else "virtualenv"
nox.options.sessions = ["lint", "tests"]

ALL = ".[torch,tf,jax,ray,dev]"


def install_all(session: nox.Session) -> None:
    """The project with every extra. Bytecode is compiled at install: uv does not by default,
    and where PYTHONDONTWRITEBYTECODE is set (CI images often set it) every fresh worker would
    otherwise recompile torch's and TensorFlow's sources on import, seconds per job."""
    session.install("-e", ALL, env={"UV_COMPILE_BYTECODE": "1"})


CONTRACT = "bench/testing"  # the adapter contract and parity tests (pytest plug-in bench.testing)


def installed_frameworks(session: nox.Session) -> list[str]:
    """The registered frameworks that are installed, the reference first (`gan-bench list`)."""
    listing = session.run("gan-bench", "list", "--json", silent=True, log=False)
    return [row["framework"] for row in json.loads(listing)["frameworks"] if row["installed"]]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite: one framework-free pytest process, then one per registered framework
    (its tests/<framework>/ and the contract and parity tests of bench.testing), since two
    frameworks never share a process.

    `nox -s tests -- -m "not slow"` skips the tests that train, run parity, spawn many
    workers or the CLI end to end, and JAX's eager steps (each operation compiles at its
    first dispatch): the quick loop for local work.

    Each process spreads its test files over pytest-xdist workers, one per core up to
    TEST_WORKERS: a worker imports the process's framework alone, as the process does, and
    holds whole files, so that a module's fixture (a Ray cluster, a trained classifier) is
    made once."""
    install_all(session)
    workers = min(TEST_WORKERS, os.cpu_count() or 1)
    args = ["-n", str(workers), "--dist", "loadfile", *session.posargs]
    frameworks = installed_frameworks(session)
    own = {fw: [f"tests/{fw}"] if Path("tests", fw).is_dir() else [] for fw in frameworks}
    processes = [["tests", *(f"--ignore={d}" for d in sum(own.values(), [])),
                  "--ignore=tests/benchmarks"]]
    processes += [[CONTRACT, *own[fw], "--gan-bench-framework", fw] for fw in frameworks]
    session.log("will run, one pytest process each:\n  " + "\n  ".join(
        "pytest " + " ".join(p + args) for p in processes))
    session.log(f"in all, about {TESTS_MINUTES} on 2 cores after the install; the quick "
                "subset, for local work: nox -s tests -- -m 'not slow'")
    for process in processes:
        session.run("pytest", *process, *args)


#: More workers than this gain little on these tests and cost a framework's memory each.
TEST_WORKERS = 4
#: The four processes' sum, measured on 2 cores (docs/measurements.md#tests-duration).
TESTS_MINUTES = "22 min"


BENCH_RUN = "results/nox-bench"
BASELINE = "results/baselines/cpu-quick.json"


@nox.session
def bench(session: nox.Session) -> None:
    """The quick throughput suite into results/nox-bench/, then the baseline check, whose verdict
    the report's summary shows; the wall time at the end.

    The check gates seeded quality metrics when the run has them; throughput and peak memory
    against a baseline from another day are advisory (printed, never failing), so noise
    cannot fail this session. The gate for speed is `nox -s ab_check`: both trees timed on
    one machine, their rounds in turn, which costs several times this run and so is a session
    of its own.
    """
    install_all(session)
    start = time.monotonic()
    shutil.rmtree(BENCH_RUN, ignore_errors=True)  # a run folder appends: start it afresh
    session.run("gan-bench", "run", "throughput", "--profile", "quick", "--out", BENCH_RUN,
                *session.posargs)
    subset = ["--allow-missing"] if session.posargs else []  # e.g. -- --models mlp_gan
    try:  # the check rewrites the run's report with its verdict in the summary
        session.run("gan-bench", "check", BENCH_RUN, "--baseline", BASELINE, *subset)
    finally:
        minutes, seconds = divmod(round(time.monotonic() - start), 60)
        session.log(f"run, report and gate took {minutes} min {seconds:02d} s after the install")


@nox.session
def ab_check(session: nox.Session) -> None:
    """The speed gate: `gan-bench check`, an A/B check of the quick throughput jobs against a
    git ref (default: the merge base with main); arguments after -- go to it, e.g.
    `nox -s ab_check -- --base origin/main --models mlp_gan,dcgan --out results/ab-check`."""
    install_all(session)
    session.run("gan-bench", "check", *session.posargs)


@nox.session
def baseline(session: nox.Session) -> None:
    """Regenerate results/baselines/cpu-quick.json from fresh quick runs (an idle machine)."""
    install_all(session)
    session.run("python", "scripts/update_baseline.py", *session.posargs)


@nox.session
def benchmarks(session: nox.Session) -> None:
    """pytest-benchmark timings of the harness's own hot paths (the metric code)."""
    install_all(session)
    session.run("pytest", "tests/benchmarks", "--benchmark-only", *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """`gan-bench compare`; arguments after -- go to it (default: --frameworks torch,tf)."""
    install_all(session)
    session.run("gan-bench", "compare", *(session.posargs or ["--frameworks", "torch,tf"]))


@nox.session
def parity(session: nox.Session) -> None:
    """`gan-bench parity` for every family."""
    install_all(session)
    session.run("gan-bench", "parity", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site into site/, strict: a broken link or reference fails it."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
