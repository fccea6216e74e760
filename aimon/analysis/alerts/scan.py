"""``aimon alerts scan``: the rules replayed minute by minute over a span."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from aimon.analysis.alerts.evaluate import _grid_for, evaluate
from aimon.analysis.alerts.rules import MINUTE, SEVERITIES, Rule
from aimon.errors import InputError


@dataclass(frozen=True)
class ScanResult:
    """When each rule would have fired, minute by minute over a span."""

    since: datetime
    until: datetime
    rules: tuple[Rule, ...]
    incidents: pl.DataFrame   # one row per page the cooldown would have let through
    summary: pl.DataFrame     # per rule: incidents, minutes firing, minutes evaluated, low-volume minutes
    minutes: int


def scan(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], since: datetime, until: datetime,
         on_rule: Callable[[str, int], None] | None = None) -> ScanResult:
    """Replay ``rules`` at every whole minute from ``since`` to ``until`` (ends at until, until - 1m, ...).

    ``on_rule(name, done)`` is told before each rule is evaluated (for progress)."""
    span = int((until - since) / MINUTE)
    if span < 1:
        raise InputError("the scan window is shorter than a minute")
    first = until - span * MINUTE
    grid, last = _grid_for(con, rules, first, until)
    ends = list(range(last - span, last + 1))
    incidents: list[pl.DataFrame] = []
    summary = []
    for done, rule in enumerate(rules):
        if on_rule is not None:
            on_rule(rule.name, done)
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
