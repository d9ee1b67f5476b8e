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
  (bench.checks.ab_check) alternates two source trees' timers round by round;
- `KEY_METRIC` (optional): a metric name, or candidates of which the first a job measured wins,
  whose value at the job's last step a progress line shows for a finished job;
- `METRICS` (optional): a `MetricSpec` per metric it records, the one place that says how a
  metric is shown, judged and followed. The report, the baseline check and history read
  them (`metric_specs`, `metric_spec`); a metric nobody declares is shown by its name only.

Suites register under the entry-point group `gan_bench.suites` (bench.registry), built-ins
included; the harness never imports a suite by name.
"""

from __future__ import annotations

import fnmatch
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from bench.errors import UsageError
from bench.records import Measurement
from bench.registry import load_suite, suites


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
    steps: int = 0  # quality suites: train this many steps instead of the profile's (0: its)
    only: tuple[tuple[str, str], ...] = ()  # (config key, value): the jobs whose config has all


    def runtime(self) -> dict[str, Any]:
        """How every job of this request runs: the Job fields a suite passes on unchanged."""
        return {"threads": self.threads, "wait_policy": self.wait_policy,
                "timeout_s": self.timeout_s}


Plan = TypeVar("Plan")


def served(suite: str, models: Sequence[str], plan: Callable[[str], Plan]) -> dict[str, Plan]:
    """Each requested model the suite can run, with what it runs. `plan(model)` raises
    UsageError, one line with its fix, for a model it cannot serve: none served is that
    error (exit 2); some left out are named on one line on stderr, never dropped silently."""
    plans: dict[str, Plan] = {}
    refused: dict[str, str] = {}
    for model in models:
        try:
            plans[model] = plan(model)
        except UsageError as exc:
            refused[model] = str(exc)
    named = f"{', '.join(refused)}: {'; '.join(refused.values())}"
    if refused and not plans:
        raise UsageError(f"the {suite} suite cannot run {named}")
    if refused:
        print(f"the {suite} suite leaves out {named}", file=sys.stderr)
    return plans


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
    and returns its steps/s. `rounds` is how many the suite's profile times per job.
    `workload` says what the step runs (`workload()`): the A/B check times two trees' steps
    against each other only where they run the same work."""

    time_round: Callable[[], float]
    rounds: int
    batch_size: int | None = None
    workload: dict[str, Any] = field(default_factory=dict)


def workload(config: Any, flops_per_step: float) -> dict[str, Any]:
    """What a job's step runs: its resolved FamilyConfig (after profile and overrides) as a
    dict, its batch size and its FLOPs per step, as plain JSON values."""
    return {"config": config.to_dict(), "batch_size": config.batch_size,
            "flops_per_step": float(flops_per_step)}


# --- metric declarations --------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """How the baseline check (bench.checks.baseline) judges a metric: it may worsen by
    max(relative * |baseline|, absolute) before it fails. `advisory`: a verdict to read that
    never fails the check (a timing against a baseline from another day)."""

    relative: float = 0.0
    absolute: float = 0.0
    advisory: bool = False

    def allowed(self, baseline: float) -> float:
        return max(self.relative * abs(baseline), self.absolute)


@dataclass(frozen=True)
class MetricSpec:
    """One metric as its suite declares it.

    `name` is a metric's name or a glob pattern of names (`fid_*`); an exact name wins over
    a pattern, and patterns match in declaration order. Records keep the raw value; tables
    show `value * scale` under "label (unit)".
    """

    name: str
    unit: str = ""  # of the shown value, after `scale`
    better: Literal["higher", "lower"] | None = None
    label: str = ""  # the shown name without its unit; default: the name, spaced
    scale: float = 1.0
    gate: Gate | None = None  # None: the baseline check does not judge it
    lead: bool = False  # the report's summary leads with it
    best: bool = False  # the summary shows each framework's best value of it, and where
    history: bool = False  # `gan-bench history` follows it across runs
    # A rate timed in rounds: the metric of each round. The baseline check compares the
    # rounds, and history draws their interquartile range as the interval.
    rounds: str = ""
    per: str = ""  # rounds: divided by this measurement of the same job (the machine's peak)
    work: str = ""  # rounds: the job's work per step; a change means another model
    scales_with: str = ""  # a constant multiple of this metric within a job: its interval
    flag: bool = False  # a 0/1 flag, shown as yes/no
    flags_job: str = ""  # flag: when set, the summary lists the job, with this metric's value

    def matches(self, metric: str) -> bool:
        return fnmatch.fnmatchcase(metric, self.name)

    def title(self, metric: str | None = None) -> str:
        """The column header: 'peak memory (MiB)'."""
        label = self.label or (metric or self.name).replace("_", " ")
        if "*" in label and metric and self.name.count("*") == 1:  # what the pattern's * matched
            before, after = self.name.split("*")
            label = label.replace("*", metric[len(before):len(metric) - len(after)])
        if not self.unit or label.endswith(self.unit):  # "steps/s" says its unit already
            return label
        return f"{label} ({self.unit})"


def suite_metrics(suite: Any) -> tuple[MetricSpec, ...]:
    """A suite's declarations, checked: a wrong entry is named with its fix."""
    declared = tuple(getattr(suite, "METRICS", ()))
    for spec in declared:
        if not isinstance(spec, MetricSpec):
            raise UsageError(f"suite {getattr(suite, '__name__', suite)} declares METRICS entry "
                             f"{spec!r}; declare each metric as bench.suite.MetricSpec(...)")
    return declared


@functools.lru_cache(maxsize=8)
def _specs(path: tuple[str, ...]) -> dict[str, MetricSpec]:
    found: dict[str, MetricSpec] = {}
    owner: dict[str, str] = {}
    for name in suites():
        for spec in suite_metrics(load_suite(name)):
            if spec.name in found and found[spec.name] != spec:
                raise UsageError(f"suites {owner[spec.name]} and {name} declare metric "
                                 f"{spec.name!r} differently; one of them must use the other's")
            found.setdefault(spec.name, spec)
            owner.setdefault(spec.name, name)
    return found


def metric_specs() -> dict[str, MetricSpec]:
    """Every registered suite's declarations: name (or pattern) -> spec, in declaration order."""
    return _specs(tuple(sys.path))  # keyed on sys.path, as the registry is: plug-ins join


def metric_spec(metric: str) -> MetricSpec | None:
    """The declaration of a metric: its exact name, else the first pattern that matches."""
    specs = metric_specs()
    if metric in specs:
        return specs[metric]
    return next((s for s in specs.values() if s.matches(metric)), None)
