"""Progressive GAN in JAX / Flax NNX: building blocks, layouts, growth, schedule and modes.

Mirror of tests/tf/test_progan.py; what every adapter does alike is tests/progan_shared.py,
imported here; cross-framework parity is in tests/jax/test_parity.py, the
adapter contract in bench/testing/test_contract.py.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from progan_shared import *  # noqa: F403  (the shared tests)
from progan_shared import staged, tiny

from bench import layouts
from bench.errors import UsageError
from implementations.jax import progan
from implementations.jax.base import is_moments

FRAMEWORK = "jax"


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    progan.ProGANAdapter.configure(1)


def numpy_minibatch_stddev(x: np.ndarray, group: int = 4) -> np.ndarray:
    """NHWC reference: sample n is in group n % M; biased variance, +1e-8 under the root."""
    b = x.shape[0]
    y = x.astype(np.float64).reshape(group, b // group, *x.shape[1:])
    std = np.sqrt(y.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))
    extra = np.broadcast_to(std[np.arange(b) % (b // group), None, None, None],
                            (b, *x.shape[1:3], 1))
    return np.concatenate([x, extra], axis=-1)


def assert_same(a, b, rtol: float = 0.0, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def normal(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def optimizer_steps(adapter: progan.ProGANAdapter, net: str) -> int:
    moments = jax.tree.leaves(adapter.state[net]["opt"], is_leaf=is_moments)
    return max(int(m.step) for m in moments)


# --- building blocks ---

def test_pixel_norm_gives_unit_mean_square_over_channels():
    x = normal(3, 4, 4, 5) * 7
    y = progan.pixel_norm(jnp.asarray(x))
    assert_same(y, x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-8), rtol=1e-6)
    assert_same(jnp.mean(jnp.square(y), axis=-1), np.ones((3, 4, 4)), rtol=1e-5)


def test_minibatch_stddev_matches_numpy_formula():
    x = normal(8, 4, 4, 3)
    y = progan.minibatch_stddev(jnp.asarray(x))
    assert y.shape == (8, 4, 4, 4)
    assert_same(y, numpy_minibatch_stddev(x), rtol=1e-6)
    assert not np.array_equal(y[0, ..., 3], y[1, ..., 3])  # two groups (n % 2), two values


def test_equalised_conv_scales_stored_weights_by_gain_over_sqrt_fan_in():
    conv = progan.EqConv(6, 5, 3, nnx.Rngs(0))
    x = normal(2, 8, 8, 6)
    w = np.asarray(conv.weight[...]) * (math.sqrt(2) / math.sqrt(54))
    padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = sum(np.einsum("bhwc,co->bhwo", padded[:, i:i + 8, j:j + 8], w[i, j])
                   for i in range(3) for j in range(3))
    assert_same(conv(jnp.asarray(x)), expected, rtol=1e-5, atol=1e-5)
    assert np.count_nonzero(np.asarray(conv.bias[...])) == 0
    big = progan.EqDense(1000, 500, nnx.Rngs(0))
    assert abs(np.std(np.asarray(big.weight[...])) - 1) < 0.01  # stored N(0, 1)


def test_gradient_penalty_of_a_linear_critic():
    w = normal(1, 4, 4, 1)

    def critic(x, alpha, *, resolution, fading):
        return jnp.sum(x * w, axis=(1, 2, 3))

    penalty = progan.gradient_penalty(critic, jnp.asarray(normal(3, 4, 4, 1)), 1.0, 4, False)
    assert_same(penalty, (np.linalg.norm(w) - 1) ** 2, rtol=1e-6)


def test_real_images_are_downscaled_and_cross_faded():
    real = normal(4, 32, 32, 1)
    x8 = real.reshape(4, 8, 4, 8, 4, 1).mean(axis=(2, 4))
    x4 = x8.reshape(4, 4, 2, 4, 2, 1).mean(axis=(2, 4))
    expected = 0.75 * x4.repeat(2, 1).repeat(2, 2) + 0.25 * x8
    out = progan.real_at_phase(jnp.asarray(real), 0.25, resolution=8, fading=True)
    assert_same(out, expected, rtol=1e-5, atol=1e-6)


def test_dense_layers_next_to_reshape_and_flatten_use_the_permutation_rules():
    adapter = progan.ProGANAdapter(tiny())
    rules = adapter.weight_map()
    chw = (4, 4, 4)
    w = np.arange(64 * 8, dtype=np.float32).reshape(64, 8)
    _, to_jax, from_jax = rules["G.blocks.4x4.dense.weight"]
    assert_same(to_jax(w), layouts.dense_before_reshape_to_keras(w, chw))
    assert_same(from_jax(to_jax(w)), w)
    _, to_jax, _ = rules["D.blocks.4x4.dense.weight"]
    assert_same(to_jax(w.T), layouts.dense_after_flatten_to_keras(w.T, chw))


def test_fade_at_alpha_zero_computes_the_previous_network():
    adapter = progan.ProGANAdapter(tiny())
    G, D = (adapter.network(adapter.state, net) for net in ("G", "D"))
    z, x = jnp.asarray(normal(4, 8)), jnp.asarray(normal(4, 16, 16, 1, seed=1))
    grown = G(z, 0.0, resolution=16, fading=True)
    assert_same(grown, progan.upsample(G(z, 1.0, resolution=8, fading=False)))
    d_grown = D(x, 0.0, resolution=16, fading=True)
    assert_same(d_grown, D(progan.downsample(x), 1.0, resolution=8, fading=False))


def test_growing_keeps_trained_weights():
    adapter = progan.ProGANAdapter(tiny(fade_images=4, stable_images=4), mode="jit")
    initial = adapter.get_weights()
    while adapter.progress.images < adapter.config.images_at(16, 0.0):
        adapter.train_step(staged(adapter))
    grown = adapter.get_weights()  # after the last step at 8x8: the next one grows to 16
    old = [k for k in grown if ("4x4" in k or "8x8" in k) and "rgb" not in k]
    new = [k for k in grown if "16x16" in k]
    assert all(not np.array_equal(grown[k], initial[k]) for k in old)
    assert all(np.array_equal(grown[k], initial[k]) for k in new)
    adapter.train_step(staged(adapter))  # 16x16 at alpha 0: trains the old blocks on
    after = adapter.get_weights()
    assert all(not np.array_equal(after[k], grown[k]) for k in old)
    assert all(np.array_equal(after[k], grown[k]) for k in new)  # alpha 0: zero gradient


def test_a_phase_leaves_the_layers_it_does_not_read_and_their_moments_alone():
    """After the 8x8 fade, 4x4's toRGB is no longer read: like PyTorch's optimiser, which
    skips a parameter without a gradient, the step neither moves it nor counts a step for it."""
    adapter = progan.ProGANAdapter(tiny(grow=False, phase_resolution=8, alpha=0.5), mode="jit")
    adapter.train_step(staged(adapter))
    adapter.set_phase(8, 1.0)  # the same resolution: the optimisers keep their state
    before = adapter.get_weights()
    adapter.train_step(staged(adapter, seed=2))
    after = adapter.get_weights()
    assert np.array_equal(after["G.to_rgb.4x4.weight"], before["G.to_rgb.4x4.weight"])
    assert not np.array_equal(after["G.to_rgb.8x8.weight"], before["G.to_rgb.8x8.weight"])
    steps = adapter.state["G"]["opt"]["to_rgb"]
    assert (int(steps["4x4"]["weight"].step), int(steps["8x8"]["weight"].step)) == (1, 2)


def test_schedule_fades_then_stabilises_and_resets_the_optimisers():
    adapter = progan.ProGANAdapter(tiny(fade_images=8, stable_images=8), mode="jit")
    seen = []
    for _ in range(7):
        before = adapter.progress.resolution
        steps = {net: optimizer_steps(adapter, net) for net in ("D", "G")}
        adapter.train_step(staged(adapter))
        seen.append((adapter.progress.resolution, adapter.progress.alpha))  # trained at
        grew = adapter.progress.resolution != before
        for net, count in steps.items():  # a fresh optimiser's first step, or one more
            assert optimizer_steps(adapter, net) == (1 if grew else count + 1)
    assert seen == [(4, 1.0), (4, 1.0), (8, 0.0), (8, 0.5), (8, 1.0), (8, 1.0), (16, 0.0)]
    # Between steps the tags name the phase the last step trained at.
    assert adapter.tags() == {"resolution": "16", "alpha": "0"}


def test_set_phase_moves_and_validates():
    adapter = progan.ProGANAdapter(tiny(grow=False), mode="jit")
    adapter.train_step(staged(adapter))
    adapter.set_phase(8, 0.25)
    assert adapter.tags() == {"resolution": "8", "alpha": "0.25"}
    assert optimizer_steps(adapter, "D") == 0
    adapter.train_step(staged(adapter))
    assert adapter.tags() == {"resolution": "8", "alpha": "0.25"}  # pinned: grow=False
    with pytest.raises(UsageError, match="phase resolution"):
        adapter.set_phase(64, 1.0)
    with pytest.raises(UsageError, match="no fade-in"):
        adapter.set_phase(4, 0.5)


@pytest.mark.slow  # eager: each operation's first dispatch compiles (see tests/family_adapters.py)
def test_jit_computes_what_eager_does():
    cfg = tiny(grow=False, phase_resolution=8, alpha=0.5)
    eager = progan.ProGANAdapter(cfg)
    other = progan.ProGANAdapter(cfg, mode="jit")
    other.set_weights(eager.get_weights())
    for adapter in (eager, other):
        adapter.train_step(staged(adapter))
        adapter.train_step(staged(adapter, seed=2))
    for name, value in eager.get_weights().items():
        np.testing.assert_allclose(other.get_weights()[name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    for name, value in eager.losses().items():
        assert other.losses()[name] == pytest.approx(value, rel=1e-5)

