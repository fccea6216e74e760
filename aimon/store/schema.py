"""The canonical schema and its numbered migrations.

The tables here are the data contract users query with ``aimon sql``; their columns
are documented in the README and asserted by ``tests/test_schema.py``. Migrations are
functions applied in order, each in one transaction together with its record in
``_aimon_migrations``. Never edit an applied migration: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from aimon.errors import SchemaError

# Long free text compresses several-fold with zstd, and writing less makes ingest
# faster than DuckDB's default string compression on this kind of data.
TEXT = "VARCHAR USING COMPRESSION zstd"

M001_REQUESTS_SQL = f"""
CREATE TABLE requests (
    request_id          VARCHAR NOT NULL,
    ts                  TIMESTAMPTZ NOT NULL,
    user_id             VARCHAR,
    session_id          VARCHAR,
    endpoint            VARCHAR,
    provider            VARCHAR,
    model               VARCHAR,
    model_version       VARCHAR,
    prompt_version      VARCHAR,
    system_prompt       {TEXT},
    prompt              {TEXT},
    response            {TEXT},
    input_tokens        BIGINT,
    output_tokens       BIGINT,
    cached_input_tokens BIGINT,
    cache_write_tokens  BIGINT,
    reasoning_tokens    BIGINT,
    cost_usd            DOUBLE,
    latency_ms          DOUBLE,
    ttft_ms             DOUBLE,
    status              VARCHAR NOT NULL,
    error_type          VARCHAR,
    error_message       VARCHAR,
    cache_hit           BOOLEAN,
    experiment          VARCHAR,
    variant             VARCHAR,
    success             BOOLEAN,
    temperature         DOUBLE,
    user_tier           VARCHAR,
    jurisdiction        VARCHAR,
    consent             BOOLEAN,
    feedback            VARCHAR,
    extra               JSON,
    source_file         VARCHAR,
    source_line         BIGINT,
    source_format       VARCHAR,
    ingested_at         TIMESTAMPTZ NOT NULL
)
"""

M002_FEEDBACK_SQL = """
CREATE TABLE feedback (
    feedback_id       VARCHAR NOT NULL,
    request_id        VARCHAR,
    ts                TIMESTAMPTZ NOT NULL,
    user_id           VARCHAR,
    feedback_type     VARCHAR NOT NULL,
    feedback_category VARCHAR,
    feedback_text     VARCHAR,
    extra             JSON,
    source_file       VARCHAR,
    source_line       BIGINT,
    source_format     VARCHAR,
    ingested_at       TIMESTAMPTZ NOT NULL
)
"""

M003_REJECTS_SQL = f"""
CREATE TABLE rejects (
    source_file VARCHAR NOT NULL,
    source_line BIGINT,
    raw         {TEXT},
    reason      VARCHAR NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL
)
"""


def m001_requests(con: duckdb.DuckDBPyConnection) -> None:
    """One row per model call."""
    con.execute(M001_REQUESTS_SQL)


def m002_feedback(con: duckdb.DuckDBPyConnection) -> None:
    """Explicit and implicit feedback signals."""
    con.execute(M002_FEEDBACK_SQL)


def m003_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """Every input record that could not be loaded, with the reason."""
    con.execute(M003_REJECTS_SQL)


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    m001_requests,
    m002_feedback,
    m003_rejects,
]

MIGRATIONS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS _aimon_migrations (
    name       VARCHAR PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)
"""


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = $name",
        {"name": name},
    ).fetchone()
    return bool(row and row[0])


def applied(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations recorded in this database, oldest first."""
    if not _table_exists(con, "_aimon_migrations"):
        return []
    return [r[0] for r in con.execute("SELECT name FROM _aimon_migrations ORDER BY name").fetchall()]


def check_known(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Refuse a database whose schema this aimon does not know (written by a newer one)."""
    known = {m.__name__ for m in MIGRATIONS}
    unknown = [name for name in applied(con) if name not in known]
    if unknown:
        raise SchemaError(
            f"{path} was written by a newer aimon (schema version {len(applied(con))}, "
            f"this aimon knows {len(MIGRATIONS)}); upgrade aimon to read it"
        )
    if not applied(con) and _table_exists(con, "requests"):
        raise SchemaError(f"{path} has a 'requests' table but no aimon schema record; "
                          "it is not an aimon database")


def pending(con: duckdb.DuckDBPyConnection) -> list[Callable[[duckdb.DuckDBPyConnection], None]]:
    """Migrations not yet applied, in order. Reads only."""
    done = set(applied(con))
    return [m for m in MIGRATIONS if m.__name__ not in done]


def migrate(con: duckdb.DuckDBPyConnection, path: str = "database") -> int:
    """Apply pending migrations, each in its own transaction; return how many ran."""
    check_known(con, path)
    todo = pending(con)
    if not todo:
        return 0
    con.execute(MIGRATIONS_TABLE_SQL)
    for migration in todo:
        con.execute("BEGIN TRANSACTION")
        try:
            migration(con)
            con.execute("INSERT INTO _aimon_migrations (name) VALUES ($name)",
                        {"name": migration.__name__})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(todo)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """How many migrations this database has applied."""
    return len(applied(con))
