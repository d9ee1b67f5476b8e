"""What every DCGAN adapter must do alike: the DCGAN paper's init, and the update order.

tests/<framework>/test_dcgan.py imports these tests and sets FRAMEWORK: each framework runs
them in its own pytest process.
"""

from __future__ import annotations

import numpy as np
import pytest
from family_adapters import family_adapter
from update_order import assert_update_order

from bench.parity import step_inputs
from implementations.spec.dcgan import DCGANConfig

DCGAN = DCGANConfig(width=8, batch_size=8)


@pytest.fixture
def framework(request: pytest.FixtureRequest) -> str:
    return request.module.FRAMEWORK


def test_dcgan_init_is_dcgans(framework):
    weights = family_adapter("dcgan", framework)(DCGANConfig(width=16)).get_weights()
    conv = np.concatenate([v.ravel() for k, v in weights.items() if ".conv" in k])
    gamma = np.concatenate([v for k, v in weights.items() if ".bn" in k and "weight" in k])
    assert abs(conv.mean()) < 1e-3 and abs(conv.std() - 0.02) < 1e-3
    assert abs(gamma.mean() - 1) < 0.01 and 0.01 < gamma.std() < 0.03
    assert all(not v.any() for k, v in weights.items() if k.endswith("bias"))


def test_dcgan_step_follows_the_update_order(framework):
    build = family_adapter("dcgan", framework)
    assert_update_order(lambda: build(DCGAN), step_inputs(DCGAN, 0, 1)[0])
