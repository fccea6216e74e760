"""Running a user's own SQL against the database, read-only."""

from __future__ import annotations

import duckdb

from aimon.errors import UsageError


def run_query(con: duckdb.DuckDBPyConnection, sql: str):
    """The result of ``sql`` as a polars DataFrame (None for statements that return nothing)."""
    try:
        relation = con.sql(sql)
        return None if relation is None else relation.pl()
    except duckdb.Error as exc:
        text = str(exc).strip()
        if "read-only" in text or "read only" in text:
            raise UsageError("aimon sql is read-only: the tables change only through aimon "
                             "commands (ingest, forget, purge)") from None
        first = text.splitlines()[0] if text else type(exc).__name__
        raise UsageError(f"SQL error: {first}") from None
