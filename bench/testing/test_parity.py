"""Parity of the framework under test with the reference framework, for every family both
implement (bench.parity: checks 1 to 3, and 4 where the family states a trajectory bound).

Each side runs in its own fresh process, so this process imports no framework for it.
"""

from __future__ import annotations

import pytest

from bench import registry
from bench.parity import run_parity
from bench.testing.plugin import framework_under_test, reference_framework

TRAJECTORY_STEPS = 50


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model" in metafunc.fixturenames:
        framework = framework_under_test(metafunc.config)
        models = [e.model for e in registry.adapters() if e.framework == framework]
        metafunc.parametrize("model", models)


@pytest.mark.slow
def test_the_family_computes_what_the_references_does(model, request):
    framework = framework_under_test(request.config)
    reference = reference_framework(request.config)
    if framework == reference:
        pytest.skip(f"{framework} is the reference")
    if not any(e.model == model and e.framework == reference for e in registry.adapters()):
        pytest.skip(f"{reference} has no {model} to compare with")
    steps = TRAJECTORY_STEPS if registry.family_config(model).trajectory_tolerance else 0
    results = run_parity([model], (reference, framework), trajectory=steps)
    failed = [r for r in results if not r.ok]
    assert not failed, "\n".join(f"{r.variant} {r.check}: {r.worst:.2e} > {r.tolerance:.0e} "
                                 f"({r.where})" for r in failed)
    assert {r.check.split()[0] for r in results} >= {"1", "2", "3"}
