"""Profiles: quick (CI, minutes on 2 cores), standard (a laptop or one GPU), full (published).

Every suite and every family keeps its settings per profile in one table; `profile_settings`
is the one lookup and the one message for a name the table lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from bench.errors import UsageError

PROFILE_NAMES = ("quick", "standard", "full")

Settings = TypeVar("Settings")


def profile_settings(table: Mapping[str, Settings], profile: str) -> Settings:
    """A profile's row of a suite's or a family's table."""
    if profile not in table:
        raise UsageError(f"unknown profile {profile!r}; use one of {', '.join(table)}")
    return table[profile]
