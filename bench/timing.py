"""The timing loop: warm-up, then rounds of steps between device syncs, summarised robustly."""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from bench.adapter import Adapter

#: Rounds of one job whose fastest is this much faster than its slowest were not measured on
#: a steady machine (two speeds, or a neighbour that came and went): the job is flagged.
UNSTABLE_SPREAD = 1.5
#: Fewer rounds give no interquartile range or fastest round worth reading.
MIN_ROUNDS = 7


@dataclass(frozen=True)
class Timing:
    first_step_s: float  # includes tracing / compilation
    warmup_s: float
    round_s: np.ndarray  # seconds per timed round
    round_cpu_s: np.ndarray  # the worker's CPU seconds (all its threads) in each timed round
    steps_per_round: int

    @property
    def steps_per_s(self) -> np.ndarray:
        return self.steps_per_round / self.round_s

    def summary(self) -> dict[str, float]:
        """The median round (what a step costs on this machine now) and the fastest
        (`best_steps_per_s`: a neighbour, on the machine or on the VM's host, only ever slows a
        round down, so the fastest of many is the step's own cost and moves least between
        fresh runs). `cores_used` is CPU seconds per wall second: near
        the thread count when the worker held its cores throughout."""
        rates = self.steps_per_s
        q25, median, q75 = np.percentile(rates, [25, 50, 75])
        spread = float(rates.max() / rates.min())
        return {
            "steps_per_s": float(median),
            "steps_per_s_iqr": float(q75 - q25),
            "steps_per_s_mad": float(np.median(np.abs(rates - median))),
            "rounds": float(len(rates)),
            "round_spread": spread,
            "unstable": float(spread > UNSTABLE_SPREAD),
            "best_steps_per_s": float(rates.max()),
            "cores_used": float(np.median(self.round_cpu_s / self.round_s)),
        }


@dataclass(frozen=True)
class WarmStep:
    """A training step on one staged batch, warmed up, its rounds sized: where time_steps and
    the A/B check's round timer (suites.throughput.round_timer) both start."""

    step: Callable[[], None]
    sync: Callable[[], None]
    first_step_s: float  # includes tracing / compilation
    warmup_s: float
    steps_per_round: int
    rounds: int  # as many as fit in the budget (rounds_within)

    def run_round(self) -> tuple[float, float]:
        """Wall and CPU seconds of one timed round."""
        return wall_and_cpu_round(self.step, self.sync, self.steps_per_round)


def warm_step(adapter: Adapter, staged: Any, *, warmup_steps: int, rounds: int,
              min_round_s: float, max_timed_s: float = math.inf) -> WarmStep:
    """The first step and the warm-up, which also calibrates the round length: enough steps
    that a round lasts about min_round_s, so timer resolution and per-round overheads stay
    negligible. Rounds are whole steps, so a slow model's come out longer; it times fewer
    (never under MIN_ROUNDS) to stay within about max_timed_s, and its long rounds average
    over the machine's slow moments."""
    step = partial(adapter.train_step, staged)
    first = timed_round(step, adapter.sync, 1)
    warmup = timed_round(step, adapter.sync, warmup_steps)
    per_step = warmup / warmup_steps if warmup_steps else first
    steps_per_round = steps_for(min_round_s, per_step)
    return WarmStep(step, adapter.sync, first, warmup, steps_per_round,
                    rounds_within(max_timed_s, steps_per_round * per_step, rounds))


def time_steps(adapter: Adapter, staged: Any, *, warmup_steps: int, rounds: int,
               min_round_s: float, max_timed_s: float = math.inf) -> Timing:
    """Time rounds of training steps on one staged batch; sync only around rounds."""
    warm = warm_step(adapter, staged, warmup_steps=warmup_steps, rounds=rounds,
                     min_round_s=min_round_s, max_timed_s=max_timed_s)
    wall_and_cpu = np.array([warm.run_round() for _ in range(warm.rounds)])
    return Timing(warm.first_step_s, warm.warmup_s, wall_and_cpu[:, 0], wall_and_cpu[:, 1],
                  warm.steps_per_round)


def rounds_within(max_timed_s: float, round_s: float, rounds: int) -> int:
    """As many of `rounds` as fit in max_timed_s, but at least MIN_ROUNDS."""
    fit = round(max_timed_s / max(round_s, 1e-9)) if math.isfinite(max_timed_s) else rounds
    return max(min(rounds, MIN_ROUNDS), min(rounds, fit))


def timed_round(step: Callable[[], None], sync: Callable[[], None], steps: int) -> float:
    """Seconds for `steps` calls of step, with one device sync at the end and none inside."""
    return wall_and_cpu_round(step, sync, steps)[0]


def wall_and_cpu_round(step: Callable[[], None], sync: Callable[[], None],
                       steps: int) -> tuple[float, float]:
    """Wall seconds and the process's CPU seconds for `steps` calls of step. A competing
    process lengthens the first but not the second, which counts only time the worker ran."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    sync()
    return time.perf_counter() - start, time.process_time() - start_cpu


def matmul_size(device: str) -> int:
    """The square matrix whose product measures a device's peak: 2048 fills a CPU's cores; a
    large GPU needs 8192 before launch and tail effects stop hiding its rate."""
    return 8192 if device == "cuda" else 2048


def reference_matmul_flops_per_s(n: int = 2048) -> float:
    """numpy's float32 matrix product (its bundled BLAS, at the job's thread count): one CPU
    reference that both frameworks' workers measure the same way, so their MFUs divide by
    one peak and compare as their FLOP rates do."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return 2 * n**3 / best_seconds(lambda: a @ b)


def best_seconds(run: Callable[[], None], warmup: int = 2, repeats: int = 8) -> float:
    """The fastest of `repeats` timed calls after a warm-up: the machine's peak for a fixed
    workload, since noise from other processes only ever slows a call down."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def steps_for(round_s: float, per_step_s: float) -> int:
    """Steps that make a round last about round_s."""
    return max(1, math.ceil(round_s / max(per_step_s, 1e-9)))


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
