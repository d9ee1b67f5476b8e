"""Plain hand-written training loops, Flax NNX functional style, for the harness-overhead
benchmark.

Each builds the family's networks with the implementation's builders, splits them into graph
and state once, and runs the adapter's step written out by hand as one pure function, with
none of the adapter: its own optimisers (the implementation's torch_adam, so the update is the
same), losses and arrays, `jax.jit` of the step in mode "jit". It does exactly the adapter's
work (noise drawn once, like the harness's staged noise; G run once, its gradient through
jax.vjp), so the overhead suite's ratio of the two is the harness's own cost;
tests/jax/test_bare_loops.py checks the weights agree step for step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from bench.adapter import FamilyConfig
from implementations.jax import dcgan, mlp_gan
from implementations.jax.base import jax_device, load_weights, split, torch_adam


@dataclass
class BareLoop:
    step: Callable[[], None]  # one training iteration
    graphdefs: dict[str, nnx.GraphDef]
    state: Callable[[], dict[str, Any]]  # "G" and "D": {"params", "stats"} after the last step

    def sync(self) -> None:
        """Wait for the loop's own queued steps: JAX dispatches asynchronously and has no
        device-wide sync, so the adapter's sync does not wait for these."""
        jax.block_until_ready(self.state())

    def network(self, name: str) -> nnx.Module:
        net = self.state()[name]
        return nnx.merge(self.graphdefs[name], net["params"], net["stats"])


def criterion(logits: jax.Array, label: float) -> jax.Array:
    return optax.sigmoid_binary_cross_entropy(logits, label).mean()


def bce_gan_loop(graphdefs: dict[str, nnx.GraphDef], state: dict[str, Any],
                 config: FamilyConfig, real: np.ndarray, z: np.ndarray, mode: str,
                 device: jax.Device) -> BareLoop:
    """The non-saturating GAN iteration of docs/models.md: one D update, then one G update."""
    betas = (config.beta1, config.beta2)
    opt_g = torch_adam(config.lr, betas, config.eps)
    opt_d = torch_adam(config.lr, betas, config.eps)
    g_def, d_def = graphdefs["G"], graphdefs["D"]
    carry = (state["G"]["params"], state["G"]["stats"], opt_g.init(state["G"]["params"]),
             state["D"]["params"], state["D"]["stats"], opt_d.init(state["D"]["params"]))

    def train_step(carry, real_batch: jax.Array, noise: jax.Array):
        g_params, g_stats, g_opt, d_params, d_stats, d_opt = carry

        def generate(params):
            G = nnx.merge(g_def, params, g_stats)
            return G(noise), nnx.state(G, nnx.BatchStat).to_pure_dict()

        fake, g_vjp, g_stats = jax.vjp(generate, g_params, has_aux=True)

        def d_loss(params):
            D = nnx.merge(d_def, params, d_stats)
            loss = criterion(D(real_batch), 1.0) + criterion(D(fake), 0.0)
            return loss, nnx.state(D, nnx.BatchStat).to_pure_dict()

        (_, d_stats), grads = jax.value_and_grad(d_loss, has_aux=True)(d_params)
        updates, d_opt = opt_d.update(grads, d_opt)
        d_params = optax.apply_updates(d_params, updates)

        def g_loss(fake):
            D = nnx.merge(d_def, d_params, d_stats)
            return criterion(D(fake), 1.0), nnx.state(D, nnx.BatchStat).to_pure_dict()

        (_, d_stats), grad_fake = jax.value_and_grad(g_loss, has_aux=True)(fake)
        (grads,) = g_vjp(grad_fake)
        updates, g_opt = opt_g.update(grads, g_opt)
        g_params = optax.apply_updates(g_params, updates)
        return g_params, g_stats, g_opt, d_params, d_stats, d_opt

    compiled = jax.jit(train_step, donate_argnums=0) if mode == "jit" else train_step
    real_batch, noise = jax.device_put((real, z), device)
    carry = jax.device_put(carry, device)

    def step() -> None:
        nonlocal carry
        carry = compiled(carry, real_batch, noise)

    def current() -> dict[str, Any]:
        g_params, g_stats, _, d_params, d_stats, _ = carry
        return {"G": {"params": g_params, "stats": g_stats},
                "D": {"params": d_params, "stats": d_stats}}

    return BareLoop(step, graphdefs, current)


def flatten(real: np.ndarray) -> np.ndarray:
    return real.reshape(len(real), -1)


def nhwc(real: np.ndarray) -> np.ndarray:
    return real


#: family -> (its module, the layout of a real batch in its networks)
FAMILIES = {"mlp_gan": (mlp_gan, flatten), "dcgan": (dcgan, nhwc)}


def bare_loop(model: str, config: FamilyConfig, real: np.ndarray, z: np.ndarray, mode: str,
              device: str = "cpu", seed: int = 0) -> BareLoop:
    """The family's loop, from the spec's canonical init for `seed`, as the adapter starts."""
    family, layout = FAMILIES[model]
    rngs = nnx.Rngs(seed)
    graphdefs, state = {}, {}
    for name, make in (("G", family.make_generator), ("D", family.make_discriminator)):
        graphdefs[name], state[name] = split(make(config, rngs))
    state = load_weights(state, family.weight_map(config), config.initial_weights(seed),
                         jax_device(device))
    return bce_gan_loop(graphdefs, state, config, layout(real), z, mode, jax_device(device))
