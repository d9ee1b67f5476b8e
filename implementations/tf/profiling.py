"""Op time by kind from TensorFlow's profiler (bench.op_profile). Mirror of torch/profiling.py.

The profiler writes an XSpace trace; its host plane has one line per thread. Ops are the events
that run kernels: `scope/name:Type` on the executor's threads (tf.function) and
`EagerLocalExecute: Type` on the Python thread (eager). Ops under the optimiser's name scope are
the optimiser's. With tf.function's two inter-op threads, ops can overlap, so op time can exceed
the wall time. XLA is not profiled: its CPU thunks run convolutions asynchronously, so their
events do not cover the compute (a DCGAN step showed a tenth of its wall time in them).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from bench.op_profile import CATEGORIES, OpProfile
from bench.timing import timed_round

MATMUL_CONV_TYPES = {"MatMul", "_FusedMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum",
                     "Conv2D", "_FusedConv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"}
OPTIMIZER_SCOPE = "torch_adam"  # implementations.tf.base.ADAM_SCOPE
#: The optimiser's fused update: eager events carry no name scope, but their op type says it.
OPTIMIZER_TYPES = {"ResourceApplyAdam"}
GRAPH_OP = re.compile(r"^(?P<scope>[^:]+):(?P<type>[A-Za-z_][A-Za-z0-9_]*)$")
EAGER_OP = "EagerLocalExecute: "


#: oneDNN's kernels (Intel CPUs) name the same ops with these prefixes: _MklMatMul is MatMul.
ONEDNN_PREFIXES = ("_MklNative", "_Mkl")


def op_category(name: str, op_type: str) -> str:
    for prefix in ONEDNN_PREFIXES:
        if op_type.startswith(prefix):
            op_type = op_type.removeprefix(prefix)
            op_type = op_type if op_type in MATMUL_CONV_TYPES else f"_{op_type}"
            break
    if OPTIMIZER_SCOPE in name or op_type in OPTIMIZER_TYPES:
        return "optimizer"
    if op_type in MATMUL_CONV_TYPES:
        return "matmul_conv"
    return "other_ops"


def op_events(space: xplane_pb2.XSpace) -> Iterator[tuple[str, str, float]]:
    """(name, op type, seconds) of every kernel-running event on the host's threads."""
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if "__inference" in name or "PartitionedCall" in name:
                    continue  # a whole tf.function, not one op
                graph_op = GRAPH_OP.match(name)
                if graph_op:
                    yield name, graph_op["type"], event.duration_ps / 1e12
                elif name.startswith(EAGER_OP):
                    yield name, name.removeprefix(EAGER_OP), event.duration_ps / 1e12


def profile_ops(step: Callable[[], None], sync: Callable[[], None], steps: int) -> OpProfile:
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        wall = timed_round(step, sync, steps)
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    op_s = dict.fromkeys(CATEGORIES, 0.0)
    for name, op_type, seconds in op_events(space):
        op_s[op_category(name, op_type)] += seconds
    return OpProfile(steps, wall, op_s)
