"""The harness's own overhead: its timing loop over the adapter's step, against a bare loop.

The bare side is a hand-written loop of the same step (implementations/*/bare_loops.py): same
networks, optimiser, batch and noise, none of the adapter. Both run in one process, round by
round, in alternating order (ABBA), between device syncs, so drift and order effects hit both
alike. The result is the median of the per-round ratios with a bootstrap interval: 1.00 means
the harness measures the framework, not itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.build import build_adapter
from bench.data import batches, noise
from bench.errors import UsageError
from bench.jobs import Job
from bench.profiles import profile_settings
from bench.records import Measurement
from bench.report.figures import Figure
from bench.stats import bootstrap_median
from bench.suite import JobResult, MetricSpec, Request
from bench.timing import steps_for, timed_round
from suites import throughput

SUITE = "overhead"
KEY_METRIC = "harness_over_bare"
METRICS = tuple(MetricSpec(f"{side}_steps_per_s", "steps/s", "higher", label=f"{side} steps/s")
                for side in ("harness", "bare")) + (
    MetricSpec("harness_over_bare", better="higher", label="harness/bare"),
    MetricSpec("harness_over_bare_lo95", label="harness/bare low 95%"),
    MetricSpec("harness_over_bare_hi95", label="harness/bare high 95%"),
)


@dataclass(frozen=True)
class OverheadProfile:
    """Throughput's profile (its modes and warm-up: the jobs compare what throughput times),
    and this suite's timed rounds per side with the length of a round: longer than
    throughput's, since the claim to check is a difference of about 1%."""

    timing: throughput.ThroughputProfile
    rounds: int
    round_s: float


PROFILES = {
    "quick": OverheadProfile(throughput.PROFILES["quick"], rounds=20, round_s=0.25),
    "standard": OverheadProfile(throughput.PROFILES["standard"], rounds=40, round_s=0.5),
    "full": OverheadProfile(throughput.PROFILES["full"], rounds=80, round_s=1.0),
}


def jobs(request: Request) -> list[Job]:
    every_mode = profile_settings(PROFILES, request.profile).timing.every_mode
    return [Job(suite=SUITE, model=model, framework=framework, device=device, mode=mode,
                profile=request.profile, **request.runtime())
            for model in request.models for framework in request.frameworks
            for device in request.devices
            for mode in throughput.job_modes(request, framework, device, every_mode)]


def execute(job: Job) -> JobResult:
    loops = importlib.import_module(f"implementations.{job.framework}.bare_loops")
    if job.model not in loops.FAMILIES:
        raise UsageError(f"no hand-written {job.framework} loop for {job.model} to compare "
                         f"with; use --models {','.join(loops.FAMILIES)}")
    built = build_adapter(job)
    adapter, config = built.adapter, built.config
    real = next(batches(config.load_data(job.seed), config.batch_size, job.seed))
    z = noise(config.noise_shapes(), job.seed)["z"]
    staged = adapter.stage(real, {"z": z})
    bare = loops.bare_loop(job.model, config, real, z[-1], job.mode, job.device, job.seed)

    def harness_step() -> None:
        adapter.train_step(staged)

    settings = profile_settings(PROFILES, job.profile)
    # Each side waits for its own queued work: JAX has no device-wide sync, so the adapter's
    # would not wait for the bare loop's steps.
    rates = paired_rates({"harness": (harness_step, adapter.sync), "bare": (bare.step, bare.sync)},
                         settings.timing.warmup_steps, settings.rounds, settings.round_s)
    ratios = rates["harness"] / rates["bare"]
    ratio, lo, hi = bootstrap_median(ratios)
    measurements = [Measurement(f"{name}_round_steps_per_s", float(rate), "1/s", step=i)
                    for name, values in rates.items() for i, rate in enumerate(values)]
    measurements += [Measurement(f"{name}_steps_per_s", float(np.median(values)), "1/s")
                     for name, values in rates.items()]
    measurements += [Measurement("harness_over_bare", ratio),
                     Measurement("harness_over_bare_lo95", lo),
                     Measurement("harness_over_bare_hi95", hi),
                     Measurement("rounds", float(len(ratios)))]
    return JobResult(measurements, batch_size=config.batch_size, env=built.env)


def paired_rates(steps: dict[str, tuple[Callable[[], None], Callable[[], None]]],
                 warmup_steps: int, rounds: int, round_s: float) -> dict[str, np.ndarray]:
    """Steps/s of each (step, its sync) per round; round r runs them forward, r+1 backward."""
    names = list(steps)
    warm_steps = max(warmup_steps, 1)
    slowest = max(timed_round(*steps[name], warm_steps) / warm_steps for name in names)
    count = steps_for(round_s, slowest)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            rates[name].append(count / timed_round(*steps[name], count))
    return {name: np.array(values) for name, values in rates.items()}


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rows = frame[(frame["suite"] == SUITE) & (frame["status"] == "ok")]
    wanted = ["harness_steps_per_s", "bare_steps_per_s", "harness_over_bare",
              "harness_over_bare_lo95", "harness_over_bare_hi95", "rounds"]
    rows = rows[rows["metric"].isin(wanted)]
    if rows.empty:
        return {}
    table = rows.pivot_table(index=["model", "framework", "device", "mode", "batch_size"],
                             columns="metric", values="value", aggfunc="median")
    return {"harness overhead": table.reindex(columns=wanted).reset_index()}


def figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    """None: one ratio per job, which the harness overhead table states in full."""
    return []
