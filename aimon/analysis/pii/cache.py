"""The findings cache, read side: which request fields this detector version has not
scanned yet (``pii_scanned``), and their scan, returned as data for the store to keep
(``aimon.store.pii_cache.keep``), so a second report scans nothing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from aimon.analysis.pii.entities import DETECTOR_VERSION, FEEDBACK_FIELDS, FIELD_SQL, Field
from aimon.analysis.pii.scan import scan
from aimon.analysis.toolkit.window import Window, resolve
from aimon.store.session import parameters

if TYPE_CHECKING:
    import pyarrow as pa


def _fields_sql(fields: Sequence[Field]) -> list[Field]:
    return [Field(f) for f in fields]


# Request fields in the window not scanned by this detector version. The bookkeeping
# queries select no text (the count and the marks never decompress prompts); a NULL
# field is marked as scanned like any other. A feedback field scanned before the
# request's newest feedback was loaded is not scanned (its text has grown).
REQUEST_FIELD_SOURCE_SQL = """
SELECT request_id AS key, ts, '{field}' AS field{text}
FROM requests r
WHERE ts >= $start AND ts < $end{unscanned}
"""


UNSCANNED_SQL = """
  AND NOT EXISTS (SELECT 1 FROM pii_scanned s
                  WHERE s.request_id = r.request_id AND s.field = '{field}'
                    AND s.detector_version = $version{fresh})"""


FEEDBACK_FRESH_SQL = """
                    AND s.scanned_at >= (SELECT coalesce(max(b.ingested_at), '-infinity'::TIMESTAMPTZ)
                                         FROM feedback b WHERE b.request_id = r.request_id)"""


def _pending_source(fields: Sequence[Field], *, text: bool = True, rescan: bool = False) -> str:
    """The request fields of the window still to scan (all of them with ``rescan``)."""
    def unscanned(f: Field) -> str:
        return "" if rescan else UNSCANNED_SQL.format(field=f.value,
                                                       fresh=FEEDBACK_FRESH_SQL if f in FEEDBACK_FIELDS else "")

    return "\nUNION ALL\n".join(
        REQUEST_FIELD_SOURCE_SQL.format(field=f.value, unscanned=unscanned(f),
                                        text=f", {FIELD_SQL[f]} AS text, r.jurisdiction AS hint" if text else "")
        for f in _fields_sql(fields))


PENDING_COUNT_SQL = "SELECT count(*) FROM ({source})"


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


@dataclass(frozen=True)
class PiiScan:
    """What a scan of a window's pending fields found, for the store to keep.

    ``keys_sql`` (with ``params``) selects the (key, field) of every request field the
    scan read: a query rather than rows, as the window holds one per request and field.
    It names the same fields for as long as the cache is not written by someone else,
    which the store's write lock guarantees.
    """

    window: Window
    fields: tuple[str, ...]
    rescan: bool
    version: str
    keys_sql: str
    feedback_keys_sql: str | None  # the feedback fields' keys: their older findings go
    params: dict
    findings: pa.Table | None
    stats: ScanStats


def scan_pending(con: duckdb.DuckDBPyConnection, window: Window, fields: Sequence[Field], *,
                 rescan: bool = False) -> PiiScan:
    """Scan the request fields in the window that this detector version has not scanned
    yet (all of them with ``rescan``); nothing is written."""
    import pyarrow as pa

    began = time.perf_counter()
    fields = _fields_sql(fields)
    params = {**window.params(), "version": DETECTOR_VERSION}
    keys = _pending_source(fields, text=False, rescan=rescan)
    regrown = [f for f in fields if f in FEEDBACK_FIELDS]
    count = PENDING_COUNT_SQL.format(source=keys)
    texts = con.execute(count, parameters(count, params)).fetchall()[0][0]
    source = _pending_source(fields, rescan=rescan)
    findings, candidates = scan(con, source, parameters(source, params)) if texts else ([], 0)
    table = pa.table({
        "key": pa.array([f.key for f in findings], pa.string()),
        "field": pa.array([f.field for f in findings], pa.string()),
        "entity_type": pa.array([f.entity_type for f in findings], pa.string()),
        "start": pa.array([f.start for f in findings], pa.int32()),
        "end": pa.array([f.end for f in findings], pa.int32()),
        "validated": pa.array([f.validated for f in findings], pa.bool_()),
        "ts": pa.array([f.ts for f in findings], pa.timestamp("us", tz="UTC")),
        "reason": pa.array([f.reason for f in findings], pa.string()),
    }) if findings else None
    valid = sum(f.validated for f in findings)
    stats = ScanStats(texts=int(texts), candidates=candidates, findings=valid,
                      rejected=len(findings) - valid, seconds=time.perf_counter() - began)
    return PiiScan(window, tuple(f.value for f in fields), rescan, DETECTOR_VERSION, keys,
                   _pending_source(regrown, text=False, rescan=rescan) if regrown else None, params, table, stats)


def window_for(con: duckdb.DuckDBPyConnection, since: str | None, until: str | None, *, tz: str = "UTC") -> Window:
    """The --since/--until window; the whole history (possibly empty) by default."""
    return resolve(con, since, until, tz=tz, allow_empty=True)
