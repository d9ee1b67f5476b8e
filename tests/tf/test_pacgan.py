"""PacGAN in TensorFlow: tf.function and XLA compute what eager computes, with and without
packing; parameter count from Keras' own variables. What both adapters do alike (packing,
maxout, update order, against numpy) is tests/pacgan_shared.py; the adapter contract is
tests/adapter_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from pacgan_shared import *  # noqa: F403  (the shared tests)

from bench.data import load_dataset, noise
from bench.parity import STEP_TOL, fill_zero_tensors, relative_error
from implementations.spec.pacgan import PacGANConfig
from implementations.tf.pacgan import PacGANAdapter


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    PacGANAdapter.configure(1)


@pytest.fixture
def pacgan() -> type[PacGANAdapter]:
    return PacGANAdapter


def one_step(config, mode):
    adapter = PacGANAdapter(config, seed=0, mode=mode)
    # As the parity checks start: the canonical zero biases get small noise, or a bias's first
    # Adam step is lr * g / (|g| + eps) of a gradient g near eps, rounding noise amplified.
    adapter.set_weights(fill_zero_tensors(adapter.get_weights(), 0))
    data = load_dataset(config.data_spec(), 0)
    staged = adapter.stage(data[: config.examples_per_step()], noise(config.noise_shapes(), 0))
    forward = adapter.forward(staged)
    adapter.train_step(staged)
    return forward, adapter.losses(), adapter.get_weights()


@pytest.mark.parametrize("mode", ["compiled", "xla"])
@pytest.mark.parametrize("dataset, packing", [("ring8", 1), ("grid25", 3)])
def test_modes_compute_what_eager_computes(mode, dataset, packing):
    config = PacGANConfig(dataset=dataset, packing=packing, width=16, maxout_units=8,
                          batch_size=8)
    f_e, l_e, w_e = one_step(config, "eager")
    f_m, l_m, w_m = one_step(config, mode)
    for name in f_e:
        np.testing.assert_allclose(f_m[name], f_e[name], rtol=1e-5, atol=1e-6)
    assert l_m == pytest.approx(l_e, rel=1e-5)
    for name in w_e:
        assert relative_error(w_m[name], w_e[name]) <= STEP_TOL, name


def test_param_count_is_the_frameworks_own():
    adapter = PacGANAdapter(PacGANConfig(packing=3))
    params = sum(int(np.prod(v.shape)) for net in (adapter.G, adapter.D)
                 for v in net.trainable_variables)
    assert adapter.param_count() == params
