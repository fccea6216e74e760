"""Errors: the error rate (with its 95% interval) per split group, and the top error types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from aimon.analysis.metrics.catalogue import metric
from aimon.analysis.toolkit import dimensions
from aimon.analysis.toolkit.dimensions import Split
from aimon.analysis.toolkit.intervals import wilson_exprs
from aimon.analysis.toolkit.window import Window

# The catalogue's error rate: its numerator and denominator, with a Wilson interval added.
ERROR_RATE_SQL = f"""
SELECT {{split}}
       {metric("error_rate").denominator()} AS requests,
       {metric("error_rate").numerator()} AS errors
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
ORDER BY requests DESC{{order_tail}}
"""

TOP_ERRORS_SQL = """
SELECT {split}
       coalesce(r.error_type, 'unknown') AS error_type,
       count(*) AS errors
FROM requests r
WHERE r.ts >= $start AND r.ts < $end AND r.status = 'error'
GROUP BY ALL
ORDER BY errors DESC, error_type{order_tail}
"""


@dataclass(frozen=True)
class ErrorResult:
    """Error rates per split group and the most frequent error types."""

    title: str
    window: Window
    by: tuple[Split, ...]
    rates: pl.DataFrame
    top: pl.DataFrame


def _tail(by: Sequence[Split]) -> str:
    return "".join(f", {n}" for n in dimensions.names(by))


def error_rates(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = ()) -> pl.DataFrame:
    """requests, errors, error_rate and its 95% interval per group."""
    sql = ERROR_RATE_SQL.format(split=dimensions.select_sql(by), order_tail=_tail(by))
    frame = pl.DataFrame(con.sql(sql, params=window.params()))
    if not by and frame.height == 1 and frame["requests"][0] == 0:
        frame = frame.clear()
    return frame.with_columns(wilson_exprs("errors", "requests", "error_rate"))


def top_errors(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = (),
               limit: int | None = None) -> pl.DataFrame:
    """Error types by count, with their share of all errors (within the group when split)."""
    sql = TOP_ERRORS_SQL.format(split=dimensions.select_sql(by), order_tail=_tail(by))
    frame = pl.DataFrame(con.sql(sql, params=window.params()))
    names = dimensions.names(by)
    total = pl.col("errors").sum().over(names) if names else pl.col("errors").sum()
    frame = frame.with_columns((pl.col("errors") / total).alias("share"))
    if limit is not None:
        frame = (frame.group_by(names, maintain_order=True).head(limit) if names else frame.head(limit))
    return frame


def errors(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = (),
           limit: int = 10) -> ErrorResult:
    """Error rate per group and the top ``limit`` error types."""
    by = tuple(by)
    return ErrorResult("Errors", window, by, error_rates(con, window, by), top_errors(con, window, by, limit))
