"""Where the time goes: the shares and rates derived from a profile, against hand computation."""

from __future__ import annotations

import pytest

from bench.op_profile import CATEGORIES, OpProfile, profile_values


def values(profile: OpProfile, flops: float = 1e9, peak: float = 1e11) -> dict[str, float]:
    return {name: value for name, value, _ in profile_values(profile, flops, peak)}


def test_shares_of_op_time_and_the_step_outside_ops():
    profile = OpProfile(steps=4, wall_s=1.0, op_s={"matmul_conv": 0.6, "optimizer": 0.1,
                                                    "other_ops": 0.1})
    got = values(profile)
    assert got["matmul_conv_share"] == pytest.approx(0.75)
    assert got["optimizer_share"] == pytest.approx(0.125)
    assert got["other_ops_share"] == pytest.approx(0.125)
    assert sum(got[f"{name}_share"] for name in CATEGORIES) == pytest.approx(1.0)
    assert got["outside_ops_share"] == pytest.approx(0.2)
    assert got["profiled_step_s"] == pytest.approx(0.25)


def test_matmul_rate_is_the_flops_over_their_own_time():
    # 4 steps of 1 GFLOP in 0.5 s of matrix products: 8 GFLOP/s, 8% of a 100 GFLOP/s peak.
    profile = OpProfile(steps=4, wall_s=1.0, op_s={"matmul_conv": 0.5, "optimizer": 0.0,
                                                    "other_ops": 0.5})
    assert values(profile)["matmul_conv_mfu"] == pytest.approx(0.08)


def test_overlapping_ops_never_make_a_negative_outside_share():
    # Two inter-op threads: op time adds up to more than the wall time.
    profile = OpProfile(steps=1, wall_s=1.0, op_s={"matmul_conv": 1.2, "optimizer": 0.2,
                                                    "other_ops": 0.1})
    assert values(profile)["outside_ops_share"] == 0.0


def test_no_matmul_time_gives_no_matmul_rate():
    profile = OpProfile(steps=1, wall_s=1.0, op_s={"matmul_conv": 0.0, "optimizer": 0.5,
                                                    "other_ops": 0.5})
    assert "matmul_conv_mfu" not in values(profile)


def test_a_profile_that_caught_no_op_gives_no_rows():
    profile = OpProfile(steps=2, wall_s=1.0, op_s=dict.fromkeys(CATEGORIES, 0.0))
    assert profile_values(profile, 1e9, 1e11) == []
