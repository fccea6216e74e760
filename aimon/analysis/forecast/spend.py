"""Cost forecast: daily cost with a trend and weekly seasonality, prediction intervals,
the month-end projection, a budget's crossing date, and a backtest against the naive
method.

Method: daily cost = (a + b*t) x weekday factor x noise. The trend is linear in
dollars (a level shift or growth continues as a straight line, never compounding), the
weekly pattern multiplies it (weekends are a fraction of weekdays at any level), and
the noise is multiplicative. Fitted by alternating a robust (Huber, iteratively
reweighted) trend on the deseasonalised series with the weekday means of the log
ratio to the trend, on the last ``FIT_DAYS`` complete days. One-off spikes (a runaway
day) are set aside first: with two of each weekday a spike would otherwise become that
weekday's pattern. When some day had no spend at all the pattern is added instead of
multiplied. Intervals come from simulating the fit: trend parameters from their
sampling distribution (a bivariate t), weekday effects from theirs, daily noise from
a Student t with the residual scale, so sums (month-end, horizon) carry the right
correlation between days. The simulation has a fixed seed: the same data give the
same figures.

The backtest re-fits at rolling origins over the history and compares the forecast of
the next days' total with the naive method users start with (mean of the last 7 days
times the number of days), by mean absolute percentage error.

Chosen over Holt-Winters (statsmodels): with two to eight weeks of history, which is
what log exports hold, a seasonal exponential-smoothing model has more state than data
(seven seasonal states plus level and trend) and its intervals are unreliable; this
model has nine parameters, stays stable from 14 days, and needs only numpy (no scipy
or statsmodels at run time).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb

from aimon.analysis.forecast.model import (
    FIT_DAYS,
    MIN_DAYS,
    SHORT_HISTORY_DAYS,
    Backtest,
    NotEnoughHistory,
    _interval,
    backtest,
    fit,
    point,
    simulate,
)
from aimon.analysis.toolkit.window import Window
from aimon.errors import InputError

DAILY_COST_SQL = """
SELECT CAST(ts AS DATE) AS day,
       coalesce(sum(cost_usd), 0) AS cost_usd,
       count(*) AS requests,
       count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_requests,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM costed_requests
WHERE ts >= $start AND ts < $end {filter}
GROUP BY ALL
ORDER BY day
"""

TOP_MODELS_SQL = """
SELECT coalesce(model, '(none)') AS model, sum(cost_usd) AS cost_usd
FROM costed_requests
WHERE ts >= $start AND ts < $end AND cost_usd IS NOT NULL
GROUP BY ALL ORDER BY cost_usd DESC, model LIMIT $limit
"""

LOCAL_MIDNIGHT_SQL = "SELECT CAST($d AS DATE)::TIMESTAMPTZ"


@dataclass(frozen=True)
class Series:
    """Daily cost over complete days, and what was left out."""

    days: list[date]
    cost: list[float]
    unpriced_requests: int
    dropped: tuple[str, ...]
    # Spend on days after the last complete one (a partial last day), for month-to-date.
    partial_day: date | None = None
    partial_cost: float = 0.0


@dataclass(frozen=True)
class Forecast:
    """A cost forecast; money in USD, days in the session's time zone."""

    title: str
    scope: str
    method: str
    scale: str
    history: list[dict]
    daily: list[dict]
    horizon_days: int
    horizon_total: dict
    month_end: dict
    budget: dict | None
    backtest: Backtest
    outlier_days: list[str]
    unpriced_requests: int
    notes: tuple[str, ...] = ()
    by_model: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------- the series

def _day_bounds(con: duckdb.DuckDBPyConnection, d: date) -> tuple[datetime, datetime]:
    start = con.execute(LOCAL_MIDNIGHT_SQL, {"d": d}).fetchall()[0][0]
    end = con.execute(LOCAL_MIDNIGHT_SQL, {"d": d + timedelta(days=1)}).fetchall()[0][0]
    return start, end


def daily_series(con: duckdb.DuckDBPyConnection, window: Window) -> Series:
    """Daily effective cost (unpriced requests excluded and counted) over complete days.

    Days between the first and last with requests are zero-filled. The first and last
    days count only when the window and the data cover them: coverage (by the window or
    the data) that starts or ends more than two hours from the day's midnight makes the
    day partial, and a partial day would read as a drop in spend."""
    params: dict = window.params()
    rows = con.execute(DAILY_COST_SQL.format(filter=""), params).fetchall()
    if not rows:
        return Series([], [], 0, ())
    by_day = {r[0]: r for r in rows}
    first, last = rows[0][0], rows[-1][0]
    dropped = []
    partial_day, partial_cost = None, 0.0
    start0, _ = _day_bounds(con, first)
    if max(window.start, rows[0][4]) - start0 > timedelta(hours=2):
        dropped.append(f"{first.isoformat()} (first day, partial)")
        first = first + timedelta(days=1)
    _, endn = _day_bounds(con, last)
    if last >= first and endn - min(window.end, rows[-1][5]) > timedelta(hours=2):
        dropped.append(f"{last.isoformat()} (last day, partial: data until "
                       f"{rows[-1][5].strftime('%H:%M')})")
        partial_day, partial_cost = last, float(rows[-1][1])
        last = last - timedelta(days=1)
    days, cost = [], []
    d = first
    while d <= last:
        days.append(d)
        cost.append(float(by_day[d][1]) if d in by_day else 0.0)
        d += timedelta(days=1)
    unpriced = sum(r[3] for r in rows)
    return Series(days, cost, unpriced, tuple(dropped), partial_day, partial_cost)


# --------------------------------------------------------------------------- forecast

def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def forecast_series(series: Series, horizon: int, *, monthly_budget: float | None = None,
                    scope: str = "all models", run_backtest: bool = True) -> Forecast:
    """Forecast ``horizon`` days after the series' last complete day."""
    import numpy as np

    if horizon < 1 or horizon > 366:
        raise InputError("--horizon must be between 1 and 366 days")
    days, cost = series.days, series.cost
    fit_days, fit_cost = days[-FIT_DAYS:], cost[-FIT_DAYS:]
    f = fit(fit_days, fit_cost)
    last = days[-1]
    month_last = _month_end(last + timedelta(days=1))
    span = max(horizon, (month_last - last).days)
    future = [last + timedelta(days=i) for i in range(1, span + 1)]
    draws = simulate(f, future)
    central = point(f, future)
    bands = _interval(np, draws)
    daily = []
    for i, d in enumerate(future[:horizon]):
        row = {"day": d, "forecast_usd": float(central[i])}
        row.update({k: float(v[i]) for k, v in bands.items()})
        daily.append(row)
    hz = draws[:, :horizon].sum(axis=1)
    # A total's central figure is the median of the simulated totals, not the sum of
    # median days: daily noise is skewed (multiplicative), so a sum of many days sits
    # above the sum of their medians, and the interval is centred on the former.
    horizon_total = {"days": horizon, "start": future[0], "end": future[horizon - 1],
                     "forecast_usd": float(np.median(hz)),
                     **{k: float(v) for k, v in _interval(np, hz).items()}}
    # Month-end: actual spend this month through the last complete day, plus the forecast
    # of the rest of the month (a partial last day is forecast whole, not counted twice).
    month_start = date(future[0].year, future[0].month, 1)
    actual_mtd = float(sum(c for d, c in zip(days, cost, strict=True) if d >= month_start))
    rest = [i for i, d in enumerate(future) if d <= month_last]
    month_draws = actual_mtd + draws[:, rest].sum(axis=1)
    month_end = {"month": month_start.strftime("%Y-%m"), "actual_to_date_usd": actual_mtd,
                 "actual_through": last if last >= month_start else None,
                 "forecast_days": len(rest),
                 "projected_total_usd": float(np.median(month_draws)) if rest else actual_mtd,
                 **{k: float(v) for k, v in _interval(np, month_draws).items()}}
    budget = None
    if monthly_budget is not None:
        budget = _budget(np, monthly_budget, days, cost, future, central, draws)
    outliers = [d.isoformat() for d, k in zip(fit_days, f.kept, strict=True) if not k]
    bt = backtest(days, cost, horizon) if run_backtest else Backtest(False, reason="not run")
    notes = [f"left out: {d}" for d in series.dropped]
    if outliers:
        notes.append("one-off spikes set aside so they do not bend the trend or the weekly pattern "
                     "(the intervals do not include such spikes): " + ", ".join(outliers))
    if f.shift is not None:
        notes.append(f"level shift from {f.shift.isoformat()}: the trend line steps there and the "
                     "forecast continues from the new level")
    if not f.log:
        notes.append("some days had no spend: the weekly pattern is added, not multiplied")
    if len(fit_days) < SHORT_HISTORY_DAYS:
        notes.append(f"only {len(fit_days)} days of history: the trend is a straight line through them, and the "
                     "intervals cover noise and the uncertainty of that line, not a change in direction")
    if series.unpriced_requests:
        notes.append(f"{series.unpriced_requests:,} unpriced request(s) are not in these figures")
    history = [{"day": d, "cost_usd": c} for d, c in zip(days, cost, strict=True)]
    return Forecast(
        title=f"Cost forecast, next {horizon} days ({scope})",
        scope=scope,
        method="robust linear trend x weekly pattern, simulated intervals",
        scale=f.kind,
        history=history,
        daily=daily,
        horizon_days=horizon,
        horizon_total=horizon_total,
        month_end=month_end,
        budget=budget,
        backtest=bt,
        outlier_days=outliers,
        unpriced_requests=series.unpriced_requests,
        notes=tuple(notes),
    )


def _budget(np, limit: float, days, cost, future, central, draws) -> dict:
    """When month-to-date spend first reaches ``limit``: in the actual days, or forecast."""
    start_key = (future[0].year, future[0].month)
    mtd = 0.0
    for d, c in zip(days, cost, strict=True):
        if (d.year, d.month) != start_key:
            continue
        mtd += c
        if mtd >= limit:
            return {"monthly_budget_usd": limit, "month": f"{d.year:04d}-{d.month:02d}",
                    "crossing_date": d, "already_crossed": True,
                    "earliest_likely_crossing_date": d, "probability_by_month_end": 1.0}
    cum = mtd
    crossing = None
    month_idx = [i for i, d in enumerate(future) if (d.year, d.month) == start_key]
    for i in month_idx:
        cum += float(central[i])
        if cum >= limit:
            crossing = future[i]
            break
    sims = mtd + np.cumsum(draws[:, month_idx], axis=1)
    crossed = sims[:, -1] >= limit
    early = None
    if crossed.mean() >= 0.10:
        first_idx = np.where(sims >= limit, np.arange(len(month_idx))[None, :], len(month_idx)).min(axis=1)
        k = int(np.quantile(first_idx, 0.10))
        early = future[month_idx[k]] if k < len(month_idx) else None
    return {"monthly_budget_usd": limit, "month": f"{start_key[0]:04d}-{start_key[1]:02d}",
            "crossing_date": crossing, "already_crossed": False,
            "earliest_likely_crossing_date": early,
            "probability_by_month_end": float(crossed.mean())}


def forecast(con: duckdb.DuckDBPyConnection, window: Window, *, horizon: int = 30,
             monthly_budget: float | None = None, by_model: bool = False, top: int = 8,
             run_backtest: bool = True) -> Forecast:
    """The cost forecast for the window's history (and per model with ``by_model``)."""
    series = daily_series(con, window)
    if len(series.days) < MIN_DAYS:
        raise NotEnoughHistory(
            f"not enough history to forecast: {len(series.days)} complete day(s) of cost in the "
            f"window, and a trend with a weekly pattern needs at least {MIN_DAYS}"
            + (f" (left out: {'; '.join(series.dropped)})" if series.dropped else ""))
    result = forecast_series(series, horizon, monthly_budget=monthly_budget, run_backtest=run_backtest)
    if not by_model:
        return result
    rows = []
    models = con.execute(TOP_MODELS_SQL, {"start": window.start, "end": window.end, "limit": top}).fetchall()
    for model, _ in models:
        # The model's spend on the overall series' complete days (0 where it had none).
        spend = con.execute(DAILY_COST_SQL.format(filter="AND coalesce(model, '(none)') = $model"),
                            {"start": window.start, "end": window.end, "model": model}).fetchall()
        by_day = {r[0]: float(r[1]) for r in spend}
        s = Series(list(series.days), [by_day.get(d, 0.0) for d in series.days],
                   sum(r[3] for r in spend), series.dropped)
        try:
            fm = forecast_series(s, horizon, scope=model, run_backtest=False)
        except NotEnoughHistory as exc:
            rows.append({"model": model, "history_usd": sum(s.cost), "forecast_usd": None,
                         "lo80_usd": None, "hi80_usd": None, "lo95_usd": None, "hi95_usd": None,
                         "month_end_projected_usd": None, "scale": None, "reason": str(exc)})
            continue
        rows.append({"model": model, "history_usd": sum(s.cost), "forecast_usd": fm.horizon_total["forecast_usd"],
                     **{k: fm.horizon_total[k] for k in fm.horizon_total if k.startswith(("lo", "hi"))},
                     "month_end_projected_usd": fm.month_end["projected_total_usd"],
                     "scale": fm.scale, "reason": None})
    return Forecast(**{**result.__dict__, "by_model": rows})

