"""Sample quality over training (docs/metrics.md#fid): a suite on the quality engine.

Each model's profile dataset, every framework, device and seed: one job of the quality
engine, suites.quality_engine (training with an evaluation every K steps). Its tables show
the FID family, precision, recall, density and coverage at each job's last step; its figures
the loss and metric curves and the last samples.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.jobs import Job
from bench.report.figures import Figure
from bench.suite import Request
from suites import quality_engine

SUITE = "fid"
METRICS = quality_engine.METRICS
PROFILES = quality_engine.PROFILES  # the quality engine's budgets, shared with mode-collapse
KEY_METRIC = quality_engine.QUALITY_METRICS
FID_METRICS = ("fid_raw", "fid_digits", "fid_inception", "kid_digits", "precision_raw",
               "recall_raw", "density_raw", "coverage_raw", "precision_digits", "recall_digits",
               "density_digits", "coverage_digits", "diverged")

execute = quality_engine.execute


def jobs(request: Request) -> list[Job]:
    return quality_engine.quality_jobs(SUITE, request, lambda family, profile: [{}])


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return quality_engine.quality_tables(frame, SUITE, FID_METRICS)


def figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    return quality_engine.quality_figures(frame, out_dir, SUITE)
