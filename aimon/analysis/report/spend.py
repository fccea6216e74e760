"""A report's spend: what the period cost by how it was known, and the month's projection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import polars as pl

from aimon.analysis.toolkit.period import Period, days_in_month
from aimon.analysis.toolkit.window import Window


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



def cost_summary(current: Period, periods: Sequence[Period], per_period, hourly_cost: pl.DataFrame,
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


def with_projection(con: duckdb.DuckDBPyConnection, cost: CostSummary, current: Period) -> CostSummary:
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
