"""What a database holds: row counts, time range, size, schema version."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import duckdb

from aimon.store import schema


@dataclass(frozen=True)
class TableInfo:
    table: str
    rows: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class DbInfo:
    path: str
    size_bytes: int
    schema_version: int
    tables: tuple[TableInfo, ...]
    by_shape: dict[str, int]
    reject_reasons: dict[str, int]


TABLE_RANGE_SQL = {
    "requests": "SELECT count(*), min(ts), max(ts) FROM requests",
    "feedback": "SELECT count(*), min(ts), max(ts) FROM feedback",
    "rejects": "SELECT count(*), min(ingested_at), max(ingested_at) FROM rejects",
}
BY_SHAPE_SQL = "SELECT source_format, count(*) FROM requests GROUP BY ALL ORDER BY 2 DESC"
REJECT_REASONS_SQL = """
SELECT split_part(reason, ':', 1) AS kind, count(*) FROM rejects GROUP BY ALL ORDER BY 2 DESC LIMIT 10
"""


def database_info(con: duckdb.DuckDBPyConnection, path: str) -> DbInfo:
    """Counts and ranges of the canonical tables (rejects: when they were ingested)."""
    tables = []
    for name, sql in TABLE_RANGE_SQL.items():
        rows, first, last = con.execute(sql).fetchone()
        tables.append(TableInfo(name, rows, first, last))
    size = os.path.getsize(path) if path != ":memory:" and os.path.exists(path) else 0
    return DbInfo(
        path=path,
        size_bytes=size,
        schema_version=schema.schema_version(con),
        tables=tuple(tables),
        by_shape=dict(con.execute(BY_SHAPE_SQL).fetchall()),
        reject_reasons=dict(con.execute(REJECT_REASONS_SQL).fetchall()),
    )


INGESTED_SINCE_SQL = """
SELECT (SELECT count(*) FROM requests WHERE ingested_at >= $since)
     + (SELECT count(*) FROM feedback WHERE ingested_at >= $since)
     + (SELECT count(*) FROM rejects WHERE ingested_at >= $since)
"""


def rows_ingested_since(con: duckdb.DuckDBPyConnection, since: datetime) -> int:
    """Rows (requests, feedback, rejects) stored by ingests that started at or after ``since``."""
    return int(con.execute(INGESTED_SINCE_SQL, {"since": since}).fetchall()[0][0])
