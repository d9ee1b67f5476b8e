"""A suite whose jobs misbehave on purpose: the isolation and resume tests run it.

Job kinds: ok (one measurement), slow (sleeps, then one measurement), abort, segfault, hang,
killed (SIGKILL, what the kernel's out-of-memory killer sends), memory (allocation past the
process's address-space limit).
The request's models name the kinds wanted, one job each per seed.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import time

from bench.jobs import Job
from bench.records import Measurement
from bench.suite import JobResult, Request


def jobs(request: Request) -> list[Job]:
    return [Job(suite="faults", model="mlp_gan", framework="none", seed=seed,
                params={"kind": kind}, **request.runtime())
            for kind in request.models for seed in range(request.seeds)]


def execute(job: Job) -> JobResult:
    kind = job.params["kind"]
    if kind == "abort":
        os.abort()
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "memory":
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        bytearray(2**31)
    if kind == "hang":
        time.sleep(3600)
    if kind == "slow":
        time.sleep(0.5)
    return JobResult([Measurement("answer", 42.0 + job.seed, tags={"kind": kind})])


def tables(frame):
    ok = frame[frame["status"] == "ok"]
    return {"answers": ok[["kind", "seed", "value"]]} if not ok.empty else {}


def figures(frame, out_dir):
    return []  # one number per job: the table says it all
