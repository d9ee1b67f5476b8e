"""Executors: run jobs, each in its own fresh worker process, and hand back what they made.

The local executor keeps up to N workers busy from a thread pool; the Ray executor ships the
same isolated call to a cluster, and the worker's output comes back by value. Either way a
job that crashes, hangs past its timeout or is killed comes back as one record with
status=error and the tail of its output.

`on_progress(job, message)` hears when a local job's worker starts ("running") and the steps
its training loop reports ("step 150/300", bench.progress). Under Ray the worker runs on
another node, so no step progress comes back: only finished jobs are seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from typing import Any

from bench.errors import UsageError
from bench.fresh_process import FreshProcessError, child_pythonpath, run_fresh
from bench.jobs import Job
from bench.records import Measurement, make_record
from bench.worker import JobOutput

#: Hears what a running job is doing: (job, "running") at its start, then (job, "step 3/10").
JobProgress = Callable[[Job, str], None]


def run_isolated(job: Job, run_id: str, env: dict[str, Any],
                 on_progress: JobProgress | None = None) -> JobOutput:
    """One job in a fresh worker process; never raises for the job's own failures."""
    if on_progress is not None:
        on_progress(job, "running")
    try:
        return run_fresh("bench.worker:run_job",
                         {"job": job.to_dict(), "run_id": run_id, "env": env},
                         timeout_s=job.timeout_s, threads=job.threads,
                         wait_policy=job.wait_policy,
                         on_progress=partial(on_progress, job) if on_progress else None)
    except FreshProcessError as exc:
        return JobOutput([error_record(job, run_id, env, f"worker {exc}")])


def error_record(job: Job, run_id: str, env: dict[str, Any], error: str) -> dict[str, Any]:
    return make_record(run_id, job, Measurement("job", float("nan")), status="error",
                       error=error, env=env)


class LocalExecutor:
    """Up to `workers` isolated worker processes at once on this machine."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, jobs: Iterable[Job], run_id: str, env: dict[str, Any],
            on_progress: JobProgress | None = None) -> Iterator[tuple[Job, JobOutput]]:
        with ThreadPoolExecutor(self.workers) as pool:
            futures = {pool.submit(run_isolated, job, run_id, env, on_progress): job
                       for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()


class RayExecutor:
    """The same isolated worker per job, scheduled by Ray (`ray.init(address=...)`)."""

    def __init__(self, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'gan-bench[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": child_pythonpath()}})

    def run(self, jobs: Iterable[Job], run_id: str, env: dict[str, Any],
            on_progress: JobProgress | None = None) -> Iterator[tuple[Job, JobOutput]]:
        """`on_progress` is not called: a remote worker's steps do not come back."""
        remote = self.ray.remote(run_isolated)
        pending = {remote.options(num_cpus=job.threads).remote(job, run_id, env): job
                   for job in jobs}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            yield job, self.ray.get(done[0])


def make_executor(name: str, workers: int, address: str | None = None
                  ) -> LocalExecutor | RayExecutor:
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address)
    raise UsageError(f"unknown executor {name!r}; use local or ray")
