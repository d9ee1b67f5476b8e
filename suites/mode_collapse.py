"""Mode collapse (METRICS.md "Mode collapse"): how many of the data's modes a generator keeps.

Families that train on 2-D points (the MLP GAN) run on PacGAN's ring8 and grid25; image
families run on digits (classes covered, KL from uniform, NDB), and on stacked digits (1,000
modes) only where the family accepts that dataset (3 channels); the others are left out of it.
A job is the quality engine's (suites.quality), as the fid suite's: the same training and the
same evaluation at every step, so the curves of both suites read alike; this suite's tables
show the mode statistics, its figures the curves and the last samples.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.adapter import FamilyConfig
from bench.data import POINT_DATASETS
from bench.errors import UsageError
from bench.figures import Figure
from bench.jobs import Job
from bench.suite import Request
from suites import quality

SUITE = "mode-collapse"
PROFILES = quality.PROFILES  # the quality engine's budgets, shared with fid
KEY_METRIC = ("modes_captured", "classes_covered")
IMAGE_DATASETS = ("digits", "stacked_digits")
MODE_METRICS = ("modes_captured", "high_quality_share", "modes_kl_uniform", "classes_covered",
                "classes_kl_uniform", "ndb", "ndb_share", "ndb_js", "diverged")

execute = quality.execute


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
    return quality.quality_jobs(SUITE, request, datasets)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return quality.quality_tables(frame, SUITE, MODE_METRICS)


def figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    return quality.quality_figures(frame, out_dir, SUITE)
