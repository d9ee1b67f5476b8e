"""The affine GAN in PyTorch, on the built-in BCE GAN iteration. Mirror of tf_adapter.py."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from gan_bench_affine.spec import POINT_DIM, AffineGANConfig
from implementations.torch.bce_gan import BCEGANAdapter


class AffineGANAdapter(BCEGANAdapter):
    family = "affine_gan"

    def make_networks(self, config: AffineGANConfig) -> tuple[nn.Module, nn.Module]:
        generator = nn.Sequential(OrderedDict(fc=nn.Linear(config.latent, POINT_DIM)))
        discriminator = nn.Sequential(OrderedDict(fc=nn.Linear(POINT_DIM, 1)))
        return generator, discriminator

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), POINT_DIM)

    @torch.no_grad()
    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        return {"G(z)": self.G(z[0]).cpu().numpy(), "D(x)": self.D(real[0]).cpu().numpy()}

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent))
        return self.G(self.to_device(z.astype(np.float32))).cpu().numpy()
