"""PacGAN in PyTorch (docs/models.md#pacgan). Mirror of implementations/tf/pacgan.py.

The spec (implementations/spec/pacgan.py) defines the maxout layout and the packing. A step:
G runs on each of the m noise groups apart, the m outputs are packed side by side, and the
non-saturating GAN iteration of bce_gan.py (a D step on real and on the detached fake, then a
G step through the updated D on the same fake) runs on the packed inputs.

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
    BN_MOMENTUM,
    X_DIM,
    Z_DIM,
    PacGANConfig,
    pack,
)
from implementations.torch.bce_gan import BCEGANAdapter
from implementations.torch.dcgan import stateless_call


class Maxout(nn.Module):
    """The spec's maxout: units * pieces inputs viewed as (units, pieces), max over pieces."""

    def __init__(self, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.units, self.pieces)).amax(-1)


def batch_norm(features: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(features, eps=BN_EPSILON, momentum=BN_MOMENTUM)


def make_generator(cfg: PacGANConfig) -> nn.Sequential:
    w = cfg.width
    return nn.Sequential(OrderedDict(
        fc1=nn.Linear(Z_DIM, w, bias=False),
        bn1=batch_norm(w),
        act1=nn.ReLU(),
        fc2=nn.Linear(w, w, bias=False),
        bn2=batch_norm(w),
        act2=nn.ReLU(),
        fc3=nn.Linear(w, w, bias=False),
        bn3=batch_norm(w),
        act3=nn.ReLU(),
        fc4=nn.Linear(w, w, bias=False),
        bn4=batch_norm(w),
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
        return self._d_then_g_step(real, lambda: generate(self.G, z))

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
