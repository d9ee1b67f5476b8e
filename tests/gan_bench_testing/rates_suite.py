"""A timing suite that times nothing: the A/B check's tests run it on two trees of a tiny repo.

Each job reports one round, `round_steps_per_s`, read from `ab_rates.RATES[model]` in
whichever source tree the worker runs (bench.fresh_process puts that tree first on the
path), scattered by up to NOISE with a per-process seed. So a commit that lowers a rate is
a real slowdown of that tree, and the verdicts depend on no machine's load. A model the
tree's table lacks makes the job fail there, like a family that a base commit does not
have yet.
"""

from __future__ import annotations

import importlib
import os

import numpy as np

from bench.jobs import Job
from bench.records import Measurement
from bench.suite import JobResult, Request

PROFILES = {"quick": {}, "standard": {}, "full": {}}
NOISE = 0.02


def jobs(request: Request) -> list[Job]:
    return [Job(suite="rates", model=model, framework=framework, profile=request.profile,
                params={"variant": "base"}, **request.runtime())
            for model in request.models for framework in request.frameworks]


def execute(job: Job) -> JobResult:
    rate = importlib.import_module("ab_rates").RATES[job.model]
    noisy = rate * (1 + NOISE * np.random.default_rng(os.getpid()).uniform(-1, 1))
    return JobResult([Measurement("round_steps_per_s", float(noisy), "1/s", step=0,
                                  tags={"variant": job.params["variant"]})], batch_size=64)


def tables(frame):
    return {}


def figures(frame, out_dir):
    return []
