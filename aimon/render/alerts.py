"""How alert checks, scans and rule lists read: JSON data and table/Markdown blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from aimon.analysis.alerts.rules import CATALOGUED
from aimon.analysis.alerts.rules import Metric as RuleMetric
from aimon.render import Block, Figures, FrameBlock, Heading, Note, _jsonable, units
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.alerts.check import CheckResult
    from aimon.analysis.alerts.scan import ScanResult


def _evaluation(e) -> dict[str, Any]:
    return {"rule": e.rule, "severity": e.severity, "metric": e.metric, "key": e.key, "state": e.state,
            "status": e.status, "value": e.value, "bound": e.bound, "baseline": e.baseline, "spread": e.spread,
            "volume": e.volume, "window_start": e.window_start, "window_end": e.window_end,
            "opened_at": e.opened_at, "description": e.description}


def check_data(result: CheckResult, fail_on: str | None) -> dict[str, Any]:
    """The JSON contract of ``aimon alerts check --format json``."""
    firing = result.firing
    paging = result.paging(fail_on) if fail_on else []
    return _jsonable({
        "at": result.at,
        "state_kept": result.state_kept,
        "fail_on": fail_on,
        "failed": bool(paging),
        "alerts": [_evaluation(e) for e in firing],
        "resolved": list(result.resolved),
        "checks": [_evaluation(e) for e in result.evaluations],
    })


def gate_message(verdict: Any) -> str:
    """The lines of a failed --fail-on gate (exit 1): one per alert that pages."""
    return "\n".join(
        f"{b.condition} {f['rule']}{' [' + f['key'] + ']' if f['key'] else ''}: {f['metric']} "
        f"{metric_value(f['metric'], f['value'])} (bound {metric_value(f['metric'], f['bound'])})"
        for b in verdict.breaches for f in (b.figures,))


def metric_value(metric: str, x: float | None) -> str:
    """A rule metric's value in the unit the metric catalogue gives it: 15,176 ms, 33.3%,
    $0.292/h, 28."""
    return units.value(CATALOGUED[RuleMetric(metric)].unit, x)


def _when(t: datetime, tz: str = "UTC") -> str:
    return units.when(t, tz)


def _when_short(t: datetime, start: datetime, tz: str = "UTC") -> str:
    """'14:47' on the start's day, else the full date and time."""
    same_day = units.local(t, tz).date() == units.local(start, tz).date()
    return units.when(t, tz, "%H:%M" if same_day else "%m-%d %H:%M")


def check_blocks(result: CheckResult, fail_on: str | None, tz: str = "UTC") -> list[Block]:
    firing = result.firing
    keyed = any(e.key for e in result.evaluations)
    at = units.local(result.at, tz).isoformat(sep=" ", timespec="seconds")
    blocks: list[Block] = [Heading(f"Alerts at {at}")]
    if firing:
        rows = []
        for e in firing:
            row = {"severity": e.severity, "rule": e.rule}
            if keyed:
                row["key"] = e.key
            row.update({"value": metric_value(e.metric, e.value), "bound": metric_value(e.metric, e.bound),
                        "usual": metric_value(e.metric, e.baseline), "volume": int(e.volume),
                        "status": e.status or "",
                        "since": _when_short(e.opened_at, result.at, tz) if e.opened_at else ""})
            rows.append(row)
        blocks.append(FrameBlock(rows, title="Firing"))
        blocks.append(Note(items=[f"{e.rule}: {e.description}" for e in firing if e.description]))
        if fail_on:
            paging = result.paging(fail_on)
            blocks.append(Note(f"{len(paging)} new alert(s) at {fail_on} or worse: the check fails."
                               if paging else f"No new alert at {fail_on} or worse (ongoing ones are inside "
                                              "their cooldown): the check passes.", style="bold"))
    else:
        blocks.append(Note("No alert fires."))
    if result.resolved:
        blocks.append(FrameBlock([{"rule": r["rule"], **({"key": r["key"]} if keyed else {}),
                                   "opened": _when(r["opened_at"], tz), "last fired": _when(r["last_fired_at"], tz)}
                                  for r in result.resolved], title="Resolved"))
    rows = []
    for e in result.evaluations:
        row = {"rule": e.rule, "severity": e.severity}
        if keyed:
            row["key"] = e.key
        row.update({"state": e.state.replace("_", " "), "value": metric_value(e.metric, e.value),
                    "bound": metric_value(e.metric, e.bound), "volume": int(e.volume)})
        rows.append(row)
    blocks.append(FrameBlock(rows, title="Every check"))
    if not result.state_kept:
        blocks.append(Note("State not kept (--no-state): every firing alert counts as new.", style="dim"))
    return blocks


def check_frame(result: CheckResult) -> pl.DataFrame:
    """Every evaluation as one CSV row (raw numbers, for --format csv)."""
    return pl.DataFrame([{k: v for k, v in _evaluation(e).items() if k != "description"}
                         for e in result.evaluations])


def scan_data(result: ScanResult) -> dict[str, Any]:
    """The JSON contract of ``aimon alerts scan --format json``."""
    return _jsonable({"since": result.since, "until": result.until, "minutes": result.minutes,
                      "incidents": result.incidents, "summary": result.summary})


def scan_blocks(result: ScanResult, tz: str = "UTC") -> list[Block]:
    since, until = _when(result.since, tz), _when(result.until, tz)
    blocks: list[Block] = [Heading(f"Alert replay {since} to {until} ({tz})"),
                           Note(f"{result.minutes:,} evaluation times, one a minute. A page is one incident: "
                                "firing again within the rule's cooldown continues it.")]
    s = result.summary
    blocks.append(FrameBlock(s.select(
        "rule", pl.col("severity").alias("sev"), pl.col("incidents").alias("pages"),
        pl.col("minutes_firing").alias("firing"), pl.col("minutes_ok").alias("ok"),
        pl.col("minutes_low_volume").alias("low volume"), pl.col("minutes_no_baseline").alias("no baseline"),
        pl.col("minutes_no_data").alias("no data")) if s.height else s,
        title="Per rule (minutes in each state)"))
    inc = result.incidents
    if inc.height:
        keyed = bool(inc.filter(pl.col("key") != "").height)
        rows = []
        for r in inc.iter_rows(named=True):
            row = {"sev": r["severity"], "rule": r["rule"]}
            if keyed:
                row["key"] = r["key"]
            row.update({"from": _when(r["start"], tz), "to": _when_short(r["end"], r["start"], tz),
                        "minutes": r["minutes_firing"], "worst": metric_value(r["metric"], r["worst_value"]),
                        "bound": metric_value(r["metric"], r["bound_at_worst"]),
                        "usual": metric_value(r["metric"], r["baseline_at_worst"])})
            rows.append(row)
        blocks.append(FrameBlock(rows, title="When each rule would have paged"))
    else:
        blocks.append(Note("No rule would have fired."))
    return blocks


def rules_toml(rules: list[dict[str, Any]]) -> str:
    """Rules (as ``aimon.analysis.alerts.rules.rule_data`` gives them) as an alerts.toml to edit."""
    lines = ["# aimon alert rules (docs/alerts.md). Edit, then: aimon alerts check --rules alerts.toml", ""]
    for rule in rules:
        lines.append("[[rules]]")
        for key, value in rule.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            elif isinstance(value, list):
                lines.append(f"{key} = [{', '.join(chr(34) + v + chr(34) for v in value)}]")
            else:
                lines.append(f"{key} = {value:g}" if isinstance(value, float) else f"{key} = {value}")
        lines.append("")
    return "\n".join(lines)


def rules_frame(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per rule for CSV: every key a column, lists and tables as JSON text."""
    import json

    columns = list(dict.fromkeys(k for rule in rules for k in rule))
    return [{k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in
             ((k, rule.get(k)) for k in columns)} for rule in rules]


def rules_blocks(rules: list[dict[str, Any]]) -> list[Block]:
    blocks: list[Block] = [Heading("Alert rules")]
    for rule in rules:
        blocks.append(Figures([(k, v) for k, v in rule.items() if k != "name"], title=rule["name"]))
    return blocks


@dataclass(frozen=True)
class RuleList:
    """The rules ``aimon alerts rules`` shows (as ``aimon.analysis.alerts.rules.rule_data`` gives them)."""

    rules: list[dict[str, Any]]


register("CheckResult", Presentation("an alert check", ("alerts check",), check_data, check_blocks,
                                     table=check_frame))
register("ScanResult", Presentation("an alert replay", ("alerts scan",), scan_data, scan_blocks,
                                    table=lambda result: result.incidents))
register("RuleList", Presentation(
    "a rule list", ("alerts rules",), lambda result: {"rules": result.rules},
    lambda result: rules_blocks(result.rules), table=lambda result: rules_frame(result.rules),
    writers={"toml": lambda data: rules_toml(data["rules"])}))
