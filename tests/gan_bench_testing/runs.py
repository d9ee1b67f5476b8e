"""Synthetic run folders: records with the real schema and chosen numbers, no framework.

The gate's and the report's tests build runs here, so their verdicts never depend on how
busy the test machine is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import DataSpec
from bench.jobs import Job
from bench.records import Measurement, RecordWriter, make_record
from bench.runner import save_output
from bench.suite import Artifact, JobResult
from bench.worker import JobOutput, artifact_measurements, artifact_path
from suites.convergence import (
    CONVERGED,
    DIVERGED,
    NOT_CONVERGED,
    Point,
    Verdict,
    criteria_for,
    outcome_measurements,
)

ENV = {"git_sha": "abc123", "cpu": "Synthetic CPU", "hostname": "test", "packages": ""}


@dataclass(frozen=True)
class ThroughputJob:
    model: str
    variant: str
    framework: str
    mode: str
    steps_per_s: float  # the true rate the rounds scatter around


THROUGHPUT_JOBS = (
    ThroughputJob("mlp_gan", "images", "torch", "eager", 180.0),
    ThroughputJob("mlp_gan", "images", "tf", "compiled", 120.0),
    ThroughputJob("mlp_gan", "images", "tf", "xla", 150.0),
    ThroughputJob("mlp_gan", "points", "torch", "eager", 400.0),
    ThroughputJob("mlp_gan", "points", "tf", "compiled", 260.0),
)
PEAK_FLOPS = 5e10
FLOPS_PER_STEP = 2e7
BATCH = 64


def throughput_records(run_id: str = "synthetic", *, scale: float = 1.0,
                       peak_scale: float = 1.0, seed: int = 0, spread: float = 0.03,
                       rounds: int = 7, profile: str = "quick",
                       jobs: Iterable[ThroughputJob] = THROUGHPUT_JOBS) -> list[dict[str, Any]]:
    """Records of the throughput suite: rounds scattered by `spread`, all times `scale`."""
    rng = np.random.default_rng(seed)
    records = []
    for spec in jobs:
        job = Job(suite="throughput", model=spec.model, framework=spec.framework,
                  mode=spec.mode, profile=profile, params={"variant": spec.variant})
        rates = spec.steps_per_s * scale * (1 + spread * rng.standard_normal(rounds))
        peak = PEAK_FLOPS * peak_scale * (1 + 0.01 * rng.standard_normal())
        q25, median, q75 = np.percentile(rates, [25, 50, 75])
        values = {"steps_per_s": median, "steps_per_s_iqr": q75 - q25,
                  "samples_per_s": median * BATCH, "flops_per_step": FLOPS_PER_STEP,
                  "achieved_flops_per_s": median * FLOPS_PER_STEP,
                  "matmul_peak_flops_per_s": peak, "mfu": median * FLOPS_PER_STEP / peak,
                  "peak_memory_bytes": 5e8, "first_step_s": 1.5}
        tags = {"variant": spec.variant}
        measured = [Measurement(name, value, tags=tags) for name, value in values.items()]
        measured += [Measurement("round_steps_per_s", rate, "1/s", step=i, tags=tags)
                     for i, rate in enumerate(rates)]
        records += [make_record(run_id, job, m, batch_size=BATCH, env=ENV) for m in measured]
    return records


def quality_records(run_id: str = "synthetic", *, fid_scale: float = 1.0, steps: int = 5,
                    profile: str = "quick") -> list[dict[str, Any]]:
    """A seeded quality suite: fid_digits and losses per step, final precision and recall."""
    records = []
    for framework, offset in (("torch", 0.0), ("tf", 0.4)):
        job = Job(suite="fid", model="mlp_gan", framework=framework, profile=profile)
        measured = []
        for i in range(steps):
            step = 100 * (i + 1)
            measured += [
                Measurement("fid_digits", (40 * math.exp(-i) + 5 + offset) * fid_scale,
                            step=step),
                Measurement("loss_d", 1.4 - 0.1 * i + offset / 10, step=step),
                Measurement("loss_g", 0.7 + 0.05 * i, step=step),
            ]
        measured += [Measurement("precision", 0.8), Measurement("recall", 0.6),
                     Measurement("kid_digits_std", 0.001)]
        records += [make_record(run_id, job, m, batch_size=BATCH, env=ENV) for m in measured]
    return records


def mode_records(run_id: str = "synthetic", *, grid25_modes: int = 25) -> list[dict[str, Any]]:
    """One job identity per dataset (ring8, grid25): records told apart by their dataset tag."""
    records = []
    for dataset, modes in (("ring8", 8), ("grid25", grid25_modes)):
        job = Job(suite="mode-collapse", model="mlp_gan", framework="torch",
                  config={"dataset": dataset})
        m = Measurement("modes_captured", modes, step=300, tags={"dataset": dataset})
        records.append(make_record(run_id, job, m, batch_size=BATCH, env=ENV))
    return records


PERTURBATIONS = ("base", "lr=x0.1", "lr=x10", "beta1=0.9", "lr=x3")


def convergence_records(run_id: str = "synthetic", seeds: int = 3) -> list[dict[str, Any]]:
    """Convergence runs as the suite records them: an fid_digits curve per seed, then the run's
    outcome records (outcome, converged, steps_to_threshold) with its summary as tags."""
    criteria = criteria_for("mlp_gan", DataSpec("digits", 28), 1000)
    rng = np.random.default_rng(1)
    records = []
    for framework in ("torch", "tf"):
        for p, perturbation in enumerate(PERTURBATIONS):
            axis, _, setting = perturbation.partition("=")
            tags = {"dataset": "digits", "axis": axis, "setting": setting}
            for seed in range(seeds):
                job = Job(suite="convergence", model="mlp_gan", framework=framework,
                          seed=seed, perturbation=perturbation)
                converged = (p + seed) % 3 != 0 or perturbation == "base"
                final = 8 + rng.random() * 4 if converged else 30 + rng.random() * 20
                curve = [final + 60 * math.exp(-i) for i in range(4)]
                diverged = perturbation == "lr=x10" and seed == 0
                if diverged:
                    curve[-1] = math.nan
                measured = [Measurement("fid_digits", v, step=100 * (i + 1))
                            for i, v in enumerate(curve)]
                outcome = DIVERGED if diverged else CONVERGED if converged else NOT_CONVERGED
                last = Point(400, curve[-1], 10, math.nan, 1.3)
                verdict = Verdict(outcome, 400 if converged else None,
                                  None if diverged else last)
                measured += outcome_measurements(verdict, criteria)
                records += [make_record(run_id, job, Measurement(
                    m.metric, m.value, m.unit, m.step, {**tags, **m.tags}), batch_size=BATCH,
                    env=ENV) for m in measured]
    return records


def error_record(run_id: str, model: str, framework: str, mode: str,
                 message: str) -> dict[str, Any]:
    job = Job(suite="throughput", model=model, framework=framework, mode=mode,
              params={"variant": "images"})
    return make_record(run_id, job, Measurement("job", math.nan), status="error",
                       error=message, env=ENV)


def artifact_records(run_dir: Path, job: Job, samples: np.ndarray, **tags: Any
                     ) -> list[dict[str, Any]]:
    """A job's samples as the worker records them and the main process stores them."""
    result = JobResult([], artifacts=[Artifact("samples", samples.astype(np.float32), tags)])
    records = [make_record("synthetic", job, m, env=ENV)
               for m in artifact_measurements(job, result)]
    arrays = {artifact_path(job, a.name): a.array for a in result.artifacts}
    return save_output(Path(run_dir), JobOutput(records, arrays))


def write_run(run_dir: Path, records: list[dict[str, Any]],
              suites: Iterable[str] = ("throughput",)) -> Path:
    """A run folder as `gan-bench run` leaves it: run.json and records.jsonl."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_dir.name,
                                                  "suites": list(suites)}))
    RecordWriter(run_dir).append(records)
    return run_dir


def scaled(records: list[dict[str, Any]], metrics: Iterable[str], factor: float
           ) -> list[dict[str, Any]]:
    """A copy of the records with the values of `metrics` multiplied by factor."""
    wanted = set(metrics)
    return [{**r, "value": r["value"] * factor} if r["metric"] in wanted else dict(r)
            for r in records]
