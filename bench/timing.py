"""The timing loop: warm-up, then rounds of steps between device syncs, summarised robustly."""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.adapter import Adapter


@dataclass(frozen=True)
class Timing:
    first_step_s: float  # includes tracing / compilation
    warmup_s: float
    round_s: np.ndarray  # seconds per timed round
    steps_per_round: int

    @property
    def steps_per_s(self) -> np.ndarray:
        return self.steps_per_round / self.round_s

    def summary(self) -> dict[str, float]:
        rates = self.steps_per_s
        q25, median, q75 = np.percentile(rates, [25, 50, 75])
        return {
            "steps_per_s": float(median),
            "steps_per_s_iqr": float(q75 - q25),
            "steps_per_s_mad": float(np.median(np.abs(rates - median))),
            "rounds": float(len(rates)),
        }


def time_steps(adapter: Adapter, staged: Any, *, warmup_steps: int, rounds: int,
               min_round_s: float) -> Timing:
    """Time rounds of training steps on one staged batch; sync only around rounds.

    The warm-up also calibrates the round length: enough steps that a round lasts about
    min_round_s, so timer resolution and per-round overheads stay negligible.
    """
    start = time.perf_counter()
    adapter.train_step(staged)
    adapter.sync()
    first = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(warmup_steps):
        adapter.train_step(staged)
    adapter.sync()
    warmup = time.perf_counter() - start
    per_step = warmup / warmup_steps if warmup_steps else first
    steps_per_round = max(1, math.ceil(min_round_s / max(per_step, 1e-9)))

    round_s = np.empty(rounds)
    for r in range(rounds):
        start = time.perf_counter()
        for _ in range(steps_per_round):
            adapter.train_step(staged)
        adapter.sync()
        round_s[r] = time.perf_counter() - start
    return Timing(first, warmup, round_s, steps_per_round)


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
