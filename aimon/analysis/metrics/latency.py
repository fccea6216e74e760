"""Latency: total duration percentiles, time to first token, and output tokens per second.

Percentiles are the catalogue's (aimon.analysis.metrics.catalogue): over successful
requests (a rate-limited call that fails in 20 ms is not a fast answer). Output tokens per second is measured over the generation time,
latency - TTFT in milliseconds, for requests that log both and produced visible output.
Reasoning tokens are generated before the first visible token (inside TTFT), so they
are left out of the numerator. It is given both as the aggregate throughput (visible
output tokens / generation seconds) and as the median of the per-request rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from aimon.analysis.metrics.catalogue import GENERATING, VISIBLE_TOKENS, metric
from aimon.analysis.toolkit import dimensions
from aimon.analysis.toolkit.dimensions import Split
from aimon.analysis.toolkit.window import Window

_GENERATING = GENERATING.format(r="r")
_VISIBLE = VISIBLE_TOKENS.format(r="r")

LATENCY_SQL = f"""
SELECT {{split}}
       {metric("requests").sql()} AS requests,
       count(*) FILTER (WHERE {metric("latency_p95_ms").rows()}) AS timed,
       {metric("latency_p50_ms").sql()} AS latency_p50_ms,
       {metric("latency_p95_ms").sql()} AS latency_p95_ms,
       {metric("latency_p99_ms").sql()} AS latency_p99_ms,
       {metric("ttft_p50_ms").sql()} AS ttft_p50_ms,
       {metric("ttft_p95_ms").sql()} AS ttft_p95_ms,
       {metric("tokens_per_s").sql()} AS tokens_per_s,
       quantile_cont({_VISIBLE} / ((r.latency_ms - r.ttft_ms) / 1000.0), 0.5)
         FILTER (WHERE {_GENERATING}) AS tokens_per_s_p50
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
ORDER BY requests DESC{{order_tail}}
"""


@dataclass(frozen=True)
class LatencyResult:
    """Latency percentiles (ms) and generation speed per split group."""

    title: str
    window: Window
    by: tuple[Split, ...]
    table: pl.DataFrame


def latency(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = ()) -> LatencyResult:
    """Latency P50/P95/P99, TTFT P50/P95 and tokens/s in ``window``, split by ``by``."""
    by = tuple(by)
    sql = LATENCY_SQL.format(split=dimensions.select_sql(by),
                             order_tail="".join(f", {n}" for n in dimensions.names(by)))
    table = pl.DataFrame(con.sql(sql, params=window.params()))
    if not by and table.height == 1 and table["requests"][0] == 0:
        table = table.clear()
    return LatencyResult("Latency", window, by, table)


LATENCY_SERIES_SQL = f"""
SELECT (epoch_us(r.ts) - $origin_us) // $bucket_us AS bucket,
       {metric("requests").sql()} AS requests,
       {metric("latency_p50_ms").sql()} AS latency_p50_ms,
       {metric("latency_p95_ms").sql()} AS latency_p95_ms,
       {metric("latency_p99_ms").sql()} AS latency_p99_ms
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
ORDER BY bucket
"""


def latency_series(con: duckdb.DuckDBPyConnection, window: Window, bucket_minutes: int = 60) -> pl.DataFrame:
    """Latency percentiles per time bucket from the window's start (empty buckets absent)."""
    origin_us = int(window.start.timestamp() * 1_000_000)
    params = {**window.params(), "origin_us": origin_us, "bucket_us": bucket_minutes * 60_000_000}
    return pl.DataFrame(con.sql(LATENCY_SERIES_SQL, params=params))
