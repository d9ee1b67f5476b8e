"""`--executor ray` runs the same jobs as the local executor and writes the same records, and
resumes the same way. RayExecutor starts its own local cluster (address None), as a user's
first `gan-bench run --executor ray` on a laptop does; the jobs are a tiny convergence set:
the MLP GAN on ring8 in both frameworks, base and lr x10, one seed, 20 steps."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from bench.records import RECORDS_FILE, load_frame, read_records
from bench.runner import RunOptions, expand_jobs, run
from bench.suite import Request
from suites import convergence
from suites.convergence import LR, ConvergenceProfile

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

TINY = ConvergenceProfile({"mlp_gan": ("ring8",)}, (LR.only(10),), {"mlp_gan": 20},
                          evaluations=2, n_samples=200, ndb_k=5, seeds=1)
REQUEST = Request(models=("mlp_gan",), frameworks=("torch", "tf"), threads=1, timeout_s=600)
# Columns that say when and where a record was written, not what was measured.
CIRCUMSTANCES = ["run_id", "timestamp"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same request run by the local executor and by Ray; the profile stays patched so
    that a resume expands the same jobs."""
    root = tmp_path_factory.mktemp("executors")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(convergence.PROFILES, "quick", TINY)
        local = run(RunOptions(("convergence",), REQUEST, root / "local", workers=2))
        on_ray = run(RunOptions(("convergence",), REQUEST, root / "ray", executor="ray"))
        yield local, on_ray
    ray.shutdown()


def measured(run_dir) -> pd.DataFrame:
    """The records without their circumstances, in one order, values as text (NaN == NaN)."""
    frame = load_frame(run_dir).drop(columns=CIRCUMSTANCES)
    frame = frame.astype(str)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_ray_runs_the_same_jobs_and_writes_the_same_records(runs):
    local, on_ray = runs
    assert local.errors == [] and on_ray.errors == []
    expected = {job.job_id for job in expand_jobs(RunOptions(("convergence",), REQUEST))}
    assert len(expected) == 4
    for summary in runs:
        assert {r["job_id"] for r in read_records(summary.run_dir)} == expected
    # The same seeded jobs on the same machine: identical numbers, not merely close ones.
    pd.testing.assert_frame_equal(measured(local.run_dir), measured(on_ray.run_dir))
    outcomes = load_frame(on_ray.run_dir).query("metric == 'outcome'")
    assert len(outcomes) == 4 and set(outcomes["perturbation"]) == {"base", "lr=x10"}
    assert np.isfinite(load_frame(on_ray.run_dir).query("metric == 'fid_raw'")["value"]).all()


def test_ray_resume_reruns_only_the_job_whose_records_are_missing(runs, tmp_path):
    _, on_ray = runs
    run_dir = tmp_path / "ray"
    shutil.copytree(on_ray.run_dir, run_dir)
    records = read_records(run_dir)
    lost = next(r["job_id"] for r in records
                if (r["framework"], r["perturbation"]) == ("tf", "base"))
    (run_dir / RECORDS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records
                                                if r["job_id"] != lost))
    ran = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(convergence.PROFILES, "quick", TINY)
        again = run(RunOptions(("convergence",), REQUEST, run_dir, resume=True, executor="ray"),
                    on_job=lambda job, _: ran.append(job.job_id))
    assert ran == [lost] and again.resumed == 3 and again.errors == []
    pd.testing.assert_frame_equal(measured(run_dir), measured(on_ray.run_dir))
