"""The affine GAN's framework-neutral spec: what both adapters build from.

G: z (latent) -> 2, one Linear layer, no activation; D: 2 -> 1, one Linear layer (a logit).
Weights in the canonical (PyTorch) layout: G.fc.weight (2, latent), G.fc.bias (2,),
D.fc.weight (1, 2), D.fc.bias (1,). Canonical init: PyTorch's default for Linear layers,
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench import initializers
from bench.adapter import FamilyConfig, require_choice, require_positive, require_positive_int
from bench.data import POINT_DATASETS, DataSpec
from implementations.spec.bce_gan import D_WON_LOSS

POINT_DIM = 2


@dataclass(frozen=True)
class AffineGANConfig(FamilyConfig):
    family = "affine_gan"
    profiles = {
        "quick": {"batch_size": 32},
        "standard": {},
        "full": {"batch_size": 256, "dataset": "grid25"},
    }
    # What it can do, declared here alone: the quality suites and a quick convergence study on
    # ring8 run it without an edit in gan-bench's suites.
    quality_steps = {"quick": 200, "standard": 3000, "full": 20_000}
    convergence_data = {"quick": ("ring8",)}
    convergence_steps = {"quick": 200}
    convergence_axes = ("lr", "beta1", "latent")
    d_won_loss = D_WON_LOSS

    dataset: str = "ring8"
    latent: int = 2
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    eps: float = 1e-8
    d_steps: int = 1  # the built-in BCE iteration's D updates per G update

    def validate(self) -> None:
        super().validate()
        require_choice("dataset", self.dataset, POINT_DATASETS)
        require_positive_int("latent", self.latent)
        require_positive("lr", self.lr)
        require_positive_int("d_steps", self.d_steps)

    def data_spec(self) -> DataSpec:
        return DataSpec(self.dataset)

    def sample_shape(self) -> tuple[int, ...]:
        return (POINT_DIM,)

    def examples_per_step(self) -> int:
        return self.batch_size * self.d_steps

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"z": (self.d_steps, self.batch_size, self.latent)}

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            "G.fc.weight": (POINT_DIM, self.latent), "G.fc.bias": (POINT_DIM,),
            "D.fc.weight": (1, POINT_DIM), "D.fc.bias": (1,),
        }

    def initial_weights(self, seed: int) -> dict[str, np.ndarray]:
        shapes = self.weight_shapes()
        return initializers.draw(shapes, initializers.fan_in_uniform(shapes), seed)

    def flops_per_step(self) -> int:
        """Matrix-product FLOPs of one iteration, counted as the MLP GAN's spec counts them.

        Per D step: G forward, D forward and weight gradient on real and on fake (no input
        gradient: the data and the detached fake need none). The G step: D forward on the
        fake, D's input gradient, G's weight gradient (z needs none).
        """
        g = 2 * self.batch_size * self.latent * POINT_DIM
        d = 2 * self.batch_size * POINT_DIM
        return self.d_steps * (g + 4 * d) + 2 * d + g
