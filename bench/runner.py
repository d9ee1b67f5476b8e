"""A run: suites expand the request into jobs, an executor runs them, records land on disk.

The run folder is the unit of work: run.json says what was asked, records.jsonl holds what
finished. Resuming a folder reruns only the jobs without a good record, and only for the same
question: suites and request must match run.json, except the fields that are not part of a
job's identity (the timeout), which follow the command line, and the seeds, which may grow (a
run extended to more seeds keeps its first seeds' jobs and records; run.json then says the
new count).

`prepare` expands the jobs once (the display's total and the executor's work are the same
list) and measures what suites share across a run (their run context); `execute` runs them;
`run` is both.
"""

from __future__ import annotations

import dataclasses
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
from bench.executors import JobProgress, error_record, make_executor
from bench.jobs import NOT_IDENTITY, Job
from bench.records import RecordWriter, finished_job_ids
from bench.registry import load_suite
from bench.suite import Request
from bench.worker import JobOutput

RUN_FILE = "run.json"
CONTEXT_AT_END = "context_at_end"
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
class PreparedRun:
    """A run folder ready to go: its jobs, and those still to run."""

    run_dir: Path
    options: RunOptions
    jobs: list[Job]
    todo: list[Job]

    @property
    def resumed(self) -> int:
        return len(self.jobs) - len(self.todo)


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
    return only_matching(list({job.job_id: job for job in jobs}.values()), options.request.only)


def suite_jobs(suite: Any, request: Request) -> list[Job]:
    """One suite's jobs for the request, narrowed by its `only`."""
    return only_matching(suite.jobs(request), request.only)


def only_matching(jobs: list[Job], only: tuple[tuple[str, str], ...]) -> list[Job]:
    """The jobs whose config holds every (key, value) of `only` (values compared as text);
    none is a UsageError naming the keys the jobs' configs have."""
    kept = [job for job in jobs if all(key in job.config and str(job.config[key]) == value
                                       for key, value in only)]
    if jobs and not kept:
        asked = ",".join(f"{key}={value}" for key, value in only)
        keys = sorted({f"{k}={v}" for job in jobs for k, v in job.config.items()})
        raise UsageError(f"--only {asked} matches none of the run's jobs; choose among "
                         f"{', '.join(keys)}")
    return kept


def prepare(options: RunOptions) -> PreparedRun:
    """The run folder (checked against run.json on resume) and its jobs, expanded once: first,
    so that a request no suite can serve leaves no folder behind."""
    jobs = expand_jobs(options)
    run_dir = prepare_run_dir(options.out, options.resume)
    if options.resume:
        check_same_run(run_dir, options, jobs)
        save_request(run_dir, options.request)
    else:
        (run_dir / RUN_FILE).write_text(json.dumps(
            {"run_id": run_dir.name, "suites": list(options.suites),
             "request": asdict(options.request)}, indent=2))
    done = finished_job_ids(run_dir) if options.resume else set()
    contexts = run_contexts(run_dir, options) if options.executor == "local" else {}
    todo = [dataclasses.replace(job, context=contexts.get(job.suite, {}))
            for job in jobs if job.job_id not in done]
    return PreparedRun(run_dir, options, jobs, todo)


def run_contexts(run_dir: Path, options: RunOptions) -> dict[str, dict[str, Any]]:
    """Each suite's run context (bench.suite): run.json's when it has one (a resume keeps the
    measurements its first jobs used), else measured now and saved there."""
    saved = json.loads((run_dir / RUN_FILE).read_text())
    if "context" not in saved:
        saved["context"] = measure_contexts(options)
        (run_dir / RUN_FILE).write_text(json.dumps(saved, indent=2))
    return saved["context"]


def measure_contexts(options: RunOptions, hook: str = "run_context"
                     ) -> dict[str, dict[str, Any]]:
    """Each suite's `hook` (bench.suite: run_context or run_end_context), where it has one."""
    contexts = {}
    for name in options.suites:
        measure = getattr(load_suite(name), hook, None)
        if measure is not None:
            contexts[name] = measure(options.request)
    return contexts


def record_contexts_at_end(run_dir: Path, options: RunOptions) -> None:
    """What the suites measure again after the last job: run.json's `context_at_end`. Jobs
    use the start's; the two say whether the machine's speed moved while they ran."""
    saved = json.loads((run_dir / RUN_FILE).read_text())
    saved[CONTEXT_AT_END] = measure_contexts(options, "run_end_context")
    (run_dir / RUN_FILE).write_text(json.dumps(saved, indent=2))


def check_same_run(run_dir: Path, options: RunOptions, jobs: list[Job]) -> None:
    """A resume asks the question run.json asked, or more seeds of it (every job run.json asked
    for is still one of `jobs`), or it is a UsageError naming what differs."""
    saved = json.loads((run_dir / RUN_FILE).read_text())
    differ = [] if tuple(saved["suites"]) == options.suites else ["suites"]
    asked = saved_request(saved["request"])
    differ += [f.name for f in dataclasses.fields(Request) if f.name not in NOT_IDENTITY
               and getattr(asked, f.name) != getattr(options.request, f.name)]
    if differ == ["seeds"] and options.request.seeds > asked.seeds:
        asked_ids = {job.job_id for job in expand_jobs(dataclasses.replace(options,
                                                                           request=asked))}
        differ = [] if asked_ids <= {job.job_id for job in jobs} else differ
    if differ:
        raise UsageError(
            f"--resume: the command line differs from {run_dir / RUN_FILE} in "
            f"{', '.join(differ)}; rerun with the options it holds, or start a new run "
            "without --resume in another --out folder")


def save_request(run_dir: Path, request: Request) -> None:
    """run.json's request becomes this resume's (the same question, perhaps more seeds)."""
    saved = json.loads((run_dir / RUN_FILE).read_text())
    saved["request"] = asdict(request)
    (run_dir / RUN_FILE).write_text(json.dumps(saved, indent=2))


def saved_request(saved: dict[str, Any]) -> Request:
    """run.json's request; a field it lacks (an older run) takes Request's default."""
    known = {f.name for f in dataclasses.fields(Request)}
    return Request(**{k: as_tuples(v) for k, v in saved.items() if k in known})


def as_tuples(value: Any) -> Any:
    """JSON's lists back as the tuples a Request holds (`only` holds tuples of pairs)."""
    return tuple(as_tuples(v) for v in value) if isinstance(value, list) else value


def execute(prepared: PreparedRun, on_job: Callable[[Job, list[dict]], None] | None = None,
            on_progress: JobProgress | None = None) -> RunSummary:
    """Run the jobs still to run; each one's records are on disk before `on_job` hears of it."""
    run_dir, options = prepared.run_dir, prepared.options
    env = machine_environment()
    writer = RecordWriter(run_dir)
    summary = RunSummary(run_dir, jobs=len(prepared.jobs), resumed=prepared.resumed)
    executor = make_executor(options.executor, options.workers, options.address)
    for job, output in executor.run(prepared.todo, run_dir.name, env, on_progress):
        records = save_output(run_dir, output) or [
            error_record(job, run_dir.name, env, "worker returned no records")]
        writer.append(records)
        summary.errors += [f"{job.label()}: {r['error'].splitlines()[0]}"
                           for r in records if r["status"] == "error"]
        if on_job:
            on_job(job, records)
    if options.executor == "local" and prepared.todo:
        record_contexts_at_end(run_dir, options)
    os.sync()
    return summary


def run(options: RunOptions, on_job: Callable[[Job, list[dict]], None] | None = None
        ) -> RunSummary:
    return execute(prepare(options), on_job)


def save_output(run_dir: Path, output: JobOutput) -> list[dict[str, Any]]:
    """Store a job's arrays where its artifact records say, before the records themselves."""
    import numpy as np

    for path, array in output.arrays.items():
        (run_dir / path).parent.mkdir(parents=True, exist_ok=True)
        np.save(run_dir / path, array)
    return output.records
