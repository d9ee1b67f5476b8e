"""Progressive GAN in TensorFlow / Keras 3 (docs/models.md#progan).

Mirror of implementations/torch/progan.py.

Layout NHWC inside and at the boundary. Every block of every resolution is built up front;
`resolution` and `fading` (python values) pick the path a call runs, and `alpha` (a tensor, so
a changing alpha never retraces) blends the two paths of a fade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from bench import layouts
from implementations.spec.progan import MBSTD_GROUP, ProGANConfig, Progress
from implementations.tf.base import TFAdapter, WeightMap, same, tape_watching

SQRT2 = math.sqrt(2.0)


# --- weight-free operations ---

def leaky_relu(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.leaky_relu(x, 0.2)


def pixel_norm(x: tf.Tensor) -> tf.Tensor:
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + 1e-8)


def minibatch_stddev(x: tf.Tensor) -> tf.Tensor:
    """Append the mean stddev over groups of samples as one channel (sample i in group i % M)."""
    b, h, w, _ = x.shape
    group = min(MBSTD_GROUP, b)
    y = tf.reshape(x, (group, -1, *x.shape[1:]))
    y = tf.sqrt(tf.math.reduce_variance(y, axis=0) + 1e-8)
    y = tf.reduce_mean(y, axis=(1, 2, 3), keepdims=True)
    return tf.concat([x, tf.tile(y, (group, h, w, 1))], axis=-1)


def upsample(x: tf.Tensor, factor: int = 2) -> tf.Tensor:
    return tf.repeat(tf.repeat(x, factor, axis=1), factor, axis=2)


def downsample(x: tf.Tensor, factor: int = 2) -> tf.Tensor:
    return tf.nn.avg_pool2d(x, factor, factor, "VALID")


def fade(alpha: tf.Tensor, old: tf.Tensor, new: tf.Tensor) -> tf.Tensor:
    return (1 - alpha) * old + alpha * new


# --- equalised learning-rate layers ---

class EqDense(layers.Layer):
    """Dense layer with weights stored N(0, 1) and scaled by gain / sqrt(fan_in) at run time."""

    def __init__(self, fan_in: int, units: int, gain: float = SQRT2, bias: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel = self.add_weight((fan_in, units), keras.initializers.RandomNormal(0.0, 1.0),
                                      name="kernel")
        self.bias = self.add_weight((units,), "zeros", name="bias") if bias else None
        self.scale = gain / math.sqrt(fan_in)
        self.built = True  # the weights exist from the start, so set_weights needs no call

    def call(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.matmul(x, self.kernel * self.scale)
        return y if self.bias is None else y + self.bias


class EqConv(layers.Layer):
    """Stride-1 convolution, zero padding k // 2 ('SAME'), with equalised weights (see EqDense)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, gain: float = SQRT2,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel = self.add_weight((kernel, kernel, c_in, c_out),
                                      keras.initializers.RandomNormal(0.0, 1.0), name="kernel")
        self.bias = self.add_weight((c_out,), "zeros", name="bias")
        self.scale = gain / math.sqrt(c_in * kernel * kernel)
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, self.kernel * self.scale, 1, "SAME") + self.bias


# --- the networks ---

def block_name(resolution: int) -> str:
    return f"{resolution}x{resolution}"


class GeneratorFirstBlock(layers.Layer):
    """4x4: PN(z) -> dense -> reshape -> +bias -> LReLU -> PN -> conv3x3 -> LReLU -> PN."""

    def __init__(self, latent: int, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = EqDense(latent, 16 * channels, gain=SQRT2 / 4, bias=False)
        # One bias per channel, added after the reshape: the same numbers in both layouts.
        self.bias = self.add_weight((channels,), "zeros", name="bias")
        self.conv = EqConv(channels, channels, 3)

    def call(self, z: tf.Tensor) -> tf.Tensor:
        x = tf.reshape(self.dense(pixel_norm(z)), (-1, 4, 4, self.bias.shape[0]))
        x = pixel_norm(leaky_relu(x + self.bias))
        return pixel_norm(leaky_relu(self.conv(x)))


class GeneratorBlock(layers.Layer):
    """Upsample x2 -> [conv3x3 -> LReLU -> PN] x 2."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv1 = EqConv(channels, channels, 3)
        self.conv2 = EqConv(channels, channels, 3)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = pixel_norm(leaky_relu(self.conv1(upsample(x))))
        return pixel_norm(leaky_relu(self.conv2(x)))


class Generator(layers.Layer):
    def __init__(self, cfg: ProGANConfig, **kwargs) -> None:
        super().__init__(name="G", **kwargs)
        first, *rest = cfg.resolutions()
        c = cfg.channels
        self.resolutions = cfg.resolutions()
        self.blocks = {block_name(first): GeneratorFirstBlock(cfg.latent, c)}
        self.blocks.update({block_name(r): GeneratorBlock(c) for r in rest})
        self.to_rgb = {block_name(r): EqConv(c, 1, 1, gain=1.0) for r in cfg.resolutions()}
        self.built = True  # every block built its weights already

    def call(self, z: tf.Tensor, alpha: tf.Tensor, *, resolution: int,
             fading: bool) -> tf.Tensor:
        *earlier, last = [block_name(r) for r in self.resolutions if r <= resolution]
        x = z
        for name in earlier:
            x = self.blocks[name](x)
        out = self.to_rgb[last](self.blocks[last](x))
        if fading:
            out = fade(alpha, upsample(self.to_rgb[earlier[-1]](x)), out)
        return out

    def active_weights(self, resolution: int, fading: bool) -> list[tf.Variable]:
        """The variables a phase trains: those its forward pass reads."""
        return active_weights(self.blocks, self.to_rgb, self.resolutions, resolution, fading)

    def equalised_layers(self) -> dict[str, EqDense | EqConv]:
        return equalised_layers(self.blocks, "to_rgb", self.to_rgb)


class DiscriminatorBlock(layers.Layer):
    """[conv3x3 -> LReLU] x 2 -> average pool 2."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv1 = EqConv(channels, channels, 3)
        self.conv2 = EqConv(channels, channels, 3)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = leaky_relu(self.conv1(x))
        return downsample(leaky_relu(self.conv2(x)))


class DiscriminatorLastBlock(layers.Layer):
    """4x4: minibatch stddev -> conv3x3 (C+1 -> C) -> LReLU -> flatten -> dense -> LReLU -> out."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv = EqConv(channels + 1, channels, 3)
        self.dense = EqDense(16 * channels, channels)
        self.out = EqDense(channels, 1, gain=1.0)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = leaky_relu(self.conv(minibatch_stddev(x)))
        return self.out(leaky_relu(self.dense(tf.reshape(x, (-1, math.prod(x.shape[1:]))))))


class Discriminator(layers.Layer):
    def __init__(self, cfg: ProGANConfig, **kwargs) -> None:
        super().__init__(name="D", **kwargs)
        first, *rest = cfg.resolutions()
        c = cfg.channels
        self.resolutions = cfg.resolutions()
        self.from_rgb = {block_name(r): EqConv(1, c, 1) for r in reversed(cfg.resolutions())}
        self.blocks = {block_name(r): DiscriminatorBlock(c) for r in reversed(rest)}
        self.blocks.update({block_name(first): DiscriminatorLastBlock(c)})
        self.built = True

    def call(self, x: tf.Tensor, alpha: tf.Tensor, *, resolution: int,
             fading: bool) -> tf.Tensor:
        first, *later = [block_name(r) for r in reversed(self.resolutions) if r <= resolution]
        h = self.blocks[first](leaky_relu(self.from_rgb[first](x)))
        if fading:
            h = fade(alpha, leaky_relu(self.from_rgb[later[0]](downsample(x))), h)
        for name in later:
            h = self.blocks[name](h)
        return h

    def active_weights(self, resolution: int, fading: bool) -> list[tf.Variable]:
        return active_weights(self.blocks, self.from_rgb, self.resolutions, resolution, fading)

    def equalised_layers(self) -> dict[str, EqDense | EqConv]:
        return equalised_layers(self.blocks, "from_rgb", self.from_rgb)


def active_weights(blocks: dict, rgb: dict, resolutions: tuple[int, ...],
                   resolution: int, fading: bool) -> list[tf.Variable]:
    """Blocks up to `resolution`, its RGB layer and, while fading, the previous RGB layer."""
    rgb_used = (resolution, resolution // 2) if fading else (resolution,)
    modules = [blocks[block_name(r)] for r in resolutions if r <= resolution]
    modules += [rgb[block_name(r)] for r in rgb_used]
    return [v for module in modules for v in module.trainable_variables]


def real_at_phase(real: tf.Tensor, alpha: tf.Tensor, resolution: int,
                  fading: bool) -> tf.Tensor:
    """Real images at the phase's resolution, cross-faded with alpha like G's output."""
    x = downsample(real, real.shape[1] // resolution)
    return fade(alpha, upsample(downsample(x)), x) if fading else x


def gradient_penalty(D: Discriminator, x_hat: tf.Tensor, alpha: tf.Tensor,
                     resolution: int, fading: bool) -> tf.Tensor:
    """mean((||grad D(x_hat)|| - 1)^2), differentiable again (recorded by the caller's tape)."""
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        d_hat = D(x_hat, alpha, resolution=resolution, fading=fading)
    grad = tape.gradient(d_hat, x_hat)
    return tf.reduce_mean(tf.square(tf.sqrt(tf.reduce_sum(tf.square(grad), axis=(1, 2, 3))) - 1))


def equalised_layers(blocks: dict, rgb_name: str,
                     rgb: dict) -> dict[str, EqDense | EqConv]:
    """Module path as in the PyTorch network (e.g. 'blocks.8x8.conv1') -> equalised layer."""
    found = {f"{rgb_name}.{name}": layer for name, layer in rgb.items()}
    for name, block in blocks.items():
        found |= {f"blocks.{name}.{key}": layer for key, layer in vars(block).items()
                  if isinstance(layer, (EqDense, EqConv))}
    return found


class ProGANAdapter(TFAdapter):
    family = "progan"

    def __init__(self, config: ProGANConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        with tf.device(self.tf_device):
            self.G = Generator(config)
            self.D = Discriminator(config)
        self.progress = Progress.start(config)
        self._reset_optimizers()
        self._losses: tuple[tf.Tensor, ...] | None = None

    def weight_map(self) -> WeightMap:
        first = block_name(self.config.resolutions()[0])
        chw = (self.config.channels, 4, 4)
        special = {
            f"G.blocks.{first}.dense": (partial(layouts.dense_before_reshape_to_keras, chw=chw),
                                        partial(layouts.dense_before_reshape_from_keras, chw=chw)),
            f"D.blocks.{first}.dense": (partial(layouts.dense_after_flatten_to_keras, chw=chw),
                                        partial(layouts.dense_after_flatten_from_keras, chw=chw)),
        }
        rules = {f"G.blocks.{first}.bias": (self.G.blocks[first].bias, same, same)}
        named = {f"{net_name}.{name}": layer for net_name, net in (("G", self.G), ("D", self.D))
                 for name, layer in net.equalised_layers().items()}
        for name, layer in named.items():
            plain = ((layouts.conv_to_keras, layouts.conv_from_keras) if isinstance(layer, EqConv)
                     else (layouts.dense_to_keras, layouts.dense_from_keras))
            rules[f"{name}.weight"] = (layer.kernel, *special.get(name, plain))
            if layer.bias is not None:
                rules[f"{name}.bias"] = (layer.bias, same, same)
        return rules

    def _reset_optimizers(self) -> None:
        """Fresh Adam state, at every resolution change (docs/models.md#progan), and a step
        built for it."""
        cfg = self.config
        betas = (cfg.beta1, cfg.beta2)
        with tf.device(self.tf_device):
            self.opt_g = self.adam(self.G.trainable_variables, cfg.lr, betas, cfg.eps)
            self.opt_d = self.adam(self.D.trainable_variables, cfg.lr, betas, cfg.eps)
        self._step = self.compile_step(self._train_step)

    def set_phase(self, resolution: int, alpha: float) -> None:
        """Move to a phase of the schedule; a new resolution restarts the optimisers."""
        if self.progress.move_to(resolution, alpha):
            self._reset_optimizers()

    def phase(self) -> tuple[tf.Tensor, int, bool]:
        """The current phase as step arguments: alpha on the device, resolution, fading."""
        p = self.progress
        with tf.device(self.tf_device):
            return tf.fill((), np.float32(p.alpha)), p.resolution, p.fading

    def tags(self) -> dict[str, str]:
        return self.progress.tags()

    def flops_per_step(self) -> int:
        return self.progress.flops()

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        shapes = self.config.noise_shapes()
        real = self.to_device(batch)
        if noise is not None:
            return real, self.to_device(noise["z"]), self.to_device(noise["u"])
        with tf.device(self.tf_device):
            u = self.generator.uniform(shapes["u"])
        return real, self.randn(*shapes["z"]), u

    def _train_step(self, real: tf.Tensor, z: tf.Tensor, u: tf.Tensor,
                    alpha: tf.Tensor, resolution: int, fading: bool):
        phase = {"resolution": resolution, "fading": fading}
        real = real_at_phase(real, alpha, **phase)
        g_weights = self.G.active_weights(**phase)
        with tape_watching(g_weights) as g_tape:
            fake = self.G(z, alpha, **phase)
            with g_tape.stop_recording():  # the D step is no part of G's gradient
                loss_d, penalty = self._d_step(real, tf.stop_gradient(fake), u, alpha, **phase)
            loss_g = -tf.reduce_mean(self.D(fake, alpha, **phase))
        self.opt_g.apply(g_tape.gradient(loss_g, g_weights), g_weights)
        return loss_d, loss_g, penalty

    def _d_step(self, real: tf.Tensor, fake: tf.Tensor, u: tf.Tensor,
                alpha: tf.Tensor, resolution: int, fading: bool):
        cfg = self.config
        phase = {"resolution": resolution, "fading": fading}
        d_weights = self.D.active_weights(**phase)
        with tf.GradientTape() as d_tape:
            d_real = self.D(real, alpha, **phase)
            d_fake = self.D(fake, alpha, **phase)
            penalty = gradient_penalty(self.D, real + u * (fake - real), alpha, **phase)
            loss_d = (tf.reduce_mean(d_fake) - tf.reduce_mean(d_real) + cfg.gp_weight * penalty
                      + cfg.drift * tf.reduce_mean(tf.square(d_real)))
        self.opt_d.apply(d_tape.gradient(loss_d, d_weights), d_weights)
        return loss_d, penalty

    def train_step(self, staged) -> None:
        if self.progress.catch_up():
            self._reset_optimizers()
        with tf.device(self.tf_device):
            self._losses = self._step(*staged, *self.phase())
        self.progress.count(self.config.batch_size)

    def losses(self) -> dict[str, float]:
        loss_d, loss_g, penalty = self._losses
        return {"loss_d": float(loss_d), "loss_g": float(loss_g),
                "gradient_penalty": float(penalty)}

    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z, _ = staged
        alpha, resolution, fading = self.phase()
        phase = {"resolution": resolution, "fading": fading}
        fake = self.G(z, alpha, **phase)
        return {
            "G(z)": fake.numpy(),
            "D(x)": self.D(real_at_phase(real, alpha, **phase), alpha, **phase).numpy(),
            "D(G(z))": self.D(fake, alpha, **phase).numpy(),
        }

    def sample(self, n: int, seed: int) -> np.ndarray:
        """Samples at the target resolution: an earlier phase's are upsampled (nearest)."""
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent))
        alpha, resolution, fading = self.phase()
        x = self.G(self.to_device(z.astype(np.float32)), alpha, resolution=resolution,
                   fading=fading)
        # G's output is linear; the boundary promises [-1, 1].
        x = tf.clip_by_value(upsample(x, self.config.resolution // resolution), -1.0, 1.0)
        return x.numpy()
