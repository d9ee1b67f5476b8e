"""MLP GAN (docs/models.md#mlp_gan): the framework-neutral spec both implementations build from.

Two variants share one network shape: 28x28 images flattened to 784 (digits or MNIST), and
2-D points (ring8, grid25). G: z -> w -> 2w -> out; D: in -> 2w -> w -> 1 (a logit).

Canonical init (pytorch/examples' default for Linear layers): every weight and bias
U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench import initializers
from bench.adapter import FamilyConfig, require_choice, require_positive, require_positive_int
from bench.data import POINT_DATASETS, DataSpec
from implementations.spec.bce_gan import D_WON_LOSS

DATASETS = ("digits", "mnist") + POINT_DATASETS
IMAGE_SIZE = 28


@dataclass(frozen=True)
class MLPGANConfig(FamilyConfig):
    family = "mlp_gan"
    profiles = {
        "quick": {"width": 64},
        "standard": {},
        "full": {"dataset": "mnist"},
    }
    # The frameworks drift apart by float32 reassociation amplified by training; a bound far
    # above that still fails a wrong eps, slope or update order within a few steps.
    trajectory_tolerance = 1e-3
    quality_steps = {"quick": 300, "standard": 5000, "full": 30_000}
    # quick: 2,000 steps take ring8 from a blurry ring to its modes.
    convergence_data = {"quick": ("ring8", "digits"), "standard": ("ring8", "digits"),
                        "full": ("ring8", "grid25", "digits")}
    convergence_steps = {"quick": 2000, "standard": 5000, "full": 30_000}
    convergence_axes = ("lr", "beta1", "batch_size", "d_steps", "latent")
    d_won_loss = D_WON_LOSS

    dataset: str = "digits"
    data_dir: str | None = None
    width: int = 256
    latent: int = 0  # 0: the variant's default, 100 for images and 2 for points
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    eps: float = 1e-8
    d_steps: int = 1

    def validate(self) -> None:
        super().validate()
        require_choice("dataset", self.dataset, DATASETS)
        require_positive_int("width", self.width)
        if self.latent != 0:
            require_positive_int("latent", self.latent)
        require_positive("lr", self.lr)
        require_positive_int("d_steps", self.d_steps)

    @property
    def points(self) -> bool:
        return self.dataset in POINT_DATASETS

    @property
    def z_dim(self) -> int:
        return self.latent or (2 if self.points else 100)

    @property
    def x_dim(self) -> int:
        return 2 if self.points else IMAGE_SIZE * IMAGE_SIZE

    def sample_shape(self) -> tuple[int, ...]:
        """One sample at the numpy boundary: a point, or an NHWC image."""
        return (2,) if self.points else (IMAGE_SIZE, IMAGE_SIZE, 1)

    def data_spec(self) -> DataSpec:
        return DataSpec(self.dataset, IMAGE_SIZE, self.data_dir)

    def throughput_variants(self) -> dict[str, dict]:
        return {"images": {}, "points": {"dataset": "ring8"}}

    def parity_configs(self) -> dict[str, MLPGANConfig]:
        return {"points": self.replace(dataset="ring8"), "images": self.replace(dataset="digits")}

    def g_layers(self) -> list[tuple[str, int, int]]:
        w = self.width
        return [("fc1", self.z_dim, w), ("fc2", w, 2 * w), ("fc3", 2 * w, self.x_dim)]

    def d_layers(self) -> list[tuple[str, int, int]]:
        w = self.width
        return [("fc1", self.x_dim, 2 * w), ("fc2", 2 * w, w), ("fc3", w, 1)]

    def examples_per_step(self) -> int:
        return self.batch_size * self.d_steps

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        # One z per D step; the G step reuses the last D step's fake (docs/models.md#update-order).
        return {"z": (self.d_steps, self.batch_size, self.z_dim)}

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        for net, layers in (("G", self.g_layers()), ("D", self.d_layers())):
            for name, fan_in, fan_out in layers:
                shapes[f"{net}.{name}.weight"] = (fan_out, fan_in)
                shapes[f"{net}.{name}.bias"] = (fan_out,)
        return shapes

    def initial_weights(self, seed: int) -> dict[str, np.ndarray]:
        shapes = self.weight_shapes()
        return initializers.draw(shapes, initializers.fan_in_uniform(shapes), seed)

    def flops_per_step(self) -> int:
        """Matrix-product FLOPs of one iteration; elementwise work is not counted.

        Per D step: G forward, D forward on real and on fake, D backward for weights and for
        every input but the data's. The G step: D forward on the fake, D backward for inputs
        only, G backward for weights and for every input but z's.
        """
        b = self.batch_size

        def forward(layers: list[tuple[str, int, int]]) -> int:
            return sum(2 * b * i * o for _, i, o in layers)

        g, d = forward(self.g_layers()), forward(self.d_layers())
        g_first, d_first = forward(self.g_layers()[:1]), forward(self.d_layers()[:1])
        d_step = g + 2 * d + 2 * d + 2 * (d - d_first)
        g_step = d + d + g + (g - g_first)
        return self.d_steps * d_step + g_step
