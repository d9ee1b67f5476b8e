"""Neural style transfer in TensorFlow / Keras 3 (docs/models.md#style_transfer).

Mirror of implementations/torch/style_transfer.py. Not a GAN: a training step is one Adam step
of the image plus a clip to [0, 1], and a sample is the current image. Inside, images are NHWC
in [0, 1]; VGG19's weights are torchvision's, moved through bench.layouts (Keras' own
`imagenet` VGG19 is a different network and is never used).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from bench import layouts
from implementations.spec.style_transfer import (
    CONTENT_LAYER,
    IMAGENET_MEAN,
    IMAGENET_STD,
    STYLE_LAYERS,
    TAPS,
    StyleTransferConfig,
)
from implementations.tf.base import TFAdapter, WeightMap, same


def make_vgg(cfg: StyleTransferConfig) -> keras.Model:
    """torchvision's vgg19().features up to relu5_1, same layer names; outputs are the taps."""
    index_to_name = {index: name for name, index in TAPS.items()}
    image = keras.Input((cfg.size, cfg.size, 3))
    taps, x = {}, image
    for layer in cfg.vgg_layers():
        name = f"features.{layer.index}"
        if layer.kind == "conv":
            x = layers.Conv2D(layer.out_channels, 3, padding="same", name=name)(x)
        elif layer.kind == "relu":
            x = layers.ReLU(name=name)(x)
        else:
            x = layers.MaxPooling2D(2, 2, name=name)(x)
        if layer.index in index_to_name:
            taps[index_to_name[layer.index]] = x
    return keras.Model(image, taps, name="features")


def normalize(image: tf.Tensor) -> tf.Tensor:
    return (image - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)


def vgg_taps(vgg: keras.Model, image: tf.Tensor) -> dict[str, tf.Tensor]:
    """Features at every tap (NHWC) of an image in [0, 1]."""
    return vgg(normalize(image), training=False)


def gram(features: tf.Tensor) -> tf.Tensor:
    """F^T F / (H * W) of one image's (1, H, W, C) features: a C x C matrix."""
    _, h, w, c = features.shape
    f = tf.reshape(features, (h * w, c))
    return tf.matmul(f, f, transpose_a=True) / (h * w)


def total_variation(image: tf.Tensor) -> tf.Tensor:
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_sum(tf.abs(dx)) + tf.reduce_sum(tf.abs(dy))


def loss_terms(cfg: StyleTransferConfig, image: tf.Tensor, taps: dict[str, tf.Tensor],
               content_target: tf.Tensor,
               style_targets: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The weighted content, style and TV terms and their sum (docs/models.md#style_transfer)."""
    content = cfg.content_weight * tf.reduce_mean((taps[CONTENT_LAYER] - content_target) ** 2)
    style_per_layer = [tf.reduce_mean((gram(taps[n]) - style_targets[n]) ** 2)
                       for n in STYLE_LAYERS]
    style = cfg.style_weight * tf.reduce_mean(tf.stack(style_per_layer))
    tv = cfg.tv_weight * total_variation(image)
    return {"loss_content": content, "loss_style": style, "loss_tv": tv,
            "loss_total": content + style + tv}


class StyleTransferAdapter(TFAdapter):
    """Gatys style transfer behind the GAN contract: train_step is one Adam step of the image
    (then a clip to [0, 1]); sample returns the current image. The staged batch is the content
    image, whose relu4_2 features stage computes as the target (so stage after set_weights);
    set_weights recomputes the style targets, the style image's Gram matrices."""

    family = "style_transfer"

    def __init__(self, config: StyleTransferConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        with tf.device(self.tf_device):
            self.vgg = make_vgg(config)
            self.vgg.trainable = False
            self.image = keras.Variable(np.zeros((1, *config.sample_shape()), np.float32),
                                        name="image")
            self.set_weights(config.initial_weights())
            self.opt = self.adam([self.image], config.lr, (config.beta1, config.beta2),
                                 config.eps)
        self._step = self.compile_step(self._train_step)
        self._losses: dict[str, tf.Tensor] | None = None

    def weight_map(self) -> WeightMap:
        rules: WeightMap = {}
        for conv in self.config.conv_layers():
            layer = self.vgg.get_layer(f"features.{conv.index}")
            rules[f"features.{conv.index}.weight"] = (layer.kernel, layouts.conv_to_keras,
                                                      layouts.conv_from_keras)
            rules[f"features.{conv.index}.bias"] = (layer.bias, same, same)
        rules["image"] = (self.image, layouts.nchw_to_nhwc, layouts.nhwc_to_nchw)
        return rules

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        super().set_weights(weights)
        self._refresh_style_targets()

    def _refresh_style_targets(self) -> None:
        with tf.device(self.tf_device):
            taps = vgg_taps(self.vgg, self.to_device(self.config.style_image()[None]))
            self.style_targets = {name: gram(taps[name]) for name in STYLE_LAYERS}

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        """The content image (boundary format) -> its relu4_2 features, the content target."""
        content = self.to_device(self.config.unit_content(batch))
        with tf.device(self.tf_device):
            return vgg_taps(self.vgg, content)[CONTENT_LAYER]

    def _train_step(self, content_target: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            terms = loss_terms(self.config, self.image, vgg_taps(self.vgg, self.image),
                               content_target, self.style_targets)
        grads = tape.gradient(terms["loss_total"], [self.image])
        self.opt.apply(grads, [self.image])
        self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
        return terms

    def train_step(self, staged) -> None:
        with tf.device(self.tf_device):
            self._losses = self._step(staged)

    def losses(self) -> dict[str, float]:
        return {name: float(value) for name, value in self._losses.items()}

    def forward(self, staged) -> dict[str, np.ndarray]:
        """Features (NHWC) at every tap and the loss terms, for the current image."""
        with tf.device(self.tf_device):
            taps = vgg_taps(self.vgg, self.image)
            terms = loss_terms(self.config, self.image, taps, staged, self.style_targets)
        features = {name: value.numpy() for name, value in taps.items()}
        return {**features, **{name: value.numpy() for name, value in terms.items()}}

    def sample(self, n: int, seed: int) -> np.ndarray:
        """The current image, n times, in the boundary format; the seed changes nothing."""
        image = self.image.numpy() * 2.0 - 1.0
        return np.repeat(image, n, axis=0)

    def tags(self) -> dict[str, str]:
        return {"weights": self.config.weights_label()}
