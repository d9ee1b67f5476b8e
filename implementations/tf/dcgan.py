"""DCGAN in TensorFlow / Keras 3 (docs/models.md#dcgan). Mirror of implementations/torch/dcgan.py.

forward() runs both networks in training mode (BatchNorm on batch statistics), as a training
step does, without touching the moving statistics: those are not comparable across
frameworks (PyTorch keeps the unbiased running variance, Keras the biased one). sample() runs
G in inference mode, on the moving statistics.
"""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
import tensorflow as tf
from keras import initializers, layers

from bench import layouts
from implementations.spec.dcgan import (
    BN_EPSILON,
    BN_MOMENTUM,
    INIT_STD,
    KERNEL,
    ConvLayer,
    DCGANConfig,
)
from implementations.tf.base import WeightMap, same
from implementations.tf.bce_gan import BCEGANAdapter


def activation(layer: ConvLayer) -> layers.Layer:
    return {
        "relu": layers.ReLU,
        "leaky_relu": partial(layers.LeakyReLU, 0.2),
        "tanh": partial(layers.Activation, "tanh"),
    }[layer.activation](name=f"act{layer.index}")


def block(layer: ConvLayer) -> list[layers.Layer]:
    """One table row: conv{i}, then bn{i} and act{i} where the row has them.

    A downsampling conv pads explicitly and then runs 'valid', since TF's 'same' pads only
    bottom/right at stride 2; a transposed conv's 'same' crops one pixel per side, as
    PyTorch's padding 1 does.
    """
    init = initializers.RandomNormal(0.0, INIT_STD)
    name = f"conv{layer.index}"
    if layer.transposed:
        padding = "same" if layer.padding else "valid"
        modules = [layers.Conv2DTranspose(layer.c_out, KERNEL, layer.stride, padding,
                                          use_bias=False, kernel_initializer=init, name=name)]
    else:
        modules = []
        if layer.padding:
            modules.append(layers.ZeroPadding2D(layer.padding, name=f"pad{layer.index}"))
        modules.append(layers.Conv2D(layer.c_out, KERNEL, layer.stride, "valid", use_bias=False,
                                     kernel_initializer=init, name=name))
    if layer.batch_norm:
        modules.append(layers.BatchNormalization(
            momentum=1 - BN_MOMENTUM, epsilon=BN_EPSILON, name=f"bn{layer.index}",
            gamma_initializer=initializers.RandomNormal(1.0, INIT_STD)))
    if layer.activation is not None:
        modules.append(activation(layer))
    return modules


def make_generator(cfg: DCGANConfig) -> keras.Sequential:
    return keras.Sequential([
        keras.Input((cfg.latent,)),
        layers.Reshape((1, 1, cfg.latent), name="reshape"),
        *(module for layer in cfg.g_layers() for module in block(layer)),
    ], name="G")


def make_discriminator(cfg: DCGANConfig) -> keras.Sequential:
    return keras.Sequential([
        keras.Input(cfg.sample_shape()),
        *(module for layer in cfg.d_layers() for module in block(layer)),
        layers.Flatten(name="flatten"),  # B x 1 x 1 x 1 -> B x 1 logits
    ], name="D")


def stateless_call(net: keras.Model, x: tf.Tensor) -> tf.Tensor:
    """net(x) in training mode with BatchNorm's updated moving statistics returned, not stored."""
    trainable = [v.value for v in net.trainable_variables]
    non_trainable = [v.value for v in net.non_trainable_variables]
    out, _ = net.stateless_call(trainable, non_trainable, x, training=True)
    return out


class DCGANAdapter(BCEGANAdapter):
    family = "dcgan"

    def make_networks(self, config: DCGANConfig) -> tuple[keras.Model, keras.Model]:
        return make_generator(config), make_discriminator(config)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return batch

    def weight_map(self) -> WeightMap:
        rules = {}
        for net, model, layer_rows in (("G", self.G, self.config.g_layers()),
                                       ("D", self.D, self.config.d_layers())):
            for row in layer_rows:
                conv = model.get_layer(f"conv{row.index}")
                to_keras, from_keras = ((layouts.conv_transpose_to_keras,
                                         layouts.conv_transpose_from_keras) if row.transposed
                                        else (layouts.conv_to_keras, layouts.conv_from_keras))
                rules[f"{net}.conv{row.index}.weight"] = (conv.kernel, to_keras, from_keras)
                if row.batch_norm:
                    bn = model.get_layer(f"bn{row.index}")
                    for stat, var in (("weight", bn.gamma), ("bias", bn.beta),
                                      ("running_mean", bn.moving_mean),
                                      ("running_var", bn.moving_variance)):
                        rules[f"{net}.bn{row.index}.{stat}"] = (var, same, same)
        return rules

    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        with tf.device(self.tf_device):
            fake = stateless_call(self.G, z[0])
            return {
                "G(z)": fake.numpy(),
                "D(x)": stateless_call(self.D, real[0]).numpy(),
                "D(G(z))": stateless_call(self.D, fake).numpy(),
            }

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent)).astype(np.float32)
        with tf.device(self.tf_device):
            return self.G(self.to_device(z), training=False).numpy()
