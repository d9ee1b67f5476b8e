"""The non-saturating GAN iteration shared by the MLP GAN and DCGAN (docs/models.md#update-order).

Mirror of implementations/torch/bce_gan.py. Per iteration: d_steps D updates, each on a fresh
fake from G and a real batch, with BCE on logits (real 1, fake 0, two forward passes so
BatchNorm sees real and fake apart); then one G update of BCE(D(fake), 1) through the D just
updated, on the last D step's fake: the G tape stays open across that last D step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from bench.adapter import FamilyConfig
from implementations.tf.base import TFAdapter, tape_watching


def bce_with_logits(logits: tf.Tensor, target: float) -> tf.Tensor:
    labels = tf.fill(tf.shape(logits), target)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))


class BCEGANAdapter(TFAdapter):
    """A family adapter supplies its networks and the layout of a real batch."""

    def make_networks(self, config: FamilyConfig) -> tuple[keras.Model, keras.Model]:
        raise NotImplementedError

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        """Real examples from the NHWC boundary into the networks' own layout."""
        raise NotImplementedError

    def __init__(self, config: FamilyConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        with tf.device(self.tf_device):
            self.G, self.D = self.make_networks(config)
            betas = (config.beta1, config.beta2)
            self.opt_g = self.adam(self.G.trainable_variables, config.lr, betas, config.eps)
            self.opt_d = self.adam(self.D.trainable_variables, config.lr, betas, config.eps)
        self._step = self.compile_step(self._train_step)
        self._losses: tuple[tf.Tensor, tf.Tensor] | None = None

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        cfg = self.config
        examples = self.network_layout(batch)
        real = examples.reshape(cfg.d_steps, cfg.batch_size, *examples.shape[1:])
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*cfg.noise_shapes()["z"]))
        return self.to_device(real), z

    def _train_step(self, real: tf.Tensor, z: tf.Tensor):
        last = self.config.d_steps - 1
        for i in range(last):
            self._d_step(real[i], self.G(z[i], training=True))
        return self._d_then_g_step(real[last], lambda: self.G(z[last], training=True))

    def _d_then_g_step(self, real: tf.Tensor, make_fake: Callable[[], tf.Tensor]):
        """A D step on real and the detached fake, then G's step through the D just updated,
        on that same fake."""
        # The G tape watches G's weights only and pauses over the D step: it records neither
        # D's update nor gradients for D's weights, work PyTorch's G step does not do either.
        with tape_watching(self.G.trainable_variables) as g_tape:
            fake = make_fake()
            with g_tape.stop_recording():
                loss_d = self._d_step(real, tf.stop_gradient(fake))
            loss_g = bce_with_logits(self.D(fake, training=True), 1.0)
        grads = g_tape.gradient(loss_g, self.G.trainable_variables)
        self.opt_g.apply(grads, self.G.trainable_variables)
        return loss_d, loss_g

    def _d_step(self, real: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
        # Two forward passes, so real and fake get separate BatchNorm batch statistics.
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
