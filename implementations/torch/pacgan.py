"""PacGAN in PyTorch (docs/models.md#pacgan). Mirror of implementations/tf/pacgan.py.

The spec (implementations/spec/pacgan.py) defines the maxout layout, the packing, the step
and the BatchNorm. A step: G runs on each of the m noise groups apart, the m outputs are
packed side by side, and the non-saturating GAN losses on the packed inputs update D and G
together from one forward pass (`update` "simultaneous", the paper's) or as bce_gan.py's
iteration (a D step, then a G step through the updated D on the same fake). Then every
BatchNorm of G moves its population statistics toward its batch statistics' average over the
m passes.

forward() runs G in training mode (BatchNorm on batch statistics), as a training step does,
without touching the running statistics; sample() runs G in eval mode, on them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import partial

import numpy as np
import torch
from torch import nn

from implementations.spec.pacgan import (
    BN_EPSILON,
    POPULATION_WEIGHT,
    X_DIM,
    Z_DIM,
    PacGANConfig,
    pack,
)
from implementations.torch.bce_gan import BCEGANAdapter, bce_with_logits
from implementations.torch.dcgan import stateless_call


class Maxout(nn.Module):
    """The spec's maxout: units * pieces inputs viewed as (units, pieces), max over pieces."""

    def __init__(self, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.units, self.pieces)).amax(-1)


class PopulationBatchNorm(nn.Module):
    """The spec's BatchNorm: a training pass normalises by its batch statistics and adds them to
    this step's sums; blend() moves the population statistics toward their average."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        # A step's sums over its G passes: working state, not weights.
        for name in ("mean_sum", "stdev_sum"):
            self.register_buffer(name, torch.zeros(features), persistent=False)
        self.register_buffer("passes", torch.zeros(()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            mean, stdev = self.running_mean, torch.sqrt(self.running_var + BN_EPSILON)
        else:
            mean = x.mean(0)
            stdev = torch.sqrt(x.var(0, correction=0) + BN_EPSILON)
            with torch.no_grad():
                self.mean_sum += mean
                self.stdev_sum += stdev
                self.passes += 1
        return (x - mean) / stdev * self.weight + self.bias

    @torch.no_grad()
    def restart(self) -> None:
        """Forget passes made outside a step (forward() in training mode)."""
        for buffer in (self.mean_sum, self.stdev_sum, self.passes):
            buffer.zero_()

    @torch.no_grad()
    def blend(self) -> None:
        w = POPULATION_WEIGHT
        stdev = w * self.stdev_sum / self.passes + (1 - w) * torch.sqrt(
            self.running_var + BN_EPSILON)
        self.running_mean.mul_(1 - w).add_(w * self.mean_sum / self.passes)
        self.running_var.copy_(stdev.square() - BN_EPSILON)
        self.restart()


def make_generator(cfg: PacGANConfig) -> nn.Sequential:
    w = cfg.width
    return nn.Sequential(OrderedDict(
        fc1=nn.Linear(Z_DIM, w, bias=False),
        bn1=PopulationBatchNorm(w),
        act1=nn.ReLU(),
        fc2=nn.Linear(w, w, bias=False),
        bn2=PopulationBatchNorm(w),
        act2=nn.ReLU(),
        fc3=nn.Linear(w, w, bias=False),
        bn3=PopulationBatchNorm(w),
        act3=nn.ReLU(),
        fc4=nn.Linear(w, w, bias=False),
        bn4=PopulationBatchNorm(w),
        act4=nn.ReLU(),
        fc5=nn.Linear(w, X_DIM),  # linear output
    ))


def make_discriminator(cfg: PacGANConfig) -> nn.Sequential:
    k, p = cfg.maxout_units, cfg.maxout_pieces
    return nn.Sequential(OrderedDict(
        fc1=nn.Linear(cfg.d_input, k * p),  # m samples packed: 2m inputs
        maxout1=Maxout(k, p),
        fc2=nn.Linear(k, k * p),
        maxout2=Maxout(k, p),
        fc3=nn.Linear(k, k * p),
        maxout3=Maxout(k, p),
        fc4=nn.Linear(k, 1),  # a logit
    ))


def generate(G: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """Packed fakes: G on each noise group z[j] apart (its own BatchNorm statistics), the m
    outputs side by side, (m, b, 2) -> (b, 2m), the spec's `pack` order."""
    return torch.cat([G(z_j) for z_j in z.unbind(0)], dim=1)


class PacGANAdapter(BCEGANAdapter):
    family = "pacgan"

    def __init__(self, config: PacGANConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        # The paper's init, as DCGAN's adapters build theirs (bench.training loads the same).
        self.set_weights(config.initial_weights(self.seed))

    def make_networks(self, config: PacGANConfig) -> tuple[nn.Module, nn.Module]:
        return make_generator(config), make_discriminator(config)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return pack(batch.reshape(len(batch), X_DIM), self.config.packing)

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*self.config.noise_shapes()["z"]))
        return self.to_device(self.network_layout(batch)), z

    def _train_step(self, real: torch.Tensor, z: torch.Tensor):
        norms = [m for m in self.G.modules() if isinstance(m, PopulationBatchNorm)]
        for norm in norms:
            norm.restart()
        if self.config.update == "simultaneous":
            losses = self._simultaneous_step(real, generate(self.G, z))
        else:
            losses = self._d_then_g_step(real, lambda: generate(self.G, z))
        for norm in norms:
            norm.blend()
        return losses

    def _simultaneous_step(self, real: torch.Tensor, fake: torch.Tensor):
        """D's and G's losses from one forward pass at the same weights; both updates."""
        d_fake = self.D(fake)
        loss_d = bce_with_logits(self.D(real), 1.0) + bce_with_logits(d_fake, 0.0)
        loss_g = bce_with_logits(d_fake, 1.0)
        self.opt_d.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        loss_d.backward(inputs=list(self.D.parameters()), retain_graph=True)
        loss_g.backward(inputs=list(self.G.parameters()))
        self.opt_d.step()
        self.opt_g.step()
        return loss_d.detach(), loss_g.detach()

    @torch.no_grad()
    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        fake = generate(partial(stateless_call, self.G), z)
        return {
            "G(z)": fake[:, :X_DIM].cpu().numpy(),  # the first group
            "packed G(z)": fake.cpu().numpy(),
            "D(x)": self.D(real).cpu().numpy(),
            "D(G(z))": self.D(fake).cpu().numpy(),
        }

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, Z_DIM)).astype(np.float32)
        self.G.eval()
        try:
            out = self.G(self.to_device(z))
        finally:
            self.G.train()
        return out.cpu().numpy()

    def tags(self) -> dict[str, str]:
        return {"packing": str(self.config.packing)}
