"""MLP GAN in Keras 3 (docs/models.md#mlp_gan). Mirror of implementations/torch/mlp_gan.py."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from bench import layouts
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.tf.base import WeightMap, same
from implementations.tf.bce_gan import BCEGANAdapter


def make_generator(cfg: MLPGANConfig) -> keras.Sequential:
    (_, z, h1), (_, _, h2), (_, _, out) = cfg.g_layers()
    return keras.Sequential([
        keras.Input((z,)),
        layers.Dense(h1, name="fc1"),
        layers.LeakyReLU(0.2, name="act1"),
        layers.Dense(h2, name="fc2"),
        layers.LeakyReLU(0.2, name="act2"),
        layers.Dense(out, name="fc3"),
        layers.Identity(name="out") if cfg.points else layers.Activation("tanh", name="out"),
    ], name="G")


def make_discriminator(cfg: MLPGANConfig) -> keras.Sequential:
    (_, x, h1), (_, _, h2), (_, _, out) = cfg.d_layers()
    return keras.Sequential([
        keras.Input((x,)),
        layers.Dense(h1, name="fc1"),
        layers.LeakyReLU(0.2, name="act1"),
        layers.Dense(h2, name="fc2"),
        layers.LeakyReLU(0.2, name="act2"),
        layers.Dense(out, name="fc3"),
    ], name="D")


class MLPGANAdapter(BCEGANAdapter):
    family = "mlp_gan"

    def make_networks(self, config: MLPGANConfig) -> tuple[keras.Model, keras.Model]:
        return make_generator(config), make_discriminator(config)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), self.config.x_dim)

    def weight_map(self) -> WeightMap:
        rules = {}
        for net, model in (("G", self.G), ("D", self.D)):
            for name in ("fc1", "fc2", "fc3"):
                layer = model.get_layer(name)
                rules[f"{net}.{name}.weight"] = (layer.kernel, layouts.dense_to_keras,
                                                 layouts.dense_from_keras)
                rules[f"{net}.{name}.bias"] = (layer.bias, same, same)
        return rules

    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        return {
            "G(z)": self.G(z[0], training=False).numpy(),
            "D(x)": self.D(real[0], training=False).numpy(),
        }

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.z_dim)).astype(np.float32)
        out = self.G(self.to_device(z), training=False).numpy()
        return out.reshape((n, *self.config.sample_shape()))
