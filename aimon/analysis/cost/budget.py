"""``aimon cost check``: budget gates on actual and forecast spend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb
import polars as pl

from aimon.analysis.cost.common import unpriced
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError

DAILY_SPEND_SQL = """
SELECT CAST(ts AS DATE) AS day, coalesce(sum(cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_requests
FROM costed_requests
WHERE ts >= $start AND ts < $end
GROUP BY ALL ORDER BY day
"""

MONTH_START_SQL = "SELECT date_trunc('month', $at::TIMESTAMPTZ)"
OLDEST_SQL = "SELECT min(ts) FROM requests WHERE ts < $end"


@dataclass(frozen=True)
class BudgetCheck:
    """Each gate's limit, value and status; one line per breach."""

    window: Window
    checks: list[dict]
    breaches: tuple[str, ...]
    notes: tuple[str, ...] = ()


def month_to_date(con: duckdb.DuckDBPyConnection, window: Window) -> Window:
    """From the start of the (session-zone) month holding the window's end, to its end."""
    start = con.execute(MONTH_START_SQL, {"at": window.end - timedelta(microseconds=1)}).fetchall()[0][0]
    return Window(start, window.end)


def check_budgets(con: duckdb.DuckDBPyConnection, window: Window, *, daily_budget: float | None = None,
                  monthly_budget: float | None = None, fail_on_unpriced: bool = False) -> BudgetCheck:
    """Actual and forecast spend against the budgets, and unpriced spend when asked."""
    from aimon.analysis.forecast.model import NotEnoughHistory
    from aimon.analysis.forecast.spend import forecast

    if daily_budget is None and monthly_budget is None and not fail_on_unpriced:
        raise UsageError("nothing to check: give --daily-budget, --monthly-budget or --fail-on-unpriced")
    for name, value in (("--daily-budget", daily_budget), ("--monthly-budget", monthly_budget)):
        if value is not None and value <= 0:
            raise UsageError(f"{name} must be a positive amount of USD")
    checks: list[dict] = []
    breaches: list[str] = []
    notes: list[str] = []
    days = con.execute(DAILY_SPEND_SQL, window.params()).fetchall()
    unpriced_n = sum(r[2] for r in days)

    fc = None
    if daily_budget is not None or monthly_budget is not None:
        oldest = con.execute(OLDEST_SQL, {"end": window.end}).fetchall()[0][0]
        if oldest is not None:
            try:
                # horizon 30, as `aimon cost forecast` by default: the same draws, the same figures.
                fc = forecast(con, Window(oldest, window.end), horizon=30, monthly_budget=monthly_budget,
                              run_backtest=False)
            except NotEnoughHistory as exc:
                notes.append(f"forecast checks skipped: {exc}")

    if daily_budget is not None:
        _daily_checks(days, daily_budget, fc, checks, breaches)
    if monthly_budget is not None:
        _monthly_checks(con, window, monthly_budget, fc, checks, breaches)

    un = unpriced(con, window) if unpriced_n else pl.DataFrame()
    models = ", ".join(un["model"].to_list()[:5]) if unpriced_n else ""
    checks.append({"check": "unpriced requests", "limit_usd": None, "value_usd": None,
                   "status": ("breach" if fail_on_unpriced else "warning") if unpriced_n else "ok",
                   "detail": f"{unpriced_n:,} request(s)" + (f": {models}" if models else "")})
    if unpriced_n and fail_on_unpriced:
        tokens = int(un["input_tokens"].sum() + un["output_tokens"].sum())
        breaches.append(f"{unpriced_n:,} unpriced request(s) ({tokens:,} tokens) in the window: {models}")
    return BudgetCheck(window, checks, tuple(breaches), tuple(notes))


def _daily_checks(days: list, daily_budget: float, fc, checks: list[dict], breaches: list[str]) -> None:
    """The daily budget against each day's spend and the forecast's days (appended to
    ``checks`` and ``breaches``)."""
    over = [(d, c) for d, c, _ in days if c > daily_budget]
    worst = max(days, key=lambda r: r[1]) if days else None
    checks.append({"check": "daily actual", "limit_usd": daily_budget,
                   "value_usd": worst[1] if worst else 0.0,
                   "status": "breach" if over else "ok",
                   "detail": f"highest day {worst[0]}" if worst else "no spend in the window"})
    for d, c in over:
        breaches.append(f"daily budget ${daily_budget:,.2f} exceeded on {d}: ${c:,.2f} spent")
    if fc is not None:
        month = fc.month_end["month"]
        rest = [r for r in fc.daily if r["day"].strftime("%Y-%m") == month] or fc.daily[:7]
        f_over = [r for r in rest if r["forecast_usd"] > daily_budget]
        peak = max(rest, key=lambda r: r["forecast_usd"])
        checks.append({"check": "daily forecast", "limit_usd": daily_budget, "value_usd": peak["forecast_usd"],
                       "status": "breach" if f_over else "ok",
                       "detail": f"highest forecast day {peak['day']} of {len(rest)} to {rest[-1]['day']}"})
        if f_over:
            breaches.append(f"daily budget ${daily_budget:,.2f} forecast to be exceeded from {f_over[0]['day']}: "
                            f"${f_over[0]['forecast_usd']:,.2f} forecast ({len(f_over)} of the "
                            f"{len(rest)} days to {rest[-1]['day']})")
    else:
        checks.append({"check": "daily forecast", "limit_usd": daily_budget, "value_usd": None,
                       "status": "skipped", "detail": "not enough history"})


def _monthly_checks(con: duckdb.DuckDBPyConnection, window: Window, monthly_budget: float, fc,
                    checks: list[dict], breaches: list[str]) -> None:
    """The monthly budget against the month to date and the forecast's month-end."""
    mtd_window = month_to_date(con, window)
    mtd = sum(c for _, c, _ in con.execute(DAILY_SPEND_SQL, mtd_window.params()).fetchall())
    label = f"{mtd_window.start:%Y-%m}"
    checks.append({"check": "monthly actual", "limit_usd": monthly_budget, "value_usd": mtd,
                   "status": "breach" if mtd > monthly_budget else "ok",
                   "detail": f"{label} to date"})
    if mtd > monthly_budget:
        breaches.append(f"monthly budget ${monthly_budget:,.2f} exceeded in {label}: ${mtd:,.2f} spent to date")
    if fc is not None:
        m = fc.month_end
        projected = m["projected_total_usd"]
        over = projected > monthly_budget
        crossing = fc.budget["crossing_date"] if fc.budget else None
        checks.append({"check": "monthly forecast", "limit_usd": monthly_budget, "value_usd": projected,
                       "status": "breach" if over else "ok",
                       "detail": f"{m['month']} projected month-end (80%: ${m['lo80_usd']:,.2f}-${m['hi80_usd']:,.2f})"})
        if over and not (m["month"] == label and mtd > monthly_budget):
            breaches.append(f"monthly budget ${monthly_budget:,.2f} forecast to be exceeded in {m['month']}: "
                            f"${projected:,.2f} projected month-end"
                            + (f", crossing on {crossing}" if crossing else ""))
    else:
        checks.append({"check": "monthly forecast", "limit_usd": monthly_budget, "value_usd": None,
                       "status": "skipped", "detail": "not enough history"})
