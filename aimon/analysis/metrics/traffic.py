"""Traffic: requests per minute (mean and peak), active users, and zero-traffic gaps.

A gap is a stretch with no request at all, at least ``min_gap`` long. Gaps are looked
for only where the database holds data: the stretch before the first logged request
or after the last one is not an outage, it is the edge of the export.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl

from aimon.analysis.toolkit import dimensions
from aimon.analysis.toolkit.dimensions import Split
from aimon.analysis.toolkit.window import Window

MINUTE_US = 60_000_000

TRAFFIC_SQL = """
WITH per_minute AS (
    SELECT {split}
           (epoch_us(r.ts) - $start_us) // {minute_us} AS minute,
           count(*) AS n
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end
    GROUP BY ALL
)
SELECT {names}
       sum(n)::BIGINT AS requests,
       sum(n) / $minutes AS requests_per_minute,
       max(n) AS peak_requests_per_minute,
       arg_max(minute, n) AS peak_minute,
       count(*) AS active_minutes
FROM per_minute
GROUP BY ALL
ORDER BY requests DESC{order_tail}
"""

USERS_SQL = """
SELECT {split} count(DISTINCT r.user_id) AS active_users
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
"""


@dataclass(frozen=True)
class TrafficResult:
    """Volume per split group, and the gaps with no traffic at all."""

    title: str
    window: Window
    by: tuple[Split, ...]
    table: pl.DataFrame
    gaps: pl.DataFrame


def _names_sql(by: Sequence[Split]) -> str:
    return "".join(f"{n}, " for n in dimensions.names(by))


def traffic_table(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = ()) -> pl.DataFrame:
    """requests, mean and peak requests per minute, active minutes and users per group."""
    by = tuple(by)
    minutes = window.duration.total_seconds() / 60
    params = {**window.params(), "start_us": int(window.start.timestamp() * 1e6), "minutes": minutes}
    sql = TRAFFIC_SQL.format(split=dimensions.select_sql(by), names=_names_sql(by), minute_us=MINUTE_US,
                             order_tail="".join(f", {n}" for n in dimensions.names(by)))
    table = pl.DataFrame(con.sql(sql, params=params))
    users = pl.DataFrame(con.sql(USERS_SQL.format(split=dimensions.select_sql(by)), params=window.params()))
    names = dimensions.names(by)
    if names:
        table = table.join(users, on=names, how="left")
    else:
        table = table.with_columns(pl.lit(users["active_users"][0] if users.height else 0).alias("active_users"))
    return table.with_columns(
        (pl.lit(window.start) + pl.duration(minutes=pl.col("peak_minute"))).alias("peak_minute")
    )


GAPS_SQL = """
WITH per_minute AS (
    SELECT {split}
           (epoch_us(r.ts) - $start_us) // {minute_us} AS minute,
           min(r.ts) AS first_ts,
           max(r.ts) AS last_ts
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end
    GROUP BY ALL
), edges AS (
    SELECT {names} min(first_ts) AS first_ts, max(last_ts) AS last_ts FROM per_minute GROUP BY ALL
), gaps AS (
    SELECT {names}
           lag(last_ts) OVER (PARTITION BY {partition} ORDER BY minute) AS gap_start,
           first_ts AS gap_end
    FROM per_minute
    UNION ALL
    SELECT {names} $lo AS gap_start, first_ts AS gap_end FROM edges
    UNION ALL
    SELECT {names} last_ts AS gap_start, $hi AS gap_end FROM edges
)
SELECT {names} gap_start, gap_end,
       epoch(gap_end - gap_start) / 60.0 AS minutes
FROM gaps
WHERE gap_start IS NOT NULL AND gap_end - gap_start >= $min_gap
ORDER BY {names} gap_start
"""

DATA_SPAN_SQL = "SELECT min(ts), max(ts) FROM requests"


def gaps(con: duckdb.DuckDBPyConnection, window: Window, min_gap: timedelta = timedelta(minutes=10),
         by: Sequence[Split] = (), *, span: tuple[datetime | None, datetime | None] | None = None) -> pl.DataFrame:
    """Stretches of at least ``min_gap`` with no request, inside the logged data.

    A group (when split) with no request at all in the window shows no gap: it may
    simply not exist in this window. ``span``: the oldest and newest request's times,
    when the caller has read them already (``DATA_SPAN_SQL``).
    """
    by = tuple(by)
    first, last = con.execute(DATA_SPAN_SQL).fetchall()[0] if span is None else span
    if first is None:
        return pl.DataFrame(schema={**{n: pl.Utf8 for n in dimensions.names(by)},
                                    "gap_start": pl.Datetime("us", "UTC"),
                                    "gap_end": pl.Datetime("us", "UTC"), "minutes": pl.Float64})
    lo: datetime = max(window.start, first)
    hi: datetime = min(window.end, last)
    params = {**window.params(), "start_us": int(window.start.timestamp() * 1e6),
              "lo": lo, "hi": hi, "min_gap": min_gap}
    names = dimensions.names(by)
    sql = GAPS_SQL.format(split=dimensions.select_sql(by), names=_names_sql(by), minute_us=MINUTE_US,
                          partition=", ".join(names) if names else "NULL")
    return pl.DataFrame(con.sql(sql, params=params))


def traffic(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = (),
            min_gap: timedelta = timedelta(minutes=10)) -> TrafficResult:
    """Volume and gaps in ``window``."""
    by = tuple(by)
    return TrafficResult("Traffic", window, by, traffic_table(con, window, by), gaps(con, window, min_gap, by))
