"""MLP GAN in PyTorch (docs/models.md#mlp_gan). Mirror of implementations/tf/mlp_gan.py."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from implementations.spec.mlp_gan import MLPGANConfig
from implementations.torch.bce_gan import BCEGANAdapter


def make_generator(cfg: MLPGANConfig) -> nn.Sequential:
    (_, z, h1), (_, _, h2), (_, _, out) = cfg.g_layers()
    return nn.Sequential(OrderedDict(
        fc1=nn.Linear(z, h1),
        act1=nn.LeakyReLU(0.2),
        fc2=nn.Linear(h1, h2),
        act2=nn.LeakyReLU(0.2),
        fc3=nn.Linear(h2, out),
        out=nn.Identity() if cfg.points else nn.Tanh(),
    ))


def make_discriminator(cfg: MLPGANConfig) -> nn.Sequential:
    (_, x, h1), (_, _, h2), (_, _, out) = cfg.d_layers()
    return nn.Sequential(OrderedDict(
        fc1=nn.Linear(x, h1),
        act1=nn.LeakyReLU(0.2),
        fc2=nn.Linear(h1, h2),
        act2=nn.LeakyReLU(0.2),
        fc3=nn.Linear(h2, out),
    ))


class MLPGANAdapter(BCEGANAdapter):
    family = "mlp_gan"

    def make_networks(self, config: MLPGANConfig) -> tuple[nn.Module, nn.Module]:
        return make_generator(config), make_discriminator(config)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), self.config.x_dim)

    @torch.no_grad()
    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        return {
            "G(z)": self.G(z[0]).cpu().numpy(),
            "D(x)": self.D(real[0]).cpu().numpy(),
        }

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.z_dim)).astype(np.float32)
        out = self.G(self.to_device(z)).cpu().numpy()
        return out.reshape((n, *self.config.sample_shape()))
