"""The PII findings cache, write side: keeping a scan of ``aimon.analysis.pii.cache``
(what each request field yielded, in ``pii_findings``, and that it was scanned, in
``pii_scanned``).

One transaction per scan: findings and marks of other detector versions go, a rescan
replaces the window's, a feedback field whose text grew since its scan loses what its
older text yielded, then the new findings and marks are added. Interrupted, the cache
is as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from aimon.store.session import parameters, transaction

# The tables the cache keeps; on a read-only database they get in-memory copies
# (aimon.store.connection.shadow_in_memory), which a scan is kept in instead.
PII_TABLES = ("pii_findings", "pii_scanned")

DROP_STALE_FINDINGS_SQL = "DELETE FROM pii_findings WHERE detector_version <> $version"
DROP_STALE_SCANNED_SQL = "DELETE FROM pii_scanned WHERE detector_version <> $version"
DROP_WINDOW_FINDINGS_SQL = """
DELETE FROM pii_findings WHERE ts >= $start AND ts < $end AND list_contains($fields, field)
"""
DROP_WINDOW_SCANNED_SQL = """
DELETE FROM pii_scanned s WHERE list_contains($fields, s.field)
  AND s.request_id IN (SELECT request_id FROM requests WHERE ts >= $start AND ts < $end)
"""
# Before a feedback field's new scan is kept, what its older text yielded goes.
DROP_REGROWN_SQL = """
DELETE FROM {table} t USING ({source}) k WHERE t.request_id = k.key AND t.field = k.field
"""
INSERT_FINDINGS_SQL = """
INSERT INTO pii_findings (request_id, field, entity_type, start, "end", validated, ts, reason, detector_version)
SELECT key, field, entity_type, start, "end", validated, ts, reason, $version FROM _aimon_new_findings
"""
MARK_SCANNED_SQL = """
INSERT INTO pii_scanned (request_id, field, detector_version, scanned_at)
SELECT key, field, $version, $now FROM ({source})
"""


def keep(con: duckdb.DuckDBPyConnection, scan: Any) -> None:
    """Write a ``PiiScan`` (aimon.analysis.pii.cache.scan_pending) in one transaction, on
    the connection that scanned (its write lock keeps the scanned keys what they were)."""
    version = {"version": scan.version}
    window = {"start": scan.params["start"], "end": scan.params["end"]}
    if scan.findings is not None:
        con.register("_aimon_new_findings", scan.findings)
    try:
        with transaction(con):
            con.execute(DROP_STALE_FINDINGS_SQL, version)
            con.execute(DROP_STALE_SCANNED_SQL, version)
            if scan.rescan:
                con.execute(DROP_WINDOW_FINDINGS_SQL, {**window, "fields": list(scan.fields)})
                con.execute(DROP_WINDOW_SCANNED_SQL, {**window, "fields": list(scan.fields)})
            if scan.feedback_keys_sql:
                for table in PII_TABLES:
                    sql = DROP_REGROWN_SQL.format(table=table, source=scan.feedback_keys_sql)
                    con.execute(sql, parameters(sql, scan.params))
            if scan.findings is not None:
                con.execute(INSERT_FINDINGS_SQL, version)
            if scan.stats.texts:
                sql = MARK_SCANNED_SQL.format(source=scan.keys_sql)
                con.execute(sql, parameters(sql, {**scan.params, "now": datetime.now(UTC)}))
    finally:
        if scan.findings is not None:
            con.unregister("_aimon_new_findings")
