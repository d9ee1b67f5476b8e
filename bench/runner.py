"""A run: suites expand the request into jobs, an executor runs them, records land on disk.

The run folder is the unit of work: run.json says what was asked, records.jsonl holds what
finished. Resuming a folder reruns only the jobs without a good record.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.environment import machine_environment
from bench.errors import UsageError
from bench.executors import error_record, make_executor
from bench.jobs import Job
from bench.records import RecordWriter, finished_job_ids
from bench.registry import load_suite
from bench.suite import Request
from bench.worker import JobOutput

RUN_FILE = "run.json"
DEFAULT_RESULTS = Path("results")


@dataclass
class RunOptions:
    suites: tuple[str, ...]
    request: Request
    out: Path | None = None
    resume: bool = False
    executor: str = "local"
    workers: int = 1
    address: str | None = None


@dataclass
class RunSummary:
    run_dir: Path
    jobs: int = 0
    resumed: int = 0
    errors: list[str] = field(default_factory=list)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def latest_run(root: Path = DEFAULT_RESULTS) -> Path:
    runs = sorted(p for p in root.glob("*/") if (p / RUN_FILE).exists())
    if not runs:
        raise UsageError(f"no run to resume in {root}/; start one without --resume")
    return runs[-1]


def prepare_run_dir(out: Path | None, resume: bool) -> Path:
    """The run folder, created and checked writable before any job starts."""
    if resume and out is None:
        return latest_run()
    run_dir = out if out is not None else DEFAULT_RESULTS / new_run_id()
    if resume and not (run_dir / RUN_FILE).exists():
        raise UsageError(f"{run_dir} holds no run to resume; drop --resume to start one there")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write to output folder {run_dir} ({exc.strerror}); choose another with --out"
        ) from None
    return run_dir


def expand_jobs(options: RunOptions) -> list[Job]:
    jobs = []
    for name in options.suites:
        jobs.extend(load_suite(name).jobs(options.request))
    return list({job.job_id: job for job in jobs}.values())


def run(options: RunOptions, on_job: Callable[[Job, list[dict]], None] | None = None
        ) -> RunSummary:
    run_dir = prepare_run_dir(options.out, options.resume)
    if options.resume:
        saved = json.loads((run_dir / RUN_FILE).read_text())
        options = RunOptions(tuple(saved["suites"]), Request(**_tuples(saved["request"])),
                             run_dir, True, options.executor, options.workers, options.address)
    else:
        (run_dir / RUN_FILE).write_text(json.dumps(
            {"run_id": run_dir.name, "suites": list(options.suites),
             "request": asdict(options.request)}, indent=2))
    run_id = run_dir.name
    env = machine_environment()
    writer = RecordWriter(run_dir)
    jobs = expand_jobs(options)
    done = finished_job_ids(run_dir) if options.resume else set()
    todo = [job for job in jobs if job.job_id not in done]
    summary = RunSummary(run_dir, jobs=len(jobs), resumed=len(jobs) - len(todo))

    executor = make_executor(options.executor, options.workers, options.address)
    for job, output in executor.run(todo, run_id, env):
        records = save_output(run_dir, output) or [
            error_record(job, run_id, env, "worker returned no records")]
        writer.append(records)
        summary.errors += [f"{job.label()}: {r['error'].splitlines()[0]}"
                           for r in records if r["status"] == "error"]
        if on_job:
            on_job(job, records)
    os.sync()
    return summary


def save_output(run_dir: Path, output: JobOutput) -> list[dict[str, Any]]:
    """Store a job's arrays where its artifact records say, before the records themselves."""
    import numpy as np

    for path, array in output.arrays.items():
        (run_dir / path).parent.mkdir(parents=True, exist_ok=True)
        np.save(run_dir / path, array)
    return output.records


def _tuples(request: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in request.items()}
