"""The daily (and weekly) report: the dashboard people open every morning.

One report covers a *period* (a local day, or seven) and compares every headline
figure with the period before and with a baseline: the median of the same figure over
the trailing 7 days (daily) or 4 weeks (weekly) before the period, counting only
periods that have requests. The median keeps one bad day from moving the baseline.

The work is a handful of grouped scans in DuckDB: rows are bucketed by whole hours
from the oldest period's start and an hour -> period map (``aimon.analysis.toolkit.period``)
assigns the buckets, so all periods come from one pass. Effective cost is read only
from the ``request_costs`` view; requests it cannot price are counted apart, never
as $0.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from aimon.analysis.metrics import error_rates as errors_mod
from aimon.analysis.metrics import traffic as traffic_mod
from aimon.analysis.metrics.feedback import feedback_by_period
from aimon.analysis.metrics.latency import TOKENS_PER_S
from aimon.analysis.report.findings import Findings, Thresholds, findings
from aimon.analysis.toolkit.intervals import wilson
from aimon.analysis.toolkit.period import (
    HOUR_US,
    HourGrid,
    Period,
    days_in_month,
    hour_grid,
    local_day,
    periods_back,
)
from aimon.analysis.toolkit.window import Window, newest_request

KINDS = {"daily": (1, 7), "weekly": (7, 4)}  # days per period, periods in the baseline

# --------------------------------------------------------------------------- figures

# name -> (label, unit, which direction is better: "up", "down" or None)
FIGURES: dict[str, tuple[str, str, str | None]] = {
    "requests": ("Requests", "count", None),
    "active_users": ("Active users", "count", "up"),
    "requests_per_minute": ("Requests per minute (mean)", "per_minute", None),
    "peak_requests_per_minute": ("Requests per minute (peak)", "per_minute", None),
    "error_rate": ("Error rate", "rate", "down"),
    "latency_p50_ms": ("Latency P50", "ms", "down"),
    "latency_p95_ms": ("Latency P95", "ms", "down"),
    "latency_p99_ms": ("Latency P99", "ms", "down"),
    "ttft_p50_ms": ("Time to first token P50", "ms", "down"),
    "ttft_p95_ms": ("Time to first token P95", "ms", "down"),
    "tokens_per_s": ("Output tokens per second", "per_second", "up"),
    "cache_hit_rate": ("Cache hit rate", "rate", "up"),
    "mean_output_tokens": ("Mean response length (output tokens)", "tokens", None),
    "cost_usd": ("Cost (priced requests)", "usd", "down"),
    "cost_per_hour_usd": ("Burn rate (mean per hour)", "usd_per_hour", "down"),
    "peak_hour_cost_usd": ("Burn rate (peak hour)", "usd_per_hour", "down"),
    "cost_per_request_usd": ("Cost per priced request", "usd", "down"),
    "unpriced_requests": ("Requests without a price", "count", "down"),
    "satisfaction": ("Satisfaction (thumbs up share)", "rate", "up"),
    "thumbs_down_rate": ("Thumbs-down rate", "rate", "down"),
    "thumbs_ratio": ("Thumbs up : down", "ratio", "up"),
    "nps": ("NPS-style score", "score", "up"),
    "report_rate": ("Report rate", "rate", "down"),
    "regenerated_rate": ("Regenerated rate", "rate", "down"),
    "copied_rate": ("Copied rate", "rate", "up"),
    "edited_rate": ("Edited rate", "rate", "down"),
}

PANELS: dict[str, tuple[str, ...]] = {
    "overview": ("requests", "active_users", "requests_per_minute", "peak_requests_per_minute", "error_rate",
                 "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "cost_usd", "cost_per_hour_usd",
                 "peak_hour_cost_usd"),
    "quality": ("satisfaction", "thumbs_down_rate", "thumbs_ratio", "nps", "report_rate", "regenerated_rate",
                "copied_rate", "edited_rate", "mean_output_tokens"),
    "cost": ("cost_usd", "cost_per_request_usd", "unpriced_requests"),
    "performance": ("ttft_p50_ms", "ttft_p95_ms", "tokens_per_s", "cache_hit_rate"),
}


@dataclass(frozen=True)
class Figure:
    """A headline figure with its previous-period value and its baseline.

    ``history`` holds the value of every period, oldest first, ending with this one
    (None where a period has no data). ``low``/``high`` bound a proportion at 95%.
    """

    name: str
    label: str
    unit: str
    better: str | None
    value: float | None
    previous: float | None
    baseline: float | None
    low: float | None = None
    high: float | None = None
    history: tuple[float | None, ...] = ()

    @property
    def change_previous(self) -> float | None:
        return _diff(self.value, self.previous)

    @property
    def change_baseline(self) -> float | None:
        return _diff(self.value, self.baseline)

    @property
    def change_previous_pct(self) -> float | None:
        return _rel(self.value, self.previous)

    @property
    def change_baseline_pct(self) -> float | None:
        return _rel(self.value, self.baseline)


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _rel(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else (a - b) / abs(b)


@dataclass(frozen=True)
class CostSummary:
    """Spend in the period by how it was known, and the month's projection."""

    priced_usd: float
    logged_usd: float
    computed_usd: float
    unpriced_requests: int
    unpriced_output_tokens: int
    unpriced_input_tokens: int
    month: str
    days_in_month: int
    daily_run_rate_usd: float | None
    projected_month_usd: float | None  # from the cost forecast (aimon cost forecast), None without one
    projected_month_low_usd: float | None = None  # its 80% interval
    projected_month_high_usd: float | None = None
    projection_note: str | None = None  # why there is no projection


@dataclass(frozen=True)
class Report:
    """Everything a daily or weekly report shows; no formatting."""

    kind: str
    tz: str
    period: Period
    previous: Period
    baseline_periods: tuple[Period, ...]
    has_data: bool
    data_first: datetime | None
    data_last: datetime | None
    figures: dict[str, Figure]
    votes: int
    series: pl.DataFrame
    bucket_hours: int
    top_errors: pl.DataFrame
    by_model: pl.DataFrame
    by_endpoint: pl.DataFrame
    top_endpoints: pl.DataFrame
    report_categories: pl.DataFrame
    gaps: pl.DataFrame
    cost: CostSummary | None
    unpriced_models: list[str]
    thresholds: Thresholds
    findings: Findings = field(default_factory=Findings)
    # High-severity findings of `aimon audit security` on the period's requests, by
    # category (what the audits so far stored; empty when none ran).
    security_high: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Semantic drift of responses against the baseline, from cached embeddings only.
    quality_drift: dict | None = None

    @property
    def title(self) -> str:
        return f"{self.kind.capitalize()} report {self.period.label} ({self.tz})"

    @property
    def panels(self) -> dict[str, tuple[str, ...]]:
        """Which figures each dashboard panel shows."""
        return PANELS


# --------------------------------------------------------------------------- queries

# A request the cost view could not price (or that it does not list).
UNPRICED = "c.cost_source IS DISTINCT FROM 'logged' AND c.cost_source IS DISTINCT FROM 'computed'"

HOUR_SQL = "((epoch_us({ts}) - $origin_us) // " + str(HOUR_US) + ")::INT"

PERIOD_FIGURES_SQL = f"""
SELECT $period_of[{HOUR_SQL.format(ts='r.ts')} + 1] AS period,
       count(*) AS requests,
       count(DISTINCT r.user_id) AS active_users,
       count(*) FILTER (WHERE r.status = 'error') AS errors,
       quantile_cont(r.latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE r.status = 'ok') AS latency_q,
       quantile_cont(r.ttft_ms, [0.5, 0.95]) FILTER (WHERE r.status = 'ok') AS ttft_q,
       {TOKENS_PER_S} AS tokens_per_s,
       count(*) FILTER (WHERE r.cache_hit) AS cache_hits,
       count(r.cache_hit) AS cache_known,
       avg(r.output_tokens) FILTER (WHERE r.status = 'ok') AS mean_output_tokens
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
       count(*) AS requests,
       count(*) FILTER (WHERE r.status = 'error') AS errors,
       quantile_cont(r.latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE r.status = 'ok') AS latency_q,
       {TOKENS_PER_S} AS tokens_per_s,
       count(*) FILTER (WHERE r.cache_hit) AS cache_hits,
       count(r.cache_hit) AS cache_known
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
       count(*) AS requests,
       count(*) FILTER (WHERE r.status = 'error') AS errors,
       quantile_cont(r.latency_ms, 0.95) FILTER (WHERE r.status = 'ok') AS latency_p95_ms,
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


def _period_frame(con: duckdb.DuckDBPyConnection, grid: HourGrid, window: Window) -> pl.DataFrame:
    frame = pl.DataFrame(con.sql(PERIOD_FIGURES_SQL, params={**window.params(), **grid.params()}))
    return frame.with_columns(
        pl.col("latency_q").list.get(0).alias("latency_p50_ms"),
        pl.col("latency_q").list.get(1).alias("latency_p95_ms"),
        pl.col("latency_q").list.get(2).alias("latency_p99_ms"),
        pl.col("ttft_q").list.get(0).alias("ttft_p50_ms"),
        pl.col("ttft_q").list.get(1).alias("ttft_p95_ms"),
    ).drop("latency_q", "ttft_q")


def _minutes_by_period(con, grid: HourGrid, window: Window,
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


def _expected_per_minute(per_minute: pl.DataFrame, grid: HourGrid, periods: Sequence[Period]) -> list[float] | None:
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


def _gaps_with_expected(gaps: pl.DataFrame, current: Period, rates: list[float] | None,
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


def _hourly_cost(con, grid: HourGrid, window: Window) -> pl.DataFrame:
    frame = pl.DataFrame(con.sql(HOURLY_COST_SQL, params={**window.params(), "origin_us": grid.origin_us}))
    period_of = pl.Series(grid.period_of)
    return frame.with_columns(period_of.gather(frame["hour"]).alias("period"))


def _series(con, period: Period, bucket_hours: int, hourly_cost: pl.DataFrame, grid: HourGrid) -> pl.DataFrame:
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


def _by_model_endpoint(con, window: Window) -> tuple[pl.DataFrame, pl.DataFrame]:
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


# --------------------------------------------------------------------------- building

def default_day(con: duckdb.DuckDBPyConnection, tz: str) -> date | None:
    """The local day of the newest request (the day a report covers by default)."""
    value = newest_request(con)
    return None if value is None else local_day(value, tz)


def build_report(con: duckdb.DuckDBPyConnection, last_day: date, *, kind: str = "daily", tz: str = "UTC",
                 thresholds: Thresholds | None = None) -> Report:
    """The report for the period ending on ``last_day`` (a day, or the 7 days ending then)."""
    thresholds = thresholds or Thresholds()
    days, baseline_count = KINDS[kind]
    periods = periods_back(last_day, days, baseline_count, tz)
    current, previous = periods[0], periods[1]
    grid = hour_grid(periods)
    window = Window(grid.origin, max(p.end for p in periods))
    first, last = con.execute(DATA_SPAN_SQL).fetchall()[0]

    per = {row["period"]: row for row in _period_frame(con, grid, window).iter_rows(named=True)}
    minutes, per_minute = _minutes_by_period(con, grid, window, periods)
    hourly_cost = _hourly_cost(con, grid, window)
    cost_per = {row["period"]: row for row in hourly_cost.group_by("period").agg(
        pl.col("cost_usd").sum(), pl.col("logged_usd").sum(), pl.col("computed_usd").sum(),
        pl.col("priced_requests").sum(), pl.col("unpriced_requests").sum(),
        pl.col("cost_usd").max().alias("peak_hour_cost_usd")).iter_rows(named=True)}
    fb = {row["period"]: row for row in feedback_by_period(con, window, grid).iter_rows(named=True)}

    def values(i: int) -> dict[str, tuple[float | None, float | None, float | None]]:
        """Figure name -> (value, low, high) for period i; {} when it has no requests."""
        row = per.get(i)
        if not row or not row["requests"]:
            return {}
        p = periods[i]
        out: dict[str, tuple] = {}
        n = row["requests"]
        out["requests"] = (n, None, None)
        out["active_users"] = (row["active_users"], None, None)
        rpm = minutes.get(i)
        out["requests_per_minute"] = (rpm[0] if rpm else None, None, None)
        out["peak_requests_per_minute"] = (rpm[1] if rpm else None, None, None)
        out["error_rate"] = (row["errors"] / n, *wilson(row["errors"], n))
        for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms",
                     "tokens_per_s", "mean_output_tokens"):
            out[name] = (row[name], None, None)
        known = row["cache_known"]
        out["cache_hit_rate"] = ((row["cache_hits"] / known, *wilson(row["cache_hits"], known))
                                 if known else (None, None, None))
        c = cost_per.get(i)
        priced = c["priced_requests"] if c else 0
        cost = c["cost_usd"] if c else 0.0
        out["cost_usd"] = (cost, None, None)
        out["cost_per_hour_usd"] = (cost / p.hours, None, None)
        out["peak_hour_cost_usd"] = (c["peak_hour_cost_usd"] if c else 0.0, None, None)
        out["cost_per_request_usd"] = (cost / priced if priced else None, None, None)
        out["unpriced_requests"] = (c["unpriced_requests"] if c else n, None, None)
        # No feedback row: no request of the period got any signal (rates 0, no votes).
        f = fb.get(i) or dict.fromkeys(("thumbs_up", "thumbs_down", "reports", "regenerated", "copied",
                                        "edited"), 0)
        votes = f["thumbs_up"] + f["thumbs_down"]
        sat = (f["thumbs_up"] / votes, *wilson(f["thumbs_up"], votes)) if votes else (None, None, None)
        out["satisfaction"] = sat
        out["thumbs_down_rate"] = ((f["thumbs_down"] / votes, *wilson(f["thumbs_down"], votes))
                                   if votes else (None, None, None))
        out["thumbs_ratio"] = (f["thumbs_up"] / f["thumbs_down"] if f["thumbs_down"] else None, None, None)
        out["nps"] = tuple(None if v is None else 2 * v - 1 for v in sat)
        for name, col in (("report_rate", "reports"), ("regenerated_rate", "regenerated"),
                          ("copied_rate", "copied"), ("edited_rate", "edited")):
            out[name] = (f[col] / n, *wilson(f[col], n))
        return out

    per_period = [values(i) for i in range(len(periods))]
    figures: dict[str, Figure] = {}
    for name, (label, unit, better) in FIGURES.items():
        history = [per_period[i].get(name, (None,))[0] for i in range(len(periods))]
        base = [v for i, v in enumerate(history[1:], start=1) if per_period[i] and v is not None]
        value, low, high = per_period[0].get(name, (None, None, None))
        figures[name] = Figure(name, label, unit, better, value,
                               history[1] if per_period[1] else None,
                               statistics.median(base) if base else None,
                               low, high, tuple(reversed(history)))

    has_data = bool(per_period[0])
    bucket_hours = 1 if kind == "daily" else 6
    window_now = current.window
    f_now = fb.get(0)
    votes = (f_now["thumbs_up"] + f_now["thumbs_down"]) if f_now else 0
    if has_data:
        series = _series(con, current, bucket_hours, hourly_cost, grid)
        top = errors_mod.top_errors(con, window_now, limit=5)
        prev_top = errors_mod.top_errors(con, previous.window).select(
            "error_type", pl.col("errors").alias("previous_errors"))
        top = (top.join(prev_top, on="error_type", how="left")
               .with_columns((pl.col("errors") / per_period[0]["requests"][0]).alias("rate"),
                             pl.col("previous_errors").fill_null(0))
               .select("error_type", "errors", "share", "rate", "previous_errors"))
        by_model, by_endpoint = _by_model_endpoint(con, window_now)
        from aimon.analysis.metrics.feedback import report_categories

        categories = report_categories(con, window_now).select(
            "category", "reports", "report_rate", "report_rate_low", "report_rate_high")
        gaps = traffic_mod.gaps(con, window_now, timedelta(minutes=thresholds.gap_minutes))
        gaps = _gaps_with_expected(gaps, current, _expected_per_minute(per_minute, grid, periods),
                                   minutes[0][0] if 0 in minutes else 0.0)
        gaps = gaps.filter(pl.col("expected_requests") >= thresholds.gap_min_expected)
        cost = _cost_summary(current, periods, per_period, hourly_cost, kind, by_model)
        cost = _with_projection(con, cost, current)
    else:
        series = pl.DataFrame()
        top = by_model = by_endpoint = categories = gaps = pl.DataFrame()
        cost = None
    top_endpoints = (by_endpoint.filter((pl.col("cost_usd").fill_null(0) > 0) | (pl.col("unpriced_requests") > 0))
                     .sort(["cost_usd", "endpoint"], descending=[True, False]).head(5)
                     .with_columns((pl.col("cost_usd") / (pl.col("requests") - pl.col("unpriced_requests")))
                                   .alias("cost_per_request_usd"))
                     .select("endpoint", "requests", "cost_usd", "cost_per_request_usd", "unpriced_requests")
                     if by_endpoint.height else by_endpoint)
    unpriced_models = ([m for m, u in zip(by_model["model"], by_model["unpriced_requests"], strict=True) if u]
                       if by_model.height else [])
    report = Report(kind, tz, current, previous, tuple(periods[1:]), has_data, first, last, figures, votes,
                    series, bucket_hours, top, by_model, by_endpoint, top_endpoints, categories, gaps, cost,
                    unpriced_models, thresholds)
    if has_data:
        from dataclasses import replace

        from aimon.analysis.drift.cached import cached_quality_drift

        report = _with_findings(replace(report, security_high=pl.DataFrame(con.sql(SECURITY_HIGH_SQL,
                                                                      params=window_now.params()))))
        report = replace(report, quality_drift=cached_quality_drift(
            con, current.window, Window(min(p.start for p in periods[1:]), current.start)))
    return report


SECURITY_HIGH_SQL = """
SELECT category, count(DISTINCT request_id) AS requests
FROM security_findings
WHERE severity = 'high' AND ts >= $start AND ts < $end
GROUP BY ALL ORDER BY requests DESC, category
"""


def _with_findings(report: Report) -> Report:
    from dataclasses import replace

    return replace(report, findings=findings(report, report.thresholds))


def _cost_summary(current: Period, periods: Sequence[Period], per_period, hourly_cost: pl.DataFrame,
                  kind: str, by_model: pl.DataFrame) -> CostSummary:
    now = hourly_cost.filter(pl.col("period") == 0)
    last_day = current.last_day
    # Run rate: mean daily cost over the last 7 days that have requests (daily periods),
    # or the current week's daily mean (weekly). The month's projection is not this rate
    # times the days (a runaway day inflates it): it is the cost forecast's, below.
    if kind == "daily":
        daily = [per_period[i]["cost_usd"][0] for i in range(min(7, len(periods))) if per_period[i]]
    else:
        daily = [per_period[0]["cost_usd"][0] / current.days] if per_period[0] else []
    run_rate = sum(daily) / len(daily) if daily else None
    month_days = days_in_month(last_day)
    return CostSummary(
        priced_usd=float(now["cost_usd"].sum()) if now.height else 0.0,
        logged_usd=float(now["logged_usd"].sum()) if now.height else 0.0,
        computed_usd=float(now["computed_usd"].sum()) if now.height else 0.0,
        unpriced_requests=int(now["unpriced_requests"].sum()) if now.height else 0,
        unpriced_input_tokens=int(by_model["unpriced_input_tokens"].sum()),
        unpriced_output_tokens=int(by_model["unpriced_output_tokens"].sum()),
        month=last_day.strftime("%Y-%m"),
        days_in_month=month_days,
        daily_run_rate_usd=run_rate,
        projected_month_usd=None,
    )


def _with_projection(con: duckdb.DuckDBPyConnection, cost: CostSummary, current: Period) -> CostSummary:
    """The month's projection from the cost forecast over the history up to the period's end,
    so the report and ``aimon cost forecast --until`` that day give one figure."""
    from dataclasses import replace

    from aimon.analysis.forecast.model import FIT_DAYS, NotEnoughHistory
    from aimon.analysis.forecast.spend import forecast

    history = Window(current.end - timedelta(days=FIT_DAYS + 2), current.end)
    try:
        result = forecast(con, history, horizon=1, run_backtest=False)
    except NotEnoughHistory as exc:
        return replace(cost, projection_note=str(exc))
    month = result.month_end
    if month["month"] != cost.month:
        # The period ends on the month's last day: the month is known, not projected.
        spent = sum(h["cost_usd"] for h in result.history if h["day"].strftime("%Y-%m") == cost.month)
        return replace(cost, projected_month_usd=spent, projected_month_low_usd=spent,
                       projected_month_high_usd=spent)
    return replace(cost, projected_month_usd=month["projected_total_usd"],
                   projected_month_low_usd=month["lo80_usd"], projected_month_high_usd=month["hi80_usd"])
