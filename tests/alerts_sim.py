"""Clean production-shaped traffic for the alert simulations (issue 17, seeded numpy).

``days`` days from T0 with a diurnal curve (about 4 requests a minute at night, 40 in the
afternoon), quieter weekends, 1.5% errors, per-model latency (lognormal) and spend
(lognormal per request, heavy-tailed), and cache hits on /search. Nothing is planted:
every page a default rule sends on it is a false alarm.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

T0 = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday
MODELS = np.array(["gpt-4o-mini", "claude-sonnet-4-5", "gpt-4o", "o3-mini"])
ENDPOINTS = np.array(["/chat", "/chat", "/search", "/code-review"])
LATENCY_MS = np.array([900.0, 2500.0, 1500.0, 9000.0])
COST_USD = np.array([0.0003, 0.006, 0.004, 0.003])  # median spend of one request


def per_minute(minutes: np.ndarray) -> np.ndarray:
    """The expected requests in each minute: a diurnal curve, weekends at 60%."""
    hour = (minutes % 1440) / 60
    day = (minutes // 1440) % 7
    diurnal = 4 + 36 * np.exp(-0.5 * ((hour - 14) / 3.5) ** 2)
    return diurnal * np.where(day >= 5, 0.6, 1.0)


def traffic(seed: int, days: int = 21, error_rate: float = 0.015) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = np.arange(days * 1440)
    counts = rng.poisson(per_minute(minutes))
    minute = np.repeat(minutes, counts)
    n = len(minute)
    seconds = minute * 60.0 + rng.uniform(0, 60, n)
    pick = rng.choice(len(MODELS), n, p=[0.45, 0.2, 0.25, 0.1])
    failed = rng.random(n) < error_rate
    epoch_us = int(T0.timestamp() * 1e6) + (seconds * 1e6).astype(np.int64)
    search = ENDPOINTS[pick] == "/search"
    return pl.DataFrame({
        "request_id": [f"c{i:08d}" for i in range(n)],
        "ts": pl.Series(epoch_us).cast(pl.Datetime("us", "UTC")),
        "user_id": [f"u{i}" for i in rng.integers(0, 500, n)],
        "model": MODELS[pick],
        "endpoint": ENDPOINTS[pick],
        "status": np.where(failed, "error", "ok"),
        "error_type": np.where(failed, "rate_limit", None),
        "latency_ms": LATENCY_MS[pick] * rng.lognormal(0, 0.4, n),
        "ttft_ms": 0.2 * LATENCY_MS[pick] * rng.lognormal(0, 0.3, n),
        "cost_usd": COST_USD[pick] * rng.lognormal(0, 1.0, n),
        "hit": rng.random(n) < 0.3,
        "search": search,
    }).with_columns(pl.when(pl.col("search")).then(pl.col("hit")).alias("cache_hit")).drop("hit", "search")
