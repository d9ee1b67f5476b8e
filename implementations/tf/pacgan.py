"""PacGAN in TensorFlow / Keras 3 (docs/models.md#pacgan).

Mirror of implementations/torch/pacgan.py.

The spec (implementations/spec/pacgan.py) defines the maxout layout, the packing, the step
and the BatchNorm. A step: G runs on each of the m noise groups apart, the m outputs are
packed side by side, and the non-saturating GAN losses on the packed inputs update D and G
together from one forward pass (`update` "simultaneous", the paper's) or as bce_gan.py's
iteration (a D step, then a G step through the updated D on the same fake). Then every
BatchNorm of G moves its population statistics toward its batch statistics' average over the
m passes.

forward() runs G in training mode (BatchNorm on batch statistics), as a training step does,
without touching the moving statistics; sample() runs G in inference mode, on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from bench import layouts
from implementations.spec.pacgan import (
    BN_EPSILON,
    POPULATION_WEIGHT,
    X_DIM,
    Z_DIM,
    PacGANConfig,
    pack,
)
from implementations.tf.base import WeightMap, same
from implementations.tf.bce_gan import BCEGANAdapter, bce_with_logits
from implementations.tf.dcgan import stateless_call


class Maxout(layers.Layer):
    """The spec's maxout: units * pieces inputs viewed as (units, pieces), max over pieces."""

    def __init__(self, units: int, pieces: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.pieces = units, pieces

    def call(self, x):
        return ops.max(ops.reshape(x, (-1, self.units, self.pieces)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


class PopulationBatchNorm(layers.Layer):
    """The spec's BatchNorm: a training pass normalises by its batch statistics and adds them to
    this step's sums; blend() moves the population statistics toward their average."""

    def build(self, input_shape) -> None:
        shape = (input_shape[-1],)

        def weight(name: str, value: str, trainable: bool = False):
            return self.add_weight(shape=shape, initializer=value, trainable=trainable,
                                   name=name)

        self.gamma, self.beta = weight("gamma", "ones", True), weight("beta", "zeros", True)
        self.moving_mean = weight("moving_mean", "zeros")
        self.moving_variance = weight("moving_variance", "ones")
        # A step's sums over its G passes: working state, not weights.
        self.mean_sum, self.stdev_sum = weight("mean_sum", "zeros"), weight("stdev_sum", "zeros")
        self.passes = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                      name="passes")

    def call(self, x, training: bool = False):
        if not training:
            mean, stdev = self.moving_mean, ops.sqrt(self.moving_variance + BN_EPSILON)
        else:
            mean = ops.mean(x, axis=0)
            stdev = ops.sqrt(ops.mean(ops.square(x - mean), axis=0) + BN_EPSILON)
            self.mean_sum.assign_add(ops.stop_gradient(mean))
            self.stdev_sum.assign_add(ops.stop_gradient(stdev))
            self.passes.assign_add(1.0)
        return (x - mean) / stdev * self.gamma + self.beta

    def restart(self) -> None:
        """Forget passes made outside a step (forward() in training mode)."""
        for variable in (self.mean_sum, self.stdev_sum, self.passes):
            variable.assign(ops.zeros_like(variable))

    def blend(self) -> None:
        w = POPULATION_WEIGHT
        stdev = w * self.stdev_sum / self.passes + (1 - w) * ops.sqrt(
            self.moving_variance + BN_EPSILON)
        self.moving_mean.assign((1 - w) * self.moving_mean + w * self.mean_sum / self.passes)
        self.moving_variance.assign(ops.square(stdev) - BN_EPSILON)
        self.restart()


def make_generator(cfg: PacGANConfig) -> keras.Sequential:
    w = cfg.width
    return keras.Sequential([
        keras.Input((Z_DIM,)),
        layers.Dense(w, use_bias=False, name="fc1"),
        PopulationBatchNorm(name="bn1"),
        layers.ReLU(name="act1"),
        layers.Dense(w, use_bias=False, name="fc2"),
        PopulationBatchNorm(name="bn2"),
        layers.ReLU(name="act2"),
        layers.Dense(w, use_bias=False, name="fc3"),
        PopulationBatchNorm(name="bn3"),
        layers.ReLU(name="act3"),
        layers.Dense(w, use_bias=False, name="fc4"),
        PopulationBatchNorm(name="bn4"),
        layers.ReLU(name="act4"),
        layers.Dense(X_DIM, name="fc5"),  # linear output
    ], name="G")


def make_discriminator(cfg: PacGANConfig) -> keras.Sequential:
    k, p = cfg.maxout_units, cfg.maxout_pieces
    return keras.Sequential([
        keras.Input((cfg.d_input,)),  # m samples packed: 2m inputs
        layers.Dense(k * p, name="fc1"),
        Maxout(k, p, name="maxout1"),
        layers.Dense(k * p, name="fc2"),
        Maxout(k, p, name="maxout2"),
        layers.Dense(k * p, name="fc3"),
        Maxout(k, p, name="maxout3"),
        layers.Dense(1, name="fc4"),  # a logit
    ], name="D")


def generate(G: Callable[[tf.Tensor], tf.Tensor], z: tf.Tensor) -> tf.Tensor:
    """Packed fakes: G on each noise group z[j] apart (its own BatchNorm statistics), the m
    outputs side by side, (m, b, 2) -> (b, 2m), the spec's `pack` order."""
    return tf.concat([G(z_j) for z_j in tf.unstack(z)], axis=1)


class PacGANAdapter(BCEGANAdapter):
    family = "pacgan"

    def __init__(self, config: PacGANConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        # The paper's init, as DCGAN's adapters build theirs (bench.training loads the same).
        self.set_weights(config.initial_weights(self.seed))

    def make_networks(self, config: PacGANConfig) -> tuple[keras.Model, keras.Model]:
        return make_generator(config), make_discriminator(config)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return pack(batch.reshape(len(batch), X_DIM), self.config.packing)

    def weight_map(self) -> WeightMap:
        rules = {}
        for net, model, rows in (("G", self.G, self.config.g_layers()),
                                 ("D", self.D, self.config.d_layers())):
            for row in rows:
                dense = model.get_layer(f"fc{row.index}")
                rules[f"{net}.fc{row.index}.weight"] = (dense.kernel, layouts.dense_to_keras,
                                                        layouts.dense_from_keras)
                if row.bias:
                    rules[f"{net}.fc{row.index}.bias"] = (dense.bias, same, same)
                else:
                    bn = model.get_layer(f"bn{row.index}")
                    for stat, var in (("weight", bn.gamma), ("bias", bn.beta),
                                      ("running_mean", bn.moving_mean),
                                      ("running_var", bn.moving_variance)):
                        rules[f"{net}.bn{row.index}.{stat}"] = (var, same, same)
        return rules

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*self.config.noise_shapes()["z"]))
        return self.to_device(self.network_layout(batch)), z

    def _train_step(self, real: tf.Tensor, z: tf.Tensor):
        norms = [layer for layer in self.G.layers if isinstance(layer, PopulationBatchNorm)]
        for norm in norms:
            norm.restart()
        if self.config.update == "simultaneous":
            losses = self._simultaneous_step(real, z)
        else:
            losses = self._d_then_g_step(real, lambda: generate(partial(self.G, training=True),
                                                                z))
        for norm in norms:
            norm.blend()
        return losses

    def _simultaneous_step(self, real: tf.Tensor, z: tf.Tensor):
        """D's and G's losses from one forward pass at the same weights; both updates."""
        with tf.GradientTape(persistent=True) as tape:
            fake = generate(partial(self.G, training=True), z)
            d_fake = self.D(fake, training=True)
            loss_d = (bce_with_logits(self.D(real, training=True), 1.0)
                      + bce_with_logits(d_fake, 0.0))
            loss_g = bce_with_logits(d_fake, 1.0)
        d_grads = tape.gradient(loss_d, self.D.trainable_variables)
        g_grads = tape.gradient(loss_g, self.G.trainable_variables)
        self.opt_d.apply(d_grads, self.D.trainable_variables)
        self.opt_g.apply(g_grads, self.G.trainable_variables)
        return loss_d, loss_g

    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        with tf.device(self.tf_device):
            fake = generate(partial(stateless_call, self.G), z)
            return {
                "G(z)": fake[:, :X_DIM].numpy(),  # the first group
                "packed G(z)": fake.numpy(),
                "D(x)": self.D(real, training=True).numpy(),
                "D(G(z))": self.D(fake, training=True).numpy(),
            }

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, Z_DIM)).astype(np.float32)
        with tf.device(self.tf_device):
            return self.G(self.to_device(z), training=False).numpy()

    def tags(self) -> dict[str, str]:
        return {"packing": str(self.config.packing)}
