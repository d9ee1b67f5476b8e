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

from implementations.spec.mlp_gan import MLPGANConfig
from implementations.tf import mlp_gan


def mlp_gan_loop(config: MLPGANConfig, batch: np.ndarray, mode: str) -> Callable[[], None]:
    G, D = mlp_gan.make_generator(config), mlp_gan.make_discriminator(config)
    opt_g = keras.optimizers.Adam(config.lr, config.beta1, config.beta2, config.eps)
    opt_d = keras.optimizers.Adam(config.lr, config.beta1, config.beta2, config.eps)
    criterion = keras.losses.BinaryCrossentropy(from_logits=True)
    real = tf.constant(batch[: config.batch_size].reshape(config.batch_size, -1))
    ones, zeros = tf.ones((config.batch_size, 1)), tf.zeros((config.batch_size, 1))

    def step() -> None:
        with tf.GradientTape() as g_tape:
            fake = G(tf.random.normal((config.batch_size, config.z_dim)), training=True)
            with tf.GradientTape() as d_tape:
                loss_d = (criterion(ones, D(real, training=True))
                          + criterion(zeros, D(tf.stop_gradient(fake), training=True)))
            d_grads = d_tape.gradient(loss_d, D.trainable_variables)
            opt_d.apply(d_grads, D.trainable_variables)
            loss_g = criterion(ones, D(fake, training=True))
        opt_g.apply(g_tape.gradient(loss_g, G.trainable_variables), G.trainable_variables)

    return compile_for(mode, step)


def compile_for(mode: str, step: Callable[[], None]) -> Callable[[], None]:
    return step if mode == "eager" else tf.function(step, jit_compile=mode == "xla")


LOOPS = {"mlp_gan": mlp_gan_loop}
