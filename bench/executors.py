"""Executors: run jobs, each in its own fresh worker process, and hand back their records.

The local executor keeps up to N workers busy from a thread pool; the Ray executor ships the
same isolated-worker call to a cluster. Either way a job that crashes, hangs past its
timeout or is killed comes back as one record with status=error and its stderr's tail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.jobs import Job
from bench.records import Measurement, make_record
from bench.worker import thread_environment

STDERR_TAIL = 4000
PROJECT_ROOT = Path(__file__).resolve().parent.parent

Records = list[dict[str, Any]]


def worker_environment(threads: int) -> dict[str, str]:
    env = {**os.environ, **thread_environment(threads)}
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), path) if p)
    return env


def run_isolated(job: Job, run_dir: str, env: dict[str, Any]) -> Records:
    """Run one job in a fresh `python -m bench.worker` process; never raises for job failures."""
    with tempfile.TemporaryDirectory(prefix="gan-bench-job-") as tmp:
        job_file, result_file, log_file = (Path(tmp) / n for n in ("job.json", "result.json",
                                                                   "stderr.log"))
        job_file.write_text(json.dumps({"job": job.to_dict(), "run_dir": run_dir, "env": env}))
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", str(job_file), str(result_file)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=worker_environment(job.threads), start_new_session=True)
            try:
                returncode = proc.wait(timeout=job.timeout_s)
                reason = describe_exit(returncode)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                returncode, reason = -signal.SIGKILL, f"timed out after {job.timeout_s:g} s"
        if returncode == 0 and result_file.exists():
            return json.loads(result_file.read_text())
        tail = log_file.read_bytes()[-STDERR_TAIL:].decode(errors="replace")
        return [error_record(job, Path(run_dir).name, env, f"{reason}\n{tail}".strip())]


def describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"worker exited with status {returncode}"
    name = signal.Signals(-returncode).name
    hint = " (out of memory?)" if name == "SIGKILL" else ""
    return f"worker killed by {name}{hint}"


def error_record(job: Job, run_id: str, env: dict[str, Any], error: str) -> dict[str, Any]:
    return make_record(run_id, job, Measurement("job", float("nan")), status="error",
                       error=error, env=env)


class LocalExecutor:
    """Up to `workers` isolated worker processes at once on this machine."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, jobs: Iterable[Job], run_dir: str, env: dict[str, Any]
            ) -> Iterator[tuple[Job, Records]]:
        jobs = list(jobs)
        with ThreadPoolExecutor(self.workers) as pool:
            futures = {pool.submit(run_isolated, job, run_dir, env): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()


class RayExecutor:
    """The same isolated worker per job, scheduled by Ray (`ray.init(address=...)`)."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'gan-bench[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}})
        self.workers = workers

    def run(self, jobs: Iterable[Job], run_dir: str, env: dict[str, Any]
            ) -> Iterator[tuple[Job, Records]]:
        remote = self.ray.remote(num_cpus=1)(run_isolated)
        pending = {remote.options(num_cpus=job.threads).remote(job, run_dir, env): job
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
        return RayExecutor(address, workers)
    raise UsageError(f"unknown executor {name!r}; use local or ray")

