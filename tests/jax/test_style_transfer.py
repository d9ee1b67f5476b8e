"""Style transfer in JAX: VGG19 taps, loss, Adam-and-clip step, weights, and the two gradients
at kinks that JAX defines unlike PyTorch (|x| at 0, a max pool's tie).

Mirror of tests/tf/test_style_transfer.py; modes and the rest of the adapter contract:
bench/testing/test_contract.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench import layouts
from bench.errors import UsageError
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
    StyleTransferConfig,
    gram_numpy,
    loss_terms_numpy,
)

SMALL = StyleTransferConfig(size=32, width=4)


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    StyleTransferAdapter.configure(1)


def noise_image(cfg: StyleTransferConfig, seed: int = 1) -> np.ndarray:
    """A random image in [0, 1], canonical (1, 3, H, W), so the content term is not zero."""
    return np.random.default_rng(seed).random((1, 3, cfg.size, cfg.size)).astype(np.float32)


def adapter_with_image(cfg: StyleTransferConfig, image: np.ndarray,
                       **kwargs) -> StyleTransferAdapter:
    adapter = StyleTransferAdapter(cfg, **kwargs)
    adapter.set_weights({**adapter.get_weights(), "image": image})
    return adapter


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
    adapter = adapter_with_image(SMALL, noise_image(SMALL))
    staged = adapter.stage(SMALL.load_data())
    outputs = adapter.forward(staged)
    style_targets = {name: np.asarray(value) for name, value in adapter.style_targets.items()}
    expected = loss_terms_numpy(SMALL, layouts.nchw_to_nhwc(noise_image(SMALL)), outputs,
                                np.asarray(staged), style_targets)
    assert expected["loss_content"] > 0 and expected["loss_style"] > 0
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-5)


def test_the_first_content_loss_is_exactly_zero():
    adapter = StyleTransferAdapter(SMALL)
    adapter.train_step(adapter.stage(SMALL.load_data()))
    assert adapter.losses()["loss_content"] == 0.0


def test_stage_refuses_a_batch_that_is_not_the_content_image():
    adapter = StyleTransferAdapter(SMALL)
    with pytest.raises(UsageError, match="content image"):
        adapter.stage(np.zeros((1, 64, 64, 3), np.float32))


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
    adapter = adapter_with_image(SMALL, start)
    staged = adapter.stage(SMALL.load_data())
    vgg = adapter.network(adapter.state, "vgg")

    def loss(x):
        return loss_terms(SMALL, x, vgg_taps(vgg, x), staged, adapter.style_targets)["loss_total"]

    g = layouts.nhwc_to_nchw(np.asarray(jax.grad(loss)(jnp.asarray(layouts.nchw_to_nhwc(start)))))
    unclipped = start - SMALL.lr * g / (np.abs(g) + SMALL.eps)
    assert unclipped.max() > 1.0 and unclipped.min() < 0.0
    adapter.train_step(staged)
    np.testing.assert_allclose(adapter.get_weights()["image"], np.clip(unclipped, 0.0, 1.0),
                               atol=1e-6)


def test_step_never_updates_vgg():
    adapter = adapter_with_image(SMALL, noise_image(SMALL))
    before = adapter.get_weights()
    adapter.train_step(adapter.stage(SMALL.load_data()))
    after = adapter.get_weights()
    assert not np.array_equal(before["image"], after["image"])
    for name in SMALL.vgg_shapes():
        np.testing.assert_array_equal(before[name], after[name])


# --- weights ---


def test_random_weights_are_the_specs_numpy_arrays_and_say_so():
    cfg = SMALL.replace(weight_seed=3)
    adapter = StyleTransferAdapter(cfg)
    weights, expected = adapter.get_weights(), cfg.initial_weights()
    assert sorted(weights) == sorted(expected)  # the image too: every framework starts alike
    for name, value in expected.items():
        np.testing.assert_array_equal(weights[name], value)
    assert adapter.tags() == {"weights": "random-seed-3"}
    assert adapter.param_count() == 3 * 32 * 32


def test_set_weights_refreshes_the_style_targets_a_jit_step_uses():
    """The compiled step takes the style targets as an argument: new VGG weights change the
    style loss of the next step, not only of forward."""
    source = adapter_with_image(SMALL, noise_image(SMALL))
    target = adapter_with_image(SMALL.replace(weight_seed=1), noise_image(SMALL), mode="jit")
    staged = target.stage(SMALL.load_data())
    target.train_step(staged)
    target.set_weights({**source.get_weights(), "image": noise_image(SMALL)})
    for name, value in source.get_weights().items():
        np.testing.assert_array_equal(target.get_weights()[name], value)
    staged = source.stage(SMALL.load_data())
    expected = source.forward(staged)["loss_style"]
    target.train_step(staged)
    assert target.losses()["loss_style"] == pytest.approx(float(expected), rel=1e-5)


def test_sample_is_the_current_image_in_the_boundary_format():
    adapter = adapter_with_image(SMALL, noise_image(SMALL))
    samples = adapter.sample(2, seed=5)
    expected = layouts.nchw_to_nhwc(noise_image(SMALL)) * 2.0 - 1.0
    assert samples.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(samples, np.repeat(expected, 2, axis=0), atol=1e-7)
