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
``hour_of_day`` pools the windows ending within 30 minutes of the same time of day on
each of those days (every 10 minutes: 7 a day), for metrics too noisy for 7 points;
``ewma`` is an exponentially weighted mean and deviation over the ``periods`` windows
just before; ``trailing`` is the metric over the ``span`` before the window (cost per
hour against the last 24 hours' average).

Every series is computed on a minute grid aligned to the latest evaluation time, so
`check` (one time) and `scan` (every minute of a span) run the same arithmetic. Counts
and sums are aggregated per minute in DuckDB and rolled over windows in polars;
percentiles are computed exactly in DuckDB, for a scan over every window at once (each
minute's values as a list, joined over the window by a window function).

This module holds the rules: what they watch, their defaults, and rule files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from aimon.analysis.metrics import catalogue
from aimon.analysis.metrics.catalogue import Metric as CatalogueMetric
from aimon.analysis.toolkit.dimensions import Split, parse_splits
from aimon.analysis.toolkit.gate import PRIORITIES
from aimon.analysis.toolkit.window import parse_duration
from aimon.errors import InputError

SEVERITIES = PRIORITIES  # the scale incidents use too
MINUTE = timedelta(minutes=1)
MINUTE_US = 60_000_000
# hour_of_day baselines pool the windows ending within this many minutes either side of
# the same time of day, every HOUR_OF_DAY_STEP minutes (7 windows a day).
HOUR_OF_DAY_REACH = 30
HOUR_OF_DAY_STEP = 10


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
# What each metric means, its unit and its label: the catalogue's entry. A rule's
# thumbs_down_rate reads every thumb by when it was given (a page cannot wait for the
# request's other votes), which is not the report's per-request rate: its own entry.
CATALOGUED: dict[Metric, CatalogueMetric] = {
    m: catalogue.metric("thumbs_down_vote_rate" if m is Metric.thumbs_down_rate else m.value) for m in Metric}
QUANTILES = {m: CATALOGUED[m] for m in (Metric.latency_p95_ms, Metric.ttft_p95_ms)}


class Baseline(StrEnum):
    none = "none"
    same_hour = "same_hour"
    hour_of_day = "hour_of_day"
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
        if self.baseline is Baseline.hour_of_day:
            return self.days * 1440 + k + HOUR_OF_DAY_REACH
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
    # (a normal peak hour is about twice the day's hourly mean), so the usual value is the
    # one for this hour of the day: the median of ln(spend) over the hour windows ending
    # within 30 minutes of this time on each of the previous 7 days (49 windows), with
    # 1.4826 x MAD as spread. An hour's spend is a handful of expensive requests, heavy-
    # tailed even on the log scale, and the rule is evaluated on 24 hours a day: 6
    # deviations (a factor of about 3-6 at sample_logs' volumes) keeps ordinary days
    # silent and still fires on the first minutes of a runaway loop (docs/alerts.md).
    Rule("cost_per_hour_high", Metric.cost_per_hour_usd, "P2", timedelta(hours=1), ">",
         baseline=Baseline.hour_of_day, factor=1.5, sensitivity=6.0, scale="log", min_volume=20,
         min_baseline=21, cooldown=timedelta(hours=2),
         description="spend over the last hour is more than 150% of its usual value at this time of day "
                     "and 6 deviations above it (log scale, the previous 7 days)"),
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
        raise InputError(f"{where}: factor and sensitivity need a baseline (same_hour, hour_of_day, ewma or "
                         "trailing)")
    if rule.sensitivity is not None and rule.baseline is Baseline.trailing:
        raise InputError(f"{where}: a trailing baseline has no spread; use factor, or same_hour/hour_of_day/ewma")
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
    if rule.baseline in (Baseline.same_hour, Baseline.hour_of_day):
        out["days"] = rule.days
    if rule.baseline is Baseline.ewma:
        out["periods"] = rule.periods
        out["alpha"] = rule.alpha if rule.alpha is not None else 2 / (rule.periods + 1)
    if rule.baseline is Baseline.trailing:
        out["span"] = text(rule.span)
    if rule.baseline in (Baseline.same_hour, Baseline.hour_of_day, Baseline.ewma):
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
