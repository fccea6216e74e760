"""The cost forecast: it beats the naive method on trend + weekly seasonality, its
intervals hold, it refuses too little history, and budgets and month-end add up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from aimon.analysis.forecast.model import NotEnoughHistory, backtest
from aimon.analysis.forecast.spend import Series, daily_series, forecast, forecast_series
from aimon.analysis.toolkit.window import Window
from aimon.store.prices import parse_user_prices, refresh_prices
from tests.costing import add

WEEK = np.array([1.0, 1.05, 1.1, 1.08, 1.0, 0.55, 0.5])  # Monday .. Sunday


def series(n: int, *, trend=lambda i: 100 + 1.5 * i, noise=0.12, seed=0, start=date(2026, 5, 4)):
    rng = np.random.default_rng(seed)
    days = [start + timedelta(days=i) for i in range(n)]
    cost = [float(trend(i) * WEEK[d.weekday()] * rng.lognormal(0, noise)) for i, d in enumerate(days)]
    return days, cost


# Every seed must pass; the quick loop runs one of them per trend (a backtest is ~1 s of CPU).
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("trend", [lambda i: 100 + 1.5 * i, lambda i: 100 * 1.01 ** i],
                         ids=["linear-growth", "compound-growth"])
def test_beats_the_naive_method_on_trend_and_weekly_seasonality(seed, trend):
    days, cost = series(90, trend=trend, seed=seed)
    bt = backtest(days, cost, 30)
    assert bt.available and bt.horizon_days == 30 and bt.origins >= 10
    assert bt.beats_naive
    assert bt.mape < 0.6 * bt.naive_mape
    assert bt.daily_mape < bt.naive_daily_mape


def test_naive_reference_is_mean_of_last_7_days_times_horizon():
    # A flat series with no noise: both methods are exact.
    days = [date(2026, 1, 5) + timedelta(days=i) for i in range(40)]
    bt = backtest(days, [10.0] * 40, 7)
    assert bt.mape == pytest.approx(0, abs=1e-9) and bt.naive_mape == pytest.approx(0, abs=1e-9)


@pytest.mark.slow  # four 90-day backtests: about 4 s of CPU; the coverage claim needs them all
def test_prediction_intervals_cover_about_their_level():
    cover80, cover95 = [], []
    for seed in range(4):
        days, cost = series(90, seed=seed, noise=0.15)
        bt = backtest(days, cost, 14)
        cover80.append(bt.coverage80)
        cover95.append(bt.coverage95)
    assert 0.65 <= np.mean(cover80) <= 0.92
    assert 0.85 <= np.mean(cover95) <= 0.99


@pytest.mark.slow
def test_forecast_shapes_month_end_and_budget():
    days, cost = series(56, start=date(2026, 9, 7), seed=3)  # to 2026-11-01
    s = Series(days, cost, 0, ())
    f = forecast_series(s, 30, monthly_budget=sum(cost[-7:]) / 7 * 20)
    assert len(f.daily) == 30 and f.daily[0]["day"] == days[-1] + timedelta(days=1)
    for row in f.daily:
        assert row["lo95_usd"] <= row["lo80_usd"] <= row["forecast_usd"] <= row["hi80_usd"] <= row["hi95_usd"]
    # weekends forecast lower than weekdays (the weekly pattern is kept)
    by_dow = {r["day"].weekday(): r["forecast_usd"] for r in f.daily[:7]}
    assert by_dow[6] < 0.7 * by_dow[2]
    m = f.month_end
    assert m["month"] == "2026-11" and m["actual_to_date_usd"] == pytest.approx(cost[-1])
    assert m["forecast_days"] == 29
    # The month's central figure is the median simulated total: above the sum of median
    # days (daily noise is multiplicative, so skewed), by well under 2%.
    medians = cost[-1] + sum(r["forecast_usd"] for r in f.daily[:29])
    assert medians < m["projected_total_usd"] < 1.02 * medians
    assert m["lo80_usd"] < m["projected_total_usd"] < m["hi80_usd"]
    b = f.budget
    assert not b["already_crossed"] and b["crossing_date"] is not None
    running = cost[-1]
    for r in f.daily:
        running += r["forecast_usd"]
        if running >= b["monthly_budget_usd"]:
            assert r["day"] == b["crossing_date"]
            break
    assert 0.5 < b["probability_by_month_end"] <= 1


def test_a_one_off_spike_does_not_become_a_weekday_pattern():
    days, cost = series(14, seed=5, noise=0.05)
    spiky = list(cost)
    spiky[10] *= 6  # a runaway Thursday
    f = forecast_series(Series(days, spiky, 0, ()), 14, run_backtest=False)
    clean = forecast_series(Series(days, cost, 0, ()), 14, run_backtest=False)
    assert f.outlier_days == [days[10].isoformat()]
    assert f.horizon_total["forecast_usd"] == pytest.approx(clean.horizon_total["forecast_usd"], rel=0.1)


def test_too_little_history_is_a_clear_message_not_a_guess():
    days, cost = series(13)
    with pytest.raises(NotEnoughHistory, match="at least 14 complete days"):
        forecast_series(Series(days, cost, 0, ()), 30)
    days, cost = series(20)
    bt = backtest(days, cost, 30)
    assert not bt.available and "at least 23 complete days" in bt.reason
    f = forecast_series(Series(days, cost, 0, ()), 30)
    assert not f.backtest.available


def test_days_without_spend_use_the_additive_pattern():
    days, cost = series(21)
    cost[6] = 0.0
    f = forecast_series(Series(days, cost, 0, ()), 7, run_backtest=False)
    assert f.scale == "additive" and all(r["forecast_usd"] >= 0 for r in f.daily)


def test_daily_series_from_the_database_drops_partial_days(con):
    start = datetime(2026, 11, 2, tzinfo=UTC)
    rows = []
    for d in range(16):
        for h in range(0, 24, 3):
            rows.append({"model": "m", "ts": start + timedelta(days=d, hours=h, minutes=30)})
    # a partial last day: data only until 09:30
    rows += [{"model": "m", "ts": start + timedelta(days=16, hours=h)} for h in range(0, 10, 3)]
    add(con, *rows)
    refresh_prices(con, parse_user_prices({"models": {"m": {"input_mtok": 1.0, "output_mtok": 1.0}}}, "f"))
    window = Window(start, start + timedelta(days=30))
    s = daily_series(con, window)
    assert s.days[0] == date(2026, 11, 2) and s.days[-1] == date(2026, 11, 17)
    assert "2026-11-18 (last day, partial" in s.dropped[0]
    f = forecast(con, window, horizon=7, by_model=True)
    assert f.by_model[0]["model"] == "m" and f.by_model[0]["forecast_usd"] > 0
    with pytest.raises(NotEnoughHistory, match="not enough history"):
        forecast(con, Window(start, start + timedelta(days=10)))
