"""DCGAN (docs/models.md#dcgan): the framework-neutral spec both implementations build from.

32x32 images with one channel, width w (64 by default). G: z (latent) -> 4x4x4w -> 8x8x2w ->
16x16xw -> 32x32x1 with transposed convolutions; D mirrors it with strided convolutions down
to one logit. Every convolution has a 4x4 kernel and no bias; `g_layers` and `d_layers` are
docs/models.md's table, row by row, and both frameworks build their networks from them.

Canonical init (the DCGAN paper's, as pytorch/examples draws it): convolution weights
N(0, 0.02); BatchNorm gamma N(1, 0.02), beta 0; running mean 0, running variance 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from bench import initializers
from bench.adapter import FamilyConfig, require_choice, require_positive, require_positive_int
from bench.data import DataSpec
from bench.errors import UsageError
from implementations.spec.bce_gan import D_WON_LOSS

DATASETS = ("digits", "mnist")
IMAGE_SIZE = 32
CHANNELS = 1
KERNEL = 4
#: PyTorch's convention; Keras' momentum is 1 - this (docs/models.md#parity-pitfalls).
BN_MOMENTUM = 0.1
BN_EPSILON = 1e-5
INIT_STD = 0.02


class ConvLayer(NamedTuple):
    """One row of the DCGAN table (docs/models.md#dcgan): a 4x4 convolution, then optional BN
    and activation."""

    index: int  # the row number: weights are named conv{index}, bn{index}
    c_in: int
    c_out: int
    stride: int
    padding: int
    size_in: int
    size_out: int
    transposed: bool
    batch_norm: bool
    activation: str | None  # "relu", "leaky_relu" (slope 0.2), "tanh" or None (a logit)

    def conv_shape(self) -> tuple[int, int, int, int]:
        """PyTorch's weight layout: ConvTranspose2d (in, out, k, k), Conv2d (out, in, k, k)."""
        if self.transposed:
            return (self.c_in, self.c_out, KERNEL, KERNEL)
        return (self.c_out, self.c_in, KERNEL, KERNEL)

    def flops(self, batch: int) -> int:
        """Forward FLOPs; a weight gradient or an input gradient costs the same again.

        A convolution gathers k*k*c_in inputs for each output pixel; a transposed one scatters
        each input pixel to k*k*c_out outputs. Padded taps count (as in FlopCounterMode).
        """
        pixels = self.size_in**2 if self.transposed else self.size_out**2
        return 2 * batch * pixels * self.c_in * self.c_out * KERNEL * KERNEL


@dataclass(frozen=True)
class DCGANConfig(FamilyConfig):
    family = "dcgan"
    profiles = {
        "quick": {"width": 16},
        "standard": {},
        "full": {"dataset": "mnist"},
    }

    dataset: str = "digits"
    data_dir: str | None = None
    width: int = 64
    latent: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    eps: float = 1e-8
    d_steps: int = 1

    #: Bound on |loss difference| between the frameworks over a 50-step parity trajectory of
    #: the parity config. Training amplifies rounding chaotically: PyTorch against itself, from
    #: weights one float32 ulp apart, drifts by the same order (tests/test_parity.py).
    trajectory_tolerance: ClassVar[float] = 0.1
    quality_steps = {"quick": 150, "standard": 3000, "full": 20_000}
    convergence_data = {"standard": ("digits",), "full": ("digits",)}
    convergence_steps = {"standard": 2000, "full": 20_000}
    convergence_axes = ("lr", "beta1", "batch_size", "d_steps", "latent")
    d_won_loss = D_WON_LOSS

    def validate(self) -> None:
        super().validate()
        require_choice("dataset", self.dataset, DATASETS)
        require_positive_int("width", self.width)
        require_positive_int("latent", self.latent)
        require_positive("lr", self.lr)
        require_positive_int("d_steps", self.d_steps)

    def sample_shape(self) -> tuple[int, ...]:
        return (IMAGE_SIZE, IMAGE_SIZE, CHANNELS)

    def data_spec(self) -> DataSpec:
        return DataSpec(self.dataset, IMAGE_SIZE, self.data_dir)

    def load_data(self, seed: int = 0) -> np.ndarray:
        images = super().load_data(seed)
        if images.shape[1:] != self.sample_shape():
            raise UsageError(
                f"dataset {self.dataset!r} gives images of shape {images.shape[1:]}, DCGAN needs "
                f"{IMAGE_SIZE} x {IMAGE_SIZE} x {CHANNELS}; use one of {', '.join(DATASETS)}"
            )
        return images

    def parity_configs(self) -> dict[str, DCGANConfig]:
        # Every layer type appears at any width; a small one keeps the checks fast on a CPU.
        return {"w8": self.replace(width=8, batch_size=8)}

    def g_layers(self) -> list[ConvLayer]:
        w = self.width
        return [
            ConvLayer(1, self.latent, 4 * w, 1, 0, 1, 4, True, True, "relu"),
            ConvLayer(2, 4 * w, 2 * w, 2, 1, 4, 8, True, True, "relu"),
            ConvLayer(3, 2 * w, w, 2, 1, 8, 16, True, True, "relu"),
            ConvLayer(4, w, CHANNELS, 2, 1, 16, 32, True, False, "tanh"),
        ]

    def d_layers(self) -> list[ConvLayer]:
        w = self.width
        return [
            ConvLayer(1, CHANNELS, w, 2, 1, 32, 16, False, False, "leaky_relu"),
            ConvLayer(2, w, 2 * w, 2, 1, 16, 8, False, True, "leaky_relu"),
            ConvLayer(3, 2 * w, 4 * w, 2, 1, 8, 4, False, True, "leaky_relu"),
            ConvLayer(4, 4 * w, 1, 1, 0, 4, 1, False, False, None),
        ]

    def examples_per_step(self) -> int:
        return self.batch_size * self.d_steps

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        # One z per D step; the G step reuses the last D step's fake (docs/models.md#update-order).
        return {"z": (self.d_steps, self.batch_size, self.latent)}

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """PyTorch state_dict names and shapes, BatchNorm running statistics included."""
        shapes = {}
        for net, layers in (("G", self.g_layers()), ("D", self.d_layers())):
            for layer in layers:
                shapes[f"{net}.conv{layer.index}.weight"] = layer.conv_shape()
                if layer.batch_norm:
                    for stat in ("weight", "bias", "running_mean", "running_var"):
                        shapes[f"{net}.bn{layer.index}.{stat}"] = (layer.c_out,)
        return shapes

    def initial_weights(self, seed: int) -> dict[str, np.ndarray]:
        def rule(name: str) -> initializers.Rule:
            if ".conv" in name:
                return initializers.normal(0.0, INIT_STD)
            return {"weight": initializers.normal(1.0, INIT_STD),
                    "running_var": initializers.constant(1.0)}.get(
                name.rsplit(".", 1)[1], initializers.constant(0.0))

        return initializers.draw(self.weight_shapes(), rule, seed)

    def flops_per_step(self) -> int:
        """Convolution FLOPs of one iteration; BatchNorm and elementwise work are not counted.

        Per D step: G forward, D forward on real and on fake, D backward for weights and for
        every input but the data's (the fake is detached). The G step: D forward on the fake,
        D backward for inputs only, G backward for weights and for every input but z's.
        """
        b = self.batch_size

        def forward(layers: list[ConvLayer]) -> int:
            return sum(layer.flops(b) for layer in layers)

        g, d = forward(self.g_layers()), forward(self.d_layers())
        g_first, d_first = forward(self.g_layers()[:1]), forward(self.d_layers()[:1])
        d_step = g + 2 * d + 2 * d + 2 * (d - d_first)
        g_step = d + d + g + (g - g_first)
        return self.d_steps * d_step + g_step
