"""The grouped scans behind a daily or weekly report, and the frames they make.

Rows are bucketed by whole hours from the oldest period's start; an hour -> period map
(``aimon.analysis.toolkit.period.HourGrid``) assigns the buckets, so every period comes
from one pass. ``aimon.analysis.report.daily`` turns the frames into figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import duckdb
import polars as pl

from aimon.analysis.metrics.catalogue import metric, quantiles
from aimon.analysis.toolkit.period import HOUR_US, HourGrid, Period
from aimon.analysis.toolkit.window import Window

# A request the cost view could not price (or that it does not list).
UNPRICED = "c.cost_source IS DISTINCT FROM 'logged' AND c.cost_source IS DISTINCT FROM 'computed'"

HOUR_SQL = "((epoch_us({ts}) - $origin_us) // " + str(HOUR_US) + ")::INT"

# The catalogue's SQL of the figures the scans compute (one definition per figure).
REQUESTS = metric("requests").sql()
ERRORS = metric("error_rate").numerator()
LATENCY_Q = quantiles(("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"))
TTFT_Q = quantiles(("ttft_p50_ms", "ttft_p95_ms"))
LATENCY_P95 = metric("latency_p95_ms").sql()
TOKENS_PER_S = metric("tokens_per_s").sql()
CACHE_HITS, CACHE_KNOWN = metric("cache_hit_rate").numerator(), metric("cache_hit_rate").denominator()

PERIOD_FIGURES_SQL = f"""
SELECT $period_of[{HOUR_SQL.format(ts='r.ts')} + 1] AS period,
       {REQUESTS} AS requests,
       {metric("active_users").sql()} AS active_users,
       {ERRORS} AS errors,
       {LATENCY_Q} AS latency_q,
       {TTFT_Q} AS ttft_q,
       {TOKENS_PER_S} AS tokens_per_s,
       {CACHE_HITS} AS cache_hits,
       {CACHE_KNOWN} AS cache_known,
       {metric("mean_output_tokens").sql()} AS mean_output_tokens
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
"""

PER_MINUTE_SQL = """
SELECT ((epoch_us(r.ts) - $origin_us) // 60000000)::INT AS minute, count(*) AS n
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
"""

HOURLY_COST_SQL = f"""
SELECT {HOUR_SQL.format(ts='c.ts')} AS hour,
       coalesce(sum(c.cost_usd) FILTER (WHERE c.cost_source <> 'unpriced'), 0) AS cost_usd,
       coalesce(sum(c.cost_usd) FILTER (WHERE c.cost_source = 'logged'), 0) AS logged_usd,
       coalesce(sum(c.cost_usd) FILTER (WHERE c.cost_source = 'computed'), 0) AS computed_usd,
       count(*) FILTER (WHERE c.cost_source <> 'unpriced') AS priced_requests,
       count(*) FILTER (WHERE c.cost_source = 'unpriced') AS unpriced_requests
FROM request_costs c
WHERE c.ts >= $start AND c.ts < $end
GROUP BY ALL
"""

SERIES_SQL = f"""
SELECT ((epoch_us(r.ts) - $period_start_us) // $bucket_us)::INT AS bucket,
       {REQUESTS} AS requests,
       {ERRORS} AS errors,
       {LATENCY_Q} AS latency_q,
       {TOKENS_PER_S} AS tokens_per_s,
       {CACHE_HITS} AS cache_hits,
       {CACHE_KNOWN} AS cache_known
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
ORDER BY bucket
"""

# Per model and per endpoint in one pass over the period (GROUPING SETS).
BY_MODEL_ENDPOINT_SQL = f"""
SELECT CASE WHEN grouping(r.model) = 0 THEN 'model' ELSE 'endpoint' END AS split,
       coalesce(r.model, '(none)') AS model,
       coalesce(r.endpoint, '(none)') AS endpoint,
       {REQUESTS} AS requests,
       {ERRORS} AS errors,
       {LATENCY_P95} AS latency_p95_ms,
       {TOKENS_PER_S} AS tokens_per_s,
       sum(c.cost_usd) FILTER (WHERE c.cost_source <> 'unpriced') AS cost_usd,
       count(*) FILTER (WHERE {UNPRICED}) AS unpriced_requests,
       coalesce(sum(r.input_tokens) FILTER (WHERE {UNPRICED}), 0)::BIGINT AS unpriced_input_tokens,
       coalesce(sum(r.output_tokens) FILTER (WHERE {UNPRICED}), 0)::BIGINT AS unpriced_output_tokens
FROM requests r
LEFT JOIN request_costs c ON c.request_id = r.request_id AND c.ts >= $start AND c.ts < $end
WHERE r.ts >= $start AND r.ts < $end
GROUP BY GROUPING SETS ((r.model), (r.endpoint))
ORDER BY split, requests DESC, model, endpoint
"""

DATA_SPAN_SQL = "SELECT min(ts), max(ts) FROM requests"


def period_frame(con: duckdb.DuckDBPyConnection, grid: HourGrid, window: Window) -> pl.DataFrame:
    frame = pl.DataFrame(con.sql(PERIOD_FIGURES_SQL, params={**window.params(), **grid.params()}))
    return frame.with_columns(
        pl.col("latency_q").list.get(0).alias("latency_p50_ms"),
        pl.col("latency_q").list.get(1).alias("latency_p95_ms"),
        pl.col("latency_q").list.get(2).alias("latency_p99_ms"),
        pl.col("ttft_q").list.get(0).alias("ttft_p50_ms"),
        pl.col("ttft_q").list.get(1).alias("ttft_p95_ms"),
    ).drop("latency_q", "ttft_q")


def minutes_by_period(con, grid: HourGrid, window: Window,
                       periods: Sequence[Period]) -> tuple[dict[int, tuple], pl.DataFrame]:
    """Per period: (mean requests per minute, peak minute's count, when); and the
    per-minute counts themselves."""
    frame = pl.DataFrame(con.sql(PER_MINUTE_SQL, params={**window.params(), "origin_us": grid.origin_us}))
    if frame.is_empty():
        return {}, frame.with_columns(pl.lit(0).alias("period"))
    period_of = pl.Series(grid.period_of)
    frame = frame.with_columns(period_of.gather(frame["minute"] // 60).alias("period"))
    out = {}
    for row in frame.group_by("period").agg(pl.col("n").max().alias("peak"),
                                            pl.col("minute").sort_by("n", descending=True).first().alias("at"),
                                            pl.col("n").sum().alias("total")).iter_rows(named=True):
        p = periods[row["period"]]
        minutes = (p.end - p.start).total_seconds() / 60
        out[row["period"]] = (row["total"] / minutes, row["peak"], grid.origin + timedelta(minutes=row["at"]))
    return out, frame


def expected_per_minute(per_minute: pl.DataFrame, grid: HourGrid, periods: Sequence[Period]) -> list[float] | None:
    """Mean requests per minute for each hour of the day (0-23 from local midnight) over
    the baseline periods' days that have requests; None when none has."""
    base = per_minute.filter(pl.col("period") >= 1)
    if base.is_empty():
        return None
    start_hour = pl.Series([round((p.start - grid.origin).total_seconds() / 3600) for p in periods])
    hours = base.with_columns((pl.col("minute") // 60).alias("hour"))
    hours = hours.with_columns((pl.col("hour") - start_hour.gather(hours["period"])).alias("h"))
    hours = hours.with_columns((pl.col("h") % 24).alias("hod"),
                               (pl.col("period") * 1000 + pl.col("h") // 24).alias("day"))
    days = hours["day"].n_unique()
    by_hod = dict(hours.group_by("hod").agg(pl.col("n").sum()).iter_rows())
    return [by_hod.get(h, 0) / (days * 60) for h in range(24)]


def gaps_with_expected(gaps: pl.DataFrame, current: Period, rates: list[float] | None,
                        fallback_rate: float) -> pl.DataFrame:
    """Add how many requests the baseline expected during each gap."""
    expected = []
    for start, end in zip(gaps["gap_start"], gaps["gap_end"], strict=True):
        total, t = 0.0, start
        while t < end:
            hour = int((t - current.start).total_seconds() // 3600)
            nxt = min(end, current.start + timedelta(hours=hour + 1))
            rate = rates[hour % 24] if rates is not None else fallback_rate
            total += rate * (nxt - t).total_seconds() / 60
            t = nxt
        expected.append(total)
    return gaps.with_columns(pl.Series("expected_requests", expected, dtype=pl.Float64))


def hourly_cost(con, grid: HourGrid, window: Window) -> pl.DataFrame:
    frame = pl.DataFrame(con.sql(HOURLY_COST_SQL, params={**window.params(), "origin_us": grid.origin_us}))
    period_of = pl.Series(grid.period_of)
    return frame.with_columns(period_of.gather(frame["hour"]).alias("period"))


def series(con, period: Period, bucket_hours: int, hourly_cost: pl.DataFrame, grid: HourGrid) -> pl.DataFrame:
    bucket_us = bucket_hours * HOUR_US
    params = {**period.window.params(), "period_start_us": int(period.start.timestamp() * 1e6),
              "bucket_us": bucket_us}
    frame = pl.DataFrame(con.sql(SERIES_SQL, params=params))
    buckets = -(-period.hours // bucket_hours)
    full = pl.DataFrame({"bucket": list(range(buckets))}, schema={"bucket": pl.Int32})
    offset = round((period.start - grid.origin).total_seconds() / 3600)
    cost = (hourly_cost.filter((pl.col("hour") >= offset) & (pl.col("hour") < offset + period.hours))
            .with_columns(((pl.col("hour") - offset) // bucket_hours).cast(pl.Int32).alias("bucket"))
            .group_by("bucket").agg(pl.col("cost_usd").sum(), pl.col("unpriced_requests").sum()))
    frame = full.join(frame, on="bucket", how="left").join(cost, on="bucket", how="left")
    return frame.with_columns(
        (pl.lit(period.start) + pl.duration(hours=pl.col("bucket") * bucket_hours)).alias("start"),
        pl.col("requests").fill_null(0),
        pl.col("errors").fill_null(0),
        (pl.col("errors") / pl.col("requests")).alias("error_rate"),
        pl.col("latency_q").list.get(0).alias("latency_p50_ms"),
        pl.col("latency_q").list.get(1).alias("latency_p95_ms"),
        pl.col("latency_q").list.get(2).alias("latency_p99_ms"),
        (pl.col("cache_hits") / pl.when(pl.col("cache_known") > 0).then(pl.col("cache_known"))).alias("cache_hit_rate"),
        pl.col("cost_usd").fill_null(0.0),
        pl.col("unpriced_requests").fill_null(0),
    ).select("bucket", "start", "requests", "errors", "error_rate", "latency_p50_ms", "latency_p95_ms",
             "latency_p99_ms", "tokens_per_s", "cache_hit_rate", "cost_usd", "unpriced_requests").sort("bucket")


def by_model_endpoint(con, window: Window) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.DataFrame(con.sql(BY_MODEL_ENDPOINT_SQL, params=window.params()))
    out = []
    for split in ("model", "endpoint"):
        part = frame.filter(pl.col("split") == split)
        total = part["requests"].sum() if part.height else 0
        out.append(part.with_columns(
            (pl.col("requests") / total).alias("share") if total else pl.lit(None, pl.Float64).alias("share"),
            (pl.col("errors") / pl.col("requests")).alias("error_rate"),
        ).select(split, "requests", "share", "errors", "error_rate", "latency_p95_ms", "tokens_per_s",
                 "cost_usd", "unpriced_requests", "unpriced_input_tokens", "unpriced_output_tokens"))
    return out[0], out[1]


SECURITY_HIGH_SQL = """
SELECT category, count(DISTINCT request_id) AS requests
FROM security_findings
WHERE severity = 'high' AND ts >= $start AND ts < $end
GROUP BY ALL ORDER BY requests DESC, category
"""

