"""Benchmark suites. A suite is a module with three functions:

- `jobs(request) -> list[Job]`: the jobs a run of this suite needs (main process);
- `execute(job) -> JobResult`: one job's measurements (in its worker process);
- `tables(frame) -> dict[str, DataFrame]`: the suite's summary tables from the records.

Built-in suites are named here; any importable module path works too (`my_pkg.my_suite`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bench.errors import UsageError
from bench.records import Measurement

SUITES = {
    "throughput": "suites.throughput",
    "fid": "suites.fid",
    "mode-collapse": "suites.mode_collapse",
    "overhead": "suites.overhead",
    "convergence": "suites.convergence",
}


@dataclass(frozen=True)
class Request:
    """What the user asked for; each suite expands it into jobs."""

    models: tuple[str, ...]
    frameworks: tuple[str, ...]
    devices: tuple[str, ...] = ("cpu",)
    profile: str = "quick"
    seeds: int = 1
    threads: int = 2
    timeout_s: float = 900.0
    fid_inception: bool = False  # quality suites: also FID on Inception features (needs weights)
    modes: tuple[str, ...] = ()  # timing suites: these modes instead of the profile's
    batch_sizes: tuple[int, ...] = ()  # throughput: these batch sizes instead of the profile's


@dataclass
class JobResult:
    measurements: list[Measurement]
    batch_size: int | None = None
    env: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str = ""
    #: name -> array saved as run_dir/samples/<name>.npy (sample grids, stylised images)
    artifacts: dict[str, Any] = field(default_factory=dict)


def load_suite(name: str) -> ModuleType:
    if name in SUITES:
        return importlib.import_module(SUITES[name])
    if "." in name:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise UsageError(f"cannot import suite module {name!r}: {exc}") from None
    raise UsageError(f"unknown suite {name!r}; use one of {', '.join(SUITES)}")
