"""A family's adapter in a framework, for the shared family tests (tests/*_shared.py), which
every framework's pytest process imports. Not in conftest.py: tests/tf and tests/jax have
conftest modules of their own, which shadow the top one there."""

from __future__ import annotations

import functools
from collections.abc import Callable

from bench import registry
from bench.adapter import Adapter
from bench.framework import EAGER

#: The mode the shared tests build in: eager, the mode every framework has, except in a
#: framework whose eager mode compiles each operation at its first dispatch. There a first
#: training step takes hundreds of compilations (tens of seconds, in each test process) where
#: jit compiles the step once. What the shared tests check holds in every mode; jit is held to
#: eager by tests/jax's own tests and the contract's test_modes_agree_on_one_step.
SHARED_TESTS_MODE = {"jax": "jit"}


def family_adapter(model: str, framework: str) -> Callable[..., Adapter]:
    """`model`'s adapter class in `framework`, pinned to one thread, building in the shared
    tests' mode; a test passes `mode=` to build in another."""
    cls = registry.find(model, framework).load()
    cls.configure(1)
    return functools.partial(cls, mode=SHARED_TESTS_MODE.get(framework, EAGER))
