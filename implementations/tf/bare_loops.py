"""Plain hand-written training loops, keras-io style, for the harness-overhead benchmark.

Each builds the family's networks with the implementation's builders and runs the adapter's
step written out by hand, with none of the adapter: its own optimisers (the implementation's
make_adam, so the update is the same), tapes and tensors, one step function per iteration. It
does exactly the adapter's work (noise drawn once, like the harness's staged noise), so the
overhead suite's ratio of the two is the harness's own cost; tests/tf/test_bare_loops.py checks
the weights agree step for step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from bench.adapter import FamilyConfig
from implementations.tf import dcgan, mlp_gan
from implementations.tf.base import make_adam, tape_watching, tf_device_name


@dataclass
class BareLoop:
    step: Callable[[], None]  # one training iteration
    G: keras.Model
    D: keras.Model

    def sync(self) -> None:
        """Wait for the loop's queued steps, as the adapter's sync does."""
        tf.test.experimental.sync_devices()


def bce_gan_loop(G: keras.Model, D: keras.Model, config: FamilyConfig, real: np.ndarray,
                 z: np.ndarray, mode: str) -> BareLoop:
    """The non-saturating GAN iteration: one D update, then one G update
    (docs/models.md#update-order)."""
    betas = (config.beta1, config.beta2)
    opt_g = make_adam(G.trainable_variables, config.lr, betas, config.eps)
    opt_d = make_adam(D.trainable_variables, config.lr, betas, config.eps)
    ones = tf.ones((config.batch_size, 1))
    zeros = tf.zeros((config.batch_size, 1))

    def criterion(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))

    def train_step(real_batch: tf.Tensor, noise: tf.Tensor) -> None:
        with tape_watching(G.trainable_variables) as g_tape:
            fake = G(noise, training=True)
            with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                loss_d = (criterion(ones, D(real_batch, training=True))
                          + criterion(zeros, D(tf.stop_gradient(fake), training=True)))
            with g_tape.stop_recording():
                opt_d.apply(d_tape.gradient(loss_d, D.trainable_variables), D.trainable_variables)
            loss_g = criterion(ones, D(fake, training=True))
        opt_g.apply(g_tape.gradient(loss_g, G.trainable_variables), G.trainable_variables)

    compiled = train_step if mode == "eager" else tf.function(train_step,
                                                              jit_compile=mode == "xla")
    real_batch = tf.constant(real)
    noise = tf.constant(z)
    return BareLoop(lambda: compiled(real_batch, noise), G, D)


def flatten(real: np.ndarray) -> np.ndarray:
    return real.reshape(len(real), -1)


def nhwc(real: np.ndarray) -> np.ndarray:
    return real


#: family -> (its module, the layout of a real batch in its networks)
FAMILIES = {"mlp_gan": (mlp_gan, flatten), "dcgan": (dcgan, nhwc)}


def bare_loop(model: str, config: FamilyConfig, real: np.ndarray, z: np.ndarray, mode: str,
              device: str = "cpu", seed: int = 0) -> BareLoop:
    """The family's loop; seeded as the adapter seeds, so both start from the same weights."""
    family, layout = FAMILIES[model]
    keras.utils.set_random_seed(seed)
    with tf.device(tf_device_name(device)):
        G, D = family.make_generator(config), family.make_discriminator(config)
        return bce_gan_loop(G, D, config, layout(real), z, mode)
