"""The overhead benchmark's bare loops do the adapter's exact step, so their ratio is the
harness's own cost. Mirror of tests/torch/test_bare_loops.py."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import noise
from implementations.spec.dcgan import DCGANConfig
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.tf.bare_loops import bare_loop
from implementations.tf.dcgan import DCGANAdapter
from implementations.tf.mlp_gan import MLPGANAdapter

CASES = {"mlp_gan": (MLPGANAdapter, MLPGANConfig(width=16, batch_size=8)),
         "dcgan": (DCGANAdapter, DCGANConfig(width=8, batch_size=8))}
STEPS = 3


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    MLPGANAdapter.configure(1)


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("model", CASES)
def test_bare_loop_trains_the_same_weights_as_the_adapter(model: str, mode: str) -> None:
    adapter_cls, config = CASES[model]
    real = config.load_data()[: config.batch_size]
    z = noise(config.noise_shapes(), seed=3)["z"]
    adapter = adapter_cls(config, seed=5, mode=mode)
    staged = adapter.stage(real, {"z": z})
    loop = bare_loop(model, config, real, z[-1], mode, seed=5)
    before = loop.G.get_weights()[0].copy()
    for _ in range(STEPS):
        adapter.train_step(staged)
        loop.step()
    loop.sync()
    for net, ours, theirs in (("G", loop.G, adapter.G), ("D", loop.D, adapter.D)):
        for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights(), strict=True)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-7, err_msg=f"{net} weight {i}")
    assert not np.array_equal(before, adapter.G.get_weights()[0]), "the steps trained nothing"
