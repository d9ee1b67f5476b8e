"""The harness's own overhead: the adapter's training step against a plain hand-written loop.

Both loops train the same network in the same process, in interleaved rounds between device
syncs, so machine drift hits both alike. The result is the ratio of their median rates with
a bootstrap interval; a ratio near 1 means the harness measures the framework, not itself.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from bench.build import build_adapter
from bench.data import batches
from bench.errors import UsageError
from bench.jobs import Job
from bench.records import Measurement
from bench.stats import bootstrap_ratio_of_medians
from suites import JobResult, Request
from suites.throughput import profile_settings


def jobs(request: Request) -> list[Job]:
    modes = profile_settings(request.profile)["modes"]
    return [Job(suite="overhead", model=model, framework=framework, device=device, mode=mode,
                profile=request.profile, threads=request.threads, timeout_s=request.timeout_s)
            for model in request.models for framework in request.frameworks
            for device in request.devices for mode in modes.get(framework, ("eager",))]


def timed_round(step: Callable[[], None], sync: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return steps / (time.perf_counter() - start)


def execute(job: Job) -> JobResult:
    settings = profile_settings(job.profile)
    loops = importlib.import_module(f"implementations.{job.framework}.bare_loops").LOOPS
    if job.model not in loops:
        raise UsageError(f"no hand-written {job.framework} loop for {job.model} to compare with")
    built = build_adapter(job)
    adapter, config = built.adapter, built.config
    batch = next(batches(config.load_data(job.seed), config.examples_per_step(), job.seed))
    staged = adapter.stage(batch)
    loops_by_name = {"harness": lambda: adapter.train_step(staged),
                     "bare": loops[job.model](config, batch, job.mode)}
    warm = {name: timed_round(step, adapter.sync, settings["warmup_steps"])
            for name, step in loops_by_name.items()}
    steps = max(1, math.ceil(settings["min_round_s"] * min(warm.values())))
    rates: dict[str, list[float]] = {name: [] for name in loops_by_name}
    for _ in range(settings["rounds"]):
        for name, step in loops_by_name.items():
            rates[name].append(timed_round(step, adapter.sync, steps))
    ratio, lo, hi = bootstrap_ratio_of_medians(np.array(rates["harness"]),
                                               np.array(rates["bare"]))
    measurements = [Measurement(f"{name}_round_steps_per_s", rate, "1/s", step=i)
                    for name, values in rates.items() for i, rate in enumerate(values)]
    measurements += [Measurement(f"{name}_steps_per_s", float(np.median(values)), "1/s")
                     for name, values in rates.items()]
    measurements += [Measurement("harness_over_bare", ratio),
                     Measurement("harness_over_bare_lo95", lo),
                     Measurement("harness_over_bare_hi95", hi)]
    return JobResult(measurements, batch_size=config.batch_size, env=built.env)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rows = frame[(frame["suite"] == "overhead") & (frame["status"] == "ok")]
    wanted = ["harness_steps_per_s", "bare_steps_per_s", "harness_over_bare",
              "harness_over_bare_lo95", "harness_over_bare_hi95"]
    rows = rows[rows["metric"].isin(wanted)]
    if rows.empty:
        return {}
    table = rows.pivot_table(index=["model", "framework", "device", "mode", "batch_size"],
                             columns="metric", values="value", aggfunc="median")
    return {"harness overhead": table.reindex(columns=wanted).reset_index()}
