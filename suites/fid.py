"""Sample quality over training (docs/metrics.md#fid): a suite on the quality engine.

Each model's profile dataset, every framework, device and seed: one job of suites.quality
(training with an evaluation every K steps). Its tables show the FID family, precision,
recall, density and coverage at each job's last step; its figures the loss and metric curves
and the last samples.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.figures import Figure
from bench.jobs import Job
from bench.suite import Request
from suites import quality

SUITE = "fid"
METRICS = quality.METRICS
PROFILES = quality.PROFILES  # the quality engine's budgets, shared with mode-collapse
KEY_METRIC = quality.QUALITY_METRICS
FID_METRICS = ("fid_raw", "fid_digits", "fid_inception", "kid_digits", "precision_raw",
               "recall_raw", "density_raw", "coverage_raw", "precision_digits", "recall_digits",
               "density_digits", "coverage_digits", "diverged")

execute = quality.execute


def jobs(request: Request) -> list[Job]:
    return quality.quality_jobs(SUITE, request, lambda family, profile: [{}])


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return quality.quality_tables(frame, SUITE, FID_METRICS)


def figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    return quality.quality_figures(frame, out_dir, SUITE)
