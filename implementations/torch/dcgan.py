"""DCGAN in PyTorch (docs/models.md#dcgan). Mirror of implementations/tf/dcgan.py.

forward() runs both networks in training mode (BatchNorm on batch statistics), as a training
step does, without touching the running statistics: those are not comparable across
frameworks (PyTorch keeps the unbiased running variance, Keras the biased one). sample() runs
G in eval mode, on the running statistics.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from bench import layouts
from implementations.spec.dcgan import (
    BN_EPSILON,
    BN_MOMENTUM,
    INIT_STD,
    KERNEL,
    ConvLayer,
    DCGANConfig,
)
from implementations.torch.bce_gan import BCEGANAdapter


def activation(layer: ConvLayer) -> nn.Module:
    return {
        "relu": nn.ReLU,
        "leaky_relu": partial(nn.LeakyReLU, 0.2),
        "tanh": nn.Tanh,
    }[layer.activation]()


def block(layer: ConvLayer) -> list[tuple[str, nn.Module]]:
    """One table row: conv{i}, then bn{i} and act{i} where the row has them."""
    conv_type = nn.ConvTranspose2d if layer.transposed else nn.Conv2d
    modules = [(f"conv{layer.index}", conv_type(layer.c_in, layer.c_out, KERNEL, layer.stride,
                                                layer.padding, bias=False))]
    if layer.batch_norm:
        modules.append((f"bn{layer.index}",
                        nn.BatchNorm2d(layer.c_out, eps=BN_EPSILON, momentum=BN_MOMENTUM)))
    if layer.activation is not None:
        modules.append((f"act{layer.index}", activation(layer)))
    return modules


def make_generator(cfg: DCGANConfig) -> nn.Sequential:
    return nn.Sequential(OrderedDict([
        ("reshape", nn.Unflatten(1, (cfg.latent, 1, 1))),
        *(module for layer in cfg.g_layers() for module in block(layer)),
    ])).apply(init_weights)


def make_discriminator(cfg: DCGANConfig) -> nn.Sequential:
    return nn.Sequential(OrderedDict([
        *(module for layer in cfg.d_layers() for module in block(layer)),
        ("flatten", nn.Flatten()),  # B x 1 x 1 x 1 -> B x 1 logits
    ])).apply(init_weights)


def init_weights(module: nn.Module) -> None:
    """DCGAN's init: conv weights N(0, 0.02); BN gamma N(1, 0.02), beta 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, INIT_STD)
        nn.init.zeros_(module.bias)


def stateless_call(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """net(x) in training mode with BatchNorm updating copies of its running statistics."""
    buffers = {name: value.clone() for name, value in net.named_buffers()}
    return functional_call(net, buffers, (x,))


class DCGANAdapter(BCEGANAdapter):
    family = "dcgan"

    def make_networks(self, config: DCGANConfig) -> tuple[nn.Module, nn.Module]:
        return make_generator(config), make_discriminator(config)

    def network_layout(self, batch: np.ndarray) -> np.ndarray:
        return layouts.nhwc_to_nchw(batch)

    @torch.no_grad()
    def forward(self, staged) -> dict[str, np.ndarray]:
        real, z = staged
        fake = stateless_call(self.G, z[0])
        return {
            "G(z)": layouts.nchw_to_nhwc(fake.cpu().numpy()),
            "D(x)": stateless_call(self.D, real[0]).cpu().numpy(),
            "D(G(z))": stateless_call(self.D, fake).cpu().numpy(),
        }

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent)).astype(np.float32)
        self.G.eval()
        try:
            out = self.G(self.to_device(z))
        finally:
            self.G.train()
        return layouts.nchw_to_nhwc(out.cpu().numpy())
