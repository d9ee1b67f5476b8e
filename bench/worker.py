"""The worker: runs one job in a fresh process that imports exactly one framework.

    python -m bench.worker JOB.json RESULT.json

Thread counts are pinned through the environment before any framework loads, then again
through the framework's own API. The result file holds the job's records; anything else
(a crash, a hang, an abort) is read by the executor from the exit status and stderr.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def thread_environment(threads: int) -> dict[str, str]:
    return {name: str(threads) for name in THREAD_VARIABLES}


def run(job_file: Path, result_file: Path) -> int:
    from bench.errors import UsageError
    from bench.jobs import Job
    from bench.records import Measurement, make_record
    from suites import load_suite

    spec = json.loads(job_file.read_text())
    job = Job.from_dict(spec["job"])
    run_dir, env = Path(spec["run_dir"]), spec["env"]
    run_id = run_dir.name
    suite = load_suite(job.suite)
    try:
        result = suite.execute(job)
    except UsageError as exc:
        result = None
        records = [make_record(run_id, job, Measurement("job", float("nan")), status="skipped",
                               error=str(exc), env=env)]
    if result is not None:
        save_artifacts(run_dir, result.artifacts)
        env = {**env, **result.env}
        records = [make_record(run_id, job, m, status=result.status, error=result.error,
                               batch_size=result.batch_size, env=env)
                   for m in result.measurements]
    tmp = result_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(records))
    os.replace(tmp, result_file)
    return 0


def save_artifacts(run_dir: Path, artifacts: dict) -> None:
    """Arrays a job leaves for reports (sample grids): run_dir/samples/<name>.npy."""
    import numpy as np

    if artifacts:
        (run_dir / "samples").mkdir(exist_ok=True)
    for name, array in artifacts.items():
        np.save(run_dir / "samples" / f"{name}.npy", array)


def main() -> int:
    job_file, result_file = map(Path, sys.argv[1:3])
    try:
        return run(job_file, result_file)
    except Exception:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
