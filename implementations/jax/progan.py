"""Progressive GAN in JAX / Flax NNX (docs/models.md#progan).

Mirror of implementations/torch/progan.py.

Layout NHWC inside and at the boundary. Every block of every resolution is built up front;
`resolution` and `fading` (python values, static under jit: one compile per phase) pick the
path a call runs, and `alpha` (a device scalar, so a changing alpha never recompiles) blends
the two paths of a fade. The gradient penalty's double backward is jax.grad of a loss that
holds a jax.grad: it runs under jit as in eager.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from bench import layouts
from implementations.jax.base import JAXAdapter, State, WeightMap, leaky_relu, same, to_numpy
from implementations.spec.progan import MBSTD_GROUP, ProGANConfig, Progress

SQRT2 = math.sqrt(2.0)


# --- weight-free operations ---

def pixel_norm(x: jax.Array) -> jax.Array:
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + 1e-8)


def minibatch_stddev(x: jax.Array) -> jax.Array:
    """Append the mean stddev over groups of samples as one channel (sample i in group i % M)."""
    b, h, w, _ = x.shape
    group = min(MBSTD_GROUP, b)
    y = x.reshape(group, -1, *x.shape[1:])
    y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)  # biased, as the spec states
    y = jnp.mean(y, axis=(1, 2, 3), keepdims=True)
    return jnp.concatenate([x, jnp.tile(y, (group, h, w, 1))], axis=-1)


def upsample(x: jax.Array, factor: int = 2) -> jax.Array:
    return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def downsample(x: jax.Array, factor: int = 2) -> jax.Array:
    b, h, w, c = x.shape
    return x.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def fade(alpha: jax.Array, old: jax.Array, new: jax.Array) -> jax.Array:
    return (1 - alpha) * old + alpha * new


# --- equalised learning-rate layers ---

class EqDense(nnx.Module):
    """Linear layer with weights stored N(0, 1) and scaled by gain / sqrt(fan_in) at run time;
    the kernel is (in, out)."""

    def __init__(self, fan_in: int, units: int, rngs: nnx.Rngs, gain: float = SQRT2,
                 bias: bool = True) -> None:
        self.weight = nnx.Param(jax.random.normal(rngs.params(), (fan_in, units)))
        self.bias = nnx.Param(jnp.zeros(units)) if bias else None
        self.scale = gain / math.sqrt(fan_in)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = x @ (self.weight[...] * self.scale)
        return y if self.bias is None else y + self.bias[...]


class EqConv(nnx.Module):
    """Stride-1 convolution, zero padding k // 2, with equalised weights (see EqDense); the
    kernel is (kh, kw, in, out)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, rngs: nnx.Rngs,
                 gain: float = SQRT2) -> None:
        self.weight = nnx.Param(jax.random.normal(rngs.params(), (kernel, kernel, c_in, c_out)))
        self.bias = nnx.Param(jnp.zeros(c_out))
        self.scale = gain / math.sqrt(c_in * kernel * kernel)

    def __call__(self, x: jax.Array) -> jax.Array:
        pad = self.weight.shape[0] // 2
        y = jax.lax.conv_general_dilated(
            x, self.weight[...] * self.scale, (1, 1), ((pad, pad), (pad, pad)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + self.bias[...]


# --- the networks ---

def block_name(resolution: int) -> str:
    return f"{resolution}x{resolution}"


class GeneratorFirstBlock(nnx.Module):
    """4x4: PN(z) -> dense -> reshape -> +bias -> LReLU -> PN -> conv3x3 -> LReLU -> PN."""

    def __init__(self, latent: int, channels: int, rngs: nnx.Rngs) -> None:
        self.dense = EqDense(latent, 16 * channels, rngs, gain=SQRT2 / 4, bias=False)
        # One bias per channel, added after the reshape: the same numbers in both layouts.
        self.bias = nnx.Param(jnp.zeros(channels))
        self.conv = EqConv(channels, channels, 3, rngs)

    def __call__(self, z: jax.Array) -> jax.Array:
        x = self.dense(pixel_norm(z)).reshape(-1, 4, 4, self.bias.shape[0])
        x = pixel_norm(leaky_relu(x + self.bias[...]))
        return pixel_norm(leaky_relu(self.conv(x)))


class GeneratorBlock(nnx.Module):
    """Upsample x2 -> [conv3x3 -> LReLU -> PN] x 2."""

    def __init__(self, channels: int, rngs: nnx.Rngs) -> None:
        self.conv1 = EqConv(channels, channels, 3, rngs)
        self.conv2 = EqConv(channels, channels, 3, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = pixel_norm(leaky_relu(self.conv1(upsample(x))))
        return pixel_norm(leaky_relu(self.conv2(x)))


class Generator(nnx.Module):
    def __init__(self, cfg: ProGANConfig, rngs: nnx.Rngs) -> None:
        first, *rest = cfg.resolutions()
        c = cfg.channels
        self.resolutions = cfg.resolutions()
        self.blocks = nnx.Dict({block_name(first): GeneratorFirstBlock(cfg.latent, c, rngs),
                                **{block_name(r): GeneratorBlock(c, rngs) for r in rest}})
        self.to_rgb = nnx.Dict({block_name(r): EqConv(c, 1, 1, rngs, gain=1.0)
                                for r in cfg.resolutions()})

    def __call__(self, z: jax.Array, alpha: jax.Array, *, resolution: int,
                 fading: bool) -> jax.Array:
        *earlier, last = [block_name(r) for r in self.resolutions if r <= resolution]
        x = z
        for name in earlier:
            x = self.blocks[name](x)
        out = self.to_rgb[last](self.blocks[last](x))
        if fading:
            out = fade(alpha, upsample(self.to_rgb[earlier[-1]](x)), out)
        return out


class DiscriminatorBlock(nnx.Module):
    """[conv3x3 -> LReLU] x 2 -> average pool 2."""

    def __init__(self, channels: int, rngs: nnx.Rngs) -> None:
        self.conv1 = EqConv(channels, channels, 3, rngs)
        self.conv2 = EqConv(channels, channels, 3, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = leaky_relu(self.conv1(x))
        return downsample(leaky_relu(self.conv2(x)))


class DiscriminatorLastBlock(nnx.Module):
    """4x4: minibatch stddev -> conv3x3 (C+1 -> C) -> LReLU -> flatten -> dense -> LReLU -> out."""

    def __init__(self, channels: int, rngs: nnx.Rngs) -> None:
        self.conv = EqConv(channels + 1, channels, 3, rngs)
        self.dense = EqDense(16 * channels, channels, rngs)
        self.out = EqDense(channels, 1, rngs, gain=1.0)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = leaky_relu(self.conv(minibatch_stddev(x)))
        return self.out(leaky_relu(self.dense(x.reshape(len(x), -1))))


class Discriminator(nnx.Module):
    def __init__(self, cfg: ProGANConfig, rngs: nnx.Rngs) -> None:
        first, *rest = cfg.resolutions()
        c = cfg.channels
        self.resolutions = cfg.resolutions()
        self.from_rgb = nnx.Dict({block_name(r): EqConv(1, c, 1, rngs)
                                  for r in reversed(cfg.resolutions())})
        self.blocks = nnx.Dict({**{block_name(r): DiscriminatorBlock(c, rngs)
                                   for r in reversed(rest)},
                                block_name(first): DiscriminatorLastBlock(c, rngs)})

    def __call__(self, x: jax.Array, alpha: jax.Array, *, resolution: int,
                 fading: bool) -> jax.Array:
        first, *later = [block_name(r) for r in reversed(self.resolutions) if r <= resolution]
        h = self.blocks[first](leaky_relu(self.from_rgb[first](x)))
        if fading:
            h = fade(alpha, leaky_relu(self.from_rgb[later[0]](downsample(x))), h)
        for name in later:
            h = self.blocks[name](h)
        return h


def trains(path: tuple[str, ...], *, rgb: str, resolution: int, fading: bool) -> bool:
    """Whether the parameter at `path` is one a phase trains: those its forward pass reads,
    blocks up to `resolution`, its RGB layer and, while fading, the previous RGB layer."""
    group, block = path[:2]
    size = int(block.split("x")[0])
    if group == rgb:
        return size == resolution or (fading and size == resolution // 2)
    return size <= resolution


def real_at_phase(real: jax.Array, alpha: jax.Array, resolution: int,
                  fading: bool) -> jax.Array:
    """Real images at the phase's resolution, cross-faded with alpha like G's output."""
    x = downsample(real, real.shape[1] // resolution)
    return fade(alpha, upsample(downsample(x)), x) if fading else x


def gradient_penalty(D, x_hat: jax.Array, alpha: jax.Array, resolution: int,
                     fading: bool) -> jax.Array:
    """mean((||grad D(x_hat)|| - 1)^2), differentiable again (jax.grad composes)."""
    grad = jax.grad(lambda x: D(x, alpha, resolution=resolution, fading=fading).sum())(x_hat)
    return jnp.square(jnp.sqrt(jnp.square(grad).sum(axis=(1, 2, 3))) - 1).mean()


def weight_rule(name: str, first: str, chw: tuple[int, int, int]):
    """(to JAX, from JAX) of one canonical weight (see bench.layouts)."""
    if name.endswith(".bias"):
        return same, same
    if name == f"G.blocks.{first}.dense.weight":
        return (partial(layouts.dense_before_reshape_to_keras, chw=chw),
                partial(layouts.dense_before_reshape_from_keras, chw=chw))
    if name == f"D.blocks.{first}.dense.weight":
        return (partial(layouts.dense_after_flatten_to_keras, chw=chw),
                partial(layouts.dense_after_flatten_from_keras, chw=chw))
    if name.endswith("out.weight"):
        return layouts.dense_to_keras, layouts.dense_from_keras
    return layouts.conv_to_keras, layouts.conv_from_keras


class ProGANAdapter(JAXAdapter):
    family = "progan"

    def __init__(self, config: ProGANConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)

        def networks() -> dict[str, nnx.Module]:
            rngs = nnx.Rngs(self.seed)
            return {"G": Generator(config, rngs), "D": Discriminator(config, rngs)}

        self.add_networks(networks)
        # The spec's canonical init (bench.training loads the same).
        self.set_weights(config.initial_weights(self.seed))
        self.progress = Progress.start(config)
        phase = ("resolution", "fading")
        self._step = self.compile_step(self._train_step, static_argnames=phase)
        self._forward = self.compile(self._forward_pass, static_argnames=phase)
        self._sample = self.compile(self._sample_pass, static_argnames=phase)
        self._reset_optimizers()
        self._losses: tuple[jax.Array, ...] | None = None

    def weight_map(self) -> WeightMap:
        first = block_name(self.config.resolutions()[0])
        chw = (self.config.channels, 4, 4)
        rules = {}
        for name in self.config.weight_shapes():
            net, *path = name.split(".")
            rules[name] = ((net, "params", *path), *weight_rule(name, first, chw))
        return rules

    def _reset_optimizers(self) -> None:
        """Fresh Adam state, at every resolution change (docs/models.md#progan)."""
        cfg = self.config
        for name in ("G", "D"):
            self.adam(name, cfg.lr, (cfg.beta1, cfg.beta2), cfg.eps)

    def set_phase(self, resolution: int, alpha: float) -> None:
        """Move to a phase of the schedule; a new resolution restarts the optimisers."""
        if self.progress.move_to(resolution, alpha):
            self._reset_optimizers()

    def phase(self) -> tuple[jax.Array, int, bool]:
        """The current phase as step arguments: alpha on the device, resolution, fading."""
        p = self.progress
        return jax.device_put(jnp.float32(p.alpha), self.jax_device), p.resolution, p.fading

    def tags(self) -> dict[str, str]:
        return self.progress.tags()

    def flops_per_step(self) -> int:
        return self.progress.flops()

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        shapes = self.config.noise_shapes()
        real = self.to_device(batch)
        if noise is not None:
            return real, self.to_device(noise["z"]), self.to_device(noise["u"])
        self.key, key = jax.random.split(self.key)
        u = jax.device_put(jax.random.uniform(key, shapes["u"]), self.jax_device)
        return real, self.randn(*shapes["z"]), u

    def _train_step(self, state: State, real: jax.Array, z: jax.Array, u: jax.Array,
                    alpha: jax.Array, resolution: int, fading: bool):
        phase = {"resolution": resolution, "fading": fading}
        real = real_at_phase(real, alpha, **phase)

        def run_g(params):
            return nnx.merge(self.graphdefs["G"], params, {})(z, alpha, **phase)

        fake, pullback = jax.vjp(run_g, state["G"]["params"])
        state, loss_d, penalty = self._d_step(state, real, fake, u, alpha, **phase)
        D = self.network(state, "D")
        # The gradient with respect to the fake only: none for D's weights, as in PyTorch.
        loss_g, grad_fake = jax.value_and_grad(lambda x: -D(x, alpha, **phase).mean())(fake)
        (grads,) = pullback(grad_fake)
        state = self.apply_gradients(state, "G", grads, partial(trains, rgb="to_rgb", **phase))
        return state, (loss_d, loss_g, penalty)

    def _d_step(self, state: State, real: jax.Array, fake: jax.Array, u: jax.Array,
                alpha: jax.Array, resolution: int, fading: bool):
        cfg = self.config
        phase = {"resolution": resolution, "fading": fading}

        def d_loss(params):
            D = nnx.merge(self.graphdefs["D"], params, {})
            d_real = D(real, alpha, **phase)
            d_fake = D(fake, alpha, **phase)
            penalty = gradient_penalty(D, real + u * (fake - real), alpha, **phase)
            loss = (d_fake.mean() - d_real.mean() + cfg.gp_weight * penalty
                    + cfg.drift * jnp.square(d_real).mean())
            return loss, penalty

        (loss_d, penalty), grads = jax.value_and_grad(d_loss, has_aux=True)(state["D"]["params"])
        state = self.apply_gradients(state, "D", grads, partial(trains, rgb="from_rgb", **phase))
        return state, loss_d, penalty

    def train_step(self, staged) -> None:
        if self.progress.catch_up():
            self._reset_optimizers()
        alpha, resolution, fading = self.phase()
        self.state, self._losses = self._step(self.state, *staged, alpha,
                                              resolution=resolution, fading=fading)
        self.progress.count(self.config.batch_size)

    def losses(self) -> dict[str, float]:
        loss_d, loss_g, penalty = self._losses
        return {"loss_d": float(loss_d), "loss_g": float(loss_g),
                "gradient_penalty": float(penalty)}

    def _forward_pass(self, state: State, real: jax.Array, z: jax.Array, alpha: jax.Array,
                      resolution: int, fading: bool) -> dict[str, jax.Array]:
        phase = {"resolution": resolution, "fading": fading}
        fake = self.network(state, "G")(z, alpha, **phase)
        D = self.network(state, "D")
        return {
            "G(z)": fake,
            "D(x)": D(real_at_phase(real, alpha, **phase), alpha, **phase),
            "D(G(z))": D(fake, alpha, **phase),
        }

    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z, _ = staged
        alpha, resolution, fading = self.phase()
        return to_numpy(self._forward(self.state, real, z, alpha,
                                      resolution=resolution, fading=fading))

    def _sample_pass(self, state: State, z: jax.Array, alpha: jax.Array,
                     resolution: int, fading: bool) -> jax.Array:
        x = self.network(state, "G")(z, alpha, resolution=resolution, fading=fading)
        # G's output is linear; the boundary promises [-1, 1].
        return jnp.clip(upsample(x, self.config.resolution // resolution), -1.0, 1.0)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """Samples at the target resolution: an earlier phase's are upsampled (nearest)."""
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent))
        alpha, resolution, fading = self.phase()
        return np.asarray(self._sample(self.state, self.to_device(z.astype(np.float32)), alpha,
                                       resolution=resolution, fading=fading))
