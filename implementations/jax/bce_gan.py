"""The non-saturating GAN iteration shared by the MLP GAN, DCGAN and PacGAN (docs/models.md).

Mirror of implementations/torch/bce_gan.py. Per iteration: d_steps D updates, each on a fresh
fake from G and a real batch, with BCE on logits (real 1, fake 0, two forward passes so
BatchNorm sees real and fake apart); then one G update of BCE(D(fake), 1) through the D just
updated, on the last D step's fake: G runs once under jax.vjp, whose pullback takes the
gradient of G's loss with respect to that fake, as PyTorch's backward through the kept graph.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np
import optax
from flax import nnx

from bench.adapter import FamilyConfig
from implementations.jax.base import JAXAdapter, State, batch_stats, to_numpy, with_stats


def bce_with_logits(logits: jax.Array, target: float) -> jax.Array:
    return optax.sigmoid_binary_cross_entropy(logits, target).mean()


class BCEGANAdapter(JAXAdapter):
    """A family adapter supplies its networks and the layout of a real batch."""

    def make_networks(self, config: FamilyConfig,
                      rngs: nnx.Rngs) -> tuple[nnx.Module, nnx.Module]:
        raise NotImplementedError

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        """Real examples from the NHWC boundary into the networks' own layout."""
        raise NotImplementedError

    def generate(self, G: nnx.Module, z: jax.Array, train: bool = True) -> jax.Array:
        """The fake D sees, from one D step's noise."""
        return G(z, train=train)

    def _forward_pass(self, state: State, real: jax.Array, z: jax.Array) -> dict[str, jax.Array]:
        """forward's outputs for a staged batch (its first D step's)."""
        raise NotImplementedError

    def _sample_pass(self, state: State, z: jax.Array) -> jax.Array:
        """G's samples from noise z, in inference mode."""
        return self.network(state, "G")(z, train=False)

    def forward(self, staged) -> dict[str, np.ndarray]:
        return to_numpy(self._forward(self.state, *staged))

    def __init__(self, config: FamilyConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)

        def networks() -> dict[str, nnx.Module]:
            G, D = self.make_networks(config, nnx.Rngs(self.seed))
            return {"G": G, "D": D}

        self.add_networks(networks)
        betas = (config.beta1, config.beta2)
        for name in ("G", "D"):
            self.adam(name, config.lr, betas, config.eps)
        # The networks hold zeros (add_networks): start from the spec's canonical init
        # (bench.training loads the same), so a seed is one experiment in every framework.
        self.set_weights(config.initial_weights(self.seed))
        self._step = self.compile_step(self._train_step)
        self._forward = self.compile(self._forward_pass)
        self._sample = self.compile(self._sample_pass)
        self._losses: tuple[jax.Array, jax.Array] | None = None

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        cfg = self.config
        examples = self.network_layout(batch)
        real = examples.reshape(cfg.d_steps, cfg.batch_size, *examples.shape[1:])
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*cfg.noise_shapes()["z"]))
        return self.to_device(real), z

    def _train_step(self, state: State, real: jax.Array, z: jax.Array):
        last = self.config.d_steps - 1
        for i in range(last):
            G = self.network(state, "G")
            fake = self.generate(G, z[i])
            state, _ = self._d_step(with_stats(state, "G", batch_stats(G)), real[i], fake)
        return self._d_then_g_step(state, real[last], z[last])

    def _d_then_g_step(self, state: State, real: jax.Array, z: jax.Array):
        """A D step on real and the fake (a value: no gradient reaches G), then G's step
        through the D just updated, on that same fake."""

        def run_g(params):
            G = nnx.merge(self.graphdefs["G"], params, state["G"]["stats"])
            return self.generate(G, z), batch_stats(G)

        fake, pullback, g_stats = jax.vjp(run_g, state["G"]["params"], has_aux=True)
        state, loss_d = self._d_step(with_stats(state, "G", g_stats), real, fake)

        def g_loss(fake):
            D = self.network(state, "D")
            return bce_with_logits(D(fake, train=True), 1.0), batch_stats(D)

        # The gradient with respect to the fake only: none for D's weights, as in PyTorch.
        (loss_g, d_stats), grad_fake = jax.value_and_grad(g_loss, has_aux=True)(fake)
        (grads,) = pullback(grad_fake)
        state = self.apply_gradients(with_stats(state, "D", d_stats), "G", grads)
        return state, (loss_d, loss_g)

    def _d_step(self, state: State, real: jax.Array, fake: jax.Array):
        def d_loss(params):
            D = nnx.merge(self.graphdefs["D"], params, state["D"]["stats"])
            # Two forward passes, so real and fake get separate BatchNorm batch statistics.
            loss = (bce_with_logits(D(real, train=True), 1.0)
                    + bce_with_logits(D(fake, train=True), 0.0))
            return loss, batch_stats(D)

        (loss_d, d_stats), grads = jax.value_and_grad(d_loss, has_aux=True)(state["D"]["params"])
        state = self.apply_gradients(with_stats(state, "D", d_stats), "D", grads)
        return state, loss_d

    def train_step(self, staged) -> None:
        self.state, self._losses = self._step(self.state, *staged)

    def losses(self) -> dict[str, float]:
        loss_d, loss_g = self._losses
        return {"loss_d": float(loss_d), "loss_g": float(loss_g)}
