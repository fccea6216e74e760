"""Storing the findings of ``aimon audit security`` (computed by aimon.analysis.security).

One transaction per audit: findings of other detector versions or settings go, the
window's abuse episodes are replaced (they depend on the limits, and are cheap to
recompute), new findings and the marks of what was scanned are added. Interrupted, the
tables are as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from aimon.store.session import transaction

FINDING_COLUMNS = ("request_id", "ts", "field", "family", "category", "rule", "severity", "score", "start",
                   "end", "obfuscation", "evidence", "detector_version", "settings")
_COLS = ", ".join(f'"{c}"' for c in FINDING_COLUMNS)

DROP_STALE_FINDINGS_SQL = """
DELETE FROM security_findings
WHERE family <> 'abuse' AND (detector_version <> $version OR settings <> $settings)
"""
DROP_STALE_SCANNED_SQL = "DELETE FROM security_scanned WHERE detector_version <> $version OR settings <> $settings"
DROP_WINDOW_FINDINGS_SQL = """
DELETE FROM security_findings
WHERE family <> 'abuse' AND ts >= $start AND ts < $end AND list_contains($fields, field)
"""
DROP_WINDOW_SCANNED_SQL = """
DELETE FROM security_scanned s WHERE list_contains($fields, s.field)
  AND s.request_id IN (SELECT request_id FROM requests WHERE ts >= $start AND ts < $end)
"""
DROP_WINDOW_ABUSE_SQL = "DELETE FROM security_findings WHERE family = 'abuse' AND ts >= $start AND ts < $end"
INSERT_FINDINGS_SQL = f"INSERT INTO security_findings ({_COLS}) SELECT {_COLS} FROM _aimon_new_security_findings"
MARK_SCANNED_SQL = """
INSERT INTO security_scanned (request_id, field, detector_version, settings, scanned_at)
SELECT request_id, field, $version, $settings, $now FROM _aimon_new_security_scanned
"""


def save_audit(con: duckdb.DuckDBPyConnection, audit: Any) -> None:
    """Write a ``SecurityAudit`` (aimon.analysis.security) in one transaction."""
    window = audit.window
    version = {"version": audit.detector_version, "settings": audit.settings}
    con.register("_aimon_new_security_findings", audit.rows().to_arrow())
    con.register("_aimon_new_security_scanned", audit.scanned)
    try:
        with transaction(con):
            con.execute(DROP_STALE_FINDINGS_SQL, version)
            con.execute(DROP_STALE_SCANNED_SQL, version)
            if audit.rescan:
                con.execute(DROP_WINDOW_FINDINGS_SQL, {**window.params(), "fields": list(audit.fields)})
                con.execute(DROP_WINDOW_SCANNED_SQL, {**window.params(), "fields": list(audit.fields)})
            con.execute(DROP_WINDOW_ABUSE_SQL, window.params())
            con.execute(INSERT_FINDINGS_SQL)
            con.execute(MARK_SCANNED_SQL, {**version, "now": datetime.now(UTC)})
    finally:
        con.unregister("_aimon_new_security_findings")
        con.unregister("_aimon_new_security_scanned")
