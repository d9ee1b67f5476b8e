"""The PyTorch MLP GAN: analytic FLOPs match torch's counter; training on ring8 spreads out.

The adapter contract (compiled equals eager, weights in and out) is bench/testing/test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.flop_counter import FlopCounterMode

from bench.data import load_dataset, noise
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.torch.mlp_gan import MLPGANAdapter


def staged_inputs(adapter, config, seed=0):
    data = load_dataset(config.data_spec(), seed)
    return adapter.stage(data[: config.examples_per_step()], noise(config.noise_shapes(), seed))


@pytest.mark.parametrize("dataset, d_steps", [("digits", 1), ("ring8", 1), ("ring8", 3)])
def test_analytic_flops_equal_torch_flop_counter(dataset, d_steps):
    config = MLPGANConfig(dataset=dataset, width=32, batch_size=16, d_steps=d_steps)
    adapter = MLPGANAdapter(config)
    staged = staged_inputs(adapter, config)
    with FlopCounterMode(display=False) as counter:
        adapter.train_step(staged)
    assert counter.get_total_flops() == config.flops_per_step()


def test_training_on_ring8_spreads_samples_over_several_modes():
    config = MLPGANConfig(dataset="ring8", width=64, batch_size=64)
    adapter = MLPGANAdapter(config, seed=0)
    data = load_dataset(config.data_spec(), 0)
    for i in range(300):
        adapter.train_step(adapter.stage(data[i * 64: (i + 1) * 64]))
    samples = adapter.sample(512, seed=1)
    radius = np.linalg.norm(samples, axis=1)
    assert np.median(np.abs(radius - 1.0)) < 0.3  # G learned the ring's scale
    assert np.isfinite(list(adapter.losses().values())).all()
