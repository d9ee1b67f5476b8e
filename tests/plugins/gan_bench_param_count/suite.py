"""The `param-count` suite: every adapter's trainable parameters and FLOPs per training step.

One job per (model, framework): it builds the adapter in its worker and records what the
adapter reports, so the table shows both frameworks agreeing on the spec's numbers. It also
records `weights_bytes`, the float32 bytes of the parameters, a metric only this suite knows:
it declares it (METRICS) with its unit, its tolerance and history, and gan-bench shows,
gates and follows it without naming it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.build import build_adapter
from bench.jobs import Job
from bench.profiles import profile_settings
from bench.records import Measurement
from bench.suite import Gate, JobResult, MetricSpec, Request

NAME = "param-count"
#: The numbers do not depend on a profile's size; each profile builds that profile's model.
PROFILES = {"quick": {}, "standard": {}, "full": {}}
FLOAT32_BYTES = 4
METRICS = (MetricSpec("weights_bytes", "MiB", "lower", label="weights", scale=2**-20,
                      gate=Gate(relative=0.10), history=True),)
TABLE_METRICS = ("params", "flops_per_step", "weights_bytes")


def jobs(request: Request) -> list[Job]:
    profile_settings(PROFILES, request.profile)
    return [Job(suite=NAME, model=model, framework=framework, profile=request.profile,
                **request.runtime())
            for model in request.models for framework in request.frameworks]


def execute(job: Job) -> JobResult:
    built = build_adapter(job)
    adapter = built.adapter
    values = [("params", adapter.param_count(), ""),
              ("flops_per_step", adapter.flops_per_step(), "FLOP"),
              ("weights_bytes", adapter.param_count() * FLOAT32_BYTES, "B")]
    return JobResult([Measurement(name, float(value), unit) for name, value, unit in values],
                     batch_size=built.config.batch_size, env=built.env)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rows = frame[(frame["suite"] == NAME) & (frame["status"] == "ok")
                 & frame["metric"].isin(TABLE_METRICS)]
    if rows.empty:
        return {}
    table = rows.pivot_table(index=["model", "framework"], columns="metric", values="value")
    return {"parameters": table.reindex(columns=list(TABLE_METRICS)).reset_index()}


def figures(frame: pd.DataFrame, out_dir: Path) -> list:
    return []
