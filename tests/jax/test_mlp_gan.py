"""The JAX MLP GAN: jit computes what eager computes, on both datasets and with repeated D
steps; the torch-style Adam; training on ring8 spreads out. The rest of the contract:
bench/testing/test_contract.py."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bench.data import load_dataset, noise
from bench.parity import relative_error
from implementations.jax.base import torch_adam
from implementations.jax.mlp_gan import MLPGANAdapter
from implementations.spec.mlp_gan import MLPGANConfig


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    MLPGANAdapter.configure(1)


def one_step(config, mode):
    adapter = MLPGANAdapter(config, seed=0, mode=mode)
    data = load_dataset(config.data_spec(), 0)
    staged = adapter.stage(data[: config.examples_per_step()], noise(config.noise_shapes(), 0))
    forward = adapter.forward(staged)
    adapter.train_step(staged)
    return forward, adapter.losses(), adapter.get_weights()


@pytest.mark.slow  # eager: each operation's first dispatch compiles (see tests/family_adapters.py)
@pytest.mark.parametrize("dataset, d_steps", [("ring8", 1), ("digits", 2)])
def test_jit_computes_what_eager_computes(dataset, d_steps):
    config = MLPGANConfig(dataset=dataset, width=16, batch_size=8, d_steps=d_steps)
    f_e, l_e, w_e = one_step(config, "eager")
    f_j, l_j, w_j = one_step(config, "jit")
    for name in f_e:
        np.testing.assert_allclose(f_j[name], f_e[name], rtol=1e-5, atol=1e-6)
    assert l_j == pytest.approx(l_e, rel=1e-5)
    for name in w_e:
        np.testing.assert_allclose(w_j[name], w_e[name], rtol=1e-4, atol=1e-7)


def torch_adam_reference(grads, lr, betas, eps):
    """PyTorch's Adam in float64, step by step: the weights after each gradient."""
    (b1, b2), w = betas, np.zeros_like(grads[0], np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        out.append(w)
    return out


def run(transformation, grads):
    params = jnp.zeros(grads[0].shape, jnp.float32)
    state, out = transformation.init(params), []
    for g in grads:
        updates, state = transformation.update(jnp.asarray(g, jnp.float32), state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(params, np.float64))
    return out


@pytest.mark.parametrize("lr, betas, eps", [(2e-4, (0.5, 0.999), 1e-8), (1e-3, (0.0, 0.99), 1e-8),
                                            (0.02, (0.99, 0.999), 0.1)])
def test_torch_adam_follows_pytorchs_update_step_by_step(lr, betas, eps):
    """Gradients from 1e-9 to 1: every step within float32 rounding of PyTorch's formula in
    float64 (relative error as the parity checks take it), where optax.adam's float32 bias
    corrections put the weights 5e-6 off once beta2 is 0.999."""
    rng = np.random.default_rng(0)
    grads = [(g * np.logspace(-9, 0, 64)).astype(np.float32)
             for g in rng.standard_normal((5, 64))]
    expected = torch_adam_reference(grads, lr, betas, eps)
    ours = run(torch_adam(lr, betas, eps), grads)
    for step, (a, b) in enumerate(zip(ours, expected, strict=True), start=1):
        assert relative_error(a, b) < 5e-7, f"step {step}"
    if betas[1] == 0.999:  # where float32(beta2) loses digits in 1 - beta2^t
        optax_steps = run(optax.adam(lr, *betas, eps=eps), grads)
        assert all(relative_error(a, b) > 2e-6 for a, b in zip(optax_steps, expected, strict=True))


def test_training_on_ring8_spreads_samples_over_several_modes():
    config = MLPGANConfig(dataset="ring8", width=64, batch_size=64)
    adapter = MLPGANAdapter(config, seed=0, mode="jit")
    data = load_dataset(config.data_spec(), 0)
    for i in range(300):
        adapter.train_step(adapter.stage(data[i * 64: (i + 1) * 64]))
    samples = adapter.sample(512, seed=1)
    radius = np.linalg.norm(samples, axis=1)
    assert np.median(np.abs(radius - 1.0)) < 0.3  # G learned the ring's scale
    assert np.isfinite(list(adapter.losses().values())).all()
