"""The findings cache: which request fields this detector version has scanned
(``pii_scanned``) and what it found (``pii_findings``), so a second report scans nothing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from aimon.analysis.pii.entities import DETECTOR_VERSION, FEEDBACK_FIELDS, FIELD_SQL, Field
from aimon.analysis.pii.scan import scan
from aimon.analysis.toolkit.window import Window, resolve

# The tables the cache keeps; on a read-only database they get in-memory copies.
PII_TABLES = ("pii_findings", "pii_scanned")


def _fields_sql(fields: Sequence[Field]) -> list[Field]:
    return [Field(f) for f in fields]


# Request fields in the window not scanned by this detector version. The bookkeeping
# queries select no text (the count and the marks never decompress prompts); a NULL
# field is marked as scanned like any other. A feedback field scanned before the
# request's newest feedback was loaded is not scanned (its text has grown).
REQUEST_FIELD_SOURCE_SQL = """
SELECT request_id AS key, ts, '{field}' AS field{text}
FROM requests r
WHERE ts >= $start AND ts < $end
  AND NOT EXISTS (SELECT 1 FROM pii_scanned s
                  WHERE s.request_id = r.request_id AND s.field = '{field}'
                    AND s.detector_version = $version{fresh})
"""


FEEDBACK_FRESH_SQL = """
                    AND s.scanned_at >= (SELECT coalesce(max(b.ingested_at), '-infinity'::TIMESTAMPTZ)
                                         FROM feedback b WHERE b.request_id = r.request_id)"""


def _pending_source(fields: Sequence[Field], *, text: bool = True) -> str:
    return "\nUNION ALL\n".join(
        REQUEST_FIELD_SOURCE_SQL.format(field=f.value, text=f", {FIELD_SQL[f]} AS text, r.jurisdiction AS hint" if text else "",
                                        fresh=FEEDBACK_FRESH_SQL if f in FEEDBACK_FIELDS else "")
        for f in _fields_sql(fields))


# Before a feedback field is scanned again, what its older text yielded goes.
DROP_REGROWN_SQL = """
DELETE FROM {table} t USING ({source}) k WHERE t.request_id = k.key AND t.field = k.field
"""


PENDING_COUNT_SQL = "SELECT count(*) FROM ({source})"


DROP_STALE_FINDINGS_SQL = "DELETE FROM pii_findings WHERE detector_version <> $version"


DROP_STALE_SCANNED_SQL = "DELETE FROM pii_scanned WHERE detector_version <> $version"


DROP_WINDOW_FINDINGS_SQL = """
DELETE FROM pii_findings WHERE ts >= $start AND ts < $end AND list_contains($fields, field)
"""


DROP_WINDOW_SCANNED_SQL = """
DELETE FROM pii_scanned s WHERE list_contains($fields, s.field)
  AND s.request_id IN (SELECT request_id FROM requests WHERE ts >= $start AND ts < $end)
"""


MARK_SCANNED_SQL = """
INSERT INTO pii_scanned (request_id, field, detector_version, scanned_at)
SELECT key, field, $version, $now FROM ({source})
"""


INSERT_FINDINGS_SQL = """
INSERT INTO pii_findings (request_id, field, entity_type, start, "end", validated, ts, reason, detector_version)
SELECT key, field, entity_type, start, "end", validated, ts, reason, $version FROM _aimon_new_findings
"""


@dataclass(frozen=True)
class ScanStats:
    texts: int
    candidates: int
    findings: int
    rejected: int
    seconds: float


def pending(con: duckdb.DuckDBPyConnection, window: Window, fields: Sequence[Field]) -> int:
    """How many request fields in the window this detector version has not scanned."""
    if not _has_pii_tables(con):
        return -1
    source = _pending_source(fields, text=False)
    row = con.execute(PENDING_COUNT_SQL.format(source=source),
                      {**window.params(), "version": DETECTOR_VERSION}).fetchall()[0]
    stale = con.execute("SELECT count(*) FROM pii_scanned WHERE detector_version <> $version",
                        {"version": DETECTOR_VERSION}).fetchall()[0]
    return int(row[0]) + int(stale[0])


def _has_pii_tables(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                      "AND schema_name = 'main' AND table_name IN ('pii_findings', 'pii_scanned')").fetchall()[0]
    return row[0] == 2


def ensure_scanned(con: duckdb.DuckDBPyConnection, window: Window, fields: Sequence[Field], *,
                   rescan: bool = False) -> ScanStats:
    """Scan the request fields in the window that this detector version has not scanned
    yet (all of them with ``rescan``) and store their findings; needs a write connection.
    One transaction: interrupted, the cache is as it was."""
    import pyarrow as pa

    began = time.perf_counter()
    fields = _fields_sql(fields)
    params = {**window.params(), "version": DETECTOR_VERSION}
    names = [f.value for f in fields]
    source = _pending_source(fields)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(DROP_STALE_FINDINGS_SQL, {"version": DETECTOR_VERSION})
        con.execute(DROP_STALE_SCANNED_SQL, {"version": DETECTOR_VERSION})
        if rescan:
            con.execute(DROP_WINDOW_FINDINGS_SQL, {**window.params(), "fields": names})
            con.execute(DROP_WINDOW_SCANNED_SQL, {**window.params(), "fields": names})
        keys = _pending_source(fields, text=False)
        regrown = [f for f in fields if f in FEEDBACK_FIELDS]
        if regrown:
            regrown_keys = _pending_source(regrown, text=False)
            for table in ("pii_findings", "pii_scanned"):
                con.execute(DROP_REGROWN_SQL.format(table=table, source=regrown_keys), params)
        texts = con.execute(PENDING_COUNT_SQL.format(source=keys), params).fetchall()[0][0]
        findings, candidates = scan(con, source, params) if texts else ([], 0)
        if findings:
            table = pa.table({
                "key": pa.array([f.key for f in findings], pa.string()),
                "field": pa.array([f.field for f in findings], pa.string()),
                "entity_type": pa.array([f.entity_type for f in findings], pa.string()),
                "start": pa.array([f.start for f in findings], pa.int32()),
                "end": pa.array([f.end for f in findings], pa.int32()),
                "validated": pa.array([f.validated for f in findings], pa.bool_()),
                "ts": pa.array([f.ts for f in findings], pa.timestamp("us", tz="UTC")),
                "reason": pa.array([f.reason for f in findings], pa.string()),
            })
            con.register("_aimon_new_findings", table)
            try:
                con.execute(INSERT_FINDINGS_SQL, {"version": DETECTOR_VERSION})
            finally:
                con.unregister("_aimon_new_findings")
        if texts:
            con.execute(MARK_SCANNED_SQL.format(source=keys), {**params, "now": datetime.now(UTC)})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    valid = sum(f.validated for f in findings)
    return ScanStats(texts=int(texts), candidates=candidates, findings=valid,
                     rejected=len(findings) - valid, seconds=time.perf_counter() - began)


def window_for(con: duckdb.DuckDBPyConnection, since: str | None, until: str | None, *, tz: str = "UTC") -> Window:
    """The --since/--until window; the whole history (possibly empty) by default."""
    return resolve(con, since, until, tz=tz, allow_empty=True)
