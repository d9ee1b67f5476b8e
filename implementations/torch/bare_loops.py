"""Plain hand-written training loops, pytorch/examples style, for the harness-overhead benchmark.

Each builds the family's networks with the implementation's builders and runs the adapter's
step written out by hand, with none of the adapter: its own optimisers, criterion and tensors,
one closure per iteration. It does exactly the adapter's work (noise drawn once, like the
harness's staged noise; G's backward limited to G's weights), so the overhead suite's ratio of
the two is the harness's own cost; tests/torch/test_bare_loops.py checks the weights agree step
for step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench import layouts
from bench.adapter import FamilyConfig
from implementations.torch import dcgan, mlp_gan
from implementations.torch.base import make_adam


@dataclass
class BareLoop:
    step: Callable[[], None]  # one training iteration
    G: nn.Module
    D: nn.Module
    device: str

    def sync(self) -> None:
        """Wait for the loop's queued steps, as the adapter's sync does."""
        if self.device == "cuda":
            torch.cuda.synchronize()


def bce_gan_loop(G: nn.Module, D: nn.Module, config: FamilyConfig, real: np.ndarray,
                 z: np.ndarray, mode: str, device: str) -> BareLoop:
    """The non-saturating GAN iteration: one D update, then one G update
    (docs/models.md#update-order)."""
    G, D = G.to(device), D.to(device)
    betas = (config.beta1, config.beta2)
    opt_g = make_adam(G.parameters(), config.lr, betas, config.eps)
    opt_d = make_adam(D.parameters(), config.lr, betas, config.eps)
    criterion = nn.BCEWithLogitsLoss()
    ones = torch.ones(config.batch_size, 1, device=device)
    zeros = torch.zeros(config.batch_size, 1, device=device)

    def train_step(real_batch: torch.Tensor, noise: torch.Tensor) -> None:
        fake = G(noise)
        opt_d.zero_grad()
        loss_d = criterion(D(real_batch), ones) + criterion(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = criterion(D(fake), ones)
        loss_g.backward(inputs=list(G.parameters()))
        opt_g.step()

    compiled = torch.compile(train_step) if mode == "compiled" else train_step
    real_batch = torch.tensor(real, device=device)
    noise = torch.tensor(z, device=device)
    return BareLoop(lambda: compiled(real_batch, noise), G, D, device)


def flatten(real: np.ndarray) -> np.ndarray:
    return real.reshape(len(real), -1)


#: family -> (its module, the layout of a real batch in its networks)
FAMILIES = {"mlp_gan": (mlp_gan, flatten), "dcgan": (dcgan, layouts.nhwc_to_nchw)}


def bare_loop(model: str, config: FamilyConfig, real: np.ndarray, z: np.ndarray, mode: str,
              device: str = "cpu", seed: int = 0) -> BareLoop:
    """The family's loop; seeded as the adapter seeds, so both start from the same weights."""
    family, layout = FAMILIES[model]
    torch.manual_seed(seed)
    G, D = family.make_generator(config), family.make_discriminator(config)
    return bce_gan_loop(G, D, config, layout(real), z, mode, device)
