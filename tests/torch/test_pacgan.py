"""PacGAN in PyTorch: FLOPs and parameter count from torch's own counters; training on ring8
with packing spreads out. What both adapters do alike (packing, maxout, update order, against
numpy) is tests/pacgan_shared.py; the adapter contract is bench/testing/test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from pacgan_shared import *  # noqa: F403  (the shared tests)
from torch.utils.flop_counter import FlopCounterMode

from bench.data import load_dataset, noise
from implementations.spec.pacgan import PacGANConfig
from implementations.torch.pacgan import PacGANAdapter

FRAMEWORK = "torch"


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    PacGANAdapter.configure(1)


def staged_inputs(adapter, config, seed=0):
    data = load_dataset(config.data_spec(), seed)
    return adapter.stage(data[: config.examples_per_step()], noise(config.noise_shapes(), seed))


@pytest.mark.parametrize("dataset, packing", [("ring8", 1), ("grid25", 2), ("ring8", 4)])
def test_analytic_flops_equal_torch_flop_counter(dataset, packing):
    config = PacGANConfig(dataset=dataset, packing=packing, width=32, maxout_units=16,
                          batch_size=16)
    adapter = PacGANAdapter(config)
    staged = staged_inputs(adapter, config)
    with FlopCounterMode(display=False) as counter:
        adapter.train_step(staged)
    assert counter.get_total_flops() == config.flops_per_step()


def test_param_count_is_the_frameworks_own():
    adapter = PacGANAdapter(PacGANConfig(packing=3))
    params = sum(p.numel() for net in (adapter.G, adapter.D) for p in net.parameters())
    assert adapter.param_count() == params


def test_training_on_ring8_with_packing_spreads_samples_over_several_modes():
    config = PacGANConfig(dataset="ring8", packing=2, width=64, maxout_units=32)
    adapter = PacGANAdapter(config, seed=0)
    data = load_dataset(config.data_spec(), 0)
    n = config.examples_per_step()
    # The paper's simultaneous step learns the scale more slowly than D then G: 450 steps.
    for i in range(450):
        adapter.train_step(adapter.stage(data[i * n: (i + 1) * n]))
    samples = adapter.sample(512, seed=1)
    radius = np.linalg.norm(samples, axis=1)
    assert np.median(np.abs(radius - 1.0)) < 0.3  # G learned the ring's scale
    assert np.isfinite(list(adapter.losses().values())).all()
