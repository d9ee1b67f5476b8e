"""The worker: one job, inside its own fresh process (bench.fresh_process).

It imports exactly the one framework the job's adapter needs, runs the suite's `execute`,
and returns the job's records and artifacts by value. It writes nothing: the main process
stores both, so a worker on a Ray node without the run folder works the same. Whether the
job's device exists is decided here, where the job runs: a missing device (or any other
UsageError from the suite) is a `skipped` record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import UsageError
from bench.jobs import Job
from bench.records import ARTIFACT_METRIC, Measurement, make_record
from bench.registry import load_suite
from bench.suite import JobResult

SAMPLES_DIR = "samples"


@dataclass
class JobOutput:
    """What a worker hands back: records, and the arrays their `artifact` records point to."""

    records: list[dict[str, Any]]
    arrays: dict[str, Any] = field(default_factory=dict)  # path in the run folder -> array


def artifact_path(job: Job, name: str) -> str:
    return f"{SAMPLES_DIR}/{job.job_id}-{name}.npy"


def run_job(job: dict[str, Any], run_id: str, env: dict[str, Any]) -> JobOutput:
    """Execute one job; its records, and its artifacts keyed by their path in the run folder."""
    job_ = Job.from_dict(job)
    try:
        result = load_suite(job_.suite).execute(job_)
    except UsageError as exc:
        return JobOutput([make_record(run_id, job_, Measurement("job", float("nan")),
                                      status="skipped", error=str(exc), env=env)])
    env = {**env, **result.env}
    measurements = result.measurements + artifact_measurements(job_, result)
    records = [make_record(run_id, job_, m, status=result.status, error=result.error,
                           batch_size=result.batch_size, env=env) for m in measurements]
    arrays = {artifact_path(job_, a.name): a.array for a in result.artifacts}
    return JobOutput(records, arrays)


def artifact_measurements(job: Job, result: JobResult) -> list[Measurement]:
    """One `artifact` record per array: value = its sample count, `path` where it is kept."""
    return [Measurement(ARTIFACT_METRIC, float(len(a.array)),
                        tags={**a.tags, "artifact": a.name, "path": artifact_path(job, a.name)})
            for a in result.artifacts]

