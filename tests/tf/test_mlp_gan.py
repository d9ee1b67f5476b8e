"""The TensorFlow MLP GAN: tf.function and XLA compute what eager computes, on both datasets and
with repeated D steps; the torch-style Adam. The rest of the contract:
bench/testing/test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import load_dataset, noise
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.tf.mlp_gan import MLPGANAdapter


def one_step(config, mode):
    adapter = MLPGANAdapter(config, seed=0, mode=mode)
    data = load_dataset(config.data_spec(), 0)
    staged = adapter.stage(data[: config.examples_per_step()], noise(config.noise_shapes(), 0))
    forward = adapter.forward(staged)
    adapter.train_step(staged)
    return forward, adapter.losses(), adapter.get_weights()


@pytest.mark.parametrize("mode", ["compiled", pytest.param("xla", marks=pytest.mark.slow)])
@pytest.mark.parametrize("dataset, d_steps", [("ring8", 1), ("digits", 2)])
def test_modes_compute_what_eager_computes(mode, dataset, d_steps):
    config = MLPGANConfig(dataset=dataset, width=16, batch_size=8, d_steps=d_steps)
    f_e, l_e, w_e = one_step(config, "eager")
    f_m, l_m, w_m = one_step(config, mode)
    for name in f_e:
        np.testing.assert_allclose(f_m[name], f_e[name], rtol=1e-5, atol=1e-6)
    assert l_m == pytest.approx(l_e, rel=1e-5)
    for name in w_e:
        np.testing.assert_allclose(w_m[name], w_e[name], rtol=1e-4, atol=1e-7)


def test_torch_adam_matches_the_closed_form_first_step():
    import tensorflow as tf

    from implementations.tf.base import TorchAdam

    var = tf.Variable([1.0, -2.0])
    grad = tf.constant([0.5, 1e-3])
    opt = TorchAdam([var], 0.1, (0.9, 0.999), 0.1)
    opt.apply([grad], [var])
    # torch: m_hat = g, v_hat = g^2, step = lr * g / (|g| + eps)
    expected = np.array([1.0, -2.0]) - 0.1 * grad.numpy() / (np.abs(grad.numpy()) + 0.1)
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-6)
