"""Records: one JSON object per measured value, appended to records.jsonl, and their DataFrame.

records.jsonl is the source of truth. Only the main process writes it: each finished job's
records go out in one write on an O_APPEND descriptor, then fsync, so an interrupted run
keeps every finished job and lines never interleave. A torn last line (the process killed
mid-write) is skipped on load, and its job simply runs again on resume.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.jobs import Job

if TYPE_CHECKING:
    import pandas as pd

RECORDS_FILE = "records.jsonl"
JOB_FIELDS = ("suite", "model", "framework", "device", "mode", "profile", "seed", "perturbation")
COLUMNS = ("run_id", "job_id", *JOB_FIELDS, "batch_size", "step", "metric", "value", "unit",
           "status", "error")
#: The metric of a record that points to a sample array (bench.worker): its value is the
#: sample count, its `path` tag the array's file in the run folder.
ARTIFACT_METRIC = "artifact"


@dataclass
class Measurement:
    """What a suite measures in a worker; the harness turns it into a record."""

    metric: str
    value: float
    unit: str = ""
    step: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)


def make_record(run_id: str, job: Job, m: Measurement, *, status: str = "ok", error: str = "",
                batch_size: int | None = None, env: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    record: dict[str, Any] = {"run_id": run_id, "job_id": job.job_id}
    record.update({name: getattr(job, name) for name in JOB_FIELDS})
    record.update(batch_size=batch_size, step=m.step, metric=m.metric,
                  value=json_number(m.value), unit=m.unit, status=status, error=error)
    record.update(m.tags)
    record.update(env or {})
    record.setdefault("threads", job.threads)
    record.setdefault("wait_policy", job.wait_policy)
    record["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return record


def json_number(value: float) -> float | str | None:
    """NaN and inf are outcomes worth keeping (a diverged run); JSON spells them as strings."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else str(value)


class RecordWriter:
    """Appends each job's records to records.jsonl atomically per job, fsynced."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / RECORDS_FILE
        self._lock = threading.Lock()

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in records)
        if not data:
            return
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                self._repair_torn_tail(fd)
                os.write(fd, data.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def _repair_torn_tail(self, fd: int) -> None:
        """After a kill mid-write the file may end without a newline: end that line first."""
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / RECORDS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn line from a killed run: its job reruns on resume
    return records


def finished_job_ids(run_dir: Path) -> set[str]:
    """Jobs that need not run again: every job with a record that is not an error."""
    return {r["job_id"] for r in read_records(run_dir) if r.get("status") != "error"}


def load_frame(run_dir: Path) -> pd.DataFrame:
    """The run's records as a tidy DataFrame, without error records of jobs that later succeeded."""
    import pandas as pd  # here, not at the top: workers import this module and never need it

    records = read_records(run_dir)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    succeeded = set(frame.loc[frame["status"] != "error", "job_id"])
    frame = frame[~((frame["status"] == "error") & frame["job_id"].isin(succeeded))]
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame.reset_index(drop=True)
