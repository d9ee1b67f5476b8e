"""JAX's adapters make their networks as shapes alone and fill them with zeros, then take
every weight from the spec's initial weights (implementations/jax/base.py, add_networks). So
a leaf the weight map does not name (PacGAN's per-step sums) starts at 0: it must be one that
NNX's own initialisers start at 0."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from bench import registry
from implementations.jax.base import key_path, split

FAMILIES = [entry.model for entry in registry.adapters() if entry.framework == "jax"]


@pytest.mark.slow  # runs NNX's initialisers op by op, what the adapters avoid
@pytest.mark.parametrize("model", FAMILIES)
def test_a_leaf_the_weight_map_does_not_name_is_one_nnx_starts_at_zero(model, monkeypatch):
    made = {}

    def made_for_real(build):  # what nnx.eval_shape would have shaped, with NNX's values
        networks = build()
        made.update({name: split(module)[1] for name, module in networks.items()})
        return networks

    monkeypatch.setattr(nnx, "eval_shape", made_for_real)
    cls = registry.find(model, "jax").load()
    cls.configure(1)
    adapter = cls(registry.family_config(model)(), mode="jit")
    named = {path for path, _, _ in adapter.weight_map().values()}
    assert made, "add_networks made its networks without nnx.eval_shape"
    for net, state in made.items():
        for path, value in jax.tree_util.tree_leaves_with_path(state):
            name = (net, *key_path(path))
            assert name in named or not np.asarray(value).any(), (
                f"{name} is not in the weight map and NNX starts it at a value other than 0")


def test_a_build_holds_the_specs_initial_weights() -> None:
    """The zeros are placeholders: a build ends with the spec's values."""
    config = registry.family_config("dcgan")()
    adapter = registry.find("dcgan", "jax").load()(config, seed=3, mode="jit")
    expected = config.initial_weights(3)
    for name, value in adapter.get_weights().items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
