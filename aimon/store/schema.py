"""The canonical schema: its numbered migrations and the runner that applies them.

The tables are the data contract users query with ``aimon sql``; their columns are
documented in the README and asserted by ``tests/test_schema.py``. Migrations are
functions (in ``aimon.store.migrations``, their SQL frozen as applied) run in order,
each in one transaction together with its record in ``_aimon_migrations``. Never edit
an applied migration: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from aimon.errors import SchemaError
from aimon.store.migrations import MIGRATIONS
from aimon.store.migrations.later import EMBEDDINGS_TABLE_SQL
from aimon.store.session import transaction

__all__ = ["EMBEDDINGS_TABLE_SQL", "MIGRATIONS", "REQUEST_COST_COLUMNS", "REWRITE_OWED", "STORED_REQUESTS",
           "applied", "check_known", "migrate", "pending", "schema_version", "stored"]

# The effective cost of every request, stored beside it (m009). Pricing each request at
# the price in force at its time is a range join over the price snapshot; done on every
# read, it doubled the cost of a breakdown over millions of requests. So the rows live in
# ``_aimon_requests`` with these columns and ``requests`` is a view of exactly the
# documented ones. Every write keeps them true in its own transaction: ingest prices
# what it loads, a price refresh reprices the requests of every model whose prices
# changed (aimon.store.prices). cost_source NULL marks a row not priced yet, which only
# exists inside such a transaction.
STORED_REQUESTS = "_aimon_requests"
REQUEST_COST_COLUMNS = (
    ("batch", "BOOLEAN"),
    ("token_cost_usd", "DOUBLE"),
    ("computed_cost_usd", "DOUBLE"),
    ("cache_read_saving_usd", "DOUBLE"),
    ("price_source", "VARCHAR"),
    ("cost_source", "VARCHAR"),
)


def stored(table: str) -> str:
    """The table that holds a canonical table's rows (``requests`` is a view)."""
    return STORED_REQUESTS if table == "requests" else table


# A forget or purge whose file rewrite is still owed (aimon.store.forget): the row is
# committed with the deletes and is absent from the rewritten file, so a run interrupted
# anywhere between the two leaves it behind and the next forget or purge finishes the
# rewrite. Never a user id, only when and which action.
REWRITE_OWED = "_aimon_rewrite_owed"


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


def check_known(con: duckdb.DuckDBPyConnection, path: str) -> list[str]:
    """Refuse a database whose schema this aimon does not know (written by a newer one);
    the migrations it records (:func:`applied`), for :func:`pending`."""
    done = applied(con)  # read once: every command opens the database through here (start-up)
    known = {m.__name__ for m in MIGRATIONS}
    unknown = [name for name in done if name not in known]
    if unknown:
        raise SchemaError(
            f"{path} was written by a newer aimon (schema version {len(done)}, "
            f"this aimon knows {len(MIGRATIONS)}); upgrade aimon to read it"
        )
    if not done and _table_exists(con, "requests"):
        raise SchemaError(f"{path} has a 'requests' table but no aimon schema record; "
                          "it is not an aimon database")
    return done


def pending(con: duckdb.DuckDBPyConnection,
            done: list[str] | None = None) -> list[Callable[[duckdb.DuckDBPyConnection], None]]:
    """Migrations not yet applied, in order (``done``: :func:`applied`, when read already). Reads only."""
    names = set(applied(con) if done is None else done)
    return [m for m in MIGRATIONS if m.__name__ not in names]


def migrate(con: duckdb.DuckDBPyConnection, path: str = "database") -> int:
    """Apply pending migrations, each in its own transaction; return how many ran."""
    todo = pending(con, check_known(con, path))
    if not todo:
        return 0
    con.execute(MIGRATIONS_TABLE_SQL)
    for migration in todo:
        with transaction(con):
            migration(con)
            con.execute("INSERT INTO _aimon_migrations (name) VALUES ($name)",
                        {"name": migration.__name__})
    return len(todo)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """How many migrations this database has applied."""
    return len(applied(con))
