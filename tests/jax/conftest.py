"""tests/jax runs in its own pytest process: JAX must never share one with torch or TensorFlow.

The process keeps XLA's compiled programs in a cache folder of its own, fresh each run: the
tests build the same families again and again (a fresh adapter per test, seeds and modes
apart), and each build traces a new jit whose program XLA has already compiled for an earlier
one. JAX reads these settings from the environment when it is imported, and so do the workers
the tests spawn; pytest-xdist's workers find the folder there and share it.

Its programs are compiled without LLVM's optimisation passes: the tests compile far more than
they run (tiny steps, and in eager mode a program for each operation's first dispatch). The
passes are for speed; XLA's CPU backend does not relax floating-point semantics without them
(no fast math by default), and every test, parity included, holds to its tolerance either way.
"""

import os
import shutil
import sys
import tempfile

import pytest

assert not {"torch", "tensorflow"} & set(sys.modules), (
    "run tests/jax in a separate pytest process (see noxfile.py)")

UNOPTIMISED = "--xla_backend_optimization_level=0"
if UNOPTIMISED not in os.environ.get("XLA_FLAGS", ""):  # xdist's workers inherit it
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {UNOPTIMISED}".strip()

CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
OWNS_CACHE = CACHE_VARIABLE not in os.environ  # else a cache this run's first process made
if OWNS_CACHE:
    os.environ.update({
        CACHE_VARIABLE: tempfile.mkdtemp(prefix="gan-bench-jax-cache-"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # the default keeps slow ones only
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    })


def pytest_unconfigure(config: pytest.Config) -> None:
    if OWNS_CACHE:
        shutil.rmtree(os.environ[CACHE_VARIABLE], ignore_errors=True)
