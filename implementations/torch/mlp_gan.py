"""MLP GAN in PyTorch (MODELS.md section 1). Mirror of implementations/tf/mlp_gan.py."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from implementations.spec.mlp_gan import MLPGANConfig
from implementations.torch.base import TorchAdapter


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


def bce_with_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class MLPGANAdapter(TorchAdapter):
    family = "mlp_gan"

    def __init__(self, config: MLPGANConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.G = make_generator(config).to(self.torch_device)
        self.D = make_discriminator(config).to(self.torch_device)
        self.opt_g = self.adam(self.G.parameters(), config.lr, (config.beta1, config.beta2),
                               config.eps)
        self.opt_d = self.adam(self.D.parameters(), config.lr, (config.beta1, config.beta2),
                               config.eps)
        self._step = self.compile_step(self._train_step)
        self._losses: tuple[torch.Tensor, torch.Tensor] | None = None

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        cfg = self.config
        real = self.to_device(batch.reshape(cfg.d_steps, cfg.batch_size, cfg.x_dim))
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*cfg.noise_shapes()["z"]))
        return real, z

    def _train_step(self, real: torch.Tensor, z: torch.Tensor):
        last = self.config.d_steps - 1
        for i in range(last):
            self._d_step(real[i], self.G(z[i]).detach())
        fake = self.G(z[last])
        loss_d = self._d_step(real[last], fake.detach())
        loss_g = bce_with_logits(self.D(fake), 1.0)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward(inputs=list(self.G.parameters()))  # D's weight gradients are not needed
        self.opt_g.step()
        return loss_d.detach(), loss_g.detach()

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss_d = bce_with_logits(self.D(real), 1.0) + bce_with_logits(self.D(fake), 0.0)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return loss_d

    def train_step(self, staged) -> None:
        self._losses = self._step(*staged)

    def losses(self) -> dict[str, float]:
        loss_d, loss_g = self._losses
        return {"loss_d": float(loss_d), "loss_g": float(loss_g)}

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
