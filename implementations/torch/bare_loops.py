"""Plain hand-written training loops, pytorch/examples style, for the harness-overhead benchmark.

Each builds the family's network with the implementation's own builders but none of the
adapter: its own optimisers, its own noise, one closure per training iteration. The
overhead suite times these against the adapter's train_step in the same process.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from bench import layouts
from bench.adapter import FamilyConfig
from implementations.torch import dcgan, mlp_gan


def bce_gan_loop(G: nn.Module, D: nn.Module, config: FamilyConfig, real: np.ndarray,
                 mode: str) -> Callable[[], None]:
    """The non-saturating GAN iteration of MODELS.md: one D update, then one G update."""
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas, eps=config.eps)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas, eps=config.eps)
    criterion = nn.BCEWithLogitsLoss()
    real_batch = torch.from_numpy(np.ascontiguousarray(real[: config.batch_size]))
    z_shape = config.noise_shapes()["z"][1:]
    ones, zeros = torch.ones(config.batch_size, 1), torch.zeros(config.batch_size, 1)

    def step() -> None:
        fake = G(torch.randn(*z_shape))
        opt_d.zero_grad()
        loss_d = criterion(D(real_batch), ones) + criterion(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = criterion(D(fake), ones)
        loss_g.backward()
        opt_g.step()

    return compile_for(mode, step)


def mlp_gan_loop(config: FamilyConfig, batch: np.ndarray, mode: str) -> Callable[[], None]:
    return bce_gan_loop(mlp_gan.make_generator(config), mlp_gan.make_discriminator(config),
                        config, batch.reshape(len(batch), -1), mode)


def dcgan_loop(config: FamilyConfig, batch: np.ndarray, mode: str) -> Callable[[], None]:
    return bce_gan_loop(dcgan.make_generator(config), dcgan.make_discriminator(config),
                        config, layouts.nhwc_to_nchw(batch), mode)


def compile_for(mode: str, step: Callable[[], None]) -> Callable[[], None]:
    return torch.compile(step) if mode == "compiled" else step


LOOPS = {"mlp_gan": mlp_gan_loop, "dcgan": dcgan_loop}
