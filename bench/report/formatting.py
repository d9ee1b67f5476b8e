"""The one formatter of every table gan-bench shows, in Markdown and in HTML alike.

`display_table` gives each metric's column the header and scale its suite declares
(bench.suite.MetricSpec: "peak memory (MiB)" over bytes / 2**20, shares as percentages, flags
as yes/no), numbers to three significant figures, no index and no columns-name row;
`natural_order` sorts rows as a reader counts (4x4 before 16x16, torch before tf, eager
before compiled). Markdown comes from DataFrame.to_markdown (tabulate), HTML from pandas'
Styler; both render the same display table, so report.md and report.html never disagree.
CSV and Parquet keep the raw columns and values: they are for programs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from bench.framework import EAGER
from bench.report.tables import framework_sort_key
from bench.suite import MetricSpec, metric_spec

#: Headers of the columns that identify a row; a metric's header is its declaration's
#: (bench.suite.MetricSpec): its label and unit.
HEADERS = {"batch_size": "batch", "resolution": "resolution (px)", "n_samples": "samples (N)"}
#: Columns that identify a row, in the order rows are sorted by (where a table has them).
KEY_COLUMNS = ("suite", "model", "dataset", "variant", "resolution", "alpha", "framework",
               "device", "mode", "batch_size", "n_samples", "perturbation", "seed", "metric")
NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


def format_value(value: Any) -> str:
    """Three significant figures; thousands grouped; integers as integers; NaN as blank."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format_float(value)
    if hasattr(value, "item"):  # numpy scalars
        return format_value(value.item())
    return str(value)


def format_float(value: float) -> str:
    if math.isnan(value):
        return ""
    if math.isinf(value) or value == 0:
        return f"{value:g}"
    magnitude = abs(value)
    if value.is_integer() and magnitude < 1e9:
        return f"{int(value):,}"
    if 1e3 <= magnitude < 1e9:
        return f"{round(value):,}"
    if 1e-3 <= magnitude < 1e3:
        return f"{value:.3g}"
    return f"{value:.2e}"


def column_spec(column: Any) -> tuple[str, MetricSpec | None]:
    """The metric a column shows and its declaration: "torch mfu" is mfu, prefixed by torch."""
    name = str(column)
    spec = metric_spec(name)
    prefix, _, last = name.rpartition(" ")
    if spec is None and prefix:
        return last, metric_spec(last)
    return name, spec


def header(column: Any) -> str:
    """The column's name as shown, with its unit; "torch mfu" -> "torch MFU (%)"."""
    name = str(column)
    if name in HEADERS:
        return HEADERS[name]
    metric, spec = column_spec(name)
    if spec is None:
        return name.replace("_", " ")
    return name.removesuffix(metric) + spec.title(metric)


def format_column(column: pd.Series) -> pd.Series:
    _, spec = column_spec(column.name)
    if spec is None or not is_numeric_dtype(column) or is_bool_dtype(column):
        return column.map(format_value)
    if spec.flag:
        return column.map(lambda v: "" if pd.isna(v) else "yes" if v else "no")
    return (column * spec.scale if spec.scale != 1 else column).map(format_value)


@dataclass(frozen=True)
class DisplayTable:
    """A table as shown: text cells, headers with units, and which columns hold numbers."""

    frame: pd.DataFrame
    numeric: tuple[bool, ...]


def display_table(table: pd.DataFrame) -> DisplayTable:
    table = table.reset_index(drop=True)
    numeric = tuple(is_numeric_dtype(table[c]) and not is_bool_dtype(table[c])
                    and not getattr(column_spec(c)[1], "flag", False) for c in table.columns)
    shown = pd.DataFrame({header(c): format_column(table[c]) for c in table.columns})
    shown.columns.name = None  # a pivot's columns name would be an extra header row
    return DisplayTable(shown, numeric)


def to_markdown(table: pd.DataFrame) -> str:
    shown = display_table(table)
    if shown.frame.empty and not len(shown.frame.columns):
        return ""
    return shown.frame.to_markdown(index=False, disable_numparse=True,
                                   colalign=["right" if n else "left" for n in shown.numeric])


def to_html(table: pd.DataFrame) -> str:
    """The table through pandas' Styler, in a wrapper that scrolls sideways when too wide."""
    shown = display_table(table)
    styler = (shown.frame.style.hide(axis="index").format(escape="html")
              .format_index(escape="html", axis=1)
              .set_table_attributes('class="data"'))
    numbers = [c for c, n in zip(shown.frame.columns, shown.numeric, strict=True) if n]
    if numbers:
        styler = styler.set_properties(subset=numbers, **{"text-align": "right"})
    return f'<div class="table-wrap">{styler.to_html()}</div>'


# --- order ----------------------------------------------------------------------------------


def natural_key(value: Any) -> tuple:
    """'16x16 a=0.5' after '8x8 a=1': numbers compare as numbers, text as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ((0, float(value), ""),) if not math.isnan(value) else ((2, 0.0, ""),)
    parts = NUMBER.split("" if value is None else str(value))
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p)


def cell_key(column: str, value: Any) -> tuple:
    if column == "framework":
        return framework_sort_key(str(value))
    if column == "mode":  # eager first, a framework's other modes by name
        return (str(value) != EAGER, str(value))
    return natural_key(value)


def natural_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by their key columns as a reader counts; a categorical keeps its order."""
    keys = [c for c in table.columns if c in KEY_COLUMNS]
    if not keys or table.empty:
        return table.reset_index(drop=True)
    columns = {c: (table[c].cat.codes.tolist() if isinstance(table[c].dtype, pd.CategoricalDtype)
                   else table[c].tolist()) for c in keys}
    order = sorted(range(len(table)),
                   key=lambda i: tuple(cell_key(c, columns[c][i]) for c in keys))
    return table.iloc[order].reset_index(drop=True)
