"""The affine GAN in Keras 3, on the built-in BCE GAN iteration. Mirror of torch_adapter.py."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from bench import layouts
from gan_bench_affine.spec import POINT_DIM, AffineGANConfig
from implementations.tf.base import WeightMap, same
from implementations.tf.bce_gan import BCEGANAdapter


class AffineGANAdapter(BCEGANAdapter):
    family = "affine_gan"

    def make_networks(self, config: AffineGANConfig) -> tuple[keras.Model, keras.Model]:
        generator = keras.Sequential([keras.Input((config.latent,)),
                                      layers.Dense(POINT_DIM, name="fc")], name="G")
        discriminator = keras.Sequential([keras.Input((POINT_DIM,)),
                                          layers.Dense(1, name="fc")], name="D")
        return generator, discriminator

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), POINT_DIM)

    def weight_map(self) -> WeightMap:
        rules = {}
        for net, model in (("G", self.G), ("D", self.D)):
            layer = model.get_layer("fc")
            rules[f"{net}.fc.weight"] = (layer.kernel, layouts.dense_to_keras,
                                         layouts.dense_from_keras)
            rules[f"{net}.fc.bias"] = (layer.bias, same, same)
        return rules

    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        return {"G(z)": self.G(z[0], training=False).numpy(),
                "D(x)": self.D(real[0], training=False).numpy()}

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent))
        return self.G(self.to_device(z.astype(np.float32)), training=False).numpy()
