"""Style transfer in TensorFlow: VGG19 taps, loss, Adam-and-clip step, weights.

What every adapter does alike is tests/style_transfer_shared.py, imported here. Modes and
the rest of the adapter contract: bench/testing/test_contract.py.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from style_transfer_shared import *  # noqa: F403  (the shared tests)
from style_transfer_shared import SMALL, adapter_with_image, noise_image

from bench import layouts
from implementations.spec.style_transfer import (
    TAPS,
    StyleTransferConfig,
    gram_numpy,
    loss_terms_numpy,
)
from implementations.tf.style_transfer import (
    StyleTransferAdapter,
    gram,
    loss_terms,
    vgg_taps,
)

FRAMEWORK = "tf"


# --- network and loss ---


def test_layers_carry_torchvisions_indices_and_taps_follow_relus():
    adapter = StyleTransferAdapter(SMALL)
    names = [layer.name for layer in adapter.vgg.layers[1:]]
    assert names == [f"features.{i}" for i in range(30)]
    outputs = adapter.forward(adapter.stage(SMALL.load_data()))
    for name, (channels, side) in SMALL.tap_channels().items():
        assert outputs[name].shape == (1, side, side, channels)
        assert outputs[name].min() >= 0.0
        assert adapter.vgg.get_layer(f"features.{TAPS[name]}").__class__.__name__ == "ReLU"


def test_gram_is_ft_f_over_positions():
    features = np.random.default_rng(0).standard_normal((1, 6, 7, 5)).astype(np.float32)
    np.testing.assert_allclose(gram(tf.constant(features)).numpy(), gram_numpy(features),
                               rtol=1e-5, atol=1e-6)


def test_loss_terms_match_the_numpy_reference():
    adapter = adapter_with_image(StyleTransferAdapter, SMALL, noise_image(SMALL))
    staged = adapter.stage(SMALL.load_data())
    outputs = adapter.forward(staged)
    style_targets = {name: value.numpy() for name, value in adapter.style_targets.items()}
    expected = loss_terms_numpy(SMALL, layouts.nchw_to_nhwc(noise_image(SMALL)), outputs,
                                staged.numpy(), style_targets)
    assert expected["loss_content"] > 0 and expected["loss_style"] > 0
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-5)


# --- the step ---


def test_step_is_torchs_adam_then_a_clip_to_unit_range():
    """First Adam step: x - lr * g / (|g| + eps), then clipped; a saturated image must clip."""
    start = np.clip(2.0 * noise_image(SMALL) - 0.5, 0.0, 1.0)  # a quarter at each bound
    adapter = adapter_with_image(StyleTransferAdapter, SMALL, start)
    staged = adapter.stage(SMALL.load_data())
    x = tf.constant(layouts.nchw_to_nhwc(start))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_terms(SMALL, x, vgg_taps(adapter.vgg, x), staged,
                          adapter.style_targets)["loss_total"]
    g = layouts.nhwc_to_nchw(tape.gradient(loss, x).numpy())
    unclipped = start - SMALL.lr * g / (np.abs(g) + SMALL.eps)
    assert unclipped.max() > 1.0 and unclipped.min() < 0.0
    adapter.train_step(staged)
    np.testing.assert_allclose(adapter.get_weights()["image"], np.clip(unclipped, 0.0, 1.0),
                               atol=1e-6)


# --- weights ---


def test_npz_weights_load_and_label_the_records(tmp_path):
    cfg = StyleTransferConfig(size=32)
    np.savez(tmp_path / "vgg19.npz", **cfg.replace(weight_seed=7).vgg_state())
    adapter = StyleTransferAdapter(cfg.replace(vgg_weights=str(tmp_path / "vgg19.npz")))
    assert adapter.tags() == {"weights": "vgg19.npz"}
    np.testing.assert_array_equal(adapter.get_weights()["features.28.weight"],
                                  cfg.replace(weight_seed=7).vgg_state()["features.28.weight"])

