"""The registered adapter class of a family in a framework, for the shared family tests
(tests/*_shared.py), which every framework's pytest process imports. Not in conftest.py:
tests/tf and tests/jax have conftest modules of their own, which shadow the top one there."""

from __future__ import annotations

from bench import registry
from bench.adapter import Adapter


def adapter_class(model: str, framework: str) -> type[Adapter]:
    """`model`'s adapter class in `framework`, pinned to one thread."""
    cls = registry.find(model, framework).load()
    cls.configure(1)
    return cls
