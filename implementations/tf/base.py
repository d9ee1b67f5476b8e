"""What every TensorFlow adapter shares: runtime settings, devices, modes, optimiser, weights."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from bench.adapter import Adapter, FamilyConfig, check_weight_keys  # noqa: E402
from bench.op_profile import OpProfile  # noqa: E402
from bench.timing import best_seconds, matmul_size  # noqa: E402
from implementations.tf import profiling  # noqa: E402

#: canonical name -> (variable, numpy layout rule to Keras, rule back to the canonical layout)
WeightMap = dict[str, tuple[tf.Variable, Callable[[np.ndarray], np.ndarray],
                            Callable[[np.ndarray], np.ndarray]]]


def same(x: np.ndarray) -> np.ndarray:
    return x


class TorchAdam(keras.optimizers.Optimizer):
    """Adam with PyTorch's update: bias-corrected moments, eps added after the root.

    Keras' Adam adds eps to the uncorrected sqrt(v); where eps is not negligible the two
    differ, so every TF adapter uses this one and both frameworks follow one formula.
    """

    def __init__(self, learning_rate: float, beta_1: float, beta_2: float, epsilon: float,
                 name: str = "torch_adam", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables: list) -> None:
        if self.built:
            return
        super().build(variables)
        self._m, self._v = self.add_optimizer_variables(variables, ["m", "v"])

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        grad = ops.cast(gradient, dtype)
        m = self._m[self._get_variable_index(variable)]
        v = self._v[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(grad, m), 1 - self.beta_1))
        self.assign(v, ops.add(ops.multiply(v, self.beta_2),
                               ops.multiply(ops.square(grad), 1 - self.beta_2)))
        # Bias corrections in float64, like torch's Python floats: float32(0.999) ** 1 alone
        # would shift every first update by 6e-6 relative.
        step = ops.cast(self.iterations + 1, "float64")
        correction1 = 1 - ops.power(ops.convert_to_tensor(self.beta_1, "float64"), step)
        correction2 = 1 - ops.power(ops.convert_to_tensor(self.beta_2, "float64"), step)
        step_size = lr / ops.cast(correction1, dtype)
        correction2_sqrt = ops.cast(ops.sqrt(correction2), dtype)
        denom = ops.add(ops.divide(ops.sqrt(v), correction2_sqrt), self.epsilon)
        self.assign_sub(variable, ops.multiply(ops.divide(m, denom), step_size))


def make_adam(variables: list, lr: float, betas: tuple[float, float],
              eps: float) -> TorchAdam:
    """The optimiser every TF adapter and bare loop uses, built for its variables.

    TorchAdam, not Keras' Adam, for every family: Keras adds eps to sqrt(v) before v's bias
    correction, an eps 1 / sqrt(1 - beta2^t) larger (32x at step 1). Measured with Keras'
    Adam, parity check 3 failed even at eps 1e-8: worst weight 1.6e-3 (MLP GAN points),
    3.9e-3 (images), 8.4e-4 (DCGAN) against 1e-4, from weights with gradients near that eps.
    """
    optimizer = TorchAdam(lr, betas[0], betas[1], eps)
    optimizer.build(variables)
    return optimizer


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
        # TF32 off on both frameworks: parity and comparable FLOP rates (MODELS.md).
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
