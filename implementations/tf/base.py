"""What every TensorFlow adapter shares: runtime settings, devices, modes, optimiser, weights."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench.adapter import Adapter, FamilyConfig, check_weight_keys  # noqa: E402
from bench.op_profile import OpProfile  # noqa: E402
from bench.timing import best_seconds, matmul_size  # noqa: E402
from implementations.tf import profiling  # noqa: E402

#: canonical name -> (variable, numpy layout rule to Keras, rule back to the canonical layout)
WeightMap = dict[str, tuple[tf.Variable, Callable[[np.ndarray], np.ndarray],
                            Callable[[np.ndarray], np.ndarray]]]


def same(x: np.ndarray) -> np.ndarray:
    return x


#: The optimiser's name scope: the op profile (implementations/tf/profiling.py) counts the
#: ops under it as the optimiser's.
ADAM_SCOPE = "torch_adam"


class TorchAdam:
    """Adam with PyTorch's update, one fused kernel per variable (`ResourceApplyAdam`).

    PyTorch: var -= lr / c1 * m / (sqrt(v) / sqrt(c2) + eps), with c1 = 1 - beta1^t and
    c2 = 1 - beta2^t. TensorFlow's kernel computes var -= lr_t * m / (sqrt(v) + eps),
    lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power). Multiplying PyTorch's
    update through by sqrt(c2) gives the kernel's form with lr_t = lr * sqrt(c2) / c1 and
    eps_t = eps * sqrt(c2). Both are computed once per step, in float64 as PyTorch's Python
    floats are (float32(0.999) ** 1 alone would shift every first update by 6e-6 relative),
    and handed to the kernel with powers of 0, so it uses lr_t as given. Keras' Adam instead
    adds eps to the uncorrected sqrt(v), an eps 1 / sqrt(c2) larger (32x at step 1): with it
    the parity checks' one-step weights fail (docs/models.md, "Parity pitfalls").

    The moments update as PyTorch's do: m += (g - m)(1 - beta1), v += (g^2 - v)(1 - beta2).
    """

    def __init__(self, variables: list, lr: float, betas: tuple[float, float],
                 eps: float) -> None:
        self.lr, (self.beta_1, self.beta_2), self.epsilon = lr, betas, eps
        # Keras or tf variables (both have a handle), found by identity at every step.
        self._slot = {id(v): i for i, v in enumerate(variables)}
        with tf.name_scope(ADAM_SCOPE):
            self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self._m = [tf.Variable(tf.zeros_like(v), trainable=False, name="m")
                       for v in variables]
            self._v = [tf.Variable(tf.zeros_like(v), trainable=False, name="v")
                       for v in variables]

    def apply(self, grads: list, variables: list) -> None:
        """One step for `variables`, all or some of those it was built for (a progressive
        GAN's active layers); one step count for all, as Keras' optimisers keep."""
        slots = [self._slot[id(v)] for v in variables]
        with tf.name_scope(ADAM_SCOPE):
            lr_t, eps_t = self._corrections(self.iterations.assign_add(1))
            zero, beta_1, beta_2 = (tf.constant(x, tf.float32)
                                    for x in (0.0, self.beta_1, self.beta_2))
            for grad, var, slot in zip(grads, variables, slots, strict=True):
                tf.raw_ops.ResourceApplyAdam(
                    var=var.handle, m=self._m[slot].handle, v=self._v[slot].handle,
                    beta1_power=zero, beta2_power=zero, lr=lr_t, beta1=beta_1, beta2=beta_2,
                    epsilon=eps_t, grad=grad)


    def _corrections(self, step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """lr_t and eps_t for this step, in float64. Eagerly, in Python: a handful of scalar
        ops per step would cost more than the fused updates, and, carrying no name scope in
        eager profiles, would not count as the optimiser's."""
        if tf.executing_eagerly():
            t = int(step.numpy())
            sqrt_c2 = math.sqrt(1 - self.beta_2**t)
            c1 = 1 - self.beta_1**t
            return (tf.constant(self.lr * sqrt_c2 / c1, tf.float32),
                    tf.constant(self.epsilon * sqrt_c2, tf.float32))
        step = tf.cast(step, tf.float64)
        sqrt_c2 = tf.sqrt(1 - tf.pow(tf.constant(self.beta_2, tf.float64), step))
        c1 = 1 - tf.pow(tf.constant(self.beta_1, tf.float64), step)
        return (tf.cast(self.lr * sqrt_c2 / c1, tf.float32),
                tf.cast(self.epsilon * sqrt_c2, tf.float32))


def make_adam(variables: list, lr: float, betas: tuple[float, float],
              eps: float) -> TorchAdam:
    """The optimiser every TF adapter and bare loop uses, built for its variables."""
    return TorchAdam(variables, lr, betas, eps)


@contextlib.contextmanager
def tape_watching(variables: list) -> Iterator[tf.GradientTape]:
    """A tape that watches these Keras variables only: G's step computes no gradients for D's
    weights, as PyTorch's does not (it takes G's parameters as the backward's inputs)."""
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch([v.value for v in variables])
        yield tape


class TFAdapter(Adapter):
    framework = "tf"

    @classmethod
    def configure(cls, threads: int) -> None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # the runtime already started in this process: keep its pools
            pass
        # TF32 off on both frameworks: parity and comparable FLOP rates
        # (docs/models.md#parity-pitfalls).
        tf.config.experimental.enable_tensor_float_32_execution(False)

    @classmethod
    def device_available(cls, device: str) -> bool:
        gpus = tf.config.list_physical_devices("GPU")
        return device == "cpu" or (device == "cuda" and bool(gpus))

    @classmethod
    def environment(cls, device: str) -> dict[str, str]:
        gpu = ""
        if device == "cuda":
            details = tf.config.experimental.get_device_details(
                tf.config.list_physical_devices("GPU")[0])
            gpu = details.get("device_name", "GPU")
        # TensorFlow autotunes cuDNN's convolutions unless this variable turns it off.
        autotune = ({"cudnn_autotune": "off" if os.environ.get("TF_CUDNN_USE_AUTOTUNE") == "0"
                     else "on"} if device == "cuda" else {})
        return {"framework_version": f"tensorflow {tf.__version__}, keras {keras.__version__}",
                "gpu": gpu, "tf32": "off", **autotune}

    @classmethod
    def peak_memory_bytes(cls, device: str) -> int | None:
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] if device == "cuda" else None

    @classmethod
    def matmul_flops_per_s(cls, device: str, n: int | None = None,
                           dtype: str = "float32") -> float:
        """The faster of TF's own matmul kernel and XLA's: XLA's CPU backend has its own, and
        a peak below what some mode reaches would put that mode's MFU above 1. Timed to a
        device sync, never through a copy of the product to the host."""
        n = n or matmul_size(device)
        with tf.device(tf_device_name(device)):
            a = tf.random.normal((n, n), dtype=dtype)
            b = tf.random.normal((n, n), dtype=dtype)

            def timed(matmul: Callable[..., tf.Tensor]) -> float:
                def product() -> None:
                    matmul(a, b)
                    tf.test.experimental.sync_devices()

                return best_seconds(product)

            seconds = min(timed(matmul) for matmul in (
                tf.linalg.matmul, tf.function(tf.linalg.matmul, jit_compile=True)))
            return 2 * n**3 / seconds

    def __init__(self, config: FamilyConfig, *, seed: int = 0, device: str = "cpu",
                 mode: str = "eager") -> None:
        super().__init__(config, seed=seed, device=device, mode=mode)
        keras.utils.set_random_seed(seed)
        self.tf_device = tf_device_name(device)
        self.generator = tf.random.Generator.from_seed(seed)

    def weight_map(self) -> WeightMap:
        """Every canonical weight name with its variable and layout rules (see bench.layouts)."""
        raise NotImplementedError

    def to_device(self, array: np.ndarray) -> tf.Tensor:
        with tf.device(self.tf_device):
            return tf.identity(tf.convert_to_tensor(np.ascontiguousarray(array)))

    def randn(self, *shape: int) -> tf.Tensor:
        with tf.device(self.tf_device):
            return self.generator.normal(shape)

    def compile_step(self, step: Callable[..., Any]) -> Callable[..., Any]:
        if self.mode == "eager":
            return step
        return tf.function(step, jit_compile=self.mode == "xla")

    def adam(self, variables: list, lr: float, betas: tuple[float, float],
             eps: float) -> TorchAdam:
        optimizer = make_adam(variables, lr, betas, eps)
        self.optimizer_name = type(optimizer).__name__
        return optimizer

    def sync(self) -> None:
        tf.test.experimental.sync_devices()

    def op_profile(self, staged: Any, steps: int) -> OpProfile | None:
        if self.device != "cpu" or self.mode == "xla":
            return None  # see implementations/tf/profiling.py
        return profiling.profile_ops(lambda: self.train_step(staged), self.sync, steps)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: from_keras(var.numpy()) for name, (var, _, from_keras)
                in self.weight_map().items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weight_keys(self.config.weight_shapes(), weights)
        for name, (var, to_keras, _) in self.weight_map().items():
            var.assign(to_keras(np.asarray(weights[name])))


def tf_device_name(device: str) -> str:
    return "/GPU:0" if device == "cuda" else "/CPU:0"
