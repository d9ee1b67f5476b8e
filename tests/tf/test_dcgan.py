"""DCGAN in TensorFlow: parameter count from Keras' own variables.

What every DCGAN adapter must do alike is in tests/dcgan_shared.py, imported at the end.
"""

from __future__ import annotations

import numpy as np
import pytest

from implementations.spec.dcgan import DCGANConfig
from implementations.tf.dcgan import DCGANAdapter

CONFIG = DCGANConfig(width=8, batch_size=8)


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    DCGANAdapter.configure(1)


def test_param_count_is_the_frameworks_own() -> None:
    adapter = DCGANAdapter(CONFIG)
    params = sum(int(np.prod(v.shape)) for net in (adapter.G, adapter.D)
                 for v in net.trainable_variables)
    assert adapter.param_count() == params


from dcgan_shared import *  # noqa: E402, F403  (what every DCGAN adapter does alike)

FRAMEWORK = "tf"
