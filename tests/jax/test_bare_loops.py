"""The overhead benchmark's bare loops do the adapter's exact step, so their ratio is the
harness's own cost. Mirror of tests/torch/test_bare_loops.py."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from bench.data import noise
from implementations.jax.bare_loops import bare_loop
from implementations.jax.dcgan import DCGANAdapter
from implementations.jax.mlp_gan import MLPGANAdapter
from implementations.spec.dcgan import DCGANConfig
from implementations.spec.mlp_gan import MLPGANConfig

CASES = {"mlp_gan": (MLPGANAdapter, MLPGANConfig(width=16, batch_size=8)),
         "dcgan": (DCGANAdapter, DCGANConfig(width=8, batch_size=8))}
STEPS = 3


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    MLPGANAdapter.configure(1)


def leaves(module) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(module)]


# eager: each operation's first dispatch compiles (see tests/family_adapters.py)
@pytest.mark.parametrize("mode", [pytest.param("eager", marks=pytest.mark.slow), "jit"])
@pytest.mark.parametrize("model", CASES)
def test_bare_loop_trains_the_same_weights_as_the_adapter(model: str, mode: str) -> None:
    adapter_cls, config = CASES[model]
    real = config.load_data()[: config.batch_size]
    z = noise(config.noise_shapes(), seed=3)["z"]
    adapter = adapter_cls(config, seed=5, mode=mode)
    staged = adapter.stage(real, {"z": z})
    loop = bare_loop(model, config, real, z[-1], mode, seed=5)
    before = leaves(adapter.state["G"]["params"])
    for _ in range(STEPS):
        adapter.train_step(staged)
        loop.step()
    loop.sync()
    for net in ("G", "D"):
        ours = leaves(loop.state()[net])
        theirs = leaves({k: adapter.state[net][k] for k in ("params", "stats")})
        assert len(ours) == len(theirs) > 0
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-7, err_msg=f"{net} weight {i}")
    after = leaves(adapter.state["G"]["params"])
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True)), (
        "the steps trained nothing")
