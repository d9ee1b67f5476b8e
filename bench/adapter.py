"""The adapter contract: the one interface through which the harness drives every model.

Two halves:

- `FamilyConfig` is the framework-neutral spec of a model family (docs/models.md): its
  hyperparameters, data, noise shapes, canonical weight names and shapes, and analytic FLOPs.
  Both frameworks build from the same config, so their numbers are comparable by construction.
- `Adapter` is one framework's implementation of a family. The harness speaks numpy to it:
  images NHWC float32 in [-1, 1] (points N x 2), weights as a dict of numpy arrays in the
  canonical layout (PyTorch's: Linear (out, in), Conv2d (out, in, kh, kw),
  ConvTranspose2d (in, out, kh, kw)). Inside, each adapter uses its framework's native layout.

A training step is one full iteration (every D and G update, optimiser steps included) and
never syncs the host; the timing loop calls `sync()` around rounds of steps.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bench.data import DataSpec
from bench.errors import UsageError
from bench.op_profile import OpProfile
from bench.profiles import profile_settings


@dataclass(frozen=True)
class FamilyConfig:
    """Framework-neutral spec of a model family; subclasses add the family's own fields."""

    family: ClassVar[str]
    #: False for style transfer, which optimises one image rather than learning a distribution.
    generates_distribution: ClassVar[bool] = True
    #: Settings per profile (quick, standard, full), applied over the defaults.
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Whether the throughput suite sweeps batch sizes (style transfer optimises one image).
    batch_sweep: ClassVar[bool] = True
    #: Bound on |loss_torch - loss_tf| over the parity trajectory (check 4); 0: none stated.
    trajectory_tolerance: ClassVar[float] = 0.0
    #: Bound on the relative error of samples (check 2) where it must exceed the forward
    #: outputs' (bench.parity.FORWARD_TOL), with the reason in the family's spec; None: that.
    sample_tolerance: ClassVar[float | None] = None

    # What the family can do in the suites that train it and judge its samples
    # (docs/extending.md#what-a-family-can-do). A mapping is per profile: a profile it leaves
    # out is one the family does not run there, and a request that needs it is refused.
    #: Training steps of a quality run (fid, mode-collapse); a step costs very different
    #: amounts per family. Empty: no quality runs.
    quality_steps: ClassVar[Mapping[str, int]] = {}
    #: Steps between evaluations where the family's differ from the profile's (a long budget
    #: evaluates less often).
    quality_eval_every: ClassVar[Mapping[str, int]] = {}
    #: Samples per evaluation where the family's reference count differs from the profile's.
    quality_samples: ClassVar[int | None] = None
    #: The datasets a convergence study trains on. Empty: no convergence runs.
    convergence_data: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: Training steps of each convergence run.
    convergence_steps: ClassVar[Mapping[str, int]] = {}
    #: The config fields a convergence study perturbs (of the axes the suite defines).
    convergence_axes: ClassVar[tuple[str, ...]] = ()
    #: D's late loss under which a run that stopped improving counts as won by D; None where
    #: the loss cannot tell (a WGAN critic's estimates a distance, unbounded).
    d_won_loss: ClassVar[float | None] = None

    batch_size: int = 64

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> FamilyConfig:
        config = cls(**{**profile_settings(cls.profiles, profile), **overrides})
        config.validate()
        return config

    @classmethod
    def declared(cls, capability: str, profile: str) -> Any:
        """A per-profile capability's value at `profile`; UsageError, one line with the fix,
        where the family declares none there."""
        table = getattr(cls, capability)
        if profile in table:
            return table[profile]
        fix = (f"use --profile {' or '.join(table)}" if table else
               "choose a family that does (gan-bench list) or declare it on its FamilyConfig "
               "(docs/extending.md)")
        raise UsageError(f"{cls.family} declares no {capability} for the {profile} profile; "
                         f"{fix}")

    def replace(self, **changes: Any) -> FamilyConfig:
        config = dataclasses.replace(self, **changes)
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise UsageError naming the first field that cannot work."""
        require_positive_int("batch_size", self.batch_size)

    def data_spec(self) -> DataSpec:
        raise NotImplementedError

    def load_data(self, seed: int = 0) -> np.ndarray:
        """The real examples batches are drawn from (numpy, the boundary format)."""
        from bench.data import load_dataset

        return load_dataset(self.data_spec(), seed)

    def throughput_variants(self) -> dict[str, dict[str, Any]]:
        """Name -> config overrides the throughput suite measures separately."""
        return {"base": {}}

    def parity_configs(self) -> dict[str, FamilyConfig]:
        """Label -> config for every variant the parity checks must cover."""
        return {"default": self}

    def examples_per_step(self) -> int:
        """Real examples one training step consumes (more than a batch when D steps repeat)."""
        return self.batch_size

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        """The random inputs of one training step, fed from numpy (bench.data.step_noise) in
        parity checks and quality runs, so both frameworks consume the same draws."""
        raise NotImplementedError

    def initial_weights(self, seed: int) -> dict[str, np.ndarray]:
        """The family's canonical init for `seed`, drawn in numpy (bench.initializers) in the
        canonical layout, every name of weight_shapes. The spec's docstring states it; both
        adapters load it with set_weights before a quality run, so a seed is one starting
        point in every framework."""
        raise NotImplementedError

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Canonical name -> shape of every weight (and BatchNorm statistic) get_weights returns."""
        raise NotImplementedError

    def trainable_names(self) -> list[str]:
        """Names of trainable parameters; BatchNorm running statistics are not."""
        return [n for n in self.weight_shapes() if not n.endswith(("running_mean", "running_var"))]

    def param_count(self) -> int:
        shapes = self.weight_shapes()
        return sum(math.prod(shapes[n]) for n in self.trainable_names())

    def flops_per_step(self) -> int:
        """Analytic floating-point operations of one training step (a multiply-add is 2)."""
        raise NotImplementedError


def require_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")


def require_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UsageError(f"{name} must be a positive number, got {value!r}")


def require_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")


class Adapter(abc.ABC):
    """One framework's implementation of one family. See the module docstring for the contract.

    It runs the modes its framework declares (bench.framework, found through the registry by
    `framework`), each a different way to run the same training step, or the subset `modes`
    names where the family cannot run them all.
    """

    family: ClassVar[str]
    framework: ClassVar[str]
    modes: ClassVar[tuple[str, ...] | None] = None  # None: every mode of the framework
    #: Which optimiser implementation the training step runs; every record carries it.
    optimizer_name: str = ""

    def __init__(self, config: FamilyConfig, *, seed: int = 0, device: str = "cpu",
                 mode: str = "eager") -> None:
        from bench.registry import framework

        framework(self.framework).mode(mode)  # one line naming the declared modes
        if self.modes is not None and mode not in self.modes:
            raise UsageError(
                f"{self.family}/{self.framework} offers modes {', '.join(self.modes)}, "
                f"not {mode!r}"
            )
        config.validate()
        self.config = config
        self.seed = seed
        self.device = device
        self.mode = mode

    @classmethod
    def offered_modes(cls) -> tuple[str, ...]:
        """The modes this adapter runs: its framework's, or the subset `modes` names."""
        from bench.registry import framework

        return cls.modes if cls.modes is not None else framework(cls.framework).mode_names()

    # --- runtime of the framework (class-level: called before any model is built) ---

    @classmethod
    @abc.abstractmethod
    def configure(cls, threads: int) -> None:
        """Pin the framework's CPU thread pools; also fixes TF32 off so both frameworks agree."""

    @classmethod
    @abc.abstractmethod
    def device_available(cls, device: str) -> bool: ...

    @classmethod
    @abc.abstractmethod
    def environment(cls, device: str) -> dict[str, str]:
        """Framework version, device name and math settings, recorded with every row."""

    @classmethod
    @abc.abstractmethod
    def peak_memory_bytes(cls, device: str) -> int | None:
        """Max allocated device memory on accelerators; None on CPU (the harness reads RSS)."""

    @classmethod
    @abc.abstractmethod
    def matmul_flops_per_s(cls, device: str, n: int | None = None,
                           dtype: str = "float32") -> float:
        """The machine's own matrix-product rate in this framework: float32's is the MFU
        reference; bfloat16's says what a device's low-precision units could reach."""

    # --- the model ---

    @abc.abstractmethod
    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None) -> Any:
        """Put a real batch (and, for parity, the step's noise) on the device, ready for a step.

        Without noise, the step draws its own noise from the framework's seeded generator.
        """

    @abc.abstractmethod
    def train_step(self, staged: Any) -> None:
        """One full training iteration on a staged batch, without a host sync."""

    @abc.abstractmethod
    def sync(self) -> None:
        """Wait until all queued device work is done."""

    @abc.abstractmethod
    def losses(self) -> dict[str, float]:
        """Losses of the last step (fetching them syncs; only call when asked)."""

    @abc.abstractmethod
    def forward(self, staged: Any) -> dict[str, np.ndarray]:
        """The family's forward outputs (G and D) on staged inputs, without updating anything."""

    @abc.abstractmethod
    def sample(self, n: int, seed: int) -> np.ndarray:
        """n samples in the boundary format, from noise drawn by numpy with this seed."""

    @abc.abstractmethod
    def get_weights(self) -> dict[str, np.ndarray]:
        """Every weight in the canonical names and layout (FamilyConfig.weight_shapes)."""

    @abc.abstractmethod
    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Load canonical weights; raise UsageError naming any missing, extra or misshapen key."""

    def op_profile(self, staged: Any, steps: int) -> OpProfile | None:
        """Op time by kind over `steps` training steps, from the framework's profiler
        (bench.op_profile); None where the framework's profile cannot tell (the default)."""
        return None

    def tags(self) -> dict[str, str]:
        """Extra dimensions for records (e.g. a progressive GAN's resolution and alpha)."""
        return {}

    def param_count(self) -> int:
        return self.config.param_count()

    def flops_per_step(self) -> int:
        return self.config.flops_per_step()


def check_weight_keys(expected: Mapping[str, tuple[int, ...]],
                      weights: Mapping[str, np.ndarray]) -> None:
    """The check every set_weights runs first: same keys, same canonical shapes."""
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise UsageError(
            f"weights do not match the model: missing {missing[:5] or 'none'}, "
            f"unexpected {extra[:5] or 'none'}; export them from the same family and config"
        )
    for name, shape in expected.items():
        if tuple(np.shape(weights[name])) != tuple(shape):
            raise UsageError(
                f"weight {name} has shape {tuple(np.shape(weights[name]))}, the model needs "
                f"{tuple(shape)}; export them from a model of the same config"
            )
