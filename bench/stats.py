"""Robust statistics for timings: medians, spreads and bootstrap intervals of ratios."""

from __future__ import annotations

import numpy as np


def bootstrap_ratio_of_medians(numerator: np.ndarray, denominator: np.ndarray,
                               resamples: int = 2000, level: float = 0.95,
                               seed: int = 0) -> tuple[float, float, float]:
    """median(numerator) / median(denominator) with a percentile bootstrap interval.

    Each side is resampled on its own: the rounds of two jobs are independent measurements.
    """
    a = np.asarray(numerator, dtype=np.float64)
    b = np.asarray(denominator, dtype=np.float64)
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(len(a), size=(resamples, len(a)))], axis=1)
    mb = np.median(b[rng.integers(len(b), size=(resamples, len(b)))], axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(ma / mb, [tail, 100 - tail])
    return float(np.median(a) / np.median(b)), float(lo), float(hi)
