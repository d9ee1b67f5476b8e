"""Shared test helpers. This process never imports a framework except under tests/torch or
tests/tf, which pytest runs in separate processes (see noxfile.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

# Workers the harness starts from this process must find the test-only modules too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def subprocess_env() -> dict[str, str]:
    return dict(os.environ)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 900
            ) -> subprocess.CompletedProcess:
    """`gan-bench ARGS` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=subprocess_env(), timeout=timeout)


def run_python(code: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """A snippet in a fresh interpreter: how tests touch a framework from a neutral process."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=subprocess_env(), timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def invoke(*args: str) -> subprocess.CompletedProcess:
    """`gan-bench ARGS` in this process, with click's CliRunner: the exit status and stdout and
    stderr apart. For bad input, where the message and the status are what is tested, not a
    fresh interpreter."""
    from click.testing import CliRunner

    from bench.cli import cli

    result = CliRunner().invoke(cli, list(args), prog_name="gan-bench")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli():
    return run_cli
