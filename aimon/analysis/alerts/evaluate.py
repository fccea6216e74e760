"""A rule's metric over trailing windows on a minute grid, its baseline and bound, and
its state at each evaluation time: the arithmetic `check` and `scan` share."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl

from aimon.analysis.alerts.rules import (
    CATALOGUED,
    COUNTS,
    HOUR_OF_DAY_REACH,
    HOUR_OF_DAY_STEP,
    MINUTE,
    MINUTE_US,
    PROPORTIONS,
    QUANTILES,
    Baseline,
    Metric,
    Rule,
)
from aimon.analysis.toolkit import dimensions
from aimon.analysis.toolkit.dimensions import Split
from aimon.analysis.toolkit.intervals import wilson_bounds
from aimon.analysis.toolkit.robust import with_median_scale

# Per minute of the grid (m = whole minutes since $origin) and split key: the counts and
# sums every additive metric is made of, in one pass for every rule (costed_requests is
# requests with each one's stored cost: no join).
MINUTE_COUNTS_SQL = f"""
SELECT {{key}} AS key,
       ((epoch_us(r.ts) - $origin_us) // {{minute_us}})::BIGINT AS m,
       {CATALOGUED[Metric.requests].sql()} AS requests,
       {CATALOGUED[Metric.responses].sql()} AS responses,
       {CATALOGUED[Metric.error_rate].numerator()} AS errors,
       {CATALOGUED[Metric.cache_hit_rate].numerator()} AS cache_hits,
       {CATALOGUED[Metric.cache_hit_rate].denominator()} AS cache_known,
       coalesce(sum(r.cost_usd) FILTER (WHERE r.cost_source <> 'unpriced'), 0) AS cost_usd
FROM costed_requests r
WHERE r.ts >= $origin AND r.ts < $end
GROUP BY ALL
"""

# Thumbs per minute of *feedback* time, split by the request they are about (the join
# only when split: a vote is about one request).
MINUTE_VOTES_SQL = f"""
SELECT {{key}} AS key,
       ((epoch_us(f.ts) - $origin_us) // {{minute_us}})::BIGINT AS m,
       count(*) FILTER (WHERE f.feedback_type = 'thumbs_up') AS thumbs_up,
       {CATALOGUED[Metric.thumbs_down_rate].numerator("f")} AS thumbs_down
FROM feedback f {{join}}
WHERE f.ts >= $origin AND f.ts < $end AND f.feedback_type IN ('thumbs_up', 'thumbs_down')
GROUP BY ALL
"""

# A percentile over every window [e - k, e) of the grid at once: each value joins the k
# windows it belongs to (e = its minute + 1 .. + k), and one aggregation gives every
# window's quantile_cont. Only windows holding a value appear. (A window function's
# list of the k minutes' lists came to the same figures with twice the memory: DuckDB
# builds a segment tree of lists for it.)
WINDOW_QUANTILE_SQL = """
WITH r AS (
    SELECT {key} AS key,
           ((epoch_us(r.ts) - $origin_us) // {minute_us})::BIGINT AS m,
           r.{column} AS x
    FROM requests r
    WHERE r.ts >= $origin AND r.ts < $end AND {rows}
)
SELECT key, m + j AS e, {quantile} AS value, count(*) AS volume
FROM r CROSS JOIN range(1, $k + 1) t(j)
WHERE m + j BETWEEN $k AND $minutes
GROUP BY ALL
"""

# The same percentile over a few windows only (a check's handful of ends): a range join.
ENDS_QUANTILE_SQL = """
WITH r AS (
    SELECT {key} AS key,
           ((epoch_us(r.ts) - $origin_us) // {minute_us})::BIGINT AS m,
           r.{column} AS x
    FROM requests r
    WHERE r.ts >= $origin AND r.ts < $end AND {rows}
), ends AS (
    SELECT unnest($ends::BIGINT[]) AS e
)
SELECT r.key, ends.e, {quantile_r} AS value, count(*) AS volume
FROM ends JOIN r ON r.m >= ends.e - $k AND r.m < ends.e
GROUP BY ALL
"""

def _frame(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """A query's rows through the Arrow C stream: ``.pl()`` would import pyarrow (and
    numpy), 0.1 s of every alerts command's start-up."""
    return pl.DataFrame(relation)


_ADDITIVE = ("requests", "responses", "errors", "cache_hits", "cache_known", "cost_usd")
_VOTES = ("thumbs_up", "thumbs_down")


@dataclass
class _Grid:
    """The minute grid: index 0 starts at ``origin``; evaluation ends are indices."""

    origin: datetime
    minutes: int  # the grid covers [origin, origin + minutes)
    con: duckdb.DuckDBPyConnection
    first_minute: int = 0  # grid index of the minute holding the first logged request
    cache: dict = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.origin + self.minutes * MINUTE

    def params(self) -> dict[str, Any]:
        return {"origin": self.origin, "origin_us": int(self.origin.timestamp() * 1e6), "end": self.end}

    def keys(self, by: tuple[Split, ...]) -> pl.DataFrame:
        """Every split key with data in the grid (one '' key when not split)."""
        if not by:
            return pl.DataFrame({"key": [""]})
        frames = [self._minute_counts(by).select("key")]
        return pl.concat(frames).unique().sort("key")

    def _minute_counts(self, by: tuple[Split, ...]) -> pl.DataFrame:
        tag = ("counts", by)
        if tag not in self.cache:
            sql = MINUTE_COUNTS_SQL.format(key=dimensions.key_sql(by), minute_us=MINUTE_US)
            self.cache[tag] = _frame(self.con.sql(sql, params=self.params()))
        return self.cache[tag]

    def _minute_votes(self, by: tuple[Split, ...]) -> pl.DataFrame:
        tag = ("votes", by)
        if tag not in self.cache:
            sql = MINUTE_VOTES_SQL.format(key=dimensions.key_sql(by), minute_us=MINUTE_US,
                                          join="LEFT JOIN requests r USING (request_id)" if by else "")
            self.cache[tag] = _frame(self.con.sql(sql, params=self.params()))
        return self.cache[tag]

    def _dense(self, frame: pl.DataFrame, keys: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        grid = keys.join(pl.DataFrame({"m": pl.arange(0, self.minutes, eager=True).cast(pl.Int64)}), how="cross")
        joined = grid.join(frame.with_columns(pl.col("m").cast(pl.Int64)), on=["key", "m"], how="left")
        return joined.with_columns([pl.col(c).cast(pl.Float64).fill_null(0.0) for c in columns]).sort(["key", "m"])

    def additive(self, metric: Metric, by: tuple[Split, ...], k: int, keys: pl.DataFrame) -> pl.DataFrame:
        """key, e, value, volume of ``metric`` over windows of k minutes ending at every index e."""
        tag = ("additive", metric, by, k)
        if tag in self.cache:
            return self.cache[tag]
        if metric is Metric.thumbs_down_rate:
            dense = self._dense(self._minute_votes(by), keys, _VOTES)
            cols = _VOTES
        else:
            dense = self._dense(self._minute_counts(by), keys, _ADDITIVE)
            cols = _ADDITIVE
        rolled = dense.with_columns(
            [pl.col(c).rolling_sum(window_size=k, min_samples=1).over("key").alias(c) for c in cols]
        ).with_columns((pl.col("m") + 1).alias("e"))
        value, volume = _additive_value(metric, k)
        out = rolled.select("key", "e", value.alias("value"), volume.cast(pl.Float64).alias("volume"))
        self.cache[tag] = out
        return out

    def quantile(self, metric: Metric, by: tuple[Split, ...], k: int, ends: Iterable[int]) -> pl.DataFrame:
        """key, e, value, volume of a percentile metric over windows of k minutes ending at
        ``ends`` (and maybe others); only windows holding a value."""
        ends = sorted(set(int(e) for e in ends if e - k >= 0))
        tag = ("quantile", metric, by, k)
        if tag in self.cache:
            return self.cache[tag]
        entry = QUANTILES[metric]
        fmt = {"key": dimensions.key_sql(by), "minute_us": MINUTE_US, "column": entry.column, "rows": entry.rows(),
               "quantile": entry.quantile_of("x"), "quantile_r": entry.quantile_of("r.x")}
        if len(ends) * 8 < self.minutes:
            # A few windows (a check): read only those.
            frame = _frame(self.con.sql(ENDS_QUANTILE_SQL.format(**fmt),
                                        params={**self.params(), "ends": ends, "k": k}))
        else:
            # Most of the grid (a scan, its baselines): every window at once, kept for the baselines.
            frame = _frame(self.con.sql(WINDOW_QUANTILE_SQL.format(**fmt),
                                        params={**self.params(), "k": k, "minutes": self.minutes}))
        frame = frame.with_columns(pl.col("e").cast(pl.Int64), pl.col("value").cast(pl.Float64),
                                   pl.col("volume").cast(pl.Float64))
        if len(ends) * 8 >= self.minutes:
            self.cache[tag] = frame
        return frame

    def series(self, metric: Metric, by: tuple[Split, ...], k: int, ends: Iterable[int],
               keys: pl.DataFrame) -> pl.DataFrame:
        """The metric over k-minute windows at ``ends`` for every key (missing windows: no data).

        A window that starts before the first logged request reads as no data, not as
        zero traffic: the export began there, the service did not stop.
        """
        ends = list(ends)
        covered = [e for e in ends if e - k >= self.first_minute]
        if metric in QUANTILES:
            got = self.quantile(metric, by, k, covered)
        else:
            got = self.additive(metric, by, k, keys)
        want = keys.join(pl.DataFrame({"e": covered}, schema={"e": pl.Int64}).unique(), how="cross")
        out = want.join(got, on=["key", "e"], how="left")
        if metric in COUNTS:
            out = out.with_columns(pl.col("value").fill_null(0.0), pl.col("volume").fill_null(0.0))
        before = keys.join(pl.DataFrame({"e": sorted(set(ends) - set(covered))}, schema={"e": pl.Int64}),
                           how="cross").with_columns(pl.lit(None, pl.Float64).alias("value"),
                                                     pl.lit(0.0).alias("volume"))
        out = pl.concat([out.select("key", "e", "value", "volume"), before], how="vertical_relaxed")
        return out.with_columns(pl.col("volume").fill_null(0.0))


def _additive_value(metric: Metric, k: int) -> tuple[pl.Expr, pl.Expr]:
    def ratio(a: str, b: str) -> pl.Expr:
        return pl.when(pl.col(b) > 0).then(pl.col(a) / pl.col(b)).otherwise(None)

    if metric is Metric.requests:
        return pl.col("requests").cast(pl.Float64), pl.col("requests")
    if metric is Metric.responses:
        return pl.col("responses").cast(pl.Float64), pl.col("responses")
    if metric is Metric.error_rate:
        return ratio("errors", "requests"), pl.col("requests")
    if metric is Metric.cost_per_hour_usd:
        return pl.col("cost_usd") / (k / 60), pl.col("requests")
    if metric is Metric.cache_hit_rate:
        return ratio("cache_hits", "cache_known"), pl.col("cache_known")
    if metric is Metric.thumbs_down_rate:
        votes = pl.col("thumbs_up") + pl.col("thumbs_down")
        return pl.when(votes > 0).then(pl.col("thumbs_down") / votes).otherwise(None), votes
    raise AssertionError(metric)


# --------------------------------------------------------------------------- evaluation

# A rule is evaluated on every window of every day, so one window's test at 2.5% is a
# family of hundreds of tests a day: 3 errors in 20 night requests clear a 95%
# interval by chance about once in three weeks. The interval's level is set for the
# family of a day's non-overlapping windows (Bonferroni): one false crossing a day in
# FAMILY_ALPHA of days at most, when the true rate sits exactly on the bound.
FAMILY_ALPHA = 0.05


def interval_z(rule: Rule) -> float:
    """The one-sided z of a proportion rule's interval: FAMILY_ALPHA over a day's windows."""
    from statistics import NormalDist

    windows = max(1.0, 1440 / max(rule.minutes, 1))
    return NormalDist().inv_cdf(1 - FAMILY_ALPHA / windows)


def evaluate(grid: _Grid, rule: Rule, ends: Sequence[int]) -> pl.DataFrame:
    """One row per (split key, evaluation end): value, volume, baseline, bound, state."""
    keys = grid.keys(rule.by)
    frame = grid.series(rule.metric, rule.by, rule.minutes, ends, keys)
    # On the log scale the baseline statistics are of ln(value): right-skewed metrics
    # (latency, spend) vary by factors, not by fixed amounts.
    log = rule.scale == "log" and rule.baseline in (Baseline.same_hour, Baseline.hour_of_day, Baseline.ewma)
    frame = _with_baseline(grid, rule, frame, ends, keys, log)
    return _with_state(rule, frame, log)


def _shifted(grid: _Grid, rule: Rule, frame: pl.DataFrame, ends: Sequence[int], keys: pl.DataFrame,
             offsets: Sequence[int], length: int, prefix: str) -> pl.DataFrame:
    """key, e and, per offset i, the metric over ``length`` minutes ending ``offsets[i]``
    minutes before e: ``{prefix}{i}`` (value) and ``{prefix}v{i}`` (volume)."""
    needed = {e - off for e in ends for off in offsets}
    # The shifted rows are read at the evaluation ends themselves: the range spans both.
    low, high = min(needed), max(max(needed), max(ends))
    if high - low + 1 <= 2 * len(needed):
        # A scan needs nearly every window in reach: take them all and shift each key's
        # rows (one pass for every offset) instead of one join per offset (49 for an
        # hour-of-day baseline).
        base = grid.series(rule.metric, rule.by, length, range(low, high + 1), keys).sort(["key", "e"])
        lag = [pl.col(c).shift(off).over("key").alias(f"{prefix}{v}{i}")
               for i, off in enumerate(offsets) for c, v in (("value", ""), ("volume", "v"))]
        return frame.select("key", "e").join(base.select("key", "e", *lag), on=["key", "e"], how="left")
    base = grid.series(rule.metric, rule.by, length, sorted(needed), keys)
    out = frame.select("key", "e")
    for i, off in enumerate(offsets):
        part = base.select("key", (pl.col("e") + off).alias("e"),
                           pl.col("value").alias(f"{prefix}{i}"), pl.col("volume").alias(f"{prefix}v{i}"))
        out = out.join(part, on=["key", "e"], how="left")
    return out


def _with_baseline(grid: _Grid, rule: Rule, frame: pl.DataFrame, ends: Sequence[int], keys: pl.DataFrame,
                   log: bool) -> pl.DataFrame:
    """Add the rule's baseline, spread and how many baseline windows it stands on."""
    k = rule.minutes
    counts = rule.metric in COUNTS
    # A baseline window counts when it holds half the minimum volume (at least one).
    base_volume = max(rule.min_volume / 2, 1)
    baseline = pl.lit(None, pl.Float64)
    spread = pl.lit(None, pl.Float64)
    points = pl.lit(0, pl.UInt32)

    def usable(n: int) -> list[pl.Expr]:
        vals = [pl.when(counts or (pl.col(f"bv{i}") >= base_volume)).then(pl.col(f"b{i}")) for i in range(n)]
        return [pl.when(v > 0).then(v.log()) for v in vals] if log else vals

    if rule.baseline in (Baseline.same_hour, Baseline.hour_of_day):
        offs = [d * 1440 for d in range(1, rule.days + 1)]
        if rule.baseline is Baseline.hour_of_day:
            offs = [o + j for o in offs for j in range(-HOUR_OF_DAY_REACH, HOUR_OF_DAY_REACH + 1, HOUR_OF_DAY_STEP)]
        frame = frame.join(_shifted(grid, rule, frame, ends, keys, offs, k, "b"), on=["key", "e"], how="left")
        frame = with_median_scale(frame, usable(len(offs)), ("_baseline", "_spread", "_points"))
        baseline, spread, points = pl.col("_baseline"), pl.col("_spread"), pl.col("_points")
    elif rule.baseline is Baseline.ewma:
        offs = [i * k for i in range(1, rule.periods + 1)]
        frame = frame.join(_shifted(grid, rule, frame, ends, keys, offs, k, "b"), on=["key", "e"], how="left")
        baseline, spread, points = _ewma(rule, usable(len(offs)))
    elif rule.baseline is Baseline.trailing:
        span = int(rule.span / MINUTE)
        frame = frame.join(_shifted(grid, rule, frame, ends, keys, [k], span, "b"), on=["key", "e"], how="left")
        baseline = pl.when(counts or (pl.col("bv0") >= base_volume)).then(pl.col("b0"))
        points = baseline.is_not_null().cast(pl.UInt32)
    return frame.with_columns(baseline.alias("baseline"), spread.alias("spread"), points.alias("points"))


def _ewma(rule: Rule, use: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The exponentially weighted mean and deviation of the usable windows, and their count."""
    alpha = rule.alpha if rule.alpha is not None else 2 / (rule.periods + 1)
    weights = [pl.when(u.is_not_null()).then(alpha * (1 - alpha) ** i).otherwise(0.0) for i, u in enumerate(use)]
    wsum = pl.sum_horizontal(weights)
    mean = pl.sum_horizontal([w * u.fill_null(0.0) for w, u in zip(weights, use, strict=True)]) / wsum
    var = pl.sum_horizontal([w * (u.fill_null(0.0) - mean) ** 2 for w, u in zip(weights, use, strict=True)]) / wsum
    points = pl.sum_horizontal([u.is_not_null().cast(pl.UInt32) for u in use])
    return pl.when(wsum > 0).then(mean), pl.when(wsum > 0).then(var.sqrt()), points


def _with_state(rule: Rule, frame: pl.DataFrame, log: bool) -> pl.DataFrame:
    """The bound from the baseline and the rule, and each window's state against it."""
    counts = rule.metric in COUNTS
    # Floor the spread: a flat baseline (MAD 0) must not make every wobble an alert.
    floor = math.log1p(rule.min_spread) if log else rule.min_spread * pl.col("baseline").abs()
    frame = frame.with_columns(
        pl.max_horizontal(pl.col("spread"), floor, pl.lit(1e-9)).alias("spread")
        if rule.sensitivity is not None else pl.col("spread"))
    bounds: list[pl.Expr] = []
    sign = 1 if rule.op == ">" else -1
    deviation = pl.col("baseline") + sign * (rule.sensitivity or 0) * pl.col("spread")
    frame = frame.with_columns((deviation.exp() if log else deviation).alias("deviation"))
    if log:
        frame = frame.with_columns(pl.col("baseline").exp())
    if rule.threshold is not None:
        bounds.append(pl.lit(float(rule.threshold)))
    if rule.factor is not None:
        bounds.append(pl.col("baseline") * rule.factor)
    if rule.sensitivity is not None:
        bounds.append(pl.col("deviation"))
    bound = (pl.max_horizontal(bounds) if rule.op == ">" else pl.min_horizontal(bounds))
    if rule.metric in PROPORTIONS:
        bound = bound.clip(0.0, 1.0)
    needs_baseline = rule.baseline is not Baseline.none
    enough_base = (pl.col("points") >= (1 if rule.baseline is Baseline.trailing else rule.min_baseline)) \
        if needs_baseline else pl.lit(True)
    # The minimum volume: what the window holds, or (counts) what the baseline expected.
    volume = pl.col("baseline") if (counts and needs_baseline) else pl.col("volume")
    frame = frame.with_columns(
        pl.when(enough_base).then(bound).otherwise(None).alias("bound"),
        volume.fill_null(0.0).alias("gate_volume"),
    )
    # A proportion crosses only when its whole interval does: 2 errors in 21 requests
    # (9.5%) is not evidence of an error rate above 5%. The level is the family's.
    if rule.metric in PROPORTIONS and rule.interval:
        low, high = wilson_bounds(pl.col("value") * pl.col("volume"), pl.col("volume"), interval_z(rule))
        test = low if rule.op == ">" else high
    else:
        test = pl.col("value")
    crossed = (test > pl.col("bound")) if rule.op == ">" else (test < pl.col("bound"))
    # low_volume means "crossed, but too little traffic to trust it".
    state = (pl.when(pl.col("value").is_null()).then(pl.lit("no_data"))
             .when(~enough_base).then(pl.lit("no_baseline"))
             .when(~crossed).then(pl.lit("ok"))
             .when(pl.col("gate_volume") < rule.min_volume).then(pl.lit("low_volume"))
             .otherwise(pl.lit("firing")))
    return frame.with_columns(state.alias("state")).select(
        "key", "e", "value", "volume", "baseline", "spread", "points", "bound", "state").sort(["e", "key"])


def _grid_for(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], first_end: datetime,
              last_end: datetime) -> tuple[_Grid, int]:
    """A grid whose index ``last`` is ``last_end``, reaching back far enough for every rule."""
    lookback = max(r.lookback_minutes() for r in rules)
    span = int((last_end - first_end) / MINUTE)
    origin = last_end - (span + lookback) * MINUTE
    first = con.execute(FIRST_SQL).fetchall()[0][0]
    first_minute = 0 if first is None else max(0, math.ceil((first.astimezone(UTC) - origin) / MINUTE))
    return _Grid(origin, span + lookback, con, first_minute), span + lookback


FIRST_SQL = "SELECT min(ts) FROM requests"
