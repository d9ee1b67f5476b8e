"""PacGAN (docs/models.md#pacgan; Lin et al. 2018): the framework-neutral spec both
implementations build from. The reference for mode collapse on 2-D data (ring8, grid25).

G: z in R^2, N(0, I) -> 4 x [Linear w (no bias), BatchNorm, ReLU] -> Linear 2 (linear output).
D: a packed input of m samples, 2m values -> 3 x [Linear to units x pieces, maxout] -> Linear 1
(a logit). m, the packing degree, is `packing`; m = 1 is the plain GAN.

Maxout: the Linear's units * pieces outputs, in order, are viewed as (units, pieces) (output
k * pieces + p is piece p of unit k) and each unit keeps the max of its pieces. Both frameworks
reshape the same way (`maxout` below is the numpy reference), so a Linear's weights map 1:1
(Dense kernel = Linear weight transposed).

Packing (`pack`): a step's m * b samples are m groups of b (rows j*b .. j*b + b - 1 are group
j), and packed input i concatenates sample i of every group: [s_0[i], s_1[i], ..., s_{m-1}[i]].
Real: the step consumes m * b real points (examples_per_step) from the shuffled stream. Fake:
noise z of shape (m, b, 2); group j is G(z[j]), one G pass per group, so BatchNorm takes
its batch statistics over each group of b apart.

This is how the paper's code does it (github.com/fjxmlzn/PacGAN, read for this spec):
synthetic_data_experiments/PacGAN/pacgan/datasets.py (GaussianPackingMixture) draws the
100,000-point mixture once and stacks m independent resamplings of it side by side
(np.hstack), so a batch of 100 packed rows holds 100 * m real points;
synthetic_data_experiments/PacGAN/pacgan/bricks.py (PacGAN.compute_losses) runs the decoder
on each of the m noise batches apart and concatenates the outputs along the feature axis; and
synthetic_data_experiments/2DRing_GAN&PacGAN/pacgan_task.py (identical for 2DGrid) draws the m
noise batches with x.shape[0] = batch rows each, builds the decoder's hidden Linears with
use_bias=False (only the output Linear has a bias) and D from LinearMaxout(200, 5 pieces)
bricks; the configs (config.py) set 400 hidden units, lr 1e-4, beta1 0.8, batch 100, 400
epochs of 100,000 samples, packing 1 to 4, 10 runs each.

The step (`update`). "simultaneous", the default, is the paper's: its code trains with ALI's
`ali_algorithm` (IshmaelBelghazi/ALI, ali/algorithms.py), which takes D's gradient of D's loss
and G's gradient of G's loss from one forward pass at the same weights and applies both
updates together. "alternating" is gan-bench's order for every other family
(docs/models.md#update-order: a D step, then a G step through the updated D on the same fake).

BatchNorm, in either step, keeps its population statistics as the paper's code does (Blocks'
BatchNormalization, blocks/bricks/bn.py, and pacgan_task.py's merge of its updates): a
training pass normalises by the batch mean and the batch stdev sqrt(var + BN_EPSILON), var
the biased (1/n) variance; after each step the population mean and the population stdev move
toward the average of those batch statistics over the step's m G passes,
new = POPULATION_WEIGHT * batch + (1 - POPULATION_WEIGHT) * old (`blend_population`); eval
mode divides by the population stdev. The canonical weights name that stdev's square less
BN_EPSILON running_var, so a running variance v reads as in PyTorch: eval mode divides by
sqrt(v + BN_EPSILON).

Where gan-bench still differs from the paper's code, and why:
(1) the population stdev starts at sqrt(1 + BN_EPSILON), not 1: running_var starts at 1, as
every BatchNorm's canonical init does; the difference, 5e-5 relative, decays by 0.95 a step;
(2) D sees the real and the fake packed inputs in two passes, not one pass over both
concatenated: D has no BatchNorm, so the values are the same;
(3) the reported loss_g is BCE(D(fake), 1), where the paper's code adds softplus(D(real)), a
term with no gradient for G: the losses stay comparable with the other families';
(4) real points come from the shuffled stream without replacement within an epoch, not from
m resamplings with replacement (the same distribution of packed inputs up to that).

Canonical init (the paper's): every Linear weight N(0, 0.02), every bias 0; BatchNorm gamma 1,
beta 0, running mean 0, running variance 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from bench import initializers
from bench.adapter import FamilyConfig, require_choice, require_positive, require_positive_int
from bench.data import POINT_DATASETS, DataSpec
from implementations.spec.bce_gan import D_WON_LOSS

DATASETS = POINT_DATASETS
Z_DIM = 2
X_DIM = 2
#: The paper's BatchNorm (Blocks' default): added to the batch variance under the root.
BN_EPSILON = 1e-4
#: The weight of a step's batch statistics in the population statistics (the paper's code).
POPULATION_WEIGHT = 0.05
UPDATES = ("simultaneous", "alternating")
INIT_STD = 0.02


class Linear(NamedTuple):
    """One Linear of the PacGAN table (docs/models.md#pacgan), fc{index}, and what follows it."""

    index: int
    fan_in: int
    fan_out: int  # the Linear's outputs: units * pieces where a maxout follows
    after: str  # "batch_norm" (BatchNorm then ReLU; the Linear has no bias), "maxout", or ""

    @property
    def bias(self) -> bool:
        return self.after != "batch_norm"

    def flops(self, batch: int) -> int:
        """Forward FLOPs; a weight gradient or an input gradient costs the same again."""
        return 2 * batch * self.fan_in * self.fan_out


def pack(samples: np.ndarray, packing: int) -> np.ndarray:
    """m * b samples (m groups of b, in order) -> b packed inputs of m * d values each."""
    n, d = samples.shape
    return samples.reshape(packing, n // packing, d).transpose(1, 0, 2).reshape(
        n // packing, packing * d)


def blend_population(mean: np.ndarray, var: np.ndarray, batch_means: np.ndarray,
                     batch_vars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numpy reference of the population update: (running_mean, running_var) after a step
    whose m G passes had these batch means and biased variances (m rows each)."""
    stdev = np.sqrt(var + BN_EPSILON)
    batch_stdev = np.sqrt(batch_vars + BN_EPSILON).mean(axis=0)
    new_stdev = POPULATION_WEIGHT * batch_stdev + (1 - POPULATION_WEIGHT) * stdev
    new_mean = POPULATION_WEIGHT * batch_means.mean(axis=0) + (1 - POPULATION_WEIGHT) * mean
    return new_mean, new_stdev**2 - BN_EPSILON


def maxout(x: np.ndarray, units: int, pieces: int) -> np.ndarray:
    """The numpy reference of the frameworks' maxout: (n, units * pieces) -> (n, units)."""
    return x.reshape(len(x), units, pieces).max(axis=-1)


@dataclass(frozen=True)
class PacGANConfig(FamilyConfig):
    family = "pacgan"
    profiles = {
        "quick": {"width": 64, "maxout_units": 32},
        "standard": {},
        "full": {},
    }
    # The frameworks drift apart by float32 reassociation (`gan-bench parity --models pacgan
    # --trajectory 50`); the bound is far above that and far below the losses themselves.
    trajectory_tolerance: ClassVar[float] = 1e-3
    # Evaluated as the paper does, on 2,500 samples. The full budget is the paper's, 400
    # epochs of 100,000 points (400,000 steps of 100; 10 seeds with --seeds 10: a run for
    # Ray); standard's 8,000 steps for m = 1, 2 on ring8 and grid25, 3 seeds per framework:
    # about an hour and a half on 2 cores (docs/measurements.md has the run).
    quality_steps = {"quick": 500, "standard": 8000, "full": 400_000}
    quality_eval_every = {"quick": 100, "standard": 1000, "full": 20_000}
    quality_samples = 2500
    d_won_loss = D_WON_LOSS

    dataset: str = "ring8"
    packing: int = 1
    width: int = 400
    maxout_units: int = 200
    maxout_pieces: int = 5
    lr: float = 1e-4
    beta1: float = 0.8
    beta2: float = 0.999
    eps: float = 1e-8
    batch_size: int = 100
    update: str = "simultaneous"  # UPDATES: the paper's step, or gan-bench's D then G

    def validate(self) -> None:
        super().validate()
        require_choice("dataset", self.dataset, DATASETS)
        require_choice("update", self.update, UPDATES)
        require_positive_int("packing", self.packing)
        require_positive_int("width", self.width)
        require_positive_int("maxout_units", self.maxout_units)
        require_positive_int("maxout_pieces", self.maxout_pieces)
        require_positive("lr", self.lr)

    @property
    def d_input(self) -> int:
        """D's input: m samples of 2 values each."""
        return self.packing * X_DIM

    def sample_shape(self) -> tuple[int, ...]:
        return (X_DIM,)

    def data_spec(self) -> DataSpec:
        return DataSpec(self.dataset)

    def throughput_variants(self) -> dict[str, dict]:
        return {"m1": {"packing": 1}, "m2": {"packing": 2}}

    def parity_configs(self) -> dict[str, PacGANConfig]:
        return {"ring8-m1": self.replace(dataset="ring8", packing=1),
                "grid25-m2": self.replace(dataset="grid25", packing=2)}

    def g_layers(self) -> list[Linear]:
        w = self.width
        return [Linear(1, Z_DIM, w, "batch_norm"), Linear(2, w, w, "batch_norm"),
                Linear(3, w, w, "batch_norm"), Linear(4, w, w, "batch_norm"),
                Linear(5, w, X_DIM, "")]

    def d_layers(self) -> list[Linear]:
        k, p = self.maxout_units, self.maxout_pieces
        return [Linear(1, self.d_input, k * p, "maxout"), Linear(2, k, k * p, "maxout"),
                Linear(3, k, k * p, "maxout"), Linear(4, k, 1, "")]

    def examples_per_step(self) -> int:
        return self.batch_size * self.packing

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        # One noise batch per packed slot: group j of the fakes is G(z[j]).
        return {"z": (self.packing, self.batch_size, Z_DIM)}

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """PyTorch state_dict names and shapes, BatchNorm running statistics included."""
        shapes = {}
        for net, layers in (("G", self.g_layers()), ("D", self.d_layers())):
            for layer in layers:
                shapes[f"{net}.fc{layer.index}.weight"] = (layer.fan_out, layer.fan_in)
                if layer.bias:
                    shapes[f"{net}.fc{layer.index}.bias"] = (layer.fan_out,)
                else:
                    for stat in ("weight", "bias", "running_mean", "running_var"):
                        shapes[f"{net}.bn{layer.index}.{stat}"] = (layer.fan_out,)
        return shapes

    def initial_weights(self, seed: int) -> dict[str, np.ndarray]:
        def rule(name: str) -> initializers.Rule:
            if ".fc" in name and name.endswith(".weight"):
                return initializers.normal(0.0, INIT_STD)
            if (".bn" in name and name.endswith(".weight")) or name.endswith(".running_var"):
                return initializers.constant(1.0)  # BatchNorm gamma and running variance
            return initializers.constant(0.0)  # biases, BatchNorm beta and running mean

        return initializers.draw(self.weight_shapes(), rule, seed)

    def flops_per_step(self) -> int:
        """Matrix-product FLOPs of one iteration; BatchNorm, maxout and elementwise work are not
        counted.

        G runs on m groups of b (its FLOPs are those of a batch of m * b), D on b packed inputs
        of 2m values. Alternating: the D step is G forward, D forward on real and on fake, D
        backward for weights and for every input but the data's (the fake is detached); the G
        step is D forward on the fake, D backward for inputs only, G backward for weights and
        for every input but z's. Simultaneous: one G forward and one D forward on real and
        fake serve both; then D's loss back through D for weights and every input but its
        own, G's loss back through D for inputs only, and G's backward.
        """
        b, m = self.batch_size, self.packing

        def forward(layers: list[Linear], batch: int) -> int:
            return sum(layer.flops(batch) for layer in layers)

        g, d = forward(self.g_layers(), m * b), forward(self.d_layers(), b)
        g_first, d_first = forward(self.g_layers()[:1], m * b), forward(self.d_layers()[:1], b)
        if self.update == "simultaneous":
            return g + 2 * d + 2 * d + 2 * (d - d_first) + d + g + (g - g_first)
        d_step = g + 2 * d + 2 * d + 2 * (d - d_first)
        g_step = d + d + g + (g - g_first)
        return d_step + g_step
