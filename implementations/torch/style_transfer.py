"""Neural style transfer in PyTorch (docs/models.md#style_transfer).

Mirror of implementations/tf/style_transfer.py. Not a GAN: a training step is one Adam step
of the image plus a clip to [0, 1], and a sample is the current image. Inside, images are NCHW
in [0, 1]; VGG19's features are torchvision's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench import layouts
from bench.errors import UsageError
from implementations.spec.style_transfer import (
    CONTENT_LAYER,
    IMAGENET_MEAN,
    IMAGENET_STD,
    STYLE_LAYERS,
    TAPS,
    StyleTransferConfig,
)
from implementations.torch.base import TorchAdapter

#: torchvision's file for VGG19_Weights.IMAGENET1K_V1, as torch.hub caches it.
VGG19_FILE = "vgg19-dcbb9e9d.pth"


def make_vgg(cfg: StyleTransferConfig) -> nn.Sequential:
    """torchvision's vgg19().features up to relu5_1, indexed the same (so are its weight names)."""
    modules = []
    for layer in cfg.vgg_layers():
        if layer.kind == "conv":
            modules.append(nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1))
        elif layer.kind == "relu":
            modules.append(nn.ReLU())
        else:
            modules.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*modules)


def normalize(image: torch.Tensor) -> torch.Tensor:
    mean = image.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = image.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (image - mean) / std


def vgg_taps(vgg: nn.Sequential, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Features at every tap (NCHW) of an image in [0, 1]."""
    index_to_name = {index: name for name, index in TAPS.items()}
    taps, x = {}, normalize(image)
    for index, module in enumerate(vgg):
        x = module(x)
        if index in index_to_name:
            taps[index_to_name[index]] = x
    return taps


def gram(features: torch.Tensor) -> torch.Tensor:
    """F^T F / (H * W) of one image's (1, C, H, W) features: a C x C matrix."""
    _, c, h, w = features.shape
    f = features.reshape(c, h * w)
    return f @ f.t() / (h * w)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    return dx.abs().sum() + dy.abs().sum()


def loss_terms(cfg: StyleTransferConfig, image: torch.Tensor, taps: dict[str, torch.Tensor],
               content_target: torch.Tensor,
               style_targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weighted content, style and TV terms and their sum (docs/models.md#style_transfer)."""
    content = cfg.content_weight * torch.mean((taps[CONTENT_LAYER] - content_target) ** 2)
    style_per_layer = [torch.mean((gram(taps[n]) - style_targets[n]) ** 2) for n in STYLE_LAYERS]
    style = cfg.style_weight * torch.stack(style_per_layer).mean()
    tv = cfg.tv_weight * total_variation(image)
    return {"loss_content": content, "loss_style": style, "loss_tv": tv,
            "loss_total": content + style + tv}


class StyleTransferAdapter(TorchAdapter):
    """Gatys style transfer behind the GAN contract: train_step is one Adam step of the image
    (then a clip to [0, 1]); sample returns the current image. The staged batch is the content
    image, whose relu4_2 features stage computes as the target (so stage after set_weights);
    set_weights recomputes the style targets, the style image's Gram matrices."""

    family = "style_transfer"

    def __init__(self, config: StyleTransferConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.vgg = make_vgg(config).to(self.torch_device).requires_grad_(False)
        self.image = nn.Parameter(torch.empty(config.weight_shapes()["image"],
                                              device=self.torch_device))
        self.set_weights(config.initial_weights())
        self.opt = self.adam([self.image], config.lr, (config.beta1, config.beta2), config.eps)
        self._step = self.compile_step(self._train_step)
        self._losses: dict[str, torch.Tensor] | None = None

    def networks(self) -> dict[str, nn.Module]:
        return {"features": self.vgg}

    def get_weights(self) -> dict[str, np.ndarray]:
        return {**super().get_weights(), "image": self.image.detach().cpu().numpy().copy()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        super().set_weights(weights)
        with torch.no_grad():
            self.image.copy_(torch.from_numpy(np.asarray(weights["image"])))
        self._refresh_style_targets()

    @torch.no_grad()
    def _refresh_style_targets(self) -> None:
        style = self.to_device(layouts.nhwc_to_nchw(self.config.style_image()[None]))
        taps = vgg_taps(self.vgg, style)
        self.style_targets = {name: gram(taps[name]) for name in STYLE_LAYERS}

    @torch.no_grad()
    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        """The content image (boundary format) -> its relu4_2 features, the content target."""
        content = self.to_device(layouts.nhwc_to_nchw(self.config.unit_content(batch)))
        return vgg_taps(self.vgg, content)[CONTENT_LAYER]

    def _train_step(self, content_target: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = loss_terms(self.config, self.image, vgg_taps(self.vgg, self.image),
                           content_target, self.style_targets)
        self.opt.zero_grad(set_to_none=True)
        terms["loss_total"].backward(inputs=[self.image])
        self.opt.step()
        with torch.no_grad():
            self.image.clamp_(0.0, 1.0)
        return {name: value.detach() for name, value in terms.items()}

    def train_step(self, staged) -> None:
        self._losses = self._step(staged)

    def losses(self) -> dict[str, float]:
        return {name: float(value) for name, value in self._losses.items()}

    @torch.no_grad()
    def forward(self, staged) -> dict[str, np.ndarray]:
        """Features (NHWC) at every tap and the loss terms, for the current image."""
        taps = vgg_taps(self.vgg, self.image)
        terms = loss_terms(self.config, self.image, taps, staged, self.style_targets)
        features = {name: layouts.nchw_to_nhwc(value.cpu().numpy()) for name, value in taps.items()}
        return {**features, **{name: value.cpu().numpy() for name, value in terms.items()}}

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> np.ndarray:
        """The current image, n times, in the boundary format; the seed changes nothing."""
        image = layouts.nchw_to_nhwc(self.image.cpu().numpy()) * 2.0 - 1.0
        return np.repeat(image, n, axis=0)

    def tags(self) -> dict[str, str]:
        return {"weights": self.config.weights_label()}


def export_vgg19_npz(source: str | os.PathLike | None, out_path: str | os.PathLike) -> Path:
    """torchvision's pretrained VGG19 -> the canonical .npz both frameworks load (vgg_weights).

    source: a .pth state dict, or None for torch hub's cache (TORCH_HOME); nothing is downloaded.
    Only the `features` prefix the style transfer uses is written, in torchvision's layout.
    """
    path = Path(source) if source is not None else hub_vgg19_path()
    if not path.is_file():
        raise UsageError(
            f"no VGG19 weights at {path}; put torchvision's {VGG19_FILE} there "
            f"(or pass its path): nothing is downloaded"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unpickling failure means the same thing to the user
        raise UsageError(f"{path}: not a loadable state dict ({error}); give torchvision's "
                         f"{VGG19_FILE}") from None
    if not isinstance(state, Mapping):
        raise UsageError(f"{path}: holds a {type(state).__name__}, not a state dict; give "
                         f"torchvision's {VGG19_FILE}")
    shapes = StyleTransferConfig().vgg_shapes()
    missing = [name for name in shapes if name not in state]
    if missing:
        raise UsageError(f"{path}: no {', '.join(missing[:3])}; give torchvision's VGG19 "
                         f"state dict ({VGG19_FILE})")
    weights = {name: state[name].float().numpy() for name in shapes}
    for name, shape in shapes.items():
        if weights[name].shape != shape:
            raise UsageError(f"{path}: {name} has shape {weights[name].shape}, not {shape}; "
                             "give torchvision's VGG19 (not VGG16 or a variant)")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        np.savez(f, **weights)
    return out


def hub_vgg19_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
