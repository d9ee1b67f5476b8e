"""PacGAN in JAX / Flax NNX (docs/models.md#pacgan).

Mirror of implementations/torch/pacgan.py.

The spec (implementations/spec/pacgan.py) defines the maxout layout, the packing, the step
and the BatchNorm. A step: G runs on each of the m noise groups apart, the m outputs are
packed side by side, and the non-saturating GAN losses on the packed inputs update D and G
together from one forward pass (`update` "simultaneous", the paper's) or as bce_gan.py's
iteration (a D step, then a G step through the updated D on the same fake). Then every
BatchNorm of G moves its population statistics toward its batch statistics' average over the
m passes.

forward() runs G in training mode (BatchNorm on batch statistics), as a training step does,
without keeping the running statistics it moves; sample() runs G in eval mode, on them.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from implementations.jax.base import (
    State,
    WeightMap,
    batch_norm_rules,
    batch_stats,
    dense_rules,
    with_stats,
)
from implementations.jax.bce_gan import BCEGANAdapter, bce_with_logits
from implementations.spec.pacgan import (
    BN_EPSILON,
    POPULATION_WEIGHT,
    X_DIM,
    Z_DIM,
    PacGANConfig,
    pack,
)


def maxout(x: jax.Array, units: int, pieces: int) -> jax.Array:
    """The spec's maxout: units * pieces inputs viewed as (units, pieces), max over pieces."""
    return x.reshape(*x.shape[:-1], units, pieces).max(axis=-1)


class PopulationBatchNorm(nnx.Module):
    """The spec's BatchNorm: a training pass normalises by its batch statistics and adds them to
    this step's sums; blend() moves the population statistics toward their average."""

    def __init__(self, features: int) -> None:
        self.scale, self.bias = nnx.Param(jnp.ones(features)), nnx.Param(jnp.zeros(features))
        self.mean, self.var = nnx.BatchStat(jnp.zeros(features)), nnx.BatchStat(jnp.ones(features))
        # A step's sums over its G passes: working state, not weights.
        self.mean_sum = nnx.BatchStat(jnp.zeros(features))
        self.stdev_sum = nnx.BatchStat(jnp.zeros(features))
        self.passes = nnx.BatchStat(jnp.zeros(()))

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        if not train:
            mean, stdev = self.mean.value, jnp.sqrt(self.var.value + BN_EPSILON)
        else:
            mean = x.mean(axis=0)
            stdev = jnp.sqrt(jnp.square(x - mean).mean(axis=0) + BN_EPSILON)
            self.mean_sum.value += jax.lax.stop_gradient(mean)
            self.stdev_sum.value += jax.lax.stop_gradient(stdev)
            self.passes.value += 1.0
        return (x - mean) / stdev * self.scale.value + self.bias.value

    def restart(self) -> None:
        """Forget passes made outside a step (forward() in training mode)."""
        for stat in (self.mean_sum, self.stdev_sum, self.passes):
            stat.value = jnp.zeros_like(stat.value)

    def blend(self) -> None:
        w, passes = POPULATION_WEIGHT, self.passes.value
        stdev = w * self.stdev_sum.value / passes + (1 - w) * jnp.sqrt(
            self.var.value + BN_EPSILON)
        self.mean.value = (1 - w) * self.mean.value + w * self.mean_sum.value / passes
        self.var.value = jnp.square(stdev) - BN_EPSILON
        self.restart()


class Generator(nnx.Module):
    """4 x [Linear (no bias), BatchNorm, ReLU], then a linear output: fc1..fc5, bn1..bn4."""

    def __init__(self, cfg: PacGANConfig, rngs: nnx.Rngs) -> None:
        self.layers = cfg.g_layers()
        for row in self.layers:
            setattr(self, f"fc{row.index}",
                    nnx.Linear(row.fan_in, row.fan_out, use_bias=row.bias, rngs=rngs))
            if not row.bias:
                setattr(self, f"bn{row.index}", PopulationBatchNorm(row.fan_out))

    def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
        h = z
        for row in self.layers:
            h = getattr(self, f"fc{row.index}")(h)
            if not row.bias:
                h = getattr(self, f"bn{row.index}")(h, train)
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

    def norms(self, G: Generator) -> list[PopulationBatchNorm]:
        return [getattr(G, f"bn{row.index}") for row in G.layers if not row.bias]

    def with_population(self, state: State, method: str) -> State:
        """The state after calling `method` (restart or blend) on every BatchNorm of G."""
        G = self.network(state, "G")
        for norm in self.norms(G):
            getattr(norm, method)()
        return with_stats(state, "G", batch_stats(G))

    def _train_step(self, state: State, real: jax.Array, z: jax.Array):
        state = self.with_population(state, "restart")
        if self.config.update == "simultaneous":
            state, losses = self._simultaneous_step(state, real, z)
        else:
            state, losses = self._d_then_g_step(state, real, z)
        return self.with_population(state, "blend"), losses

    def _simultaneous_step(self, state: State, real: jax.Array, z: jax.Array):
        """D's and G's losses from one forward pass at the same weights; both updates: the
        pullback of that pass, once per loss."""
        def losses(d_params, g_params):
            G = nnx.merge(self.graphdefs["G"], g_params, state["G"]["stats"])
            D = nnx.merge(self.graphdefs["D"], d_params, state["D"]["stats"])
            d_fake = D(self.generate(G, z), train=True)
            loss_d = bce_with_logits(D(real, train=True), 1.0) + bce_with_logits(d_fake, 0.0)
            return (loss_d, bce_with_logits(d_fake, 1.0)), (batch_stats(G), batch_stats(D))

        (loss_d, loss_g), pullback, (g_stats, d_stats) = jax.vjp(
            losses, state["D"]["params"], state["G"]["params"], has_aux=True)
        one, zero = jnp.ones_like(loss_d), jnp.zeros_like(loss_d)
        d_grads, _ = pullback((one, zero))
        _, g_grads = pullback((zero, one))
        state = with_stats(with_stats(state, "G", g_stats), "D", d_stats)
        state = self.apply_gradients(self.apply_gradients(state, "D", d_grads), "G", g_grads)
        return state, (loss_d, loss_g)

    def _forward_pass(self, state: State, real: jax.Array, z: jax.Array) -> dict[str, jax.Array]:
        fake = self.generate(self.network(state, "G"), z)
        D = self.network(state, "D")
        return {
            "G(z)": fake[:, :X_DIM],  # the first group
            "packed G(z)": fake,
            "D(x)": D(real),
            "D(G(z))": D(fake),
        }

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, Z_DIM)).astype(np.float32)
        return np.asarray(self._sample(self.state, self.to_device(z)))

    def tags(self) -> dict[str, str]:
        return {"packing": str(self.config.packing)}
