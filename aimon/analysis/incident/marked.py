"""The requests of an incident window and of the 24 hours before it, each marked
``in_window``, ``slow`` and ``bad`` (the ``x`` every post-mortem query reads), and the
helpers that run those queries."""

from __future__ import annotations

import re

import polars as pl

from aimon.analysis.metrics.catalogue import metric

_P99_ALL = metric("latency_all_p99_ms").sql()

# Every post-mortem query reads ``x``: the requests from the baseline's start to
# ``$until`` (the window's end, or the timeline's), each marked in_window, slow (above
# its model and endpoint's P99 in the baseline, or the overall baseline P99 when the
# pair had fewer than 50 timed requests there) and bad (an error, or slow).
PM_CTE = f"""
slow_at AS (
    SELECT r.model, r.endpoint,
           CASE WHEN count(r.latency_ms) >= 50 THEN {_P99_ALL} END AS slow_ms
    FROM requests r
    WHERE r.ts >= $baseline_start AND r.ts < $start
    GROUP BY ALL
), slow_all AS (
    SELECT {_P99_ALL} AS slow_ms
    FROM requests r
    WHERE r.ts >= $baseline_start AND r.ts < $start
), x AS (
    SELECT r.*,
           r.ts >= $start AND r.ts < $end AS in_window,
           coalesce(r.latency_ms > coalesce(t.slow_ms, (SELECT slow_ms FROM slow_all)), false) AS slow,
           r.status = 'error'
             OR coalesce(r.latency_ms > coalesce(t.slow_ms, (SELECT slow_ms FROM slow_all)), false) AS bad
    FROM requests r
    LEFT JOIN slow_at t ON t.model IS NOT DISTINCT FROM r.model AND t.endpoint IS NOT DISTINCT FROM r.endpoint
    WHERE r.ts >= $baseline_start AND r.ts < $until
)
"""


_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def _used(sql: str, params: dict) -> dict:
    """The parameters ``sql`` names (DuckDB refuses extra ones)."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}


def _pm(sql: str) -> str:
    return sql.replace("{pm}", PM_CTE.strip())


def _frame(con, sql: str, params: dict) -> pl.DataFrame:
    sql = _pm(sql)
    return con.sql(sql, params=_used(sql, params)).pl()


def _one(con, sql: str, params: dict) -> tuple:
    sql = _pm(sql)
    rows = con.execute(sql, _used(sql, params)).fetchall()
    return rows[0] if rows else ()


def _all(con, sql: str, params: dict) -> list[tuple]:
    sql = _pm(sql)
    return con.execute(sql, _used(sql, params)).fetchall()


def _rate(k, n) -> float | None:
    return k / n if n else None
