"""Progressive GAN in TensorFlow / Keras: building blocks, layouts, growth, schedule and modes.

Mirror of tests/torch/test_progan.py; what every adapter does alike is tests/progan_shared.py,
imported here; cross-framework parity is in tests/test_parity.py,
the adapter contract in bench/testing/test_contract.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from progan_shared import *  # noqa: F403  (the shared tests)
from progan_shared import digits, staged, tiny

from bench import layouts
from bench.errors import UsageError
from implementations.tf import progan

FRAMEWORK = "tf"


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


# --- building blocks ---

def test_pixel_norm_gives_unit_mean_square_over_channels():
    x = tf.random.normal((3, 4, 4, 5)) * 7
    y = progan.pixel_norm(x)
    expected = x / tf.sqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + 1e-8)
    assert_same(y, expected, rtol=1e-6)
    assert_same(tf.reduce_mean(tf.square(y), axis=-1), np.ones((3, 4, 4)), rtol=1e-5)


def test_minibatch_stddev_matches_numpy_formula():
    x = tf.random.normal((8, 4, 4, 3))
    y = progan.minibatch_stddev(x)
    assert y.shape == (8, 4, 4, 4)
    assert_same(y, numpy_minibatch_stddev(x.numpy()), rtol=1e-6)
    assert not np.array_equal(y[0, ..., 3], y[1, ..., 3])  # two groups (n % 2), two values


def test_equalised_layers_scale_stored_weights_by_gain_over_sqrt_fan_in():
    conv = progan.EqConv(6, 5, 3)
    x = tf.random.normal((2, 8, 8, 6))
    expected = tf.nn.conv2d(x, conv.kernel * (math.sqrt(2) / math.sqrt(54)), 1, "SAME")
    assert_same(conv(x), expected)
    assert np.count_nonzero(conv.bias.numpy()) == 0
    big = progan.EqDense(1000, 500)
    assert abs(np.std(big.kernel.numpy()) - 1) < 0.01  # stored N(0, 1)


def test_gains_follow_the_spec():
    adapter = progan.ProGANAdapter(tiny())
    c, latent = 4, 8
    g, d = adapter.G, adapter.D
    assert g.blocks["4x4"].dense.scale == pytest.approx(math.sqrt(2) / 4 / math.sqrt(latent))
    assert g.blocks["8x8"].conv1.scale == pytest.approx(math.sqrt(2) / math.sqrt(9 * c))
    assert g.to_rgb["16x16"].scale == pytest.approx(1 / math.sqrt(c))
    assert d.from_rgb["32x32"].scale == pytest.approx(math.sqrt(2))
    assert d.blocks["4x4"].conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(9 * (c + 1)))
    assert d.blocks["4x4"].dense.scale == pytest.approx(math.sqrt(2) / math.sqrt(16 * c))
    assert d.blocks["4x4"].out.scale == pytest.approx(1 / math.sqrt(c))


def test_gradient_penalty_of_a_linear_critic():
    w = tf.random.normal((1, 4, 4, 1))

    def critic(x, alpha, *, resolution, fading):
        return tf.reduce_sum(x * w, axis=(1, 2, 3))

    penalty = progan.gradient_penalty(critic, tf.random.normal((3, 4, 4, 1)), tf.constant(1.0),
                                      4, False)
    assert_same(penalty, (tf.norm(w) - 1) ** 2, rtol=1e-6)


def test_real_images_are_downscaled_and_cross_faded():
    real = np.random.default_rng(0).standard_normal((4, 32, 32, 1)).astype(np.float32)
    x8 = real.reshape(4, 8, 4, 8, 4, 1).mean(axis=(2, 4))
    x4 = x8.reshape(4, 4, 2, 4, 2, 1).mean(axis=(2, 4))
    expected = 0.75 * x4.repeat(2, 1).repeat(2, 2) + 0.25 * x8
    out = progan.real_at_phase(tf.constant(real), tf.constant(0.25), resolution=8, fading=True)
    assert_same(out, expected, rtol=1e-5, atol=1e-6)


def test_dense_layers_next_to_reshape_and_flatten_use_the_permutation_rules():
    adapter = progan.ProGANAdapter(tiny())
    rules = adapter.weight_map()
    chw = (4, 4, 4)
    w = np.arange(64 * 8, dtype=np.float32).reshape(64, 8)
    _, to_keras, from_keras = rules["G.blocks.4x4.dense.weight"]
    assert_same(to_keras(w), layouts.dense_before_reshape_to_keras(w, chw))
    assert_same(from_keras(to_keras(w)), w)
    _, to_keras, _ = rules["D.blocks.4x4.dense.weight"]
    assert_same(to_keras(w.T), layouts.dense_after_flatten_to_keras(w.T, chw))
    # The per-channel bias after G's reshape is the same vector in both layouts.
    var, to_keras, _ = rules["G.blocks.4x4.bias"]
    assert var.shape == (4,) and to_keras is progan.same


def test_fade_at_alpha_zero_computes_the_previous_network():
    adapter = progan.ProGANAdapter(tiny())
    z, x = tf.random.normal((4, 8)), tf.random.normal((4, 16, 16, 1))
    zero, one = tf.constant(0.0), tf.constant(1.0)
    grown = adapter.G(z, zero, resolution=16, fading=True)
    before = adapter.G(z, one, resolution=8, fading=False)
    assert_same(grown, progan.upsample(before))
    d_grown = adapter.D(x, zero, resolution=16, fading=True)
    d_before = adapter.D(progan.downsample(x), one, resolution=8, fading=False)
    assert_same(d_grown, d_before)


def test_growing_keeps_trained_weights():
    adapter = progan.ProGANAdapter(tiny(fade_images=4, stable_images=4))
    initial = adapter.get_weights()
    while adapter.progress.images < adapter.config.images_at(16, 0.0):
        adapter.train_step(staged(adapter))
    grown = adapter.get_weights()  # after the last step at 8x8: the next one grows to 16
    old = [k for k in grown if ("4x4" in k or "8x8" in k) and "rgb" not in k]
    new = [k for k in grown if "16x16" in k]
    assert all(not np.array_equal(grown[k], initial[k]) for k in old)
    assert all(np.array_equal(grown[k], initial[k]) for k in new)
    # The grown network at alpha 0 is the trained 8x8 network, upsampled.
    z = tf.random.normal((4, 8))
    now = adapter.G(z, tf.constant(0.0), resolution=16, fading=True)
    before = adapter.G(z, tf.constant(1.0), resolution=8, fading=False)
    assert_same(now, progan.upsample(before))
    adapter.train_step(staged(adapter))  # 16x16 at alpha 0: trains the old blocks on
    after = adapter.get_weights()
    assert all(not np.array_equal(after[k], grown[k]) for k in old)
    assert all(np.array_equal(after[k], grown[k]) for k in new)  # alpha 0: zero gradient


def test_schedule_fades_then_stabilises_and_resets_the_optimisers():
    adapter = progan.ProGANAdapter(tiny(fade_images=8, stable_images=8))
    seen = []
    for _ in range(7):
        before, optimisers = adapter.progress.resolution, (adapter.opt_d, adapter.opt_g)
        adapter.train_step(staged(adapter))
        seen.append((adapter.progress.resolution, adapter.progress.alpha))  # trained at
        grew = adapter.progress.resolution != before
        assert all((new is not old) == grew
                   for new, old in zip((adapter.opt_d, adapter.opt_g), optimisers, strict=True))
    assert seen == [(4, 1.0), (4, 1.0), (8, 0.0), (8, 0.5), (8, 1.0), (8, 1.0), (16, 0.0)]
    # Between steps the tags name the phase the last step trained at.
    assert adapter.tags() == {"resolution": "16", "alpha": "0"}


def test_set_phase_moves_and_validates():
    adapter = progan.ProGANAdapter(tiny(grow=False))
    adapter.train_step(staged(adapter))
    adapter.set_phase(8, 0.25)
    assert adapter.tags() == {"resolution": "8", "alpha": "0.25"}
    assert int(adapter.opt_d.iterations) == 0
    adapter.train_step(staged(adapter))
    assert adapter.tags() == {"resolution": "8", "alpha": "0.25"}  # pinned: grow=False
    with pytest.raises(UsageError, match="phase resolution"):
        adapter.set_phase(64, 1.0)
    with pytest.raises(UsageError, match="no fade-in"):
        adapter.set_phase(4, 0.5)


# --- modes ---

@pytest.mark.parametrize("mode", ["compiled", pytest.param("xla", marks=pytest.mark.slow)])
def test_compiled_modes_compute_what_eager_does(mode):
    cfg = tiny(grow=False, phase_resolution=8, alpha=0.5)
    eager = progan.ProGANAdapter(cfg)
    other = progan.ProGANAdapter(cfg, mode=mode)
    other.set_weights(eager.get_weights())
    for adapter in (eager, other):
        adapter.train_step(staged(adapter))
        adapter.train_step(staged(adapter, seed=2))
    for name, value in eager.get_weights().items():
        np.testing.assert_allclose(other.get_weights()[name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    for name, value in eager.losses().items():
        assert other.losses()[name] == pytest.approx(value, rel=1e-5)


def test_channels_last_inside_and_outside():
    adapter = progan.ProGANAdapter(tiny(grow=False, phase_resolution=16))
    out = adapter.forward(staged(adapter))
    assert out["G(z)"].shape == (4, 16, 16, 1)
    np.testing.assert_array_equal(staged(adapter)[0].numpy(), digits()[4:8])
