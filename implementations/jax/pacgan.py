"""PacGAN in JAX / Flax NNX (docs/models.md#pacgan).

Mirror of implementations/torch/pacgan.py.

The spec (implementations/spec/pacgan.py) defines the maxout layout and the packing. A step:
G runs on each of the m noise groups apart, the m outputs are packed side by side, and the
non-saturating GAN iteration of bce_gan.py (a D step on real and on the fake, then a G step
through the updated D on the same fake) runs on the packed inputs.

forward() runs G in training mode (BatchNorm on batch statistics), as a training step does,
without keeping the running statistics it moves; sample() runs G in eval mode, on them.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from implementations.jax.base import WeightMap, batch_norm, batch_norm_rules, dense_rules
from implementations.jax.bce_gan import BCEGANAdapter
from implementations.spec.pacgan import (
    BN_EPSILON,
    BN_MOMENTUM,
    X_DIM,
    Z_DIM,
    PacGANConfig,
    pack,
)


def maxout(x: jax.Array, units: int, pieces: int) -> jax.Array:
    """The spec's maxout: units * pieces inputs viewed as (units, pieces), max over pieces."""
    return x.reshape(*x.shape[:-1], units, pieces).max(axis=-1)


class Generator(nnx.Module):
    """4 x [Linear (no bias), BatchNorm, ReLU], then a linear output: fc1..fc5, bn1..bn4."""

    def __init__(self, cfg: PacGANConfig, rngs: nnx.Rngs) -> None:
        self.layers = cfg.g_layers()
        for row in self.layers:
            setattr(self, f"fc{row.index}",
                    nnx.Linear(row.fan_in, row.fan_out, use_bias=row.bias, rngs=rngs))
            if not row.bias:
                setattr(self, f"bn{row.index}",
                        batch_norm(row.fan_out, BN_MOMENTUM, BN_EPSILON, rngs))

    def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
        h = z
        for row in self.layers:
            h = getattr(self, f"fc{row.index}")(h)
            if not row.bias:
                h = getattr(self, f"bn{row.index}")(h, use_running_average=not train)
                h = jax.nn.relu(h)
        return h


class Discriminator(nnx.Module):
    """3 x [Linear to units x pieces, maxout], then a Linear to one logit: fc1..fc4."""

    def __init__(self, cfg: PacGANConfig, rngs: nnx.Rngs) -> None:
        self.layers = cfg.d_layers()
        self.units, self.pieces = cfg.maxout_units, cfg.maxout_pieces
        for row in self.layers:
            setattr(self, f"fc{row.index}", nnx.Linear(row.fan_in, row.fan_out, rngs=rngs))

    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        h = x  # m samples packed: 2m inputs
        for row in self.layers:
            h = getattr(self, f"fc{row.index}")(h)
            if row.after == "maxout":
                h = maxout(h, self.units, self.pieces)
        return h


def make_generator(cfg: PacGANConfig, rngs: nnx.Rngs) -> Generator:
    return Generator(cfg, rngs)


def make_discriminator(cfg: PacGANConfig, rngs: nnx.Rngs) -> Discriminator:
    return Discriminator(cfg, rngs)


class PacGANAdapter(BCEGANAdapter):
    family = "pacgan"

    def make_networks(self, config: PacGANConfig,
                      rngs: nnx.Rngs) -> tuple[Generator, Discriminator]:
        return make_generator(config, rngs), make_discriminator(config, rngs)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return pack(batch.reshape(len(batch), X_DIM), self.config.packing)

    def generate(self, G: nnx.Module, z: jax.Array, train: bool = True) -> jax.Array:
        """Packed fakes: G on each noise group z[j] apart (its own BatchNorm statistics), the
        m outputs side by side, (m, b, 2) -> (b, 2m), the spec's `pack` order."""
        return jnp.concatenate([G(z_j, train=train) for z_j in z], axis=1)

    def weight_map(self) -> WeightMap:
        rules = {}
        for net, rows in (("G", self.config.g_layers()), ("D", self.config.d_layers())):
            for row in rows:
                rules |= dense_rules(net, f"fc{row.index}", row.bias)
                if not row.bias:
                    rules |= batch_norm_rules(net, f"bn{row.index}")
        return rules

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*self.config.noise_shapes()["z"]))
        return self.to_device(self.network_layout(batch)), z

    def _train_step(self, state, real: jax.Array, z: jax.Array):
        return self._d_then_g_step(state, real, z)

    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        fake = self.generate(self.network(self.state, "G"), z)
        D = self.network(self.state, "D")
        return {
            "G(z)": np.asarray(fake[:, :X_DIM]),  # the first group
            "packed G(z)": np.asarray(fake),
            "D(x)": np.asarray(D(real)),
            "D(G(z))": np.asarray(D(fake)),
        }

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, Z_DIM)).astype(np.float32)
        return np.asarray(self.network(self.state, "G")(self.to_device(z), train=False))

    def tags(self) -> dict[str, str]:
        return {"packing": str(self.config.packing)}
