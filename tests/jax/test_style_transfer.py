"""Style transfer in JAX: VGG19 taps, loss, Adam-and-clip step, weights, and the two gradients
at kinks that JAX defines unlike PyTorch (|x| at 0, a max pool's tie).

Mirror of tests/tf/test_style_transfer.py; what every adapter does alike is
tests/style_transfer_shared.py, imported here; modes and the rest of the adapter contract:
bench/testing/test_contract.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from style_transfer_shared import *  # noqa: F403  (the shared tests)
from style_transfer_shared import SMALL, adapter_with_image, noise_image

from bench import layouts
from implementations.jax.style_transfer import (
    StyleTransferAdapter,
    gram,
    loss_terms,
    max_pool,
    total_variation,
    vgg_taps,
)
from implementations.spec.style_transfer import (
    TAPS,
    gram_numpy,
    loss_terms_numpy,
)

FRAMEWORK = "jax"


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    StyleTransferAdapter.configure(1)


def test_taps_follow_relus_at_torchvisions_indices():
    adapter = StyleTransferAdapter(SMALL)
    assert sorted(adapter.state["vgg"]["params"]["features"], key=int) == [
        str(layer.index) for layer in SMALL.conv_layers()]
    outputs = adapter.forward(adapter.stage(SMALL.load_data()))
    for name, (channels, side) in SMALL.tap_channels().items():
        assert outputs[name].shape == (1, side, side, channels)
        assert outputs[name].min() >= 0.0
        assert SMALL.vgg_layers()[TAPS[name]].kind == "relu"


def test_gram_is_ft_f_over_positions():
    features = np.random.default_rng(0).standard_normal((1, 6, 7, 5)).astype(np.float32)
    np.testing.assert_allclose(gram(jnp.asarray(features)), gram_numpy(features),
                               rtol=1e-5, atol=1e-6)


def test_loss_terms_match_the_numpy_reference():
    adapter = adapter_with_image(StyleTransferAdapter, SMALL, noise_image(SMALL))
    staged = adapter.stage(SMALL.load_data())
    outputs = adapter.forward(staged)
    style_targets = {name: np.asarray(value) for name, value in adapter.style_targets.items()}
    expected = loss_terms_numpy(SMALL, layouts.nchw_to_nhwc(noise_image(SMALL)), outputs,
                                np.asarray(staged), style_targets)
    assert expected["loss_content"] > 0 and expected["loss_style"] > 0
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-5)


# --- gradients at kinks ---


def test_total_variations_gradient_is_zero_where_neighbours_are_equal():
    """PyTorch's |x| has gradient sign(x), 0 at 0; jnp.abs's is 1 there."""
    image = jnp.asarray([[[[0.5], [0.5], [0.7]]]])  # (1, 1, 3, 1): one equal pair
    grad = np.asarray(jax.grad(total_variation)(image)).ravel()
    np.testing.assert_array_equal(grad, [0.0, -1.0, 1.0])
    assert float(total_variation(image)) == pytest.approx(0.2)


def test_max_pool_sends_a_ties_gradient_to_one_input():
    """As PyTorch's max_pool2d: the whole gradient to one of the tied maxima."""
    grad = jax.grad(lambda x: max_pool(x).sum())(jnp.ones((1, 2, 2, 1)))
    assert sorted(np.asarray(grad).ravel()) == [0.0, 0.0, 0.0, 1.0]


# --- the step ---


def test_step_is_torchs_adam_then_a_clip_to_unit_range():
    """First Adam step: x - lr * g / (|g| + eps), then clipped; a saturated image must clip."""
    start = np.clip(2.0 * noise_image(SMALL) - 0.5, 0.0, 1.0)  # a quarter at each bound
    adapter = adapter_with_image(StyleTransferAdapter, SMALL, start, mode="jit")
    staged = adapter.stage(SMALL.load_data())
    vgg = adapter.network(adapter.state, "vgg")

    def loss(x):
        return loss_terms(SMALL, x, vgg_taps(vgg, x), staged, adapter.style_targets)["loss_total"]

    gradient = jax.jit(jax.grad(loss))  # compiled once: eager compiles each operation
    g = layouts.nhwc_to_nchw(np.asarray(gradient(jnp.asarray(layouts.nchw_to_nhwc(start)))))
    unclipped = start - SMALL.lr * g / (np.abs(g) + SMALL.eps)
    assert unclipped.max() > 1.0 and unclipped.min() < 0.0
    adapter.train_step(staged)
    np.testing.assert_allclose(adapter.get_weights()["image"], np.clip(unclipped, 0.0, 1.0),
                               atol=1e-6)


# --- weights ---


def test_set_weights_refreshes_the_style_targets_a_jit_step_uses():
    """The compiled step takes the style targets as an argument: new VGG weights change the
    style loss of the next step, not only of forward."""
    source = adapter_with_image(StyleTransferAdapter, SMALL, noise_image(SMALL))
    target = adapter_with_image(StyleTransferAdapter, SMALL.replace(weight_seed=1),
                                noise_image(SMALL), mode="jit")
    staged = target.stage(SMALL.load_data())
    target.train_step(staged)
    target.set_weights({**source.get_weights(), "image": noise_image(SMALL)})
    for name, value in source.get_weights().items():
        np.testing.assert_array_equal(target.get_weights()[name], value)
    staged = source.stage(SMALL.load_data())
    expected = source.forward(staged)["loss_style"]
    target.train_step(staged)
    assert target.losses()["loss_style"] == pytest.approx(float(expected), rel=1e-5)

