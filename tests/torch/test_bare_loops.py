"""The overhead benchmark's bare loops do the adapter's exact step, so their ratio is the
harness's own cost. Mirror of tests/tf/test_bare_loops.py."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import noise
from implementations.spec.dcgan import DCGANConfig
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.torch.bare_loops import bare_loop
from implementations.torch.dcgan import DCGANAdapter
from implementations.torch.mlp_gan import MLPGANAdapter

CASES = {"mlp_gan": (MLPGANAdapter, MLPGANConfig(width=16, batch_size=8)),
         "dcgan": (DCGANAdapter, DCGANConfig(width=8, batch_size=8))}
STEPS = 3


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    MLPGANAdapter.configure(1)


@pytest.mark.parametrize("model", CASES)
def test_bare_loop_trains_the_same_weights_as_the_adapter(model: str) -> None:
    adapter_cls, config = CASES[model]
    real = config.load_data()[: config.batch_size]
    z = noise(config.noise_shapes(), seed=3)["z"]
    adapter = adapter_cls(config, seed=5)
    staged = adapter.stage(real, {"z": z})
    loop = bare_loop(model, config, real, z[-1], "eager", seed=5)
    first = "fc1.weight" if model == "mlp_gan" else "conv1.weight"
    before = loop.G.state_dict()[first].numpy().copy()
    for _ in range(STEPS):
        adapter.train_step(staged)
        loop.step()
    loop.sync()
    ours = {f"G.{k}": v for k, v in loop.G.state_dict().items()}
    ours |= {f"D.{k}": v for k, v in loop.D.state_dict().items()}
    theirs = adapter.get_weights()
    assert set(theirs) <= set(ours)
    for name, value in theirs.items():
        np.testing.assert_array_equal(ours[name].numpy(), value, err_msg=name)
    assert not np.array_equal(before, theirs[f"G.{first}"]), "the steps trained nothing"
