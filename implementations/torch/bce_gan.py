"""The non-saturating GAN iteration shared by the MLP GAN and DCGAN (docs/models.md#update-order).

Mirror of implementations/tf/bce_gan.py. Per iteration: d_steps D updates, each on a fresh
fake from G and a real batch, with BCE on logits (real 1, fake 0, two forward passes so
BatchNorm sees real and fake apart); then one G update of BCE(D(fake), 1) through the D just
updated, on the last D step's fake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.adapter import FamilyConfig
from implementations.torch.base import TorchAdapter


def bce_with_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class BCEGANAdapter(TorchAdapter):
    """A family adapter supplies its networks and the layout of a real batch."""

    def make_networks(self, config: FamilyConfig) -> tuple[nn.Module, nn.Module]:
        raise NotImplementedError

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        """Real examples from the NHWC boundary into the networks' own layout."""
        raise NotImplementedError

    def __init__(self, config: FamilyConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        G, D = self.make_networks(config)
        self.G, self.D = G.to(self.torch_device), D.to(self.torch_device)
        betas = (config.beta1, config.beta2)
        self.opt_g = self.adam(self.G.parameters(), config.lr, betas, config.eps)
        self.opt_d = self.adam(self.D.parameters(), config.lr, betas, config.eps)
        self._step = self.compile_step(self._train_step)
        self._losses: tuple[torch.Tensor, torch.Tensor] | None = None

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        cfg = self.config
        examples = self.network_layout(batch)
        real = examples.reshape(cfg.d_steps, cfg.batch_size, *examples.shape[1:])
        z = (self.to_device(noise["z"]) if noise is not None
             else self.randn(*cfg.noise_shapes()["z"]))
        return self.to_device(real), z

    def _train_step(self, real: torch.Tensor, z: torch.Tensor):
        last = self.config.d_steps - 1
        for i in range(last):
            self._d_step(real[i], self.G(z[i]).detach())
        return self._d_then_g_step(real[last], lambda: self.G(z[last]))

    def _d_then_g_step(self, real: torch.Tensor, make_fake: Callable[[], torch.Tensor]):
        """A D step on real and the detached fake, then G's step through the D just updated,
        on that same fake."""
        fake = make_fake()
        loss_d = self._d_step(real, fake.detach())
        loss_g = bce_with_logits(self.D(fake), 1.0)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward(inputs=list(self.G.parameters()))  # D's weight gradients are not needed
        self.opt_g.step()
        return loss_d.detach(), loss_g.detach()

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        # Two forward passes, so real and fake get separate BatchNorm batch statistics.
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
