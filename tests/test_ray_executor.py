"""`--executor ray` on a cluster of two nodes gives the same records and samples as the local
executor, and resumes the same way.

The cluster is two simulated nodes on this machine (`ray.cluster_utils.Cluster`: a head node
and one worker node, one CPU each: two one-thread jobs run at once, one per node). The run
folders are known only to this process: a job carries no path, and its worker returns its
records and sample arrays by value. The jobs are a tiny convergence set: the MLP GAN on
ring8 in both frameworks, base and lr x10, one seed, 20 steps."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from bench.executors import RayExecutor, make_executor
from bench.records import RECORDS_FILE, load_frame, read_records
from bench.runner import RunOptions, expand_jobs, run
from bench.suite import Request
from implementations.spec.mlp_gan import MLPGANConfig
from suites import convergence
from suites.convergence import LR, ConvergenceProfile

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = pytest.mark.slow

TINY = ConvergenceProfile((LR.only(10),), evaluations=2, n_samples=1000, ndb_k=5, seeds=1)
REQUEST = Request(models=("mlp_gan",), frameworks=("torch", "tf"), threads=1, timeout_s=600)
NODE_CPUS = 1  # per node: a job asks for its thread count (1), so two jobs run at once
OBJECT_STORE_BYTES = 80 * 2**20  # near Ray's minimum: results are a few records and arrays
# Columns that say when and where a record was written, not what was measured.
CIRCUMSTANCES = ["run_id", "timestamp"]


def tiny_study(patch: pytest.MonkeyPatch) -> None:
    """The tiny profile, and the MLP GAN's study in it: ring8, 20 steps."""
    patch.setitem(convergence.PROFILES, "quick", TINY)
    patch.setattr(MLPGANConfig, "convergence_data", {"quick": ("ring8",)})
    patch.setattr(MLPGANConfig, "convergence_steps", {"quick": 20})


@pytest.fixture(scope="module")
def cluster():
    """A head node and one worker node on this machine; the driver connects later, through
    RayExecutor, as `gan-bench run --executor ray --address ...` does."""
    nodes = cluster_utils.Cluster(
        initialize_head=True, connect=False,
        head_node_args={"num_cpus": NODE_CPUS, "object_store_memory": OBJECT_STORE_BYTES,
                        "include_dashboard": False})
    nodes.add_node(num_cpus=NODE_CPUS, object_store_memory=OBJECT_STORE_BYTES)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The same request run by the local executor and on the cluster; the profile stays
    patched so that a resume expands the same jobs."""
    root = tmp_path_factory.mktemp("executors")
    with pytest.MonkeyPatch.context() as patch:
        tiny_study(patch)
        local = run(RunOptions(("convergence",), REQUEST, root / "local", workers=2))
        on_ray = run(RunOptions(("convergence",), REQUEST, root / "ray", executor="ray",
                                address=cluster.address))
        yield local, on_ray


def measured(run_dir) -> pd.DataFrame:
    """The records without their circumstances, in one order, values as text (NaN == NaN)."""
    frame = load_frame(run_dir).drop(columns=CIRCUMSTANCES)
    frame = frame.astype(str)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def artifact_records(run_dir) -> list[dict]:
    records = [r for r in read_records(run_dir) if r["metric"] == "artifact"]
    return sorted(({k: v for k, v in r.items() if k not in CIRCUMSTANCES} for r in records),
                  key=lambda r: r["path"])


def test_the_run_joined_the_two_node_cluster_rather_than_starting_its_own(cluster, runs):
    assert isinstance(make_executor("ray", 1, cluster.address), RayExecutor)
    assert ray.get_runtime_context().gcs_address == cluster.address
    alive = [node for node in ray.nodes() if node["Alive"]]
    assert len(alive) == 2
    assert sum(node["Resources"]["CPU"] for node in alive) == 2 * NODE_CPUS


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


def test_ray_brings_back_the_same_samples_into_a_folder_its_workers_never_saw(runs):
    local, on_ray = runs
    artifacts = artifact_records(on_ray.run_dir)
    assert artifacts == artifact_records(local.run_dir)
    # The base runs keep their samples: one array per framework, written by this process.
    assert {(a["framework"], a["perturbation"]) for a in artifacts} == {
        ("torch", "base"), ("tf", "base")}
    for record in artifacts:
        on_cluster = np.load(on_ray.run_dir / record["path"])
        assert len(on_cluster) == record["value"] and on_cluster.shape[1:] == (2,)
        assert np.array_equal(on_cluster, np.load(local.run_dir / record["path"]))


def test_ray_resume_reruns_only_the_job_whose_records_are_missing(cluster, runs, tmp_path):
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
        tiny_study(patch)
        again = run(RunOptions(("convergence",), REQUEST, run_dir, resume=True, executor="ray",
                               address=cluster.address),
                    on_job=lambda job, _: ran.append(job.job_id))
    assert ran == [lost] and again.resumed == 3 and again.errors == []
    pd.testing.assert_frame_equal(measured(run_dir), measured(on_ray.run_dir))
