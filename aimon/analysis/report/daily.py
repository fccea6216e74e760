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
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from aimon.analysis.metrics import catalogue
from aimon.analysis.metrics import error_rates as errors_mod
from aimon.analysis.metrics import traffic as traffic_mod
from aimon.analysis.metrics.catalogue import FEEDBACK_SHARES, Metric
from aimon.analysis.metrics.feedback import feedback_by_period
from aimon.analysis.report import scans
from aimon.analysis.report.findings import Findings, Thresholds, findings
from aimon.analysis.report.spend import CostSummary, cost_summary, with_projection
from aimon.analysis.toolkit.intervals import wilson
from aimon.analysis.toolkit.period import HourGrid, Period, hour_grid, local_day, periods_back
from aimon.analysis.toolkit.window import Window, newest_request

KINDS = {"daily": (1, 7), "weekly": (7, 4)}  # days per period, periods in the baseline

# --------------------------------------------------------------------------- figures

# The figures a report shows, in order; what each means, its label, unit and better
# direction are the catalogue's (aimon.analysis.metrics.catalogue).
FIGURE_NAMES = ("requests", "active_users", "requests_per_minute", "peak_requests_per_minute", "error_rate",
                "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms",
                "tokens_per_s", "cache_hit_rate", "mean_output_tokens", "cost_usd", "cost_per_hour_usd",
                "peak_hour_cost_usd", "cost_per_request_usd", "unpriced_requests", "satisfaction",
                "thumbs_down_rate", "thumbs_ratio", "nps", "report_rate", "regenerated_rate", "copied_rate",
                "edited_rate")
FIGURES: dict[str, Metric] = {name: catalogue.metric(name) for name in FIGURE_NAMES}

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
    first, last = con.execute(scans.DATA_SPAN_SQL).fetchall()[0]
    scanned = _Scanned.of(con, periods)
    per_period = [_period_values(scanned, periods, i) for i in range(len(periods))]
    has_data = bool(per_period[0])
    bucket_hours = 1 if kind == "daily" else 6
    f_now = scanned.feedback.get(0)
    votes = (f_now["thumbs_up"] + f_now["thumbs_down"]) if f_now else 0
    details = (_details(con, scanned, periods, per_period, kind, bucket_hours, thresholds, (first, last))
               if has_data
               else _Details(pl.DataFrame(), *[pl.DataFrame()] * 5, None))
    report = Report(kind, tz, current, previous, tuple(periods[1:]), has_data, first, last,
                    _figures(per_period, periods), votes, details.series, bucket_hours, details.top,
                    details.by_model, details.by_endpoint, _top_endpoints(details.by_endpoint),
                    details.categories, details.gaps, details.cost, _unpriced_models(details.by_model),
                    thresholds)
    if has_data:
        from aimon.analysis.drift.cached import cached_quality_drift

        high = pl.DataFrame(con.sql(scans.SECURITY_HIGH_SQL, params=current.window.params()))
        report = _with_findings(replace(report, security_high=high))
        report = replace(report, quality_drift=cached_quality_drift(
            con, current.window, Window(min(p.start for p in periods[1:]), current.start)))
    return report


@dataclass(frozen=True)
class _Scanned:
    """The grouped scans over every period at once, keyed by period index."""

    grid: HourGrid
    per: dict[int, dict]
    minutes: dict[int, tuple]
    per_minute: pl.DataFrame
    hourly_cost: pl.DataFrame
    cost_per: dict[int, dict]
    feedback: dict[int, dict]

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, periods: Sequence[Period]) -> _Scanned:
        grid = hour_grid(periods)
        window = Window(grid.origin, max(p.end for p in periods))
        per = {row["period"]: row for row in scans.period_frame(con, grid, window).iter_rows(named=True)}
        minutes, per_minute = scans.minutes_by_period(con, grid, window, periods)
        hourly_cost = scans.hourly_cost(con, grid, window)
        cost_per = {row["period"]: row for row in hourly_cost.group_by("period").agg(
            pl.col("cost_usd").sum(), pl.col("logged_usd").sum(), pl.col("computed_usd").sum(),
            pl.col("priced_requests").sum(), pl.col("unpriced_requests").sum(),
            pl.col("cost_usd").max().alias("peak_hour_cost_usd")).iter_rows(named=True)}
        fb = {row["period"]: row for row in feedback_by_period(con, window, grid).iter_rows(named=True)}
        return cls(grid, per, minutes, per_minute, hourly_cost, cost_per, fb)


_NO_FEEDBACK = dict.fromkeys(("thumbs_up", "thumbs_down", "reports", "regenerated", "copied", "edited"), 0)
_NONE = (None, None, None)


def _period_values(s: _Scanned, periods: Sequence[Period], i: int) -> dict[str, tuple]:
    """Figure name -> (value, low, high) for period i; {} when it has no requests."""
    row = s.per.get(i)
    if not row or not row["requests"]:
        return {}
    n = row["requests"]
    rpm = s.minutes.get(i)
    out: dict[str, tuple] = {
        "requests": (n, None, None), "active_users": (row["active_users"], None, None),
        "requests_per_minute": (rpm[0] if rpm else None, None, None),
        "peak_requests_per_minute": (rpm[1] if rpm else None, None, None),
        "error_rate": (row["errors"] / n, *wilson(row["errors"], n)),
    }
    for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms",
                 "tokens_per_s", "mean_output_tokens"):
        out[name] = (row[name], None, None)
    known = row["cache_known"]
    out["cache_hit_rate"] = (row["cache_hits"] / known, *wilson(row["cache_hits"], known)) if known else _NONE
    c = s.cost_per.get(i)
    priced = c["priced_requests"] if c else 0
    cost = c["cost_usd"] if c else 0.0
    out["cost_usd"] = (cost, None, None)
    out["cost_per_hour_usd"] = (cost / periods[i].hours, None, None)
    out["peak_hour_cost_usd"] = (c["peak_hour_cost_usd"] if c else 0.0, None, None)
    out["cost_per_request_usd"] = (cost / priced if priced else None, None, None)
    out["unpriced_requests"] = (c["unpriced_requests"] if c else n, None, None)
    # No feedback row: no request of the period got any signal (rates 0, no votes).
    f = s.feedback.get(i) or _NO_FEEDBACK
    counts = {**f, "votes": f["thumbs_up"] + f["thumbs_down"], "requests": n}
    for name, (k, d) in FEEDBACK_SHARES.items():
        out[name] = (counts[k] / counts[d], *wilson(counts[k], counts[d])) if counts[d] else _NONE
    out["thumbs_ratio"] = (f["thumbs_up"] / f["thumbs_down"] if f["thumbs_down"] else None, None, None)
    out["nps"] = tuple(None if v is None else 2 * v - 1 for v in out["satisfaction"])
    return out


def _figures(per_period: list[dict[str, tuple]], periods: Sequence[Period]) -> dict[str, Figure]:
    """Each headline figure with its previous period and the median of the baseline's."""
    figures: dict[str, Figure] = {}
    for name, m in FIGURES.items():
        history = [per_period[i].get(name, (None,))[0] for i in range(len(periods))]
        base = [v for i, v in enumerate(history[1:], start=1) if per_period[i] and v is not None]
        value, low, high = per_period[0].get(name, _NONE)
        figures[name] = Figure(name, m.label, m.unit, m.better, value,
                               history[1] if per_period[1] else None,
                               statistics.median(base) if base else None,
                               low, high, tuple(reversed(history)))
    return figures


@dataclass(frozen=True)
class _Details:
    """The tables of a period that has requests."""

    series: pl.DataFrame
    top: pl.DataFrame
    by_model: pl.DataFrame
    by_endpoint: pl.DataFrame
    categories: pl.DataFrame
    gaps: pl.DataFrame
    cost: CostSummary | None


def _details(con: duckdb.DuckDBPyConnection, s: _Scanned, periods: Sequence[Period], per_period: list[dict],
             kind: str, bucket_hours: int, thresholds: Thresholds, span: tuple) -> _Details:
    from aimon.analysis.metrics.feedback import report_categories

    current, previous = periods[0], periods[1]
    window_now = current.window
    series = scans.series(con, current, bucket_hours, s.hourly_cost, s.grid)
    top = errors_mod.top_errors(con, window_now, limit=5)
    prev_top = errors_mod.top_errors(con, previous.window).select(
        "error_type", pl.col("errors").alias("previous_errors"))
    top = (top.join(prev_top, on="error_type", how="left")
           .with_columns((pl.col("errors") / per_period[0]["requests"][0]).alias("rate"),
                         pl.col("previous_errors").fill_null(0))
           .select("error_type", "errors", "share", "rate", "previous_errors"))
    by_model, by_endpoint = scans.by_model_endpoint(con, window_now)
    categories = report_categories(con, window_now).select(
        "category", "reports", "report_rate", "report_rate_low", "report_rate_high")
    gaps = traffic_mod.gaps(con, window_now, timedelta(minutes=thresholds.gap_minutes), span=span)
    gaps = scans.gaps_with_expected(gaps, current, scans.expected_per_minute(s.per_minute, s.grid, periods),
                                    s.minutes[0][0] if 0 in s.minutes else 0.0)
    gaps = gaps.filter(pl.col("expected_requests") >= thresholds.gap_min_expected)
    cost = cost_summary(current, periods, per_period, s.hourly_cost, kind, by_model)
    return _Details(series, top, by_model, by_endpoint, categories, gaps, with_projection(con, cost, current))


def _top_endpoints(by_endpoint: pl.DataFrame) -> pl.DataFrame:
    if not by_endpoint.height:
        return by_endpoint
    return (by_endpoint.filter((pl.col("cost_usd").fill_null(0) > 0) | (pl.col("unpriced_requests") > 0))
            .sort(["cost_usd", "endpoint"], descending=[True, False]).head(5)
            .with_columns((pl.col("cost_usd") / (pl.col("requests") - pl.col("unpriced_requests")))
                          .alias("cost_per_request_usd"))
            .select("endpoint", "requests", "cost_usd", "cost_per_request_usd", "unpriced_requests"))


def _unpriced_models(by_model: pl.DataFrame) -> list[str]:
    if not by_model.height:
        return []
    return [m for m, u in zip(by_model["model"], by_model["unpriced_requests"], strict=True) if u]


def _with_findings(report: Report) -> Report:
    return replace(report, findings=findings(report, report.thresholds))
