"""Plain hand-written training loops, keras-io style, for the harness-overhead benchmark.

Each builds the family's network with the implementation's own builders but none of the
adapter: Keras' own Adam, its own noise, one step function per training iteration. The
overhead suite times these against the adapter's train_step in the same process.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from bench.adapter import FamilyConfig
from implementations.tf import dcgan, mlp_gan


def bce_gan_loop(G: keras.Model, D: keras.Model, config: FamilyConfig, real: np.ndarray,
                 mode: str) -> Callable[[], None]:
    """The non-saturating GAN iteration of MODELS.md: one D update, then one G update."""
    opt_g = keras.optimizers.Adam(config.lr, config.beta1, config.beta2, config.eps)
    opt_d = keras.optimizers.Adam(config.lr, config.beta1, config.beta2, config.eps)
    criterion = keras.losses.BinaryCrossentropy(from_logits=True)
    real_batch = tf.constant(real[: config.batch_size])
    z_shape = config.noise_shapes()["z"][1:]
    ones, zeros = tf.ones((config.batch_size, 1)), tf.zeros((config.batch_size, 1))

    def step() -> None:
        with tf.GradientTape() as g_tape:
            fake = G(tf.random.normal(z_shape), training=True)
            with tf.GradientTape() as d_tape:
                loss_d = (criterion(ones, D(real_batch, training=True))
                          + criterion(zeros, D(tf.stop_gradient(fake), training=True)))
            opt_d.apply(d_tape.gradient(loss_d, D.trainable_variables), D.trainable_variables)
            loss_g = criterion(ones, D(fake, training=True))
        opt_g.apply(g_tape.gradient(loss_g, G.trainable_variables), G.trainable_variables)

    return compile_for(mode, step)


def mlp_gan_loop(config: FamilyConfig, batch: np.ndarray, mode: str) -> Callable[[], None]:
    return bce_gan_loop(mlp_gan.make_generator(config), mlp_gan.make_discriminator(config),
                        config, batch.reshape(len(batch), -1), mode)


def dcgan_loop(config: FamilyConfig, batch: np.ndarray, mode: str) -> Callable[[], None]:
    return bce_gan_loop(dcgan.make_generator(config), dcgan.make_discriminator(config),
                        config, batch, mode)


def compile_for(mode: str, step: Callable[[], None]) -> Callable[[], None]:
    return step if mode == "eager" else tf.function(step, jit_compile=mode == "xla")


LOOPS = {"mlp_gan": mlp_gan_loop, "dcgan": dcgan_loop}
