"""TensorFlow's op profile sorts real ops into the right kinds. Mirror of torch/test_profiling."""

from __future__ import annotations

import tensorflow as tf

from implementations.tf.base import TorchAdam
from implementations.tf.profiling import profile_ops

N = 512


def no_sync() -> None:
    pass


def test_a_matrix_product_is_matmul_time():
    a, b = tf.random.normal((N, N)), tf.random.normal((N, N))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product()
    profile = profile_ops(product, no_sync, steps=5)
    assert profile.op_s["matmul_conv"] > 0.9 * profile.total_op_s
    assert profile.op_s["optimizer"] == 0.0


def test_an_adam_update_is_optimizer_time_and_elementwise_ops_are_other():
    weight = tf.Variable(tf.random.normal((N, N)))
    grad = tf.random.normal((N, N))
    adam = TorchAdam([weight], 1e-3, (0.9, 0.999), 1e-8)
    update = tf.function(lambda: adam.apply([grad], [weight]))
    update()
    profile = profile_ops(update, no_sync, steps=5)
    assert profile.op_s["optimizer"] > 0.9 * profile.total_op_s
    x = tf.random.normal((N, N))
    elementwise = tf.function(lambda: tf.tanh(x * 2 + 1))
    elementwise()
    profile = profile_ops(elementwise, no_sync, steps=5)
    assert profile.op_s["other_ops"] > 0.9 * profile.total_op_s


def test_an_eager_adam_update_is_optimizer_time():
    """Eager events carry no name scope: the fused kernel's op type says it is the optimiser's.
    Its share is not asserted: the step's few scalar ops beside it (the step count, constants)
    take microseconds that a busy machine can stretch past the kernel's own time."""
    weight = tf.Variable(tf.random.normal((N, N)))
    grad = tf.random.normal((N, N))
    adam = TorchAdam([weight], 1e-3, (0.9, 0.999), 1e-8)
    profile = profile_ops(lambda: adam.apply([grad], [weight]), no_sync, steps=5)
    assert profile.op_s["optimizer"] > 0.0
    assert profile.op_s["matmul_conv"] == 0.0


def test_eager_ops_are_profiled_too():
    a, b = tf.random.normal((N, N)), tf.random.normal((N, N))
    profile = profile_ops(lambda: tf.linalg.matmul(a, b), no_sync, steps=5)
    assert profile.op_s["matmul_conv"] > 0.5 * profile.total_op_s
