"""A/A experiments shaped like production traffic, for the decision-rule simulations.

Every experiment is assigned per user (or per request), with the things that break
naive tests: requests per user lognormal (a few heavy users send most of the traffic),
and a user's requests correlated through a per-user success propensity
(Beta-distributed with intra-user correlation ``icc``) and a per-user latency level.
Many experiments go into one frame with names ``aa-0``, ``aa-1``, ... so one insert
serves a whole simulation. Seeded numpy, no Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl
from planted_logs import T0


@dataclass(frozen=True)
class Shape:
    """How one simulated experiment looks. Sizes are users per arm."""

    users_low: int = 30
    users_high: int = 1000
    icc_low: float = 0.05
    icc_high: float = 0.2
    requests_median: float = 4.0
    requests_sigma: float = 1.2  # lognormal sigma of requests per user (heavy users)
    per_request: bool = False  # assignment per request (independent traffic) instead of per user
    arms: tuple[str, ...] = ("control", "treatment")


def _experiment(rng: np.random.Generator, shape: Shape, name: str) -> dict[str, np.ndarray]:
    # Log-uniform users per arm: as many small experiments as large ones.
    g = int(round(np.exp(rng.uniform(np.log(shape.users_low), np.log(shape.users_high)))))
    icc = rng.uniform(shape.icc_low, shape.icc_high)
    base = rng.uniform(0.15, 0.5)
    n_users = g * len(shape.arms)
    per_user = np.minimum(1 + np.floor(rng.lognormal(np.log(shape.requests_median), shape.requests_sigma,
                                                      n_users)), 3000).astype(np.int64)
    if shape.per_request:
        propensity = np.full(n_users, base)
        level = np.zeros(n_users)
    else:
        concentration = 1 / icc - 1  # Beta(a, b) with a + b + 1 = 1/icc has intra-class correlation icc
        propensity = rng.beta(base * concentration, (1 - base) * concentration, n_users)
        level = rng.normal(0, 0.5, n_users)
    user = np.repeat(np.arange(n_users), per_user)
    total = len(user)
    if shape.per_request:
        arm = rng.integers(0, len(shape.arms), total)
    else:
        arm = np.repeat(np.arange(n_users) % len(shape.arms), per_user)
    success = rng.random(total) < propensity[user]
    latency = rng.lognormal(np.log(800.0) + level[user], 0.6)
    return {
        "experiment": np.full(total, name, dtype=object),
        "variant": np.asarray(shape.arms, dtype=object)[arm],
        "user_id": np.char.add(f"{name}-u", user.astype(str)).astype(object),
        "success": success,
        "latency_ms": latency,
        "seconds": rng.integers(0, 7 * 86400, total),
    }


def experiments(n: int, shape: Shape = Shape(), seed: int = 0, prefix: str = "aa") -> pl.DataFrame:
    """``n`` A/A experiments named ``{prefix}-0`` .. ``{prefix}-{n-1}`` as request rows."""
    rng = np.random.default_rng(seed)
    parts = [_experiment(rng, shape, f"{prefix}-{i}") for i in range(n)]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    total = len(cols["success"])
    frame = pl.DataFrame({
        "request_id": [f"{prefix}-r{i}" for i in range(total)],
        "experiment": cols["experiment"].tolist(),
        "variant": cols["variant"].tolist(),
        "user_id": cols["user_id"].tolist(),
        "success": cols["success"],
        "latency_ms": cols["latency_ms"],
        "seconds": cols["seconds"],
    })
    return frame.with_columns(
        (pl.lit(T0) + pl.duration(seconds=pl.col("seconds"))).dt.cast_time_unit("us").alias("ts"),
        pl.lit("ok").alias("status"),
        pl.lit("gpt-4o").alias("model"),
        pl.lit("/chat").alias("endpoint"),
        pl.lit(100).alias("input_tokens"),
    ).drop("seconds")


def end() -> object:
    """The end of every simulated experiment's window."""
    return T0 + timedelta(days=7)
