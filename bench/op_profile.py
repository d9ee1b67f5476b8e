"""Where a training step's time goes: op time by kind, from each framework's own profiler.

MFU says how far a step is from the machine's peak; this says why. Each framework's adapter
profiles a few steps (after the timed rounds, so profiling never touches the timings) and sums
the time of its ops by kind: the ops that carry the counted FLOPs (matrix products and
convolutions), the optimiser's update, and every other op (activations, normalisation, losses,
copies). The rest of the step's wall time is outside any op: the framework's own (Python,
dispatch, scheduling). Two figures then name the bound: the share of op time in FLOP-carrying
ops, and the rate those ops reach by themselves (FLOPs over their own time, over the peak).
Small layers show up as a low kernel rate; a heavy optimiser or elementwise tail as a low share.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("matmul_conv", "optimizer", "other_ops")


@dataclass(frozen=True)
class OpProfile:
    steps: int
    wall_s: float  # the profiled steps, synced at the end
    op_s: dict[str, float]  # seconds per category, summed over the threads that ran ops

    @property
    def total_op_s(self) -> float:
        return sum(self.op_s.values())


def profile_values(profile: OpProfile, flops_per_step: float,
                   peak_flops_per_s: float) -> list[tuple[str, float, str]]:
    """(name, value, unit) rows for the throughput records: shares of op time, the share of
    the step outside any op, and the FLOP-carrying ops' own rate over the peak."""
    total = profile.total_op_s
    if total <= 0:
        return []  # the profiler caught no op: nothing to split
    values = [(f"{name}_share", profile.op_s.get(name, 0.0) / total, "") for name in CATEGORIES]
    values.append(("outside_ops_share", max(0.0, 1 - total / profile.wall_s), ""))
    matmul_s = profile.op_s.get("matmul_conv", 0.0)
    if matmul_s > 0:
        rate = flops_per_step * profile.steps / matmul_s
        values.append(("matmul_conv_mfu", rate / peak_flops_per_s, ""))
    values.append(("profiled_step_s", profile.wall_s / profile.steps, "s"))
    return values
