"""Progressive GAN (docs/models.md#progan): the framework-neutral spec both implementations build.

The networks grow 4x4 -> 8 -> 16 -> 32. Every block exists from the start (so get/set_weights
always covers every weight of every phase); a phase decides which blocks run. A phase is a
resolution r and a fade-in weight alpha: at alpha < 1 the new block at r is blended with the
previous resolution's output (G) or input path (D); at alpha = 1 only the new path runs.

The schedule, per resolution: a fade phase (alpha rising linearly from 0 over `fade_images`
real images), then a stabilise phase (alpha = 1 for `stable_images`); 4x4 only stabilises.
With `grow=False` the network stays at (`phase_resolution`, `alpha`): throughput is measured per
phase that way (`phase_configs`), and so are the parity checks.

Canonical init (equalised learning rate): every weight N(0, 1), stored unscaled (the layers
multiply by their gain at run time), every bias 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench import initializers
from bench.adapter import FamilyConfig, require_choice, require_positive, require_positive_int
from bench.data import DataSpec, average_pool, upsample_nearest
from bench.errors import UsageError

DATASETS = ("digits", "mnist")
RESOLUTIONS = (4, 8, 16, 32)  # the data is loaded at the target resolution, 32 at most
MBSTD_GROUP = 4
PARITY_ALPHAS = (0.0, 0.5, 1.0)


@dataclass(frozen=True)
class Layer:
    """One matrix product of a network at a phase: its forward FLOPs and its place in the graph."""

    flops: int
    reads_input: bool = False  # reads the image (or z): only the penalty needs its input grad
    before_mbstd: bool = False  # D only: the minibatch stddev has a second derivative


@dataclass(frozen=True)
class Phase:
    resolution: int
    fading: bool
    images: int


@dataclass(frozen=True)
class ProGANConfig(FamilyConfig):
    family = "progan"
    profiles = {
        "quick": {"channels": 16, "fade_images": 512, "stable_images": 512,
                  "time_every_phase": False},
        "standard": {},
        # Wider, with phases of 200,000 images: a GPU run.
        "full": {"channels": 128, "fade_images": 200_000, "stable_images": 200_000},
    }
    # The quick schedule reaches 32x32 after 56 steps (fade/stable 512 images); standard's
    # training ends with its schedule, 7 phases of 500 steps, evaluated 4 times a phase.
    quality_steps = {"quick": 200, "standard": 3500, "full": 40_000}
    quality_eval_every = {"standard": 125}
    convergence_data = {"standard": ("digits",), "full": ("digits",)}
    convergence_steps = {"standard": 3500, "full": 40_000}
    # No d_steps (one critic step per G step); gp_weight: a WGAN-GP. Its critic's loss cannot
    # say that D won, so d_won_loss stays None.
    convergence_axes = ("lr", "beta1", "batch_size", "latent", "gp_weight")

    dataset: str = "digits"
    data_dir: str | None = None
    # standard: a growing job fits on one CPU core, 500 steps of 64 per phase
    # (docs/measurements.md has the step costs it was chosen from).
    channels: int = 32
    latent: int = 128
    resolution: int = 32  # the target: the schedule ends here
    #: Samples come from a batch of another size than the forward check's, and at 32x32 each
    #: sample passes eight 3x3 convolutions, each followed by a pixel norm: CPU libraries sum a
    #: convolution in an order that depends on the batch and the threads, so samples differ by
    #: more than the forward outputs do, within one framework alike (a batch of 1 against 4:
    #: bench/testing/test_contract.py's SAMPLE_BATCH_ATOL).
    sample_tolerance: ClassVar[float] = 1e-4
    fade_images: int = 32_000
    stable_images: int = 32_000
    grow: bool = True  # False pins the network at (phase_resolution, alpha)
    phase_resolution: int = 4  # where training starts (grow) or stays (not grow)
    alpha: float = 1.0
    #: Throughput times each phase of the schedule; without, only its ends: the first phase
    #: and the target resolution's fade and stable phases (the quick profile's budget).
    time_every_phase: bool = True
    gp_weight: float = 10.0
    drift: float = 0.001
    lr: float = 1e-3
    beta1: float = 0.0
    beta2: float = 0.99
    eps: float = 1e-8

    def validate(self) -> None:
        super().validate()
        require_choice("dataset", self.dataset, DATASETS)
        require_positive_int("channels", self.channels)
        require_positive_int("latent", self.latent)
        if self.resolution not in RESOLUTIONS:
            raise UsageError(
                f"resolution must be a power of two from 4 to {RESOLUTIONS[-1]} (the data's "
                f"size), got {self.resolution!r}"
            )
        for name in ("fade_images", "stable_images"):
            require_phase_length(name, getattr(self, name))
        self.check_phase(self.phase_resolution, self.alpha)
        if self.batch_size > MBSTD_GROUP and self.batch_size % MBSTD_GROUP:
            raise UsageError(
                f"batch_size must be a multiple of {MBSTD_GROUP} (the minibatch-stddev group), "
                f"got {self.batch_size}"
            )
        require_in_range("gp_weight", self.gp_weight, 0, float("inf"))
        require_in_range("drift", self.drift, 0, float("inf"))
        require_in_range("beta1", self.beta1, 0, 1)
        require_in_range("beta2", self.beta2, 0, 1)
        require_positive("lr", self.lr)
        require_positive("eps", self.eps)

    def check_phase(self, resolution: int, alpha: float) -> None:
        """Raise UsageError unless (resolution, alpha) is a phase of this network."""
        if resolution not in self.resolutions():
            raise UsageError(
                f"phase resolution must be one of {', '.join(map(str, self.resolutions()))} "
                f"(up to the target resolution {self.resolution}), got {resolution!r}"
            )
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise UsageError(f"alpha must be a number from 0 to 1, got {alpha!r}")
        if resolution == RESOLUTIONS[0] and alpha != 1:
            raise UsageError(f"alpha must be 1 at {resolution}x{resolution}: the first block "
                             f"has no fade-in, got {alpha!r}")

    # --- shapes ---

    def resolutions(self) -> tuple[int, ...]:
        """The network's resolutions, 4 up to the target."""
        return tuple(r for r in RESOLUTIONS if r <= self.resolution)

    def sample_shape(self) -> tuple[int, int, int]:
        """Samples leave at the target resolution (earlier phases are upsampled, nearest)."""
        return (self.resolution, self.resolution, 1)

    def data_spec(self) -> DataSpec:
        return DataSpec(self.dataset, self.resolution, self.data_dir)

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        # u: the gradient penalty's mixing factor, one per sample (uniform: its name starts with u).
        return {"z": (self.batch_size, self.latent), "u": (self.batch_size, 1, 1, 1)}

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every weight of every phase, canonical (PyTorch) layout; equalised weights unscaled."""
        c, first = self.channels, self.resolutions()[0]
        shapes: dict[str, tuple[int, ...]] = {
            f"G.blocks.{first}x{first}.dense.weight": (16 * c, self.latent),
            f"G.blocks.{first}x{first}.bias": (c,),
            **conv_shapes(f"G.blocks.{first}x{first}.conv", c, c, 3),
        }
        for r in self.resolutions()[1:]:
            shapes |= conv_shapes(f"G.blocks.{r}x{r}.conv1", c, c, 3)
            shapes |= conv_shapes(f"G.blocks.{r}x{r}.conv2", c, c, 3)
        for r in self.resolutions():
            shapes |= conv_shapes(f"G.to_rgb.{r}x{r}", c, 1, 1)
        for r in self.resolutions():
            shapes |= conv_shapes(f"D.from_rgb.{r}x{r}", 1, c, 1)
        for r in reversed(self.resolutions()[1:]):
            shapes |= conv_shapes(f"D.blocks.{r}x{r}.conv1", c, c, 3)
            shapes |= conv_shapes(f"D.blocks.{r}x{r}.conv2", c, c, 3)
        last = f"D.blocks.{first}x{first}"
        shapes |= conv_shapes(f"{last}.conv", c + 1, c, 3)
        shapes |= {f"{last}.dense.weight": (c, 16 * c), f"{last}.dense.bias": (c,),
                   f"{last}.out.weight": (1, c), f"{last}.out.bias": (1,)}
        return shapes

    def initial_weights(self, seed: int) -> dict[str, np.ndarray]:
        return initializers.draw(
            self.weight_shapes(),
            lambda name: initializers.constant(0.0) if name.endswith(".bias")
            else initializers.normal(0.0, 1.0), seed)

    # --- the schedule ---

    def schedule(self) -> list[Phase]:
        phases = [Phase(RESOLUTIONS[0], False, self.stable_images)]
        for r in self.resolutions()[1:]:
            phases += [Phase(r, True, self.fade_images), Phase(r, False, self.stable_images)]
        return phases

    def phase_end_steps(self) -> tuple[int, ...]:
        """The step that completes each phase of the schedule (none when pinned)."""
        if not self.grow:
            return ()
        ends = np.cumsum([phase.images for phase in self.schedule()])
        return tuple(int(step) for step in -(-ends // self.batch_size))

    def real_at_phase(self, real: np.ndarray, phase: Mapping[str, str]) -> np.ndarray:
        """Real images as D sees them at the phase (average-pooled to its resolution and, in a
        fade, cross-faded with the previous one's), then upsampled to the target by nearest
        neighbour, as `sample` upsamples G's output: the same resize for real and fake."""
        resolution, alpha = int(phase["resolution"]), float(phase["alpha"])
        x = average_pool(real, real.shape[1] // resolution)
        if self.fading(resolution, alpha):
            x = alpha * x + (1 - alpha) * upsample_nearest(average_pool(x, 2), resolution)
        return upsample_nearest(x, real.shape[1]).astype(real.dtype)

    def phase_at(self, images: int) -> tuple[int, float]:
        """(resolution, alpha) once `images` real images were trained on, counted from 4x4."""
        for phase in self.schedule():
            if images < phase.images:
                return phase.resolution, images / phase.images if phase.fading else 1.0
            images -= phase.images
        return self.resolution, 1.0  # the schedule is over: stay at the target

    def images_at(self, resolution: int, alpha: float) -> int:
        """Where the schedule reaches (resolution, alpha): the inverse of phase_at."""
        self.check_phase(resolution, alpha)
        start = 0
        for phase in self.schedule():
            if phase.resolution == resolution and phase.fading == (alpha < 1):
                return start + (round(alpha * phase.images) if phase.fading else 0)
            start += phase.images
        raise AssertionError("check_phase admits only phases of the schedule")

    def phase_overrides(self) -> dict[str, dict]:
        """Each phase of the schedule, pinned (a fading phase at alpha 0.5): label -> overrides."""
        return {
            phase_label(p.resolution, 0.5 if p.fading else 1.0):
                {"grow": False, "phase_resolution": p.resolution,
                 "alpha": 0.5 if p.fading else 1.0}
            for p in self.schedule()
        }

    def phase_configs(self) -> dict[str, ProGANConfig]:
        """One pinned config per phase of the schedule."""
        return {label: self.replace(**overrides)
                for label, overrides in self.phase_overrides().items()}

    def throughput_variants(self) -> dict[str, dict]:
        """The phases throughput times: each, or only the schedule's ends."""
        ends = {RESOLUTIONS[0], self.resolution}
        return {label: overrides for label, overrides in self.phase_overrides().items()
                if self.time_every_phase or overrides["phase_resolution"] in ends}

    def parity_configs(self) -> dict[str, ProGANConfig]:
        """Every resolution at alpha 0, 0.5 and 1 (4x4 has no fade), small enough for CPU tests."""
        small = {"channels": 8, "latent": 16, "batch_size": MBSTD_GROUP, "grow": False}
        return {
            phase_label(r, a): self.replace(**small, phase_resolution=r, alpha=a)
            for r in self.resolutions()
            for a in ((1.0,) if r == RESOLUTIONS[0] else PARITY_ALPHAS)
        }

    # --- FLOPs ---

    def g_layers(self, resolution: int, fading: bool) -> list[Layer]:
        b, c = self.batch_size, self.channels
        layers = [Layer(2 * b * self.latent * 16 * c, reads_input=True),
                  Layer(conv_flops(b, 4, c, c, 3))]
        for r in self.resolutions()[1:]:
            if r <= resolution:
                layers += [Layer(conv_flops(b, r, c, c, 3))] * 2
        layers.append(Layer(conv_flops(b, resolution, c, 1, 1)))
        if fading:
            layers.append(Layer(conv_flops(b, resolution // 2, c, 1, 1)))
        return layers

    def d_layers(self, resolution: int, fading: bool) -> list[Layer]:
        b, c = self.batch_size, self.channels
        layers = [Layer(conv_flops(b, resolution, 1, c, 1), reads_input=True, before_mbstd=True)]
        if fading:
            layers.append(Layer(conv_flops(b, resolution // 2, 1, c, 1), reads_input=True,
                                before_mbstd=True))
        for r in self.resolutions()[1:]:
            if r <= resolution:
                layers += [Layer(conv_flops(b, r, c, c, 3), before_mbstd=True)] * 2
        return layers + [Layer(conv_flops(b, 4, c + 1, c, 3)), Layer(2 * b * 16 * c * c),
                         Layer(2 * b * c)]

    def flops_per_step(self) -> int:
        return self.phase_flops(self.phase_resolution, self.fading(self.phase_resolution,
                                                                   self.alpha))

    @staticmethod
    def fading(resolution: int, alpha: float) -> bool:
        """Whether a phase runs both paths (the new block and the previous resolution's)."""
        return resolution > RESOLUTIONS[0] and alpha < 1

    def phase_flops(self, resolution: int, fading: bool) -> int:
        """Matrix-product FLOPs of one iteration at a phase; elementwise work is not counted.

        Convention: what the gradients need, no more. Every layer's forward costs F; a gradient
        for its weights costs F, one for its input F. At a fade both paths count.
        - G forward once (its output feeds both updates).
        - D step: D forward on real, fake and x_hat. Real and fake: backward for weights and
          for inputs except the image's. The penalty: backward of D(x_hat) to x_hat (every
          layer's input gradient), then the double backward: through each layer's backward
          product, a weight gradient (all layers) and a gradient to its incoming gradient (all
          but the output layer, whose incoming gradient is the constant seed); the minibatch
          stddev's second derivative then flows through the forward layers before it, weights
          and inputs (not the image's). LeakyReLU's second derivative is zero: not counted,
          though autograd (torch's and TF's alike) sends that zero back through the forward
          layers after the minibatch stddev (the 4x4 conv and dense: weights and inputs).
        - G step: D forward on the fake, D backward for inputs only (D is not updated), G
          backward for weights and for inputs except z's.
        """
        g, d = self.g_layers(resolution, fading), self.d_layers(resolution, fading)
        g_fwd, d_fwd = total(g), total(d)
        before_mbstd = [layer for layer in d if layer.before_mbstd]
        double = (d_fwd + (d_fwd - d[-1].flops)
                  + total(before_mbstd) + inner_total(before_mbstd))
        d_step = 3 * d_fwd + 2 * (d_fwd + inner_total(d)) + d_fwd + double
        g_step = 2 * d_fwd + g_fwd + inner_total(g)
        return g_fwd + d_step + g_step


def conv_shapes(name: str, c_in: int, c_out: int, k: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (c_out, c_in, k, k), f"{name}.bias": (c_out,)}


def conv_flops(batch: int, size: int, c_in: int, c_out: int, k: int) -> int:
    """A stride-1, same-padded convolution on size x size pixels."""
    return 2 * batch * size * size * c_in * c_out * k * k


def total(layers: list[Layer]) -> int:
    return sum(layer.flops for layer in layers)


def inner_total(layers: list[Layer]) -> int:
    """FLOPs of the layers whose input gradient is needed: all but those reading the input."""
    return sum(layer.flops for layer in layers if not layer.reads_input)


def require_phase_length(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name}: phase length must be positive, got {value!r}; "
                         "give a number of real images")


def require_in_range(name: str, value: object, low: float, high: float) -> None:
    """low <= value < high."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
        raise UsageError(f"{name} must be a number in [{low:g}, {high:g}), got {value!r}")


def phase_label(resolution: int, alpha: float) -> str:
    return f"{resolution}x{resolution}" + ("" if resolution == RESOLUTIONS[0] else f" a={alpha:g}")


@dataclass
class Progress:
    """Where an adapter stands in its schedule: python numbers only, so a step never syncs."""

    config: ProGANConfig
    resolution: int
    alpha: float
    images: int  # real images trained on, counted from the start of 4x4

    @classmethod
    def start(cls, config: ProGANConfig) -> Progress:
        r, a = config.phase_resolution, float(config.alpha)
        return cls(config, r, a, config.images_at(r, a))

    @property
    def fading(self) -> bool:
        return self.config.fading(self.resolution, self.alpha)

    def move_to(self, resolution: int, alpha: float) -> bool:
        """Jump to a phase; True when the resolution changed (the optimisers restart)."""
        self.config.check_phase(resolution, alpha)
        changed = resolution != self.resolution
        self.resolution, self.alpha = resolution, float(alpha)
        self.images = self.config.images_at(resolution, alpha)
        return changed

    def count(self, images: int) -> None:
        """Count one step's real images (when growing). The phase moves on only at the next
        step (catch_up): between steps the progress names the phase the last step trained
        at, so an evaluation at a phase's last step is tagged and sampled at that phase."""
        if self.config.grow:
            self.images += images

    def catch_up(self) -> bool:
        """Move to the phase the images counted so far reach; True when the resolution
        changed (the optimisers restart)."""
        if not self.config.grow:
            return False
        resolution, self.alpha = self.config.phase_at(self.images)
        changed = resolution != self.resolution
        self.resolution = resolution
        return changed

    def flops(self) -> int:
        return self.config.phase_flops(self.resolution, self.fading)

    def tags(self) -> dict[str, str]:
        return {"resolution": str(self.resolution), "alpha": f"{self.alpha:g}"}
