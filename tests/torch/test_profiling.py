"""PyTorch's op profile sorts real ops into the right kinds. Mirror of tf/test_profiling."""

from __future__ import annotations

import torch

from implementations.torch.profiling import profile_ops

N = 512


def no_sync() -> None:
    pass


def test_a_matrix_product_is_matmul_time():
    a, b = torch.randn(N, N), torch.randn(N, N)
    profile = profile_ops(lambda: torch.mm(a, b), no_sync, steps=5)
    assert profile.op_s["matmul_conv"] > 0.9 * profile.total_op_s
    assert profile.op_s["optimizer"] == 0.0


def test_an_adam_update_is_optimizer_time_and_elementwise_ops_are_other():
    weight = torch.nn.Parameter(torch.randn(N, N))
    weight.grad = torch.randn(N, N)
    adam = torch.optim.Adam([weight], lr=1e-3)
    profile = profile_ops(adam.step, no_sync, steps=5)
    assert profile.op_s["optimizer"] > 0.9 * profile.total_op_s
    x = torch.randn(N, N)
    profile = profile_ops(lambda: torch.tanh(x * 2 + 1), no_sync, steps=5)
    assert profile.op_s["other_ops"] > 0.9 * profile.total_op_s


def test_wall_time_covers_the_ops():
    a, b = torch.randn(N, N), torch.randn(N, N)
    profile = profile_ops(lambda: torch.mm(a, b), no_sync, steps=3)
    assert profile.steps == 3
    assert 0 < profile.total_op_s <= profile.wall_s * 1.05
