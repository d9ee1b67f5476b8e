"""How small a slowdown the A/B check's rule can see on one key, from that key's pair scatter.

The rule (bench.checks.ab_check): screen on the median of a key's `pairs` ratios against
1 - min_effect; a suspected key runs `confirm_pairs` more; it fails when the exact one-sided
signed-rank test on all of them puts the log ratio below log(1 - min_effect) at alpha. Its
power against a true slowdown s (each pair's ratio 1 / (1 + s) in the middle) at a pair
scatter sd (the SD of the log ratios) comes from a seeded simulation of exactly that rule,
with normal log ratios (tests/test_ab_check.py replays it draw by draw through the check's
own functions). Why a simulation and not a normal approximation: the rule is two
stages, a median screen on a handful of pairs and then a discrete exact test, where a normal
approximation is poorest; simulating it costs milliseconds. The same draws serve every
slowdown (common random numbers), and the signed-rank statistic only falls as every log ratio
falls, so the simulated power is monotone in s and bisection finds the smallest slowdown seen.

Holm's correction is taken as for a key suspected alone (its p against alpha): with several
suspects at once each needs a smaller p, and the power is lower than reported.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

SIMULATIONS = 4000  # draws per power estimate: its standard error near 90% is 0.5 points
SEED = 0
MAX_SLOWDOWN = 1.0  # the step taking twice as long; past it a key counts as blind (inf)
PRECISION = 0.001  # of the bisection, in slowdown
#: The most screened pairs `pairs_to_see` considers: the simulation's cost grows with the
#: square of the pairs, and a key that needs more is better reported blind than timed for long.
MAX_PAIRS = 50


@dataclass(frozen=True)
class Rule:
    """The A/B check's rule for one key (bench.checks.ab_check.Settings, and the pairs it
    screens)."""

    pairs: int  # screened on
    confirm_pairs: int
    min_effect: float
    alpha: float


@functools.lru_cache(maxsize=256)
def signed_rank_cdf(n: int) -> np.ndarray:
    """P(W+ <= w) for w = 0 .. n(n+1)/2 under no change: the exact null distribution of the
    sum of the positive differences' ranks, counted over the 2^n sign patterns."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank]  # the right side is the old counts
    return np.cumsum(counts) / 2.0**n


@functools.lru_cache(maxsize=64)
def _standard_normal(pairs: int) -> np.ndarray:
    return np.random.default_rng(SEED).standard_normal((SIMULATIONS, pairs))


def critical_value(n: int, alpha: float) -> int:
    """The largest W+ whose exact p is below alpha; -1 where none is (too few pairs)."""
    return int(np.searchsorted(signed_rank_cdf(n), alpha, side="left")) - 1


@functools.lru_cache(maxsize=64)
def _walsh_quantile(pairs: int, rank: int) -> np.ndarray:
    """Per draw, the rank-th largest Walsh sum z_i + z_j (i <= j) of its standard normals.

    W+ counts the positive Walsh sums of the differences (Tukey), and a difference is
    sd * z - c for every pair alike, so W+ <= w exactly when the (w + 1)-th largest Walsh
    sum of z is at most 2c / sd: one number per draw serves every slowdown and scatter."""
    z = _standard_normal(pairs)
    i, j = np.triu_indices(pairs)
    chunks = [np.partition(rows[:, i] + rows[:, j], -rank, axis=1)[:, -rank]
              for rows in np.array_split(z, max(1, len(z) * len(i) // 2**21))]
    return np.concatenate(chunks)


@functools.lru_cache(maxsize=64)
def _screen_middle(pairs: int, screened: int) -> np.ndarray:
    """Per draw, the two middle order statistics of its first `screened` normals (the same
    one twice for an odd count): the median ratio is the mean of their ratios."""
    ordered = np.sort(_standard_normal(pairs)[:, :screened], axis=1)
    return ordered[:, [(screened - 1) // 2, screened // 2]]


def power(slowdown: float, sd: float, rule: Rule) -> float:
    """The share of simulated keys, `slowdown` slower with pair scatter `sd`, the rule fails."""
    total = rule.pairs + rule.confirm_pairs
    critical = critical_value(total, rule.alpha)
    if critical < 0:
        return 0.0
    # Median ratio of the screen: the ratios are exp(sd * z) / (1 + slowdown).
    median = np.exp(sd * _screen_middle(total, rule.pairs)).mean(axis=1) / (1 + slowdown)
    suspected = median < 1 - rule.min_effect
    margin = math.log1p(slowdown) + math.log(1 - rule.min_effect)  # c in sd * z - c
    significant = sd * _walsh_quantile(total, critical + 1) <= 2 * margin
    return float(np.mean(suspected & significant))


def detectable_slowdown(sd: float, rule: Rule, target_power: float = 0.9) -> float:
    """The smallest slowdown the rule catches with `target_power` at pair scatter `sd`, to
    PRECISION; inf past MAX_SLOWDOWN; NaN where sd is unknown."""
    if not math.isfinite(sd):
        return math.nan
    if power(MAX_SLOWDOWN, sd, rule) < target_power:
        return math.inf
    low, high = 0.0, MAX_SLOWDOWN
    while high - low > PRECISION:
        middle = (low + high) / 2
        low, high = (low, middle) if power(middle, sd, rule) >= target_power else (middle, high)
    return high


def pairs_to_see(target: float, sd: float, rule: Rule, most: int,
                 target_power: float = 0.9) -> int | None:
    """The fewest screened pairs, from rule.pairs up to `most` (MAX_PAIRS at most), with which
    the rule sees a `target` slowdown; None where even those cannot. Bisection: more pairs see
    more (up to the exact test's small steps)."""
    def sees(pairs: int) -> bool:
        rule_with = Rule(pairs, rule.confirm_pairs, rule.min_effect, rule.alpha)
        return detectable_slowdown(sd, rule_with, target_power) <= target

    most = min(most, MAX_PAIRS)
    if most < rule.pairs or not sees(most):
        return None
    low, high = rule.pairs - 1, most  # sees(high) holds; sees(low) is taken not to
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if sees(middle) else (middle, high)
    return high
