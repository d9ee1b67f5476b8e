"""A timing suite that times nothing: the A/B check's tests run it on two trees of a tiny repo.

Its round timer (the A/B check's hook) reports each round's steps/s as `ab_rates.RATES[model]`
read in whichever source tree the worker runs (bench.round_worker puts that tree first on the
path), scattered by up to NOISE with a per-process seed. So a commit that lowers a rate is a
real slowdown of that tree, and the verdicts depend on no machine's load. A model the tree's
table lacks makes the job fail there, like a family that a base commit does not have yet.
Where the tree has a family spec `ab_family.TinyConfig`, the timer reports its workload (the
config that tree's defaults give, and its FLOPs per step), as the throughput suite does.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
from typing import Any

import numpy as np

from bench.jobs import Job
from bench.records import Measurement
from bench.suite import JobResult, Request, RoundTimer, workload

PROFILES = {"quick": {}, "standard": {}, "full": {}}
NOISE = 0.02
ROUNDS = 3


def jobs(request: Request) -> list[Job]:
    return [Job(suite="rates", model=model, framework=framework, profile=request.profile,
                params={"variant": "base"}, **request.runtime())
            for model in request.models for framework in request.frameworks]


def round_timer(job: Job) -> RoundTimer:
    """Each round prints to stdout, as libraries do; a rate of 0 makes the worker die in its
    round (exit status 3), a negative one makes it stall."""
    rate = importlib.import_module("ab_rates").RATES[job.model]
    rng = np.random.default_rng(os.getpid())

    def time_round() -> float:
        print("a library's chatter on stdout")
        if rate == 0:
            os._exit(3)
        if rate < 0:
            time.sleep(3600)
        return rate * (1 + NOISE * rng.uniform(-1, 1))

    return RoundTimer(time_round, ROUNDS, batch_size=64, workload=tree_workload())


def tree_workload() -> dict[str, Any]:
    """The workload of the tree's `ab_family` spec at its defaults; {} where it has none."""
    if importlib.util.find_spec("ab_family") is None:
        return {}
    config = importlib.import_module("ab_family").TinyConfig()
    return workload(config, config.flops_per_step())


def execute(job: Job) -> JobResult:
    timer = round_timer(job)
    return JobResult([Measurement("round_steps_per_s", timer.time_round(), "1/s", step=i,
                                  tags={"variant": job.params["variant"]})
                      for i in range(timer.rounds)], batch_size=64)


def tables(frame):
    return {}


def figures(frame, out_dir):
    return []
