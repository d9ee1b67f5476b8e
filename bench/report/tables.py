"""What the report's tables and the suites' share: which records, as what text, in what order.

A suite's `tables(frame)` and `figures(frame, out_dir)` (bench.suite) start from the run's
records: the rows of its jobs that measured something, its `artifact` records (each names
its sample array in the `path` column, absolute when a suite's `figures` is called, see
bench.report.pages, and carries what the samples are: model, framework, device, seed,
dataset, step, variant, trained; nothing is parsed back from file names), tags as text, and
the frameworks in registration order, the reference first.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.records import ARTIFACT_METRIC


def ok_rows(frame: pd.DataFrame, suite: str) -> pd.DataFrame:
    """One suite's records of jobs that measured something."""
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    return ok[ok["suite"] == suite]


def artifact_rows(frame: pd.DataFrame, suite: str) -> pd.DataFrame:
    """The suite's `artifact` records: one per sample array, with what it holds as columns."""
    ok = ok_rows(frame, suite)
    return ok[ok["metric"] == ARTIFACT_METRIC]


def text_column(frame: pd.DataFrame, name: str, default: str = "") -> pd.Series:
    """A tag column as text; a tag no record carries reads as `default`."""
    if name not in frame:
        return pd.Series(default, index=frame.index)
    return frame[name].fillna(default).astype(str)


def int_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def framework_sort_key(framework: str) -> tuple[int, str]:
    """Registration order (the reference first); unregistered names after, by name."""
    from bench.registry import frameworks

    order = frameworks()
    return (order.index(framework) if framework in order else len(order)), framework
