"""DCGAN in JAX / Flax NNX (docs/models.md#dcgan). Mirror of implementations/torch/dcgan.py.

NHWC, as NNX's convolutions are. A strided convolution pads explicitly (PyTorch's padding on
each side); a transposed one is PyTorch's ConvTranspose2d when NNX's ConvTranspose transposes
its kernel (the gradient of a convolution, no flip of the stored kernel) and pads the
stride-dilated input by kernel - 1 - padding on each side: (in - 1) * stride + kernel -
2 * padding outputs, as PyTorch gives.

forward() runs both networks in training mode (BatchNorm on batch statistics), as a training
step does, without keeping the running statistics it moves: those are not comparable across
frameworks (PyTorch keeps the unbiased running variance, NNX the biased one). sample() runs G
in eval mode, on the running statistics.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from bench import layouts
from implementations.jax.base import State, WeightMap, batch_norm, batch_norm_rules, leaky_relu
from implementations.jax.bce_gan import BCEGANAdapter
from implementations.spec.dcgan import BN_EPSILON, BN_MOMENTUM, KERNEL, ConvLayer, DCGANConfig

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "leaky_relu": leaky_relu,
    "tanh": jax.nn.tanh,
    None: lambda x: x,
}


def conv(layer: ConvLayer, rngs: nnx.Rngs) -> nnx.Conv | nnx.ConvTranspose:
    """One table row's 4x4 convolution without bias, padded as PyTorch's (see the docstring)."""
    if layer.transposed:
        pad = KERNEL - 1 - layer.padding
        return nnx.ConvTranspose(layer.c_in, layer.c_out, (KERNEL, KERNEL), layer.stride,
                                 padding=((pad, pad), (pad, pad)), use_bias=False,
                                 transpose_kernel=True, rngs=rngs)
    pad = layer.padding
    return nnx.Conv(layer.c_in, layer.c_out, (KERNEL, KERNEL), layer.stride,
                    padding=((pad, pad), (pad, pad)), use_bias=False, rngs=rngs)


class ConvStack(nnx.Module):
    """The table's rows in order: conv{i}, then bn{i} and the activation where a row has them.
    Its input is reshaped to `in_shape` first; its output is flattened per example when
    `flatten` (D's B x 1 x 1 x 1 -> B x 1 logits)."""

    def __init__(self, layers: list[ConvLayer], in_shape: tuple[int, ...], flatten: bool,
                 rngs: nnx.Rngs) -> None:
        self.layers, self.in_shape, self.flatten = layers, in_shape, flatten
        for row in layers:
            setattr(self, f"conv{row.index}", conv(row, rngs))
            if row.batch_norm:
                setattr(self, f"bn{row.index}",
                        batch_norm(row.c_out, BN_MOMENTUM, BN_EPSILON, rngs))

    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        h = x.reshape(len(x), *self.in_shape)
        for row in self.layers:
            h = getattr(self, f"conv{row.index}")(h)
            if row.batch_norm:
                h = getattr(self, f"bn{row.index}")(h, use_running_average=not train)
            h = ACTIVATIONS[row.activation](h)
        return h.reshape(len(h), -1) if self.flatten else h


def make_generator(cfg: DCGANConfig, rngs: nnx.Rngs) -> ConvStack:
    return ConvStack(cfg.g_layers(), (1, 1, cfg.latent), flatten=False, rngs=rngs)


def make_discriminator(cfg: DCGANConfig, rngs: nnx.Rngs) -> ConvStack:
    return ConvStack(cfg.d_layers(), cfg.sample_shape(), flatten=True, rngs=rngs)


def conv_rules(net: str, layer: ConvLayer) -> WeightMap:
    to_jax, from_jax = ((layouts.conv_transpose_to_keras, layouts.conv_transpose_from_keras)
                        if layer.transposed else (layouts.conv_to_keras, layouts.conv_from_keras))
    name = f"conv{layer.index}"
    return {f"{net}.{name}.weight": ((net, "params", name, "kernel"), to_jax, from_jax)}


def weight_map(cfg: DCGANConfig) -> WeightMap:
    """Every canonical weight's place in the state (paths "G"/"D", "params" or "stats", ...)."""
    rules = {}
    for net, rows in (("G", cfg.g_layers()), ("D", cfg.d_layers())):
        for row in rows:
            rules |= conv_rules(net, row)
            if row.batch_norm:
                rules |= batch_norm_rules(net, f"bn{row.index}")
    return rules


class DCGANAdapter(BCEGANAdapter):
    family = "dcgan"

    def make_networks(self, config: DCGANConfig, rngs: nnx.Rngs) -> tuple[ConvStack, ConvStack]:
        return make_generator(config, rngs), make_discriminator(config, rngs)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return batch

    def weight_map(self) -> WeightMap:
        return weight_map(self.config)

    def _forward_pass(self, state: State, real: jax.Array, z: jax.Array) -> dict[str, jax.Array]:
        fake = self.network(state, "G")(z[0])
        D = self.network(state, "D")
        return {"G(z)": fake, "D(x)": D(real[0]), "D(G(z))": D(fake)}

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent)).astype(np.float32)
        return np.asarray(self._sample(self.state, self.to_device(z)))
