"""Progress a person can follow: from inside a worker's training loop up to the run's display.

A worker is a separate process (bench.fresh_process), so a step count crosses the process
boundary through a file: the parent names it in GAN_BENCH_PROGRESS, `report_step` writes the
latest "step 150/300" there at most once a second, and `run_fresh` polls it while it waits.
Outside such a worker the variable is unset and `report_step` does nothing.

`RunProgress` shows a run. On a terminal it is a rich progress bar: jobs done of total, the
current job and what it is doing, elapsed time and ETA, with a line per finished job above
it. In CI (stderr not a terminal) it is only that line per finished job, with the job's key
figure, e.g. `[3/22] throughput:mlp_gan/torch/cpu/eager/base/seed0 ok steps_per_s=154.6`.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from bench.jobs import Job
from bench.records import ARTIFACT_METRIC

PROGRESS_ENV = "GAN_BENCH_PROGRESS"
MIN_INTERVAL_S = 1.0  # a training step can take microseconds: write at most once a second


class StepReporter:
    """Writes the latest message to the progress file, throttled; the last step always."""

    def __init__(self) -> None:
        self.last_write = -math.inf

    def report_step(self, step: int, total: int) -> None:
        path = os.environ.get(PROGRESS_ENV)
        now = time.monotonic()
        if not path or (now - self.last_write < MIN_INTERVAL_S and step < total):
            return
        self.last_write = now
        partial = f"{path}.tmp"
        with open(partial, "w") as f:
            f.write(f"step {step}/{total}")
        os.replace(partial, path)  # the reader never sees half a message


report_step = StepReporter().report_step


def key_figure(records: Sequence[dict[str, Any]], key_metric: str | Sequence[str] | None
               ) -> str:
    """`name=value` of the key metric at the job's last step; '' when nothing was measured.

    `key_metric` is a suite's KEY_METRIC: a name, or candidate names of which the first the job
    measured wins; None, or no candidate measured, means the job's first measured metric.
    """
    measured = [r for r in records if r["status"] == "ok" and r["metric"] != ARTIFACT_METRIC]
    if not measured:
        return ""
    candidates = (key_metric,) if isinstance(key_metric, str) else tuple(key_metric or ())
    present = [name for name in candidates if any(r["metric"] == name for r in measured)]
    name = present[0] if present else measured[0]["metric"]
    last = max((r for r in measured if r["metric"] == name),
               key=lambda r: -1 if r["step"] is None else r["step"])
    return f"{name}={float(last['value']):.4g}"


def finished_line(done: int, total: int, job: Job, records: Sequence[dict[str, Any]]) -> str:
    """One line for a finished job: its status, then its key figure or its error's first line."""
    from bench.registry import load_suite

    status = records[0]["status"] if records else "error"
    if status == "ok":
        detail = key_figure(records, getattr(load_suite(job.suite), "KEY_METRIC", None))
    else:
        error = records[0]["error"] if records else "worker returned no records"
        detail = error.strip().splitlines()[0] if error.strip() else ""
    return f"[{done}/{total}] {job.label()} {status} {detail}".rstrip()


class RunProgress:
    """The run's display; `job_progress` may be called from executor threads."""

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None) -> None:
        self.total, self.done = total, done
        self.stream = stream or sys.stderr
        self._running: dict[str, str] = {}  # job id -> "label what it is doing", latest last
        self._lock = threading.Lock()
        self._bar = _rich_bar(self.stream) if self.stream.isatty() else None
        self._task = None

    def __enter__(self) -> RunProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("starting", total=self.total, completed=self.done)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def job_progress(self, job: Job, message: str) -> None:
        """A job started ("running") or reported a step from inside its worker."""
        with self._lock:
            self._running.pop(job.job_id, None)
            self._running[job.job_id] = f"{job.label()} {message}"
            self._show()

    def job_finished(self, job: Job, records: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            self.done += 1
            self._running.pop(job.job_id, None)
            line = finished_line(self.done, self.total, job, records)
            if self._bar is None:
                print(line, file=self.stream, flush=True)
                return
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            self._show()

    def _show(self) -> None:
        if self._bar is None:
            return
        self._bar.update(self._task, completed=self.done, description=self._current(),
                         refresh=True)

    def _current(self) -> str:
        """The job that spoke last, and how many others run beside it."""
        if not self._running:
            return ""
        latest = list(self._running.values())[-1]
        others = f" (+{len(self._running) - 1} running)" if len(self._running) > 1 else ""
        return latest + others


def _rich_bar(stream: TextIO) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(MofNCompleteColumn(), BarColumn(bar_width=20), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(),
                    TextColumn("{task.description}", markup=False),
                    console=Console(file=stream), refresh_per_second=2)
