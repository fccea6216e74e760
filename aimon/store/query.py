"""Running a user's own SQL against the database, read-only and unable to write a file.

Two independent guards (see docs/security.md), so that a hole in one is not a hole:

1. DuckDB's own sandbox, set on the connection before the query and then locked:
   no file system access outside the directories the user allowed for reading
   (``enable_external_access = false``, ``allowed_directories``), no spilling to a
   temporary directory, no extension installs or non-bundled loads, and
   ``lock_configuration`` so no later statement can undo any of it or turn on
   query or file logging.
2. A statement allow-list checked by DuckDB's own parser: exactly one statement, of
   the SELECT kind (SELECT, WITH, FROM-first, VALUES, DESCRIBE, SHOW, SUMMARIZE).
   ATTACH, COPY, EXPORT, INSTALL/LOAD, SET/RESET/USE, PRAGMA, CALL, CREATE ... are
   refused before anything runs, even where the sandbox would also stop them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from aimon.errors import UsageError

# The statement kinds a user's query may be. Everything DuckDB calls SELECT reads
# only: DESCRIBE, SHOW and SUMMARIZE parse as SELECT too.
ALLOWED_KINDS = frozenset({duckdb.StatementType.SELECT})

READ_ONLY_HINT = ("aimon sql only reads: the tables change only through aimon commands "
                  "(ingest, forget, purge)")

_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class QueryResult:
    """The rows a query returned, at most ``limit`` of them, and how many were left out."""

    frame: Any  # polars DataFrame
    more_rows: int


def checked_statement(sql: str) -> str:
    """``sql`` if DuckDB's parser finds exactly one statement of an allowed kind."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"SQL error: {_first_line(exc)}") from None
    if not statements:
        raise UsageError("no SQL statement given")
    if len(statements) > 1:
        raise UsageError(f"aimon sql runs one statement at a time; got {len(statements)}")
    kind = statements[0].type
    if kind not in ALLOWED_KINDS:
        name = kind.name.replace("_", " ")
        raise UsageError(f"a {name} statement is not allowed: {READ_ONLY_HINT}; "
                         "only SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW and SUMMARIZE run")
    return sql


def sandbox(con: duckdb.DuckDBPyConnection, readable_dirs: Sequence[Path] = ()) -> None:
    """Lock ``con`` down: read-only files in ``readable_dirs`` only, no writes anywhere.

    The order matters: the temporary directory and the allowed directories can only be
    set while external access is still on, and the lock comes last.
    """
    con.execute("SET temp_directory = ''")
    dirs = [str(Path(d).resolve()) + "/" for d in readable_dirs]
    con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
    con.execute("SET allowed_paths = $paths", {"paths": []})
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def run_query(con: duckdb.DuckDBPyConnection, sql: str, limit: int | None = None) -> QueryResult:
    """Run one allowed statement; keep the first ``limit`` rows (all when None), count the rest.

    Rows stream in batches, so a capped query over millions of rows holds one batch.
    """
    import polars as pl
    import pyarrow as pa

    checked_statement(sql)
    try:
        reader = con.sql(sql).to_arrow_reader(_BATCH_ROWS)
        kept: list[pa.RecordBatch] = []
        held, more = 0, 0
        for batch in reader:
            room = batch.num_rows if limit is None else max(0, limit - held)
            if room:
                kept.append(batch.slice(0, room))
                held += min(room, batch.num_rows)
            more += batch.num_rows - min(room, batch.num_rows)
        table = pa.Table.from_batches(kept, schema=reader.schema)
    except duckdb.Error as exc:
        raise _translated(exc) from None
    return QueryResult(frame=pl.from_arrow(table), more_rows=more)


def _translated(exc: duckdb.Error) -> UsageError:
    text = str(exc)
    if "read-only" in text or "read only" in text:
        return UsageError(READ_ONLY_HINT)
    if "file system operations are disabled" in text:
        return UsageError(f"SQL error: {_first_line(exc)} (aimon sql reads local files only "
                          "in a directory given with --read-files DIR)")
    return UsageError(f"SQL error: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
