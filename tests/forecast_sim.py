"""Daily cost series for the forecast simulations: trend + weekly + noise, flat, and a
level shift (x1.6 two-thirds into the history), each with its true future (seeded)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

WEEK = np.array([1.0, 1.05, 1.1, 1.08, 1.0, 0.55, 0.5])  # Monday .. Sunday
HISTORY = 63
HORIZON = 28
START = date(2026, 5, 4)


def _level(family: str, i: np.ndarray) -> np.ndarray:
    if family == "trend":
        return 100 + 1.2 * i
    if family == "flat":
        return np.full(len(i), 100.0)
    if family == "shift":
        return np.where(i >= 2 * HISTORY // 3, 160.0, 100.0)
    raise ValueError(family)


def series(family: str, seed: int, noise: float = 0.12):
    """(days, cost) of the history and the true cost of the next HORIZON days."""
    rng = np.random.default_rng(seed)
    i = np.arange(HISTORY + HORIZON)
    days = [START + timedelta(days=int(k)) for k in i]
    week = WEEK[[d.weekday() for d in days]]
    cost = _level(family, i) * week * rng.lognormal(0, noise, len(i))
    return days[:HISTORY], [float(c) for c in cost[:HISTORY]], cost[HISTORY:]


def run(family: str, runs: int, seed0: int = 0) -> dict:
    """Coverage of the 80% interval of the 28-day total, and MAPE against naive."""
    from aimon.analysis.forecast.spend import Series, forecast_series

    inside, ape, naive = [], [], []
    for k in range(runs):
        days, cost, truth = series(family, seed0 + k)
        res = forecast_series(Series(days, cost, 0, ()), HORIZON, run_backtest=False)
        total = float(truth.sum())
        h = res.horizon_total
        inside.append(h["lo80_usd"] <= total <= h["hi80_usd"])
        ape.append(abs(h["forecast_usd"] - total) / total)
        naive.append(abs(float(np.mean(cost[-7:])) * HORIZON - total) / total)
    return {"coverage80": float(np.mean(inside)), "mape": float(np.mean(ape)),
            "naive_mape": float(np.mean(naive))}
