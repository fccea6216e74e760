"""Proportions with 95% confidence intervals (Wilson score interval).

The Wilson interval stays inside [0, 1] and behaves at small counts and at rates near
0 or 1, where the normal approximation does not: 0 errors in 20 requests still gives
an upper bound of 16%, which is what a reader needs to know.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Proportion:
    """k successes out of n, with the rate and its Wilson interval (None when n = 0)."""

    k: int
    n: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(k: float, n: float, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval for k of n."""
    if not n:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 (or k = n) the bound is exactly 0 (or 1); the subtraction leaves ~1e-17.
    low = 0.0 if k <= 0 else max(0.0, centre - half)
    high = 1.0 if k >= n else min(1.0, centre + half)
    return low, high


def proportion(k: int | None, n: int | None) -> Proportion:
    """A :class:`Proportion` from counts (None counts read as 0)."""
    k, n = int(k or 0), int(n or 0)
    low, high = wilson(k, n)
    return Proportion(k, n, k / n if n else None, low, high)


def wilson_bounds(k: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """The Wilson interval of k of n as two polars expressions (low, high)."""
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt() / denom
    # Exact at the ends, as in wilson(): no 1e-17 for "none of them failed".
    low = pl.when(k <= 0).then(0.0).otherwise((centre - half).clip(0.0, 1.0))
    high = pl.when(k >= n).then(1.0).otherwise((centre + half).clip(0.0, 1.0))
    return low, high


def wilson_exprs(k: str, n: str, name: str, z: float = Z95) -> list[pl.Expr]:
    """Polars expressions adding ``name``, ``name_low`` and ``name_high`` for columns k of n."""
    kk, nn = pl.col(k).cast(pl.Float64), pl.col(n).cast(pl.Float64)
    low, high = wilson_bounds(kk, nn, z)
    valid = nn > 0
    return [
        pl.when(valid).then(kk / nn).otherwise(None).alias(name),
        pl.when(valid).then(low).otherwise(None).alias(f"{name}_low"),
        pl.when(valid).then(high).otherwise(None).alias(f"{name}_high"),
    ]
