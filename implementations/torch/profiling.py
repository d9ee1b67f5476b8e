"""Op time by kind from PyTorch's profiler (bench.op_profile). Mirror of tf/profiling.py.

Self CPU time per op, so a composite op (aten::linear) and what it calls (aten::addmm) are not
counted twice. Everything inside torch.optim's own ranges (Optimizer.step, Optimizer.zero_grad)
is the optimiser's; elsewhere, matrix products and convolutions are the aten kernels named for
them.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile

from bench.op_profile import CATEGORIES, OpProfile
from bench.timing import timed_round


def op_category(event: FunctionEvent) -> str:
    scope = event
    while scope is not None:
        if scope.name.startswith("Optimizer."):
            return "optimizer"
        scope = scope.cpu_parent
    if event.name.startswith("aten::") and ("mm" in event.name or "conv" in event.name):
        return "matmul_conv"
    return "other_ops"


def profile_ops(step: Callable[[], None], sync: Callable[[], None], steps: int) -> OpProfile:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall = timed_round(step, sync, steps)
    op_s = dict.fromkeys(CATEGORIES, 0.0)
    for event in prof.events():
        op_s[op_category(event)] += event.self_cpu_time_total / 1e6
    return OpProfile(steps, wall, op_s)
