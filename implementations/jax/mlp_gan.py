"""MLP GAN in JAX / Flax NNX (docs/models.md#mlp_gan). Mirror of
implementations/torch/mlp_gan.py."""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from flax import nnx

from implementations.jax.base import State, WeightMap, dense_rules, leaky_relu
from implementations.jax.bce_gan import BCEGANAdapter
from implementations.spec.mlp_gan import MLPGANConfig


def identity(x: jax.Array) -> jax.Array:
    return x


class MLP(nnx.Module):
    """fc1 -> LeakyReLU 0.2 -> fc2 -> LeakyReLU 0.2 -> fc3 -> `out`: the spec's G and D."""

    def __init__(self, layers: list[tuple[str, int, int]], out: Callable[[jax.Array], jax.Array],
                 rngs: nnx.Rngs) -> None:
        (_, x, h1), (_, _, h2), (_, _, y) = layers
        self.fc1 = nnx.Linear(x, h1, rngs=rngs)
        self.fc2 = nnx.Linear(h1, h2, rngs=rngs)
        self.fc3 = nnx.Linear(h2, y, rngs=rngs)
        self.out = out

    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        x = leaky_relu(self.fc1(x))
        x = leaky_relu(self.fc2(x))
        return self.out(self.fc3(x))


def make_generator(cfg: MLPGANConfig, rngs: nnx.Rngs) -> MLP:
    return MLP(cfg.g_layers(), identity if cfg.points else jax.nn.tanh, rngs)


def make_discriminator(cfg: MLPGANConfig, rngs: nnx.Rngs) -> MLP:
    return MLP(cfg.d_layers(), identity, rngs)


def weight_map(cfg: MLPGANConfig) -> WeightMap:
    """Every canonical weight's place in the state (paths "G"/"D", "params", layer, ...)."""
    return {name: rule for net in ("G", "D") for layer in ("fc1", "fc2", "fc3")
            for name, rule in dense_rules(net, layer).items()}


class MLPGANAdapter(BCEGANAdapter):
    family = "mlp_gan"

    def make_networks(self, config: MLPGANConfig, rngs: nnx.Rngs) -> tuple[MLP, MLP]:
        return make_generator(config, rngs), make_discriminator(config, rngs)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), self.config.x_dim)

    def weight_map(self) -> WeightMap:
        return weight_map(self.config)

    def _forward_pass(self, state: State, real: jax.Array, z: jax.Array) -> dict[str, jax.Array]:
        return {"G(z)": self.network(state, "G")(z[0]), "D(x)": self.network(state, "D")(real[0])}

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.z_dim)).astype(np.float32)
        out = np.asarray(self._sample(self.state, self.to_device(z)))
        return out.reshape((n, *self.config.sample_shape()))
