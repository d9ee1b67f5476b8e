"""Progressive GAN in PyTorch (docs/models.md#progan). Mirror of implementations/tf/progan.py.

Layout NCHW inside; the boundary is NHWC. Every block of every resolution is built up front;
`resolution` and `fading` (python values) pick the path a call runs, and `alpha` (a device
tensor, filled without a host sync) blends the two paths of a fade.

Mode `compiled` is refused: torch.compile cannot run the gradient penalty's double backward.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import layouts
from bench.errors import UsageError
from implementations.spec.progan import MBSTD_GROUP, ProGANConfig, Progress
from implementations.torch.base import TorchAdapter

SQRT2 = math.sqrt(2.0)
REFUSED_MODES = {
    "compiled": "torch.compile (aot_autograd) does not support the double backward the WGAN-GP "
                "gradient penalty needs; use mode eager",
}


# --- weight-free operations ---

def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


def minibatch_stddev(x: torch.Tensor) -> torch.Tensor:
    """Append the mean stddev over groups of samples as one channel (sample i in group i % M)."""
    b, _, h, w = x.shape
    group = min(MBSTD_GROUP, b)
    y = x.reshape(group, -1, *x.shape[1:])
    y = torch.sqrt(torch.var(y, dim=0, correction=0) + 1e-8)
    y = y.mean(dim=(1, 2, 3), keepdim=True)
    return torch.cat([x, y.repeat(group, 1, h, w)], dim=1)


def upsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="nearest")


def downsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    return F.avg_pool2d(x, factor)


def fade(alpha: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    return (1 - alpha) * old + alpha * new


# --- equalised learning-rate layers ---

class EqDense(nn.Module):
    """Linear layer with weights stored N(0, 1) and scaled by gain / sqrt(fan_in) at run time."""

    def __init__(self, fan_in: int, units: int, gain: float = SQRT2, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(units, fan_in))
        self.bias = nn.Parameter(torch.zeros(units)) if bias else None
        self.scale = gain / math.sqrt(fan_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class EqConv(nn.Module):
    """Stride-1 convolution, zero padding k // 2, with equalised weights (see EqDense)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, gain: float = SQRT2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in * kernel * kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)


# --- the networks ---

def block_name(resolution: int) -> str:
    return f"{resolution}x{resolution}"


class GeneratorFirstBlock(nn.Module):
    """4x4: PN(z) -> dense -> reshape -> +bias -> LReLU -> PN -> conv3x3 -> LReLU -> PN."""

    def __init__(self, latent: int, channels: int) -> None:
        super().__init__()
        self.dense = EqDense(latent, 16 * channels, gain=SQRT2 / 4, bias=False)
        # One bias per channel, added after the reshape: the same numbers in both layouts.
        self.bias = nn.Parameter(torch.zeros(channels))
        self.conv = EqConv(channels, channels, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(pixel_norm(z)).reshape(-1, self.bias.shape[0], 4, 4)
        x = pixel_norm(leaky_relu(x + self.bias.reshape(1, -1, 1, 1)))
        return pixel_norm(leaky_relu(self.conv(x)))


class GeneratorBlock(nn.Module):
    """Upsample x2 -> [conv3x3 -> LReLU -> PN] x 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = EqConv(channels, channels, 3)
        self.conv2 = EqConv(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(leaky_relu(self.conv1(upsample(x))))
        return pixel_norm(leaky_relu(self.conv2(x)))


class Generator(nn.Module):
    def __init__(self, cfg: ProGANConfig) -> None:
        super().__init__()
        first, *rest = cfg.resolutions()
        c = cfg.channels
        self.resolutions = cfg.resolutions()
        self.blocks = nn.ModuleDict({block_name(first): GeneratorFirstBlock(cfg.latent, c)})
        self.blocks.update({block_name(r): GeneratorBlock(c) for r in rest})
        self.to_rgb = nn.ModuleDict({block_name(r): EqConv(c, 1, 1, gain=1.0)
                                     for r in cfg.resolutions()})

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, *, resolution: int,
                fading: bool) -> torch.Tensor:
        *earlier, last = [block_name(r) for r in self.resolutions if r <= resolution]
        x = z
        for name in earlier:
            x = self.blocks[name](x)
        out = self.to_rgb[last](self.blocks[last](x))
        if fading:
            out = fade(alpha, upsample(self.to_rgb[earlier[-1]](x)), out)
        return out

    def active_weights(self, resolution: int, fading: bool) -> list[nn.Parameter]:
        """The parameters a phase trains: those its forward pass reads."""
        return active_weights(self.blocks, self.to_rgb, self.resolutions, resolution, fading)


class DiscriminatorBlock(nn.Module):
    """[conv3x3 -> LReLU] x 2 -> average pool 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = EqConv(channels, channels, 3)
        self.conv2 = EqConv(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = leaky_relu(self.conv1(x))
        return downsample(leaky_relu(self.conv2(x)))


class DiscriminatorLastBlock(nn.Module):
    """4x4: minibatch stddev -> conv3x3 (C+1 -> C) -> LReLU -> flatten -> dense -> LReLU -> out."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = EqConv(channels + 1, channels, 3)
        self.dense = EqDense(16 * channels, channels)
        self.out = EqDense(channels, 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = leaky_relu(self.conv(minibatch_stddev(x)))
        return self.out(leaky_relu(self.dense(x.flatten(1))))


class Discriminator(nn.Module):
    def __init__(self, cfg: ProGANConfig) -> None:
        super().__init__()
        first, *rest = cfg.resolutions()
        c = cfg.channels
        self.resolutions = cfg.resolutions()
        self.from_rgb = nn.ModuleDict({block_name(r): EqConv(1, c, 1)
                                       for r in reversed(cfg.resolutions())})
        self.blocks = nn.ModuleDict({block_name(r): DiscriminatorBlock(c) for r in reversed(rest)})
        self.blocks.update({block_name(first): DiscriminatorLastBlock(c)})

    def forward(self, x: torch.Tensor, alpha: torch.Tensor, *, resolution: int,
                fading: bool) -> torch.Tensor:
        first, *later = [block_name(r) for r in reversed(self.resolutions) if r <= resolution]
        h = self.blocks[first](leaky_relu(self.from_rgb[first](x)))
        if fading:
            h = fade(alpha, leaky_relu(self.from_rgb[later[0]](downsample(x))), h)
        for name in later:
            h = self.blocks[name](h)
        return h

    def active_weights(self, resolution: int, fading: bool) -> list[nn.Parameter]:
        return active_weights(self.blocks, self.from_rgb, self.resolutions, resolution, fading)


def active_weights(blocks: nn.ModuleDict, rgb: nn.ModuleDict, resolutions: tuple[int, ...],
                   resolution: int, fading: bool) -> list[nn.Parameter]:
    """Blocks up to `resolution`, its RGB layer and, while fading, the previous RGB layer."""
    rgb_used = (resolution, resolution // 2) if fading else (resolution,)
    modules = [blocks[block_name(r)] for r in resolutions if r <= resolution]
    modules += [rgb[block_name(r)] for r in rgb_used]
    return [p for module in modules for p in module.parameters()]


def real_at_phase(real: torch.Tensor, alpha: torch.Tensor, resolution: int,
                  fading: bool) -> torch.Tensor:
    """Real images at the phase's resolution, cross-faded with alpha like G's output."""
    x = downsample(real, real.shape[-1] // resolution)
    return fade(alpha, upsample(downsample(x)), x) if fading else x


def gradient_penalty(D: Discriminator, x_hat: torch.Tensor, alpha: torch.Tensor,
                     resolution: int, fading: bool) -> torch.Tensor:
    """mean((||grad D(x_hat)|| - 1)^2), differentiable again (create_graph)."""
    x_hat.requires_grad_(True)
    d_hat = D(x_hat, alpha, resolution=resolution, fading=fading)
    (grad,) = torch.autograd.grad(d_hat.sum(), x_hat, create_graph=True)
    return (grad.square().sum(dim=(1, 2, 3)).sqrt() - 1).square().mean()


class ProGANAdapter(TorchAdapter):
    family = "progan"
    modes = ("eager",)

    def __init__(self, config: ProGANConfig, *, mode: str = "eager", **kwargs) -> None:
        if mode in REFUSED_MODES:
            raise UsageError(f"progan/torch cannot run mode {mode!r}: {REFUSED_MODES[mode]}")
        super().__init__(config, mode=mode, **kwargs)
        self.G = Generator(config).to(self.torch_device)
        self.D = Discriminator(config).to(self.torch_device)
        self.progress = Progress.start(config)
        self._reset_optimizers()
        self._losses: tuple[torch.Tensor, ...] | None = None

    def _reset_optimizers(self) -> None:
        """Fresh Adam state, at every resolution change (docs/models.md#progan), and a step
        built for it."""
        cfg = self.config
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = self.adam(self.G.parameters(), cfg.lr, betas, cfg.eps)
        self.opt_d = self.adam(self.D.parameters(), cfg.lr, betas, cfg.eps)
        self._step = self.compile_step(self._train_step)

    def set_phase(self, resolution: int, alpha: float) -> None:
        """Move to a phase of the schedule; a new resolution restarts the optimisers."""
        if self.progress.move_to(resolution, alpha):
            self._reset_optimizers()

    def phase(self) -> tuple[torch.Tensor, int, bool]:
        """The current phase as step arguments: alpha on the device, resolution, fading."""
        p = self.progress
        return torch.full((), p.alpha, device=self.torch_device), p.resolution, p.fading

    def tags(self) -> dict[str, str]:
        return self.progress.tags()

    def flops_per_step(self) -> int:
        return self.progress.flops()

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        shapes = self.config.noise_shapes()
        real = self.to_device(layouts.nhwc_to_nchw(batch))
        if noise is not None:
            return real, self.to_device(noise["z"]), self.to_device(noise["u"])
        u = torch.rand(shapes["u"], generator=self.generator, device=self.torch_device)
        return real, self.randn(*shapes["z"]), u

    def _train_step(self, real: torch.Tensor, z: torch.Tensor, u: torch.Tensor,
                    alpha: torch.Tensor, resolution: int, fading: bool):
        phase = {"resolution": resolution, "fading": fading}
        real = real_at_phase(real, alpha, **phase)
        fake = self.G(z, alpha, **phase)
        loss_d, penalty = self._d_step(real, fake.detach(), u, alpha, **phase)
        loss_g = -self.D(fake, alpha, **phase).mean()
        self.opt_g.zero_grad(set_to_none=True)
        # D's weight gradients are not needed, nor those of G's layers outside the phase.
        loss_g.backward(inputs=self.G.active_weights(**phase))
        self.opt_g.step()
        return loss_d.detach(), loss_g.detach(), penalty.detach()

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor, u: torch.Tensor,
                alpha: torch.Tensor, resolution: int, fading: bool):
        cfg = self.config
        phase = {"resolution": resolution, "fading": fading}
        d_real = self.D(real, alpha, **phase)
        d_fake = self.D(fake, alpha, **phase)
        penalty = gradient_penalty(self.D, real + u * (fake - real), alpha, **phase)
        loss_d = (d_fake.mean() - d_real.mean() + cfg.gp_weight * penalty
                  + cfg.drift * d_real.square().mean())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward(inputs=self.D.active_weights(**phase))  # not x_hat's gradient
        self.opt_d.step()
        return loss_d, penalty

    def train_step(self, staged) -> None:
        if self.progress.catch_up():
            self._reset_optimizers()
        self._losses = self._step(*staged, *self.phase())
        self.progress.count(self.config.batch_size)

    def losses(self) -> dict[str, float]:
        loss_d, loss_g, penalty = self._losses
        return {"loss_d": float(loss_d), "loss_g": float(loss_g),
                "gradient_penalty": float(penalty)}

    @torch.no_grad()
    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z, _ = staged
        alpha, resolution, fading = self.phase()
        phase = {"resolution": resolution, "fading": fading}
        fake = self.G(z, alpha, **phase)
        return {
            "G(z)": layouts.nchw_to_nhwc(fake.cpu().numpy()),
            "D(x)": self.D(real_at_phase(real, alpha, **phase), alpha, **phase).cpu().numpy(),
            "D(G(z))": self.D(fake, alpha, **phase).cpu().numpy(),
        }

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> np.ndarray:
        """Samples at the target resolution: an earlier phase's are upsampled (nearest)."""
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent))
        alpha, resolution, fading = self.phase()
        x = self.G(self.to_device(z.astype(np.float32)), alpha, resolution=resolution,
                   fading=fading)
        # G's output is linear; the boundary promises [-1, 1].
        x = upsample(x, self.config.resolution // resolution).clamp(-1.0, 1.0)
        return layouts.nchw_to_nhwc(x.cpu().numpy())
