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
    ratios = resampled_medians(a, rng, resamples) / resampled_medians(b, rng, resamples)
    return (float(np.median(a) / np.median(b)), *percentile_interval(ratios, level))


def bootstrap_median(values: np.ndarray, resamples: int = 2000, level: float = 0.95,
                     seed: int = 0) -> tuple[float, float, float]:
    """The median with a percentile bootstrap interval (for paired ratios, one per round)."""
    x = np.asarray(values, dtype=np.float64)
    medians = resampled_medians(x, np.random.default_rng(seed), resamples)
    return (float(np.median(x)), *percentile_interval(medians, level))


def resampled_medians(x: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    return np.median(x[rng.integers(len(x), size=(resamples, len(x)))], axis=1)


def percentile_interval(estimates: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(estimates, [tail, 100 - tail])
    return float(lo), float(hi)
