"""What every style transfer adapter must do alike, through the adapter interface alone: the
first content loss, a refused batch, a step that moves the image and never VGG, the spec's
weights, set_weights and samples in the boundary format.

tests/<framework>/test_style_transfer.py imports these tests and helpers and sets FRAMEWORK:
each framework runs them in its own pytest process.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from family_adapters import family_adapter

from bench import layouts
from bench.adapter import Adapter
from bench.errors import UsageError
from implementations.spec.style_transfer import StyleTransferConfig

SMALL = StyleTransferConfig(size=32, width=4)


def noise_image(cfg: StyleTransferConfig, seed: int = 1) -> np.ndarray:
    """A random image in [0, 1], canonical (1, 3, H, W), so the content term is not zero (the
    start is the content image)."""
    return np.random.default_rng(seed).random((1, 3, cfg.size, cfg.size)).astype(np.float32)


def adapter_with_image(build: Callable[..., Adapter], cfg: StyleTransferConfig, image: np.ndarray,
                       **kwargs) -> Adapter:
    adapter = build(cfg, **kwargs)
    adapter.set_weights({**adapter.get_weights(), "image": image})
    return adapter


@pytest.fixture
def build_style(request: pytest.FixtureRequest) -> Callable[..., Adapter]:
    return family_adapter("style_transfer", request.module.FRAMEWORK)


def test_the_first_content_loss_is_exactly_zero(build_style):
    adapter = build_style(SMALL)
    adapter.train_step(adapter.stage(SMALL.load_data()))
    assert adapter.losses()["loss_content"] == 0.0


def test_stage_refuses_a_batch_that_is_not_the_content_image(build_style):
    adapter = build_style(SMALL)
    with pytest.raises(UsageError, match="content image"):
        adapter.stage(np.zeros((1, 64, 64, 3), np.float32))


def test_step_never_updates_vgg(build_style):
    adapter = adapter_with_image(build_style, SMALL, noise_image(SMALL))
    before = adapter.get_weights()
    adapter.train_step(adapter.stage(SMALL.load_data()))
    after = adapter.get_weights()
    assert not np.array_equal(before["image"], after["image"])
    for name in SMALL.vgg_shapes():
        np.testing.assert_array_equal(before[name], after[name])


def test_random_weights_are_the_specs_numpy_arrays_and_say_so(build_style):
    cfg = SMALL.replace(weight_seed=3)
    adapter = build_style(cfg)
    weights, expected = adapter.get_weights(), cfg.initial_weights()
    assert sorted(weights) == sorted(expected)  # the image too: every framework starts alike
    for name, value in expected.items():
        np.testing.assert_array_equal(weights[name], value)
    assert not np.array_equal(expected["features.0.weight"],
                              SMALL.vgg_state()["features.0.weight"])
    assert adapter.tags() == {"weights": "random-seed-3"}
    assert adapter.param_count() == 3 * 32 * 32


def test_set_weights_round_trips_and_refreshes_the_style_targets(build_style):
    source = adapter_with_image(build_style, SMALL, noise_image(SMALL))
    target = build_style(SMALL.replace(weight_seed=1))
    target.set_weights(source.get_weights())
    for name, value in source.get_weights().items():
        np.testing.assert_array_equal(target.get_weights()[name], value)
    staged = source.stage(SMALL.load_data())
    assert source.forward(staged)["loss_style"] == target.forward(staged)["loss_style"]


def test_sample_is_the_current_image_in_the_boundary_format(build_style):
    adapter = adapter_with_image(build_style, SMALL, noise_image(SMALL))
    samples = adapter.sample(2, seed=5)
    expected = layouts.nchw_to_nhwc(noise_image(SMALL)) * 2.0 - 1.0
    assert samples.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(samples, np.repeat(expected, 2, axis=0), atol=1e-7)
