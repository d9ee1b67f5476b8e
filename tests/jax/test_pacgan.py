"""PacGAN in JAX: parameter count from the networks' own NNX parameters. What every adapter does
alike (packing, maxout, update order, against numpy) is tests/pacgan_shared.py; the adapter
contract, with jit against eager on packed grid25, is bench/testing/test_contract.py.
"""

from __future__ import annotations

import jax
import pytest
from flax import nnx
from pacgan_shared import *  # noqa: F403  (the shared tests)

from implementations.jax.pacgan import PacGANAdapter
from implementations.spec.pacgan import PacGANConfig

FRAMEWORK = "jax"


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    PacGANAdapter.configure(1)


def test_param_count_is_the_frameworks_own():
    adapter = PacGANAdapter(PacGANConfig(packing=3))
    params = sum(leaf.size for net in ("G", "D")
                 for leaf in jax.tree.leaves(nnx.state(adapter.network(adapter.state, net),
                                                       nnx.Param)))
    assert adapter.param_count() == params
