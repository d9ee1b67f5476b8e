"""Canonical initialisation, drawn in numpy (docs/models.md#canonical-initialisation).

A family's spec states its init and draws it here, by canonical weight name in PyTorch's
layout; both adapters load the result with set_weights before a quality or convergence run,
so a seed names one starting point in every framework, whatever their default initialisers.
Every draw comes from one generator, weight by weight in sorted name order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

#: (generator, shape) -> values: how one weight is drawn.
Rule = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def normal(mean: float, std: float) -> Rule:
    return lambda rng, shape: mean + std * rng.standard_normal(shape)


def uniform(bound: float) -> Rule:
    return lambda rng, shape: rng.uniform(-bound, bound, shape)


def constant(value: float) -> Rule:
    return lambda rng, shape: np.full(shape, value)


def fan_in_uniform(shapes: Mapping[str, tuple[int, ...]]) -> Callable[[str], Rule]:
    """PyTorch's default for Linear and Conv layers: weight and bias U(-b, b), b = 1/sqrt(fan_in),
    fan_in from the layer's weight in PyTorch's layout, (out, in) or (out, in, kh, kw)."""
    def rule(name: str) -> Rule:
        weight = shapes[name.rsplit(".", 1)[0] + ".weight"]
        return uniform(1.0 / np.sqrt(np.prod(weight[1:])))

    return rule


def draw(shapes: Mapping[str, tuple[int, ...]], rule_for: Callable[[str], Rule],
         seed: int) -> dict[str, np.ndarray]:
    """Every weight of `shapes`, float32, each from the rule `rule_for(name)` gives it."""
    rng = np.random.default_rng(seed)
    return {name: rule_for(name)(rng, shapes[name]).astype(np.float32)
            for name in sorted(shapes)}
