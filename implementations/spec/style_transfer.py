"""Neural style transfer (Gatys et al., docs/models.md#style_transfer): the framework-neutral spec.

Not a GAN: nothing learns a distribution. One image, started from the content image, is
optimised so that its VGG19 features match the content image's (relu4_2) and its Gram
matrices match the style image's (relu1_1 ... relu5_1). The harness' words keep their shape:
a training step is one Adam step of the image followed by a clip to [0, 1], and a sample is
the current image.

The network is the convolutional prefix of torchvision's VGG19 (`features` indices 0..29,
up to relu5_1), with one weight set for both frameworks: torchvision's pretrained weights
exported to an .npz, or seeded random weights drawn here in numpy so both frameworks get the
same arrays without any transfer. Every record says which (`weights_label`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bench import images, layouts
from bench.adapter import FamilyConfig, require_positive, require_positive_int
from bench.errors import UsageError

#: torchvision's VGG19 ("E") up to conv5_1, channels in units of width (64 for VGG19);
#: "M" is a 2x2 max pool. Each number is a 3x3 conv followed by a ReLU.
VGG19_PREFIX = (1, 1, "M", 2, 2, "M", 4, 4, 4, 4, "M", 8, 8, 8, 8, "M", 8)
#: tap name -> index in torchvision's `features` (outputs of ReLUs), in network order.
TAPS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22, "relu5_1": 29}
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_WIDTH = 64


class VGGLayer(NamedTuple):
    """One entry of torchvision's `features`: kind 'conv', 'relu' or 'pool'."""

    index: int
    kind: str
    in_channels: int
    out_channels: int
    side: int  # spatial side of the layer's input


@dataclass(frozen=True)
class StyleTransferConfig(FamilyConfig):
    family = "style_transfer"
    generates_distribution = False
    batch_sweep = False  # one image is optimised
    #: |loss_torch - loss_tf| over parity's 50-step trajectory at the quick profile: about 1% of
    #: the first total loss (17,515). The path is chaotic at the float32 level (L1 TV's kinks at
    #: neighbours the uint8 content image made equal, ReLU and max-pool kinks, Adam's near-sign
    #: steps): PyTorch against itself, from a start image moved by 1e-7, drifts by the same
    #: order as the two frameworks do.
    trajectory_tolerance = 200.0
    profiles = {
        "quick": {"width": 16, "size": 32},
        "standard": {},
        "full": {},
    }

    batch_size: int = 1
    content: str | None = None  # None: scikit-learn's china.jpg
    style: str | None = None  # None: scikit-learn's flower.jpg
    size: int = 64
    width: int = VGG19_WIDTH  # channels of VGG's first block; pretrained weights need 64
    vgg_weights: str | None = None  # canonical .npz (export_vgg19_npz); None: random weights
    weight_seed: int = 0
    lr: float = 0.02
    beta1: float = 0.99
    beta2: float = 0.999
    eps: float = 0.1
    content_weight: float = 1e4
    style_weight: float = 1e-2
    tv_weight: float = 30.0

    def validate(self) -> None:
        super().validate()
        if self.batch_size != 1:
            raise UsageError(f"style transfer optimises one image: batch_size must be 1, "
                             f"got {self.batch_size!r}")
        require_positive_int("size", self.size)
        if self.size < images.MIN_SIDE:
            raise UsageError(f"size must be at least {images.MIN_SIDE} (VGG19 pools 4 times "
                             f"before relu5_1), got {self.size}")
        require_positive_int("width", self.width)
        if self.vgg_weights is not None and self.width != VGG19_WIDTH:
            raise UsageError(f"vgg_weights needs width {VGG19_WIDTH} (VGG19's own), got "
                             f"{self.width}; drop width or vgg_weights")
        if isinstance(self.weight_seed, bool) or not isinstance(self.weight_seed, int) \
                or self.weight_seed < 0:
            raise UsageError(f"weight_seed must be a non-negative integer, got "
                             f"{self.weight_seed!r}")
        for name in ("lr", "eps", "content_weight", "style_weight", "tv_weight"):
            require_positive(name, getattr(self, name))

    # --- images ---

    def content_image(self) -> np.ndarray:
        """size x size x 3 float32 in [0, 1]."""
        return images.load_image_or_sample(self.content, images.DEFAULT_CONTENT, self.size)

    def style_image(self) -> np.ndarray:
        return images.load_image_or_sample(self.style, images.DEFAULT_STYLE, self.size)

    def load_data(self, seed: int = 0) -> np.ndarray:
        """The content image as a (1, H, W, 3) batch in [-1, 1]; the seed changes nothing."""
        return self.content_image()[None] * 2.0 - 1.0

    def sample_shape(self) -> tuple[int, ...]:
        return (self.size, self.size, 3)

    def unit_content(self, batch: np.ndarray) -> np.ndarray:
        """A staged content batch (boundary format, from load_data) mapped back to [0, 1]."""
        expected = (1, *self.sample_shape())
        if tuple(np.shape(batch)) != expected:
            raise UsageError(f"style transfer stages the content image as {expected}, got "
                             f"{tuple(np.shape(batch))}; stage StyleTransferConfig.load_data()")
        return ((np.asarray(batch, np.float32) + 1.0) / 2.0).astype(np.float32)

    def initial_image(self) -> np.ndarray:
        """The optimised image's start, (1, H, W, 3) in [0, 1]: the content image, through the
        same [-1, 1] round trip as the staged content, so the first content loss is exactly 0."""
        return self.unit_content(self.load_data())

    # --- network ---

    def vgg_layers(self) -> list[VGGLayer]:
        """torchvision's `features` up to the last tap (relu5_1, index 29), indexed as there."""
        layers, channels, side = [], 3, self.size
        for entry in VGG19_PREFIX:
            if entry == "M":
                layers.append(VGGLayer(len(layers), "pool", channels, channels, side))
                side //= 2
                continue
            out = entry * self.width
            layers.append(VGGLayer(len(layers), "conv", channels, out, side))
            layers.append(VGGLayer(len(layers), "relu", out, out, side))
            channels = out
        return layers

    def conv_layers(self) -> list[VGGLayer]:
        return [layer for layer in self.vgg_layers() if layer.kind == "conv"]

    def tap_channels(self) -> dict[str, tuple[int, int]]:
        """Tap name -> (channels, spatial side) of its features."""
        layers = self.vgg_layers()
        return {name: (layers[i].out_channels, layers[i].side) for name, i in TAPS.items()}

    def vgg_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        for conv in self.conv_layers():
            shapes[f"features.{conv.index}.weight"] = (conv.out_channels, conv.in_channels, 3, 3)
            shapes[f"features.{conv.index}.bias"] = (conv.out_channels,)
        return shapes

    def vgg_state(self) -> dict[str, np.ndarray]:
        """The VGG weights both frameworks load: from the .npz, or random from weight_seed."""
        if self.vgg_weights is None:
            return random_vgg_weights(self.vgg_shapes(), self.weight_seed)
        return load_vgg_npz(self.vgg_weights, self.vgg_shapes())

    def initial_weights(self, seed: int = 0) -> dict[str, np.ndarray]:
        """What an adapter starts from, in the canonical layout: VGG and the content image. The
        same for every seed: VGG's random weights come from weight_seed, the image is the
        content's, and the step draws no noise."""
        return {**self.vgg_state(), "image": layouts.nhwc_to_nchw(self.initial_image())}

    def weights_label(self) -> str:
        """Which VGG weights a record was measured with."""
        if self.vgg_weights is None:
            return f"random-seed-{self.weight_seed}"
        return Path(self.vgg_weights).name

    # --- the contract ---

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}  # no random input: the step is deterministic

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """The frozen VGG weights (torchvision names) and the optimised image, (1, 3, H, W)."""
        return {**self.vgg_shapes(), "image": (1, 3, self.size, self.size)}

    def trainable_names(self) -> list[str]:
        """Only the image is optimised: VGG is a fixed feature extractor, so param_count is the
        image's pixel count (3 * size * size), though get/set_weights carry VGG's weights too."""
        return ["image"]

    def flops_per_step(self) -> int:
        """Convolution and matrix-product FLOPs of one Adam step of the image.

        Forward: every conv of the VGG prefix and the Gram matrix F^T F of each style layer.
        Backward: input gradients only (VGG is frozen, so no weight gradients), which for a 3x3
        stride-1 conv cost as much as its forward; a Gram's backward is two matrix products
        (one per operand, both being F). The content and style targets are computed outside
        the step (stage, construction), and elementwise work is not counted.
        """
        conv = sum(2 * 9 * c.in_channels * c.out_channels * c.side**2 for c in self.conv_layers())
        taps = self.tap_channels()
        gram = sum(2 * taps[n][0] ** 2 * taps[n][1] ** 2 for n in STYLE_LAYERS)
        return 2 * conv + 3 * gram


def random_vgg_weights(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """He-normal conv weights (std sqrt(2 / fan_in)) and zero biases, drawn in numpy."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in shapes.items():
        if name.endswith(".bias"):
            weights[name] = np.zeros(shape, np.float32)
        else:
            std = math.sqrt(2.0 / math.prod(shape[1:]))
            weights[name] = (rng.standard_normal(shape) * std).astype(np.float32)
    return weights


def load_vgg_npz(path: str | os.PathLike,
                 shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """VGG weights from a canonical .npz; keys beyond the prefix (e.g. classifier.*) are ignored."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such VGG weights file; write one with "
                         "implementations.torch.style_transfer.export_vgg19_npz")
    try:
        with np.load(path) as archive:
            missing = [name for name in shapes if name not in archive.files]
            if missing:
                raise UsageError(f"{path}: missing {', '.join(missing[:3])}; export the file "
                                 "from torchvision's VGG19 with export_vgg19_npz")
            weights = {name: archive[name].astype(np.float32) for name in shapes}
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: not a readable .npz ({error}); export it again") from None
    for name, shape in shapes.items():
        if weights[name].shape != shape:
            raise UsageError(f"{path}: {name} has shape {weights[name].shape}, VGG19 needs "
                             f"{shape}; export it from torchvision's VGG19")
    return weights


def gram_numpy(features: np.ndarray) -> np.ndarray:
    """The Gram matrix F^T F / (H * W) of one image's (1, H, W, C) features, in float64."""
    _, h, w, c = features.shape
    f = features.reshape(h * w, c).astype(np.float64)
    return f.T @ f / (h * w)


def loss_terms_numpy(cfg: StyleTransferConfig, image: np.ndarray, taps: dict[str, np.ndarray],
                     content_target: np.ndarray,
                     style_targets: dict[str, np.ndarray]) -> dict[str, float]:
    """The loss in float64 numpy from NHWC arrays: the reference both frameworks are tested on."""
    content = np.mean((taps[CONTENT_LAYER].astype(np.float64) - content_target) ** 2)
    style = np.mean([np.mean((gram_numpy(taps[n]) - style_targets[n]) ** 2)
                     for n in STYLE_LAYERS])
    x = image.astype(np.float64)
    tv = np.abs(np.diff(x, axis=1)).sum() + np.abs(np.diff(x, axis=2)).sum()
    terms = {"loss_content": cfg.content_weight * content, "loss_style": cfg.style_weight * style,
             "loss_tv": cfg.tv_weight * tv}
    return {**terms, "loss_total": sum(terms.values())}
