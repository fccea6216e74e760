"""``aimon alerts check``: the rules once, at one evaluation time, and the alert state
that makes cron page once per incident."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from aimon.analysis.alerts.evaluate import _grid_for, evaluate
from aimon.analysis.alerts.rules import SEVERITIES, Rule
from aimon.analysis.toolkit.gate import Breach, Verdict, at_or_above


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
        return [e for e in self.firing if at_or_above(e.severity, fail_on, SEVERITIES) and e.status != "ongoing"]

    def gate(self, fail_on: str) -> Verdict:
        """--fail-on: a breach per alert that pages (:meth:`paging`), with its figures."""
        return Verdict(fail_on, tuple(Breach(e.severity, {"rule": e.rule, "key": e.key, "metric": e.metric,
                                                          "value": e.value, "bound": e.bound})
                                      for e in self.paging(fail_on)))


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

@dataclass(frozen=True)
class StateChange:
    """One change of the stored alert state (``aimon.store.alert_state`` writes it).

    kind: ``continue`` (an open incident fired again), ``close`` (an open incident is
    superseded by a new one), ``open`` (a new incident) or ``resolve`` (an incident
    quiet for a whole cooldown)."""

    kind: str
    rule: str
    key: str
    at: datetime
    severity: str = ""
    value: float | None = None
    bound: float | None = None
    now: datetime | None = None


def track_state(result: CheckResult, open_incidents: Sequence[tuple],
                now: datetime | None = None) -> tuple[CheckResult, tuple[StateChange, ...]]:
    """Mark each firing alert new or ongoing against the open incidents (rows of rule, key,
    severity, opened_at, last_fired_at, checks), and say what the stored state becomes.

    An alert is *ongoing* while it fired within its rule's cooldown before this check
    (in data time): one incident pages once however long it lasts. An open incident that
    has been quiet for a whole cooldown is resolved.
    """
    now = now or datetime.now(UTC)
    cooldown = {r.name: r.cooldown for r in result.rules}
    incidents = {(r[0], r[1]): r for r in open_incidents}
    at = result.at
    updated: list[Evaluation] = []
    resolved: list[dict] = []
    changes: list[StateChange] = []
    for ev in result.evaluations:
        open_row = incidents.get((ev.rule, ev.key))
        if ev.state == "firing":
            if open_row and abs(at - open_row[4]) < cooldown[ev.rule]:
                changes.append(StateChange("continue", ev.rule, ev.key, at, value=ev.value, bound=ev.bound))
                updated.append(replace(ev, status="ongoing", opened_at=open_row[3]))
                continue
            if open_row:
                changes.append(StateChange("close", ev.rule, ev.key, at))
            changes.append(StateChange("open", ev.rule, ev.key, at, ev.severity, ev.value, ev.bound, now))
            updated.append(replace(ev, status="new", opened_at=at))
        else:
            if open_row and abs(at - open_row[4]) >= cooldown[ev.rule]:
                changes.append(StateChange("resolve", ev.rule, ev.key, at))
                resolved.append({"rule": ev.rule, "key": ev.key, "opened_at": open_row[3],
                                 "last_fired_at": open_row[4]})
            updated.append(ev)
    return (replace(result, evaluations=tuple(updated), resolved=tuple(resolved), state_kept=True),
            tuple(changes))
