"""Alert rules evaluated over trailing windows, for cron (`alerts check`) and for tuning
(`alerts scan`).

A rule watches one metric over a window ending at an evaluation time T, and fires when
the value crosses its bound while the window holds enough volume. The bound is the
strictest of what the rule sets:

- ``threshold``: a fixed value (error rate > 0.05);
- ``factor`` x baseline (P95 latency > 2 x its usual value);
- baseline +/- ``sensitivity`` x spread (a robust z-score).

Baselines: ``same_hour`` is the median (spread: 1.4826 x MAD) of the same window on
each of the previous ``days`` days, so a quiet night is compared with other nights;
``ewma`` is an exponentially weighted mean and deviation over the ``periods`` windows
just before; ``trailing`` is the metric over the ``span`` before the window (cost per
hour against the last 24 hours' average).

Every series is computed on a minute grid aligned to the latest evaluation time, so
`check` (one time) and `scan` (every minute of a span) run the same arithmetic. Counts
and sums are aggregated per minute in DuckDB and rolled over windows in polars;
percentiles are computed in DuckDB over each window (a range join), exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import duckdb
import polars as pl

from aimon.analysis.toolkit import dimensions
from aimon.analysis.toolkit.dimensions import Split, parse_splits
from aimon.analysis.toolkit.intervals import wilson_bounds
from aimon.analysis.toolkit.robust import list_median_scale
from aimon.analysis.toolkit.window import parse_duration
from aimon.errors import InputError

SEVERITIES = ("P0", "P1", "P2", "P3")  # P0 pages immediately; P3 is for the dashboard
MINUTE = timedelta(minutes=1)
MINUTE_US = 60_000_000


class Metric(StrEnum):
    """What a rule watches over its window."""

    requests = "requests"                   # requests in the window
    responses = "responses"                 # successful responses in the window
    error_rate = "error_rate"               # errors / requests
    latency_p95_ms = "latency_p95_ms"       # P95 latency of successful requests
    ttft_p95_ms = "ttft_p95_ms"             # P95 time to first token of successful requests
    cost_per_hour_usd = "cost_per_hour_usd"  # priced spend in the window, per hour
    cache_hit_rate = "cache_hit_rate"       # cache hits / requests that log cache_hit
    thumbs_down_rate = "thumbs_down_rate"   # thumbs down / thumbs given (by feedback time)


# What each metric's minimum volume counts.
VOLUME = {
    Metric.requests: "expected requests (the baseline)",
    Metric.responses: "expected responses (the baseline)",
    Metric.error_rate: "requests",
    Metric.latency_p95_ms: "successful requests with a latency",
    Metric.ttft_p95_ms: "successful requests with a TTFT",
    Metric.cost_per_hour_usd: "requests",
    Metric.cache_hit_rate: "requests that log cache_hit",
    Metric.thumbs_down_rate: "thumbs up and down",
}
COUNTS = (Metric.requests, Metric.responses)
PROPORTIONS = (Metric.error_rate, Metric.cache_hit_rate, Metric.thumbs_down_rate)
QUANTILES = {Metric.latency_p95_ms: "latency_ms", Metric.ttft_p95_ms: "ttft_ms"}


class Baseline(StrEnum):
    none = "none"
    same_hour = "same_hour"
    ewma = "ewma"
    trailing = "trailing"


@dataclass(frozen=True)
class Rule:
    """One alert rule; see the module docstring and docs/alerts.md."""

    name: str
    metric: Metric
    severity: str
    window: timedelta
    op: str = ">"
    threshold: float | None = None
    baseline: Baseline = Baseline.none
    factor: float | None = None
    sensitivity: float | None = None
    min_volume: float = 0
    days: int = 7
    periods: int = 12
    alpha: float | None = None
    span: timedelta = timedelta(hours=24)
    min_baseline: int = 3
    min_spread: float = 0.1
    scale: str = "linear"
    interval: bool = True
    cooldown: timedelta = timedelta(hours=1)
    by: tuple[Split, ...] = ()
    description: str = ""

    @property
    def minutes(self) -> int:
        return int(self.window / MINUTE)

    def lookback_minutes(self) -> int:
        """How far before an evaluation time this rule reads data."""
        k = self.minutes
        if self.baseline is Baseline.same_hour:
            return self.days * 1440 + k
        if self.baseline is Baseline.ewma:
            return (self.periods + 1) * k
        if self.baseline is Baseline.trailing:
            return k + int(self.span / MINUTE)
        return k


DEFAULT_RULES: tuple[Rule, ...] = (
    # Latency and spend vary by factors, so their baselines are taken on the log scale.
    Rule("latency_p95_high", Metric.latency_p95_ms, "P2", timedelta(minutes=15), ">",
         baseline=Baseline.same_hour, factor=2.0, sensitivity=3.0, scale="log", min_volume=50,
         cooldown=timedelta(hours=1),
         description="P95 latency over 15 minutes is more than twice its usual value at this hour "
                     "(and 3 deviations above it)"),
    Rule("error_rate_high", Metric.error_rate, "P1", timedelta(minutes=5), ">", threshold=0.05,
         min_volume=20, cooldown=timedelta(minutes=30),
         description="more than 5% of requests failed over 5 minutes (the interval, at 5% for the "
                     "day's 288 windows, above 5%)"),
    # "More than 150% of the daily average" taken literally fires every busy afternoon
    # (a normal peak hour is about twice the day's hourly mean), so the average is the
    # one for this hour of the day; baseline = "trailing" gives the literal reading.
    Rule("cost_per_hour_high", Metric.cost_per_hour_usd, "P2", timedelta(hours=1), ">",
         baseline=Baseline.same_hour, factor=1.5, sensitivity=3.0, scale="log", min_volume=20,
         cooldown=timedelta(hours=2),
         description="spend over the last hour is more than 150% of its usual value at this hour "
                     "(and 3 deviations above it)"),
    Rule("cost_runaway", Metric.cost_per_hour_usd, "P0", timedelta(hours=1), ">",
         baseline=Baseline.trailing, span=timedelta(hours=24), factor=10.0, min_volume=20,
         cooldown=timedelta(hours=2),
         description="spend over the last hour is more than 10x the last 24 hours' hourly average"),
    Rule("thumbs_down_high", Metric.thumbs_down_rate, "P2", timedelta(hours=1), ">", threshold=0.2,
         min_volume=20, cooldown=timedelta(hours=2),
         description="more than 20% of thumbs given in the last hour are down (the interval, at 5% for "
                     "the day's 24 windows, above 20%)"),
    Rule("no_responses", Metric.responses, "P0", timedelta(minutes=5), "<", threshold=1,
         baseline=Baseline.same_hour, min_volume=20, cooldown=timedelta(minutes=30),
         description="no successful response in 5 minutes when at least 20 are usual at this hour"),
    Rule("cache_hit_drop", Metric.cache_hit_rate, "P2", timedelta(minutes=30), "<",
         baseline=Baseline.same_hour, factor=0.5, sensitivity=3.0, min_volume=50,
         cooldown=timedelta(hours=2),
         description="cache hit rate fell below half its usual value at this hour (and 3 deviations, "
                     "the interval, at 5% for the day's 48 windows, below)"),
)


# --------------------------------------------------------------------------- rule files

_RULE_KEYS = {"name", "metric", "severity", "window", "op", "threshold", "baseline", "factor", "sensitivity",
              "min_volume", "days", "periods", "alpha", "span", "min_baseline", "min_spread", "scale", "interval",
              "cooldown", "by", "description", "disabled"}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: expected a number, not {value!r}")
    return float(value)


def rule_from_mapping(values: Mapping[str, Any], source: str, base: Rule | None = None) -> Rule:
    """A rule from a TOML table; ``base`` supplies fields the table leaves out."""
    name = values.get("name") or (base.name if base else None)
    if not isinstance(name, str) or not name:
        raise InputError(f"{source}: every rule needs a name")
    where = f"{source}: rule {name!r}"
    unknown = set(values) - _RULE_KEYS
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(_RULE_KEYS))}")
    kw: dict[str, Any] = {}
    if "metric" in values:
        try:
            kw["metric"] = Metric(values["metric"])
        except ValueError:
            raise InputError(f"{where}: unknown metric {values['metric']!r}; choose from "
                             f"{', '.join(m.value for m in Metric)}") from None
    if "severity" in values:
        sev = str(values["severity"]).upper()
        if sev not in SEVERITIES:
            raise InputError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        kw["severity"] = sev
    if "op" in values:
        if values["op"] not in (">", "<"):
            raise InputError(f"{where}: op must be \">\" (fire above) or \"<\" (fire below)")
        kw["op"] = values["op"]
    if "baseline" in values:
        try:
            kw["baseline"] = Baseline(values["baseline"])
        except ValueError:
            raise InputError(f"{where}: baseline must be one of {', '.join(b.value for b in Baseline)}") from None
    for key in ("window", "span", "cooldown"):
        if key in values:
            kw[key] = parse_duration(values[key], f"{where}: {key}")
    for key in ("threshold", "factor", "sensitivity", "min_volume", "alpha", "min_spread"):
        if key in values:
            kw[key] = _number(values[key], f"{where}: {key}")
    for key in ("days", "periods", "min_baseline"):
        if key in values:
            n = _number(values[key], f"{where}: {key}")
            if n < 1 or n != int(n):
                raise InputError(f"{where}: {key} must be a whole number of at least 1")
            kw[key] = int(n)
    if "by" in values:
        try:
            kw["by"] = parse_splits(values["by"])
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    if "scale" in values:
        if values["scale"] not in ("linear", "log"):
            raise InputError(f"{where}: scale must be \"linear\" or \"log\"")
        kw["scale"] = values["scale"]
    if "interval" in values:
        if not isinstance(values["interval"], bool):
            raise InputError(f"{where}: interval must be true or false")
        kw["interval"] = values["interval"]
    if "description" in values:
        kw["description"] = str(values["description"])
    if base is not None:
        rule = replace(base, **kw)
    else:
        missing = [k for k in ("metric", "severity", "window") if k not in kw]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)}")
        rule = Rule(name=name, **kw)
    return _validated(rule, where)


def _validated(rule: Rule, where: str) -> Rule:
    if rule.window % MINUTE or rule.span % MINUTE:
        raise InputError(f"{where}: window and span must be whole minutes")
    if rule.threshold is None and rule.factor is None and rule.sensitivity is None:
        raise InputError(f"{where}: give a threshold, a factor or a sensitivity")
    if (rule.factor is not None or rule.sensitivity is not None) and rule.baseline is Baseline.none:
        raise InputError(f"{where}: factor and sensitivity need a baseline (same_hour, ewma or trailing)")
    if rule.sensitivity is not None and rule.baseline is Baseline.trailing:
        raise InputError(f"{where}: a trailing baseline has no spread; use factor, or same_hour/ewma")
    if rule.alpha is not None and not 0 < rule.alpha <= 1:
        raise InputError(f"{where}: alpha must be in (0, 1]")
    return rule


def rules_from_document(doc: Mapping[str, Any], source: str) -> list[Rule]:
    """The rules an alerts.toml describes (see docs/alerts.md)."""
    unknown = set(doc) - {"include_defaults", "rules"}
    if unknown:
        raise InputError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                         "expected include_defaults and [[rules]]")
    include = doc.get("include_defaults", False)
    if not isinstance(include, bool):
        raise InputError(f"{source}: include_defaults must be true or false")
    entries = doc.get("rules", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(f"{source}: rules must be an array of tables ([[rules]])")
    rules: dict[str, Rule] = {r.name: r for r in DEFAULT_RULES} if include else {}
    for entry in entries:
        name = entry.get("name")
        if entry.get("disabled"):
            rules.pop(name, None)
            continue
        rules[name] = rule_from_mapping(entry, source, base=rules.get(name))
    if not rules:
        raise InputError(f"{source} defines no rules")
    return list(rules.values())


def rule_data(rule: Rule) -> dict[str, Any]:
    """A rule as the keys of a rules file (durations as text)."""
    def text(d: timedelta) -> str:
        minutes = int(d / MINUTE)
        return f"{minutes // 1440}d" if minutes % 1440 == 0 else (
            f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m")

    out: dict[str, Any] = {"name": rule.name, "metric": rule.metric.value, "severity": rule.severity,
                           "window": text(rule.window), "op": rule.op}
    for key in ("threshold", "factor", "sensitivity"):
        if getattr(rule, key) is not None:
            out[key] = getattr(rule, key)
    out["min_volume"] = rule.min_volume
    out["baseline"] = rule.baseline.value
    if rule.baseline is Baseline.same_hour:
        out["days"] = rule.days
    if rule.baseline is Baseline.ewma:
        out["periods"] = rule.periods
        out["alpha"] = rule.alpha if rule.alpha is not None else 2 / (rule.periods + 1)
    if rule.baseline is Baseline.trailing:
        out["span"] = text(rule.span)
    if rule.baseline in (Baseline.same_hour, Baseline.ewma):
        out["min_baseline"] = rule.min_baseline
        out["min_spread"] = rule.min_spread
        out["scale"] = rule.scale
    if rule.metric in PROPORTIONS:
        out["interval"] = rule.interval
    out["cooldown"] = text(rule.cooldown)
    if rule.by:
        out["by"] = [s.value for s in rule.by]
    out["description"] = rule.description
    return out


# --------------------------------------------------------------------------- series

# Per minute of the grid (m = whole minutes since $origin) and split key: the counts and
# sums every additive metric is made of.
MINUTE_COUNTS_SQL = """
SELECT {key} AS key,
       ((epoch_us(r.ts) - $origin_us) // {minute_us})::BIGINT AS m,
       count(*) AS requests,
       count(*) FILTER (WHERE r.status = 'ok') AS responses,
       count(*) FILTER (WHERE r.status = 'error') AS errors,
       count(*) FILTER (WHERE r.cache_hit) AS cache_hits,
       count(r.cache_hit) AS cache_known,
       {cost} AS cost_usd
FROM requests r {cost_join}
WHERE r.ts >= $origin AND r.ts < $end
GROUP BY ALL
"""
COST_JOIN = "LEFT JOIN request_costs c ON c.request_id = r.request_id AND c.ts >= $origin AND c.ts < $end"
COST_SUM = "coalesce(sum(c.cost_usd) FILTER (WHERE c.cost_source <> 'unpriced'), 0)"

# Thumbs per minute of *feedback* time, split by the request they are about.
MINUTE_VOTES_SQL = """
SELECT {key} AS key,
       ((epoch_us(f.ts) - $origin_us) // {minute_us})::BIGINT AS m,
       count(*) FILTER (WHERE f.feedback_type = 'thumbs_up') AS thumbs_up,
       count(*) FILTER (WHERE f.feedback_type = 'thumbs_down') AS thumbs_down
FROM feedback f LEFT JOIN requests r USING (request_id)
WHERE f.ts >= $origin AND f.ts < $end AND f.feedback_type IN ('thumbs_up', 'thumbs_down')
GROUP BY ALL
"""

# A percentile over each window [end - k, end) of the grid, for the ends asked for.
WINDOW_QUANTILE_SQL = """
WITH r AS (
    SELECT {key} AS key,
           ((epoch_us(r.ts) - $origin_us) // {minute_us})::BIGINT AS m,
           r.{column} AS x
    FROM requests r
    WHERE r.ts >= $origin AND r.ts < $end AND r.status = 'ok' AND r.{column} IS NOT NULL
), ends AS (
    SELECT unnest($ends::BIGINT[]) AS e
)
SELECT r.key, ends.e, quantile_cont(r.x, 0.95) AS value, count(*) AS volume
FROM ends JOIN r ON r.m >= ends.e - $k AND r.m < ends.e
GROUP BY ALL
"""

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
        frames = [self._minute_counts(by, False).select("key")]
        return pl.concat(frames).unique().sort("key")

    def _minute_counts(self, by: tuple[Split, ...], cost: bool) -> pl.DataFrame:
        tag = ("counts", by, cost)
        if tag not in self.cache:
            sql = MINUTE_COUNTS_SQL.format(key=dimensions.key_sql(by), minute_us=MINUTE_US,
                                           cost=COST_SUM if cost else "0.0::DOUBLE", cost_join=COST_JOIN if cost else "")
            self.cache[tag] = self.con.sql(sql, params=self.params()).pl()
        return self.cache[tag]

    def _minute_votes(self, by: tuple[Split, ...]) -> pl.DataFrame:
        tag = ("votes", by)
        if tag not in self.cache:
            sql = MINUTE_VOTES_SQL.format(key=dimensions.key_sql(by), minute_us=MINUTE_US)
            self.cache[tag] = self.con.sql(sql, params=self.params()).pl()
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
            dense = self._dense(self._minute_counts(by, metric is Metric.cost_per_hour_usd), keys, _ADDITIVE)
            cols = _ADDITIVE
        rolled = dense.with_columns(
            [pl.col(c).rolling_sum(window_size=k, min_samples=1).over("key").alias(c) for c in cols]
        ).with_columns((pl.col("m") + 1).alias("e"))
        value, volume = _additive_value(metric, k)
        out = rolled.select("key", "e", value.alias("value"), volume.cast(pl.Float64).alias("volume"))
        self.cache[tag] = out
        return out

    def quantile(self, metric: Metric, by: tuple[Split, ...], k: int, ends: Iterable[int]) -> pl.DataFrame:
        """key, e, value, volume of a percentile metric over windows of k minutes ending at ``ends``."""
        ends = sorted(set(int(e) for e in ends if e - k >= 0))
        if not ends:
            return pl.DataFrame(schema={"key": pl.Utf8, "e": pl.Int64, "value": pl.Float64, "volume": pl.Float64})
        sql = WINDOW_QUANTILE_SQL.format(key=dimensions.key_sql(by), minute_us=MINUTE_US, column=QUANTILES[metric])
        frame = self.con.sql(sql, params={**self.params(), "ends": ends, "k": k}).pl()
        return frame.with_columns(pl.col("e").cast(pl.Int64), pl.col("volume").cast(pl.Float64))

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
    k = rule.minutes
    keys = grid.keys(rule.by)
    frame = grid.series(rule.metric, rule.by, k, ends, keys)
    counts = rule.metric in COUNTS

    def shifted(offsets: Sequence[int], length: int, prefix: str) -> pl.DataFrame:
        needed = {e - off for e in ends for off in offsets}
        base = grid.series(rule.metric, rule.by, length, sorted(needed), keys)
        out = frame.select("key", "e")
        for i, off in enumerate(offsets):
            part = base.select("key", (pl.col("e") + off).alias("e"),
                               pl.col("value").alias(f"{prefix}{i}"), pl.col("volume").alias(f"{prefix}v{i}"))
            out = out.join(part, on=["key", "e"], how="left")
        return out

    # A baseline window counts when it holds half the minimum volume (at least one).
    base_volume = max(rule.min_volume / 2, 1)
    # On the log scale the baseline statistics are of ln(value): right-skewed metrics
    # (latency, spend) vary by factors, not by fixed amounts.
    log = rule.scale == "log" and rule.baseline in (Baseline.same_hour, Baseline.ewma)
    baseline = pl.lit(None, pl.Float64)
    spread = pl.lit(None, pl.Float64)
    points = pl.lit(0, pl.UInt32)
    if rule.baseline is Baseline.same_hour:
        offs = [d * 1440 for d in range(1, rule.days + 1)]
        frame = frame.join(shifted(offs, k, "b"), on=["key", "e"], how="left")
        vals = [pl.when(counts or (pl.col(f"bv{i}") >= base_volume)).then(pl.col(f"b{i}"))
                for i in range(len(offs))]
        if log:
            vals = [pl.when(v > 0).then(v.log()) for v in vals]
        baseline, spread, points = list_median_scale(vals)
    elif rule.baseline is Baseline.ewma:
        offs = [i * k for i in range(1, rule.periods + 1)]
        frame = frame.join(shifted(offs, k, "b"), on=["key", "e"], how="left")
        alpha = rule.alpha if rule.alpha is not None else 2 / (rule.periods + 1)
        use = [pl.when(counts or (pl.col(f"bv{i}") >= base_volume)).then(pl.col(f"b{i}"))
               for i in range(len(offs))]
        if log:
            use = [pl.when(u > 0).then(u.log()) for u in use]
        weights = [pl.when(u.is_not_null()).then(alpha * (1 - alpha) ** i).otherwise(0.0)
                   for i, u in enumerate(use)]
        wsum = pl.sum_horizontal(weights)
        mean = pl.sum_horizontal([w * u.fill_null(0.0) for w, u in zip(weights, use, strict=True)]) / wsum
        var = pl.sum_horizontal([w * (u.fill_null(0.0) - mean) ** 2 for w, u in zip(weights, use, strict=True)]) / wsum
        baseline = pl.when(wsum > 0).then(mean)
        spread = pl.when(wsum > 0).then(var.sqrt())
        points = pl.sum_horizontal([u.is_not_null().cast(pl.UInt32) for u in use])
    elif rule.baseline is Baseline.trailing:
        span = int(rule.span / MINUTE)
        frame = frame.join(shifted([k], span, "b"), on=["key", "e"], how="left")
        baseline = pl.when(counts or (pl.col("bv0") >= base_volume)).then(pl.col("b0"))
        points = baseline.is_not_null().cast(pl.UInt32)
        spread = pl.lit(None, pl.Float64)

    frame = frame.with_columns(baseline.alias("baseline"), spread.alias("spread"), points.alias("points"))
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


# --------------------------------------------------------------------------- check

@dataclass(frozen=True)
class Evaluation:
    """A rule's verdict for one split key at the evaluation time."""

    rule: str
    severity: str
    metric: str
    key: str
    state: str  # firing, ok, low_volume, no_baseline, no_data
    value: float | None
    bound: float | None
    baseline: float | None
    spread: float | None
    volume: float
    window_start: datetime
    window_end: datetime
    description: str
    status: str | None = None  # for firing rules with state kept: "new" or "ongoing"
    opened_at: datetime | None = None


@dataclass(frozen=True)
class CheckResult:
    at: datetime
    rules: tuple[Rule, ...]
    evaluations: tuple[Evaluation, ...]
    resolved: tuple[dict, ...] = ()
    state_kept: bool = False

    @property
    def firing(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.state == "firing"]

    def paging(self, fail_on: str) -> list[Evaluation]:
        """Firing alerts at or above ``fail_on`` that are new (not inside a cooldown)."""
        limit = SEVERITIES.index(fail_on)
        return [e for e in self.firing if SEVERITIES.index(e.severity) <= limit and e.status != "ongoing"]


def _clean(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def check(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], at: datetime) -> CheckResult:
    """Evaluate ``rules`` over windows ending at ``at`` (no state)."""
    at = at.astimezone(UTC)
    grid, last = _grid_for(con, rules, at, at)
    out: list[Evaluation] = []
    for rule in rules:
        frame = evaluate(grid, rule, [last])
        for row in frame.iter_rows(named=True):
            out.append(Evaluation(
                rule.name, rule.severity, rule.metric.value, row["key"], row["state"], _clean(row["value"]),
                _clean(row["bound"]), _clean(row["baseline"]), _clean(row["spread"]), float(row["volume"] or 0),
                at - rule.window, at, rule.description))
    return CheckResult(at, tuple(rules), tuple(out))


# --------------------------------------------------------------------------- state

OPEN_INCIDENTS_SQL = """
SELECT rule, key, severity, opened_at, last_fired_at, checks
FROM alert_state
WHERE resolved_at IS NULL
"""


def apply_state(con: duckdb.DuckDBPyConnection, result: CheckResult, now: datetime | None = None) -> CheckResult:
    """Record what fired in ``alert_state`` and mark each firing alert new or ongoing.

    An alert is *ongoing* while it fired within its rule's cooldown before this check
    (in data time): one incident pages once however long it lasts. An open incident that
    has been quiet for a whole cooldown is resolved.
    """
    now = now or datetime.now(UTC)
    cooldown = {r.name: r.cooldown for r in result.rules}
    open_rows = con.execute(OPEN_INCIDENTS_SQL).fetchall()
    incidents = {(r[0], r[1]): r for r in open_rows}
    at = result.at
    updated: list[Evaluation] = []
    resolved: list[dict] = []
    statements: list[tuple[str, dict]] = []
    for ev in result.evaluations:
        open_row = incidents.get((ev.rule, ev.key))
        if ev.state == "firing":
            if open_row and abs(at - open_row[4]) < cooldown[ev.rule]:
                statements.append((
                    "UPDATE alert_state SET last_fired_at = greatest(last_fired_at, $at), checks = checks + 1, "
                    "value = $value, threshold = $bound WHERE rule = $rule AND key = $key AND resolved_at IS NULL",
                    {"at": at, "value": ev.value, "bound": ev.bound, "rule": ev.rule, "key": ev.key}))
                updated.append(replace(ev, status="ongoing", opened_at=open_row[3]))
                continue
            if open_row:
                statements.append(("UPDATE alert_state SET resolved_at = last_fired_at WHERE rule = $rule AND "
                                   "key = $key AND resolved_at IS NULL", {"rule": ev.rule, "key": ev.key}))
            statements.append((
                "INSERT INTO alert_state VALUES ($rule, $key, $severity, $at, $at, NULL, $now, 1, $value, $bound)",
                {"rule": ev.rule, "key": ev.key, "severity": ev.severity, "at": at, "now": now,
                 "value": ev.value, "bound": ev.bound}))
            updated.append(replace(ev, status="new", opened_at=at))
        else:
            if open_row and abs(at - open_row[4]) >= cooldown[ev.rule]:
                statements.append(("UPDATE alert_state SET resolved_at = $at WHERE rule = $rule AND key = $key "
                                   "AND resolved_at IS NULL", {"at": at, "rule": ev.rule, "key": ev.key}))
                resolved.append({"rule": ev.rule, "key": ev.key, "opened_at": open_row[3],
                                 "last_fired_at": open_row[4]})
            updated.append(ev)
    if statements:
        con.execute("BEGIN TRANSACTION")
        try:
            for sql, params in statements:
                con.execute(sql, params)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return replace(result, evaluations=tuple(updated), resolved=tuple(resolved), state_kept=True)


# --------------------------------------------------------------------------- scan

@dataclass(frozen=True)
class ScanResult:
    """When each rule would have fired, minute by minute over a span."""

    since: datetime
    until: datetime
    rules: tuple[Rule, ...]
    incidents: pl.DataFrame   # one row per page the cooldown would have let through
    summary: pl.DataFrame     # per rule: incidents, minutes firing, minutes evaluated, low-volume minutes
    minutes: int


def scan(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], since: datetime, until: datetime) -> ScanResult:
    """Replay ``rules`` at every whole minute from ``since`` to ``until`` (ends at until, until - 1m, ...)."""
    span = int((until - since) / MINUTE)
    if span < 1:
        raise InputError("the scan window is shorter than a minute")
    first = until - span * MINUTE
    grid, last = _grid_for(con, rules, first, until)
    ends = list(range(last - span, last + 1))
    incidents: list[pl.DataFrame] = []
    summary = []
    for rule in rules:
        frame = evaluate(grid, rule, ends).with_columns(
            (pl.lit(grid.origin) + pl.duration(minutes=pl.col("e"))).alias("at"))
        firing = frame.filter(pl.col("state") == "firing").sort(["key", "e"])
        cooldown = int(rule.cooldown / MINUTE)
        # A new incident starts when a key fires after a full cooldown of quiet.
        firing = firing.with_columns(
            ((pl.col("e") - pl.col("e").shift(1).over("key")).fill_null(cooldown + 1) >= cooldown)
            .cum_sum().over("key").alias("incident"))
        worst = pl.col("value").max() if rule.op == ">" else pl.col("value").min()
        inc = firing.group_by(["key", "incident"]).agg(
            pl.col("at").min().alias("start"),
            pl.col("at").max().alias("end"),
            pl.len().alias("minutes_firing"),
            worst.alias("worst_value"),
            pl.col("bound").sort_by("value", descending=rule.op == ">").first().alias("bound_at_worst"),
            pl.col("baseline").sort_by("value", descending=rule.op == ">").first().alias("baseline_at_worst"),
        ).with_columns(pl.lit(rule.name).alias("rule"), pl.lit(rule.severity).alias("severity"),
                       pl.lit(rule.metric.value).alias("metric")).drop("incident")
        incidents.append(inc.select("rule", "severity", "metric", "key", "start", "end", "minutes_firing",
                                    "worst_value", "bound_at_worst", "baseline_at_worst"))
        counts = frame.group_by("state").len()
        by_state = dict(counts.iter_rows())
        summary.append({"rule": rule.name, "severity": rule.severity, "metric": rule.metric.value,
                        "incidents": inc.height, "minutes_firing": by_state.get("firing", 0),
                        "minutes_ok": by_state.get("ok", 0), "minutes_low_volume": by_state.get("low_volume", 0),
                        "minutes_no_baseline": by_state.get("no_baseline", 0),
                        "minutes_no_data": by_state.get("no_data", 0)})
    frame = pl.concat(incidents) if incidents else pl.DataFrame()
    if frame.height:
        order = {s: i for i, s in enumerate(SEVERITIES)}
        frame = frame.with_columns(pl.col("severity").replace_strict(order).alias("_o")).sort(
            ["start", "_o", "rule", "key"]).drop("_o")
    return ScanResult(first, until, tuple(rules), frame, pl.DataFrame(summary), span + 1)
