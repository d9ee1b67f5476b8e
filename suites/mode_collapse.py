"""Mode collapse (METRICS.md "Mode collapse"): how many of the data's modes a generator keeps.

Families that train on 2-D points (the MLP GAN) run on PacGAN's ring8 and grid25; image
families run on digits (classes covered, KL from uniform, NDB), and on stacked digits (1,000
modes) only where the family accepts that dataset (3 channels); the others are left out of it.
A job is the fid suite's: the same training and the same evaluation at every step, so the
curves of both suites read alike; this suite's tables show the mode statistics.
"""

from __future__ import annotations

import pandas as pd

from bench.adapter import FamilyConfig
from bench.data import POINT_DATASETS
from bench.errors import UsageError
from bench.jobs import Job
from bench.suite import JobResult, Request
from suites.fid import execute as execute_quality
from suites.fid import quality_jobs, quality_tables

SUITE = "mode-collapse"
IMAGE_DATASETS = ("digits", "stacked_digits")
MODE_METRICS = ("modes_captured", "high_quality_share", "modes_kl_uniform", "classes_covered",
                "classes_kl_uniform", "ndb", "ndb_share", "ndb_js", "diverged")


def accepts(family: type[FamilyConfig], profile: str, dataset: str) -> bool:
    """Whether the family's config validates with this dataset (its own list decides)."""
    try:
        family.for_profile(profile, dataset=dataset)
    except (UsageError, TypeError):  # TypeError: a family without a dataset field
        return False
    return True


def datasets(family: type[FamilyConfig], profile: str) -> list[str]:
    points = [d for d in POINT_DATASETS if accepts(family, profile, d)]
    return points or [d for d in IMAGE_DATASETS if accepts(family, profile, d)]


def jobs(request: Request) -> list[Job]:
    return quality_jobs(SUITE, request, datasets)


def execute(job: Job) -> JobResult:
    return execute_quality(job)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return quality_tables(frame, SUITE, MODE_METRICS)
