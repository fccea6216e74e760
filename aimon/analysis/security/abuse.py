"""Abuse: users above a requests-per-minute, tokens-per-hour or cost-per-day limit.

All in SQL: requests are bucketed per user (minute, hour or day in the session's time
zone), buckets over the limit are joined into episodes (consecutive buckets, a gaps-
and-islands count), and each episode says when it started and ended, how many buckets
were over, its peak and the peak as a multiple of the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import duckdb
import polars as pl

from aimon.analysis.security.config import AbuseLimits
from aimon.analysis.toolkit.window import Window


class Limit(StrEnum):
    requests_per_minute = "requests_per_minute"
    tokens_per_hour = "tokens_per_hour"
    cost_per_day = "cost_per_day"


@dataclass(frozen=True)
class _Measure:
    unit: str      # date_trunc unit
    value: str     # SQL aggregate per bucket (fixed text, never user input)
    label: str     # what the value counts


MEASURES = {
    Limit.requests_per_minute: _Measure("minute", "count(*)", "requests"),
    Limit.tokens_per_hour: _Measure("hour", "sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))", "tokens"),
    Limit.cost_per_day: _Measure("day", "sum(coalesce(cost_usd, 0))", "USD"),
}

EPISODES_SQL = """
WITH per AS (
    SELECT user_id, date_trunc('{unit}', ts) AS bucket, ({value})::DOUBLE AS value,
           arg_min(request_id, ts) AS first_request
    FROM costed_requests
    WHERE ts >= $start AND ts < $end AND user_id IS NOT NULL
    GROUP BY ALL
), over AS (
    SELECT *, date_diff('{unit}', TIMESTAMPTZ '2000-01-01 00:00:00+00', bucket)
              - row_number() OVER (PARTITION BY user_id ORDER BY bucket) AS island
    FROM per
    WHERE value > $limit
)
SELECT user_id, '{limit}' AS limit_name, min(bucket) AS started, max(bucket) + INTERVAL 1 {unit} AS ended,
       count(*)::BIGINT AS buckets_over, max(value) AS peak, $limit::DOUBLE AS limit_value,
       max(value) / $limit AS ratio, arg_min(first_request, bucket) AS request_id
FROM over
GROUP BY user_id, island
ORDER BY started, user_id
"""

SCHEMA = {"user_id": pl.String, "limit_name": pl.String, "started": pl.Datetime("us", "UTC"),
          "ended": pl.Datetime("us", "UTC"), "buckets_over": pl.Int64, "peak": pl.Float64,
          "limit_value": pl.Float64, "ratio": pl.Float64, "request_id": pl.String}


def episodes(con: duckdb.DuckDBPyConnection, window: Window, limits: AbuseLimits) -> pl.DataFrame:
    """Every episode of a user over a limit in the window, oldest first."""
    frames = []
    for limit, m in MEASURES.items():
        sql = EPISODES_SQL.format(unit=m.unit, value=m.value, limit=limit.value)
        frame = con.sql(sql, params={**window.params(), "limit": float(getattr(limits, limit.value))}).pl()
        frames.append(frame.cast({k: v for k, v in SCHEMA.items() if k in frame.columns}))
    out = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=SCHEMA)
    return out.with_columns(pl.col("started").dt.convert_time_zone("UTC"),
                            pl.col("ended").dt.convert_time_zone("UTC")).sort("started", "user_id")


def severity(ratio: float) -> str:
    return "high" if ratio >= 3 else "medium"


def describe(row: dict) -> str:
    """One line saying when and by how much (no user id: evidence is shown as is)."""
    m = MEASURES[Limit(row["limit_name"])]
    peak = f"${row['peak']:,.2f}" if m.label == "USD" else f"{row['peak']:,.0f} {m.label}"
    limit = f"${row['limit_value']:,.2f}" if m.label == "USD" else f"{row['limit_value']:,.0f}"
    n = row["buckets_over"]
    return (f"peak {peak} per {m.unit} (limit {limit}, {row['ratio']:.1f}x); {n} {m.unit}{'s' if n != 1 else ''} "
            f"over, {row['started']:%Y-%m-%d %H:%M} to {row['ended']:%Y-%m-%d %H:%M} UTC")
