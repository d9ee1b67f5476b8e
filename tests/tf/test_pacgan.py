"""PacGAN in TensorFlow: parameter count from Keras' own variables. What both adapters do
alike (packing, maxout, update order, against numpy) is tests/pacgan_shared.py; the adapter
contract, with tf.function and XLA against eager on packed grid25, is
bench/testing/test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from pacgan_shared import *  # noqa: F403  (the shared tests)

from implementations.spec.pacgan import PacGANConfig
from implementations.tf.pacgan import PacGANAdapter

FRAMEWORK = "tf"


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    PacGANAdapter.configure(1)


def test_param_count_is_the_frameworks_own():
    adapter = PacGANAdapter(PacGANConfig(packing=3))
    params = sum(int(np.prod(v.shape)) for net in (adapter.G, adapter.D)
                 for v in net.trainable_variables)
    assert adapter.param_count() == params
