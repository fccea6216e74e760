"""Traffic with a slow error ramp, for the incident simulation (issue 17, seeded numpy).

A day of requests (Poisson ``per_minute`` a minute) failing at ``p0``; from RAMP_AT the
error rate climbs in a straight line to ``p_end`` over ``ramp_minutes`` and drops back.
The ramp crosses twice the baseline rate at RAMP_AT + ramp_minutes * p0 / (p_end - p0).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

T0 = datetime(2026, 11, 1, tzinfo=UTC)
RAMP_AT = T0 + timedelta(hours=14)


def crossing(p0: float, p_end: float, ramp_minutes: int = 120, factor: float = 2.0) -> datetime:
    """When the planted ramp's error rate reaches ``factor`` x p0."""
    return RAMP_AT + timedelta(minutes=ramp_minutes * (factor - 1) * p0 / (p_end - p0))


def traffic(seed: int, *, per_minute: float = 100.0, p0: float = 0.02, p_end: float = 0.25,
            ramp_minutes: int = 120, minutes: int = 1440) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(per_minute, minutes)
    minute = np.repeat(np.arange(minutes), counts)
    seconds = minute * 60.0 + rng.uniform(0, 60, len(minute))
    start = (RAMP_AT - T0) / timedelta(minutes=1)
    into = seconds / 60 - start
    rate = np.where((into >= 0) & (into < ramp_minutes), p0 + (p_end - p0) * into / ramp_minutes, p0)
    failed = rng.random(len(minute)) < rate
    models = np.array(["gpt-4o-mini", "claude-sonnet-4-5", "gpt-4o"])[rng.integers(0, 3, len(minute))]
    epoch_us = int(T0.timestamp() * 1e6) + (seconds * 1e6).astype(np.int64)
    ts = pl.Series("ts", epoch_us).cast(pl.Datetime("us", "UTC"))
    return pl.DataFrame({
        "request_id": [f"r{i:07d}" for i in range(len(minute))],
        "ts": ts,
        "model": models,
        "endpoint": "/chat",
        "status": np.where(failed, "error", "ok"),
        "error_type": np.where(failed, "api_error", None),
        "latency_ms": rng.lognormal(np.log(1200), 0.35, len(minute)),
        "cost_usd": np.full(len(minute), 0.001),
    })
