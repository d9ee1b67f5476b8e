"""Timed rates in pytest-benchmark's JSON format, for `pytest-benchmark compare` and CI.

Each job that timed a rate in rounds (a metric its suite declares with `rounds`,
bench.suite.MetricSpec) becomes one benchmark whose data are the inverse of each round's
rate, seconds per unit of work (per training step); the statistics are pytest-benchmark's
own, computed by its Stats class.
"""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path

import pandas as pd
from pytest_benchmark import __version__ as pytest_benchmark_version
from pytest_benchmark.stats import Stats

from bench.environment import machine_environment
from bench.suite import MetricSpec, metric_specs

FILE = "pytest-benchmark.json"
NAME_FIELDS = ("model", "variant", "framework", "device", "mode", "batch_size")


def benchmark_entry(job_rows: pd.DataFrame, spec: MetricSpec) -> dict:
    first = job_rows.iloc[0]
    name = "-".join(str(first.get(f, "")) for f in NAME_FIELDS)
    stats = Stats()
    for rate in job_rows.sort_values("step")["value"]:
        stats.update(1.0 / rate)
    return {
        "group": f"{first['model']}-{first.get('variant', '')}",
        "name": name,
        "fullname": f"gan-bench::{first.get('suite', '')}::{name}",
        "params": None,
        "param": None,
        "extra_info": {"job_id": first["job_id"], "unit": f"s, 1 / ({spec.unit})"},
        "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": len(job_rows),
                    "max_time": 0, "min_time": 0, "warmup": True},
        "stats": {**stats.as_dict(), "iterations": 1, "data": list(stats.data)},
    }


def write_pytest_benchmark_json(frame: pd.DataFrame, path: Path) -> Path | None:
    """Write one benchmark per job that timed rounds; None when the run has none."""
    timed = {spec.rounds: spec for spec in metric_specs().values() if spec.rounds}
    rounds = frame[frame["metric"].isin(timed) & (frame["status"] == "ok")]
    if rounds.empty:
        return None
    env = machine_environment()
    document = {
        "machine_info": {"node": env["hostname"], "processor": env["cpu"],
                         "machine": platform.machine(), "python_version": env["python"],
                         "python_implementation": platform.python_implementation(),
                         "system": platform.system(), "release": platform.release()},
        "commit_info": {"id": env["git_sha"], "dirty": env["git_sha"].endswith("+dirty")},
        "benchmarks": [benchmark_entry(rows, timed[metric]) for (_, metric), rows
                       in rounds.groupby(["job_id", "metric"])],
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "version": pytest_benchmark_version,
    }
    Path(path).write_text(json.dumps(document, indent=2))
    return Path(path)
