"""The pytest plug-in of bench.testing: which framework's adapters the tests take.

Registered through pytest's `pytest11` entry point, so it loads wherever gan-bench is
installed. It adds two options and otherwise changes nothing: without
--gan-bench-framework, the tests of bench.testing say how to choose one.
"""

from __future__ import annotations

import pytest

FRAMEWORK_OPTION = "--gan-bench-framework"
REFERENCE_OPTION = "--gan-bench-reference"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gan-bench", "gan-bench's adapter contract and parity tests")
    group.addoption(FRAMEWORK_OPTION, metavar="NAME",
                    help="The framework whose adapters bench.testing tests (run one pytest "
                         "process per framework: two frameworks never share a process).")
    group.addoption(REFERENCE_OPTION, metavar="NAME",
                    help="The framework parity compares against (default: the first "
                         "registered, as `gan-bench list` orders them).")


def framework_under_test(config: pytest.Config) -> str:
    """The framework the tests take, checked against the registry."""
    from bench import registry

    name = config.getoption(FRAMEWORK_OPTION.lstrip("-").replace("-", "_"))
    if not name:
        raise pytest.UsageError(f"bench.testing needs {FRAMEWORK_OPTION} NAME; registered: "
                                f"{', '.join(registry.frameworks())}")
    if name not in registry.frameworks():
        raise pytest.UsageError(f"{FRAMEWORK_OPTION} {name}: no adapter is registered for it; "
                                f"registered: {', '.join(registry.frameworks())}")
    return name


def reference_framework(config: pytest.Config) -> str:
    from bench import registry

    name = config.getoption(REFERENCE_OPTION.lstrip("-").replace("-", "_"))
    return name or registry.frameworks()[0]


def pytest_configure(config: pytest.Config) -> None:
    # bench.testing marks its long tests so `-m "not slow"` leaves them out anywhere.
    config.addinivalue_line("markers", "slow: long-running tests")
