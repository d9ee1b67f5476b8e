"""DCGAN in PyTorch: parameter count and FLOPs, from torch's own counters.

What every DCGAN adapter must do alike is in tests/dcgan_shared.py, imported at the end.
"""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.flop_counter import FlopCounterMode

from bench.data import noise
from implementations.spec.dcgan import DCGANConfig
from implementations.torch.dcgan import DCGANAdapter

CONFIG = DCGANConfig(width=8, batch_size=8)


def inputs(config: DCGANConfig, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    batch = config.load_data()[seed * 100 : seed * 100 + config.examples_per_step()]
    return batch, noise(config.noise_shapes(), seed)


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    DCGANAdapter.configure(1)


def test_param_count_is_the_frameworks_own() -> None:
    adapter = DCGANAdapter(CONFIG)
    params = sum(p.numel() for net in (adapter.G, adapter.D) for p in net.parameters())
    assert adapter.param_count() == params


@pytest.mark.parametrize("d_steps", [1, 2])
def test_flops_match_the_flop_counter(d_steps: int) -> None:
    config = CONFIG.replace(d_steps=d_steps)
    adapter = DCGANAdapter(config)
    staged = adapter.stage(*inputs(config))
    with FlopCounterMode(display=False) as counter:
        adapter.train_step(staged)
    assert counter.get_total_flops() == config.flops_per_step()


from dcgan_shared import *  # noqa: E402, F403  (what every DCGAN adapter does alike)

FRAMEWORK = "torch"
