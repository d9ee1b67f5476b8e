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

from implementations.spec.mlp_gan import MLPGANConfig
from implementations.torch import mlp_gan


def mlp_gan_loop(config: MLPGANConfig, batch: np.ndarray, mode: str) -> Callable[[], None]:
    G, D = mlp_gan.make_generator(config), mlp_gan.make_discriminator(config)
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas, eps=config.eps)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas, eps=config.eps)
    criterion = nn.BCEWithLogitsLoss()
    real = torch.from_numpy(batch[: config.batch_size].reshape(config.batch_size, -1))
    ones, zeros = torch.ones(config.batch_size, 1), torch.zeros(config.batch_size, 1)

    def step() -> None:
        fake = G(torch.randn(config.batch_size, config.z_dim))
        opt_d.zero_grad()
        loss_d = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = criterion(D(fake), ones)
        loss_g.backward()
        opt_g.step()

    return compile_for(mode, step)


def compile_for(mode: str, step: Callable[[], None]) -> Callable[[], None]:
    return torch.compile(step) if mode == "compiled" else step


LOOPS = {"mlp_gan": mlp_gan_loop}
