"""MLP GAN in Keras 3 (MODELS.md section 1). Mirror of implementations/torch/mlp_gan.py."""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from bench import layouts
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.tf.base import TFAdapter, WeightMap, same


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


def bce_with_logits(logits: tf.Tensor, target: float) -> tf.Tensor:
    labels = tf.fill(tf.shape(logits), target)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))


class MLPGANAdapter(TFAdapter):
    family = "mlp_gan"

    def __init__(self, config: MLPGANConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        with tf.device(self.tf_device):
            self.G = make_generator(config)
            self.D = make_discriminator(config)
            self.opt_g = self.adam(self.G.trainable_variables, config.lr,
                                   (config.beta1, config.beta2), config.eps)
            self.opt_d = self.adam(self.D.trainable_variables, config.lr,
                                   (config.beta1, config.beta2), config.eps)
        self._step = self.compile_step(self._train_step)
        self._losses: tuple[tf.Tensor, tf.Tensor] | None = None

    def weight_map(self) -> WeightMap:
        rules = {}
        for net, model in (("G", self.G), ("D", self.D)):
            for name in ("fc1", "fc2", "fc3"):
                layer = model.get_layer(name)
                rules[f"{net}.{name}.weight"] = (layer.kernel, layouts.dense_to_keras,
                                                 layouts.dense_from_keras)
                rules[f"{net}.{name}.bias"] = (layer.bias, same, same)
        return rules

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        cfg = self.config
        real = self.to_device(batch.reshape(cfg.d_steps, cfg.batch_size, cfg.x_dim))
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*cfg.noise_shapes()["z"]))
        return real, z

    def _train_step(self, real: tf.Tensor, z: tf.Tensor):
        last = self.config.d_steps - 1
        for i in range(last):
            self._d_step(real[i], self.G(z[i], training=True))
        with tf.GradientTape() as g_tape:
            fake = self.G(z[last], training=True)
            loss_d = self._d_step(real[last], tf.stop_gradient(fake))
            loss_g = bce_with_logits(self.D(fake, training=True), 1.0)
        grads = g_tape.gradient(loss_g, self.G.trainable_variables)
        self.opt_g.apply(grads, self.G.trainable_variables)
        return loss_d, loss_g

    def _d_step(self, real: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as d_tape:
            loss_d = (bce_with_logits(self.D(real, training=True), 1.0)
                      + bce_with_logits(self.D(fake, training=True), 0.0))
        grads = d_tape.gradient(loss_d, self.D.trainable_variables)
        self.opt_d.apply(grads, self.D.trainable_variables)
        return loss_d

    def train_step(self, staged) -> None:
        with tf.device(self.tf_device):
            self._losses = self._step(*staged)

    def losses(self) -> dict[str, float]:
        loss_d, loss_g = self._losses
        return {"loss_d": float(loss_d), "loss_g": float(loss_g)}

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
