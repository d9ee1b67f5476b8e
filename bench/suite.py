"""The suite contract: what a run asks for, what a suite must offer, what a job returns.

A suite is any object, usually a module, with:

- `PROFILES`: its settings per profile (quick, standard, full), one table
  (bench.profiles.profile_settings looks a profile up);
- `jobs(request) -> list[Job]`: the jobs a run needs (main process);
- `execute(job) -> JobResult`: one job's measurements (in the job's fresh worker process);
- `tables(frame) -> dict[str, DataFrame]`: its summary tables from the run's records;
- `figures(frame, out_dir) -> list[Figure]`: its figures, drawn from those same tables;
- `run_context(request) -> dict` (optional): what a run measures once, in the main process
  before its jobs, for all of them (throughput: the machine's matmul peak); kept in run.json
  (a resume reuses it) and handed to each job as `job.context`. Not under Ray: its workers
  run on other machines and measure their own;
- `run_end_context(request) -> dict` (optional): what of that the run measures again, the
  same way, after its last job (run.json's `context_at_end`): whether the machine's speed
  moved while the jobs ran (throughput: the matmul peak);
- `round_timer(job) -> RoundTimer` (optional; timing suites, in the job's worker): the job's
  step built, staged and warmed up, timing one more round per call; the A/B check
  (bench.ab_check) alternates two source trees' timers round by round;
- `KEY_METRIC` (optional): a metric name, or candidates of which the first a job measured wins,
  whose value at the job's last step a progress line shows for a finished job.

Suites register under the entry-point group `gan_bench.suites` (bench.registry), built-ins
included; the harness never imports a suite by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bench.records import Measurement

if TYPE_CHECKING:
    import pandas as pd

    from bench.figures import Figure
    from bench.jobs import Job

@dataclass(frozen=True)
class Request:
    """What the user asked for; each suite expands it into jobs."""

    models: tuple[str, ...]
    frameworks: tuple[str, ...]
    devices: tuple[str, ...] = ("cpu",)
    profile: str = "quick"
    seeds: int = 1
    threads: int = 1
    wait_policy: str = "passive"  # OpenMP's (bench.fresh_process.WAIT_POLICIES)
    timeout_s: float = 900.0
    fid_inception: bool = False  # quality suites: also FID on Inception features (needs weights)
    modes: tuple[str, ...] = ()  # timing suites: these modes instead of the profile's
    batch_sizes: tuple[int, ...] = ()  # throughput: these batch sizes instead of the profile's


    def runtime(self) -> dict[str, Any]:
        """How every job of this request runs: the Job fields a suite passes on unchanged."""
        return {"threads": self.threads, "wait_policy": self.wait_policy,
                "timeout_s": self.timeout_s}


@dataclass
class Artifact:
    """An array a job leaves for the report (a sample grid, a stylised image).

    It travels back to the main process inside the result; the main process saves it under
    the run folder and the job's `artifact` record names the file and carries `tags`
    (what the samples are: dataset, step, kind), so nothing is parsed back from file names.
    """

    name: str
    array: Any
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobResult:
    measurements: list[Measurement]
    batch_size: int | None = None
    env: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str = ""
    artifacts: list[Artifact] = field(default_factory=list)


@dataclass(frozen=True)
class RoundTimer:
    """One job's step, ready in its worker: each call of `time_round` times one more round
    and returns its steps/s. `rounds` is how many the suite's profile times per job."""

    time_round: Callable[[], float]
    rounds: int
    batch_size: int | None = None


class Suite(Protocol):
    PROFILES: Mapping[str, Any]
    KEY_METRIC: str | tuple[str, ...]  # optional: the harness reads it with a default

    def jobs(self, request: Request) -> list[Job]: ...

    def execute(self, job: Job) -> JobResult: ...

    def tables(self, frame: pd.DataFrame) -> dict[str, pd.DataFrame]: ...

    def figures(self, frame: pd.DataFrame, out_dir: Path) -> list[Figure]: ...
