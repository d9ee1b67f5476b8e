"""Speed of the FID computation at Inception's size, and of its Tr sqrt(S1 S2) against sqrtm.

Run with pytest-benchmark; under --benchmark-disable each body runs once and its result is
still checked. Rounds are few on purpose: at this size one round takes seconds to minutes
on 2 CPU cores.
"""

import numpy as np
import pytest
import scipy.linalg

from bench.metrics import fid_from_features, trace_sqrt_product

N, D = 10_000, 2048


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(0)
    # float32, as feature extractors return them; the metric works in float64 itself.
    real = rng.standard_normal((N, D), dtype=np.float32)
    fake = rng.standard_normal((N, D), dtype=np.float32) * np.float32(1.1) + np.float32(0.05)
    return real, fake


@pytest.fixture(scope="module")
def covariances(features):
    real, fake = features
    return np.cov(real, rowvar=False), np.cov(fake, rowvar=False)


def test_fid_of_10000_by_2048_features(benchmark, features):
    fid = benchmark.pedantic(fid_from_features, args=features, rounds=2, iterations=1)
    # Expected: ||0.05||^2 D + Tr S1 + Tr S2 - 2 Tr sqrt(S1 S2) ~ D (0.05^2 + (1.1 - 1)^2),
    # plus the finite-sample bias of the covariances (about D^2 / N each way).
    assert 20.0 < fid < 1000.0


def sqrtm_trace(s1: np.ndarray, s2: np.ndarray) -> float:
    return float(np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)


@pytest.mark.benchmark(group="trace-sqrt-2048")
def test_trace_sqrt_by_symmetric_eigendecomposition(benchmark, covariances):
    value = benchmark.pedantic(trace_sqrt_product, args=covariances, rounds=2, iterations=1)
    assert value > 0


@pytest.mark.benchmark(group="trace-sqrt-2048")
def test_trace_sqrt_by_scipy_sqrtm(benchmark, covariances):
    value = benchmark.pedantic(sqrtm_trace, args=covariances, rounds=1, iterations=1)
    assert value == pytest.approx(trace_sqrt_product(*covariances), rel=1e-6)
