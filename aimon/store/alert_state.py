"""The alert state that makes cron page once per incident (``alert_state``): which
incidents are open, and the changes ``aimon.analysis.alerts.check.track_state`` decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from aimon.store.session import transaction

OPEN_INCIDENTS_SQL = """
SELECT rule, key, severity, opened_at, last_fired_at, checks
FROM alert_state
WHERE resolved_at IS NULL
"""


def open_incidents(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The open incidents: (rule, key, severity, opened_at, last_fired_at, checks)."""
    return con.execute(OPEN_INCIDENTS_SQL).fetchall()


# One statement per kind of change (StateChange.kind).
CHANGE_SQL = {
    "continue": "UPDATE alert_state SET last_fired_at = greatest(last_fired_at, $at), checks = checks + 1, "
                "value = $value, threshold = $bound WHERE rule = $rule AND key = $key AND resolved_at IS NULL",
    "close": "UPDATE alert_state SET resolved_at = last_fired_at WHERE rule = $rule AND key = $key "
             "AND resolved_at IS NULL",
    "open": "INSERT INTO alert_state VALUES ($rule, $key, $severity, $at, $at, NULL, $now, 1, $value, $bound)",
    "resolve": "UPDATE alert_state SET resolved_at = $at WHERE rule = $rule AND key = $key AND resolved_at IS NULL",
}
_PARAMS = {"continue": ("at", "value", "bound", "rule", "key"), "close": ("rule", "key"),
           "open": ("rule", "key", "severity", "at", "now", "value", "bound"), "resolve": ("at", "rule", "key")}


def record(con: duckdb.DuckDBPyConnection, changes: Sequence[Any]) -> None:
    """Apply a check's state changes in one transaction (nothing to do: no transaction)."""
    if not changes:
        return
    with transaction(con):
        for change in changes:
            con.execute(CHANGE_SQL[change.kind], {p: getattr(change, p) for p in _PARAMS[change.kind]})
