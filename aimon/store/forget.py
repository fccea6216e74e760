"""Deleting personal data: the right to be forgotten (``forget``) and retention (``purge``).

Which rows go is decided per table, found generically so that tables added later
(embedding caches, derived tables) are covered without touching this module:

- a table with a ``user_id`` column: the rows of the forgotten users;
- a table with a ``request_id`` column: the rows of the requests being deleted (the
  users' requests; for purge, the requests older than the cutoff);
- a table with a ``raw`` text column (``rejects``): records whose raw text holds a
  forgotten user id or request id as a JSON string;
- for purge, a table with a ``ts`` column that also has ``user_id`` or ``request_id``:
  its rows older than the cutoff; ``rejects`` by ``ingested_at``;
- a table that holds personal data under other keys registers a condition with
  :func:`register_link`.

``audit_log`` and ``_aimon_*`` tables are never touched (except ``_aimon_requests``,
which holds the rows of the ``requests`` view); views hold no rows. Every
other table is listed in the result as *not searched*, so nothing is silently skipped.

The deletes and their audit entry are one transaction. DuckDB then still holds the
deleted values in the database file: in freed blocks and in min/max statistics, even
after ``CHECKPOINT`` (tests/test_forget.py shows it). :func:`compact_file` therefore
rewrites the database into a new file with ``COPY FROM DATABASE`` and swaps it in
atomically while holding the write lock, so the bytes are gone from disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from aimon import __version__
from aimon.errors import Interrupted, UsageError
from aimon.store.connection import connect, opened
from aimon.store.schema import REWRITE_OWED, stored
from aimon.store.session import transaction

PROTECTED = ("audit_log",)

# table -> SQL condition over the temp tables _aimon_forget_users(user_id) and
# _aimon_forget_requests(request_id), for tables linked to a person by other keys.
FORGET_LINKS: dict[str, str] = {}
# table -> SQL condition over _aimon_purge_requests(request_id) and the parameter $cutoff.
PURGE_LINKS: dict[str, str] = {}


def register_link(table: str, *, forget: str | None = None, purge: str | None = None) -> None:
    """Tell forget/purge how to find a table's rows when it has no user_id/request_id."""
    if forget:
        FORGET_LINKS[table] = forget
    if purge:
        PURGE_LINKS[table] = purge


@dataclass(frozen=True)
class TableDeletion:
    table: str
    rows: int
    rule: str


@dataclass(frozen=True)
class DeletionResult:
    """What forget or purge deleted (or, with dry_run, would delete). No data, no ids."""

    action: str
    criteria: str
    dry_run: bool
    rows_deleted: int
    tables: tuple[TableDeletion, ...]
    not_searched: tuple[str, ...]
    logged_at: datetime | None


TABLES_SQL = """
SELECT t.table_name, list(c.column_name ORDER BY c.column_index) AS columns
FROM duckdb_tables() t
JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
WHERE t.database_name = current_database() AND t.schema_name = 'main' AND NOT t.temporary
GROUP BY ALL ORDER BY t.table_name
"""


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Tables by the name users know them by (``requests``, a view of its stored table)."""
    names = {stored(t): t for t in ("requests",)}
    return {names.get(name, name): cols for name, cols in con.execute(TABLES_SQL).fetchall()
            if name in names or (name not in PROTECTED and not name.startswith("_aimon"))}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# A rejected record mentions a forgotten id when its text holds the id as a JSON string
# as written, or, if the record parses as JSON, when any value at any depth equals the
# id once unescaped ("u\\u002d9" is u-9) or is the id written as a number (42). A
# rejected record is never analysed, and keeping a person's data is the worse error, so
# a number that happens to equal a forgotten numeric id removes its record too.
RAW_MATCH_SQL = """(
    EXISTS (SELECT 1 FROM _aimon_forget_tokens k WHERE contains(raw, k.token))
    OR (json_valid(raw) AND list_has_any(
        json_extract_string(raw, '$..*'), (SELECT list(id) FROM _aimon_forget_ids))))"""


Rules = dict[str, tuple[str, str]]


def _rules(tables: dict[str, list[str]], conditions) -> tuple[Rules, list[str]]:
    """Each table's delete condition and the names of what it matches on, from
    ``conditions(table, columns)`` -> [(condition, name)]; tables with none are listed as
    unsearched, so the audit entry says what was not looked at."""
    rules: Rules = {}
    unsearched = []
    for table, cols in tables.items():
        found = conditions(table, cols)
        if found:
            rules[table] = (" OR ".join(c for c, _ in found), ", ".join(n for _, n in found))
        else:
            unsearched.append(table)
    return rules, unsearched


def _forget_conditions(table: str, cols: list[str]) -> list[tuple[str, str]]:
    found = []
    if "user_id" in cols:
        found.append(("user_id IN (SELECT user_id FROM _aimon_forget_users)", "user_id"))
    if "request_id" in cols:
        found.append(("request_id IN (SELECT request_id FROM _aimon_forget_requests)", "request_id"))
    if "raw" in cols:
        found.append((RAW_MATCH_SQL, "raw text"))
    if table in FORGET_LINKS:
        found.append((f"({FORGET_LINKS[table]})", "registered link"))
    return found


def _purge_conditions(table: str, cols: list[str]) -> list[tuple[str, str]]:
    found = []
    if "ts" in cols and ("user_id" in cols or "request_id" in cols):
        found.append(("ts < $cutoff", "ts"))
    if "request_id" in cols and table != "requests":
        found.append(("request_id IN (SELECT request_id FROM _aimon_purge_requests)", "request_id"))
    if "raw" in cols and "ingested_at" in cols:
        found.append(("ingested_at < $cutoff", "ingested_at"))
    if table in PURGE_LINKS:
        found.append((f"({PURGE_LINKS[table]})", "registered link"))
    return found


# Dependents first, requests last: later conditions read the temp tables, not requests,
# but a stable order keeps the audit entry readable.
def _order(rules: Rules) -> list[str]:
    return sorted(rules, key=lambda t: (t == "requests", t))


def _used(params: dict, sql: str) -> dict:
    """DuckDB refuses parameters a statement does not use."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


OWE_REWRITE_SQL = f"INSERT INTO {REWRITE_OWED} (owed_since, action) VALUES ($at, $action)"

AUDIT_INSERT_SQL = """
INSERT INTO audit_log (logged_at, action, criteria, rows_deleted, tables, aimon_version)
VALUES ($at, $action, $criteria, $rows, $tables, $version)
"""


def _run(con: duckdb.DuckDBPyConnection, action: str, criteria: str, rules: Rules,
         unsearched: list[str], params: dict, dry_run: bool) -> DeletionResult:
    deletions = []
    if dry_run:
        for table in _order(rules):
            cond, rule = rules[table]
            n = con.execute(f"SELECT count(*) FROM {_quote(stored(table))} WHERE {cond}", _used(params, cond)).fetchall()[0][0]
            deletions.append(TableDeletion(table, int(n), rule))
        return DeletionResult(action, criteria, True, sum(d.rows for d in deletions), tuple(deletions),
                              tuple(unsearched), None)
    at = datetime.now(UTC)
    with transaction(con):
        for table in _order(rules):
            cond, rule = rules[table]
            n = con.execute(f"DELETE FROM {_quote(stored(table))} WHERE {cond}", _used(params, cond)).fetchall()[0][0]
            deletions.append(TableDeletion(table, int(n), rule))
        total = sum(d.rows for d in deletions)
        con.execute(AUDIT_INSERT_SQL, {"at": at, "action": action, "criteria": criteria, "rows": total,
                                       "tables": json.dumps({d.table: d.rows for d in deletions}),
                                       "version": __version__})
        if total:
            # Committed with the deletes: from here the file rewrite is owed until done.
            con.execute(OWE_REWRITE_SQL, {"at": at, "action": action})
    con.execute("CHECKPOINT")
    return DeletionResult(action, criteria, False, total, tuple(deletions), tuple(unsearched), at)


def forget_users(con: duckdb.DuckDBPyConnection, user_ids: list[str], *, dry_run: bool = False) -> DeletionResult:
    """Delete every row of these users from every table; record it in audit_log."""
    users = sorted({u for u in user_ids if u})
    if not users:
        raise UsageError("forget needs a user id: --user ID")
    con.execute("CREATE OR REPLACE TEMP TABLE _aimon_forget_users AS SELECT unnest($u::VARCHAR[]) AS user_id",
                {"u": users})
    con.execute("""CREATE OR REPLACE TEMP TABLE _aimon_forget_requests AS
                   SELECT DISTINCT request_id FROM requests WHERE user_id IN (SELECT user_id FROM _aimon_forget_users)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _aimon_forget_ids AS
                   SELECT user_id AS id FROM _aimon_forget_users
                   UNION SELECT request_id FROM _aimon_forget_requests WHERE request_id IS NOT NULL""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _aimon_forget_tokens AS
                   SELECT to_json(id)::VARCHAR AS token FROM _aimon_forget_ids""")
    rules, unsearched = _rules(_tables(con), _forget_conditions)
    criteria = f"user_id of {len(users)} user(s) (ids not recorded)"
    try:
        return _run(con, "forget", criteria, rules, unsearched, {}, dry_run)
    finally:
        for t in ("_aimon_forget_users", "_aimon_forget_requests", "_aimon_forget_ids",
                  "_aimon_forget_tokens"):
            con.execute(f"DROP TABLE IF EXISTS {t}")


def purge_older_than(con: duckdb.DuckDBPyConnection, cutoff: datetime, *, dry_run: bool = False,
                     label: str | None = None) -> DeletionResult:
    """Delete requests (and everything tied to them), feedback and rejects older than
    ``cutoff``; record it in audit_log."""
    con.execute("CREATE OR REPLACE TEMP TABLE _aimon_purge_requests AS "
                "SELECT request_id FROM requests WHERE ts < $cutoff", {"cutoff": cutoff})
    rules, unsearched = _rules(_tables(con), _purge_conditions)
    criteria = f"older than {cutoff.astimezone(UTC).isoformat()}" + (f" ({label})" if label else "")
    try:
        return _run(con, "purge", criteria, rules, unsearched, {"cutoff": cutoff}, dry_run)
    finally:
        con.execute("DROP TABLE IF EXISTS _aimon_purge_requests")


@dataclass(frozen=True)
class Compaction:
    bytes_before: int
    bytes_after: int


def rewrite_owed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a forget or purge committed deletes whose file rewrite has not finished."""
    return bool(con.execute(f"SELECT count(*) FROM {REWRITE_OWED}").fetchall()[0][0])


def finish_rewrite(con: duckdb.DuckDBPyConnection, path: Path | str) -> Compaction | None:
    """Rewrite the file if a rewrite is owed (this run's deletes or an interrupted run's)."""
    if str(path) == ":memory:" or not rewrite_owed(con):
        return None
    return compact(con, path)


def compact(con: duckdb.DuckDBPyConnection, path: Path | str) -> Compaction:
    """Rewrite the database into a fresh file and swap it in, so that deleted values no
    longer sit in freed blocks or statistics.

    ``con`` is the write connection that made the deletes, so the lock is held from the
    delete to the swap and no reader can slip in between. A symlinked ``path`` has its
    real file rewritten; the new file keeps the old one's mode and owner. Interrupted
    before the swap, the original file is untouched and still records the rewrite as
    owed (the copy does not), so the next forget or purge finishes it; a leftover
    ``*.compact`` is removed then.
    """
    real = Path(os.path.realpath(path))
    tmp = real.with_name(real.name + ".compact")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    before = real.stat()
    con.execute("CHECKPOINT")
    name = con.execute("SELECT current_database()").fetchall()[0][0]
    escaped = str(tmp).replace("'", "''")
    try:
        con.execute(f"ATTACH '{escaped}' AS aimon_compact")
        try:
            # Before any row is copied: the copy is as private as the original.
            os.chmod(tmp, 0o600)
            con.execute(f"COPY FROM DATABASE {_quote(name)} TO aimon_compact")
            con.execute(f"DELETE FROM aimon_compact.{REWRITE_OWED}")
        finally:
            con.execute("DETACH aimon_compact")
        if Path(str(tmp) + ".wal").exists():  # pragma: no cover - DETACH checkpoints
            raise OSError(f"compaction left a WAL beside {tmp}")
        _copy_ownership(before, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, real)
        _fsync_dir(real.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Compaction(before.st_size, real.stat().st_size)


def _copy_ownership(original: os.stat_result, path: Path) -> None:
    if (original.st_uid, original.st_gid) != (os.getuid(), os.getgid()):
        # Not ours to give away without privilege; the mode below still keeps others out.
        with contextlib.suppress(PermissionError):
            os.chown(path, original.st_uid, original.st_gid)
    os.chmod(path, stat.S_IMODE(original.st_mode))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compact_file(path: Path | str) -> Compaction | None:
    """Open the database for writing and rewrite it (see :func:`compact`)."""
    path = Path(path)
    if str(path) == ":memory:" or not path.exists():
        return None
    con = connect(path, write=True)
    try:
        return compact(con, path)
    finally:
        con.close()


def run_forget(db: Path, user_ids: list[str], *, dry_run: bool = False,
               rewriting: AbstractContextManager | None = None) -> tuple[DeletionResult, Compaction | None]:
    """``aimon forget`` on the file at ``db``: :func:`forget_users`, then the file rewrite
    (see :func:`_delete_and_rewrite`; ``rewriting`` is entered around the rewrite)."""
    return _delete_and_rewrite(db, lambda con: forget_users(con, user_ids, dry_run=dry_run), dry_run, rewriting)


def run_purge(db: Path, cutoff: datetime, *, dry_run: bool = False, label: str | None = None,
              rewriting: AbstractContextManager | None = None) -> tuple[DeletionResult, Compaction | None]:
    """``aimon purge`` on the file at ``db``: :func:`purge_older_than`, then the rewrite."""
    return _delete_and_rewrite(db, lambda con: purge_older_than(con, cutoff, dry_run=dry_run, label=label),
                               dry_run, rewriting)


def _delete_and_rewrite(db: Path, delete: Callable[[duckdb.DuckDBPyConnection], DeletionResult], dry_run: bool,
                        rewriting: AbstractContextManager | None) -> tuple[DeletionResult, Compaction | None]:
    """Run ``delete(con)`` and, holding the same write lock, the file rewrite it owes
    (or that an interrupted run still owes), so no reader can come in between. The lock
    is written or refused, never downgraded to reading: a dry run alone only reads.
    Ctrl-C raises :class:`~aimon.errors.Interrupted` saying what was written."""
    # Deleting from a database that is not there would create an empty one: refuse.
    with opened(db, write=False):
        pass
    try:
        with opened(db, write=not dry_run) as con:
            result = delete(con)
            if dry_run:
                return result, None
            with rewriting or nullcontext():
                return result, finish_rewrite(con, db)
    except (KeyboardInterrupt, duckdb.InterruptException):  # DuckDB's, after the interrupt
        raise _interrupted(db, dry_run) from None


def _interrupted(db: Path, dry_run: bool) -> Interrupted:
    """What is true after Ctrl-C: the deletes commit with the record of the rewrite they
    owe, so a fresh look at that record tells whether anything was deleted."""
    if dry_run:
        return Interrupted("interrupted; a dry run writes nothing")
    try:
        with opened(db, write=False) as con:
            owed = rewrite_owed(con)
    except Exception:  # noqa: BLE001 - the file cannot be read now
        return Interrupted("interrupted; if the deletes had committed, audit_log records them "
                           "and running the same command again finishes the file rewrite")
    if owed:
        return Interrupted("interrupted after the deletes were committed (recorded in audit_log); "
                           "the deleted values are still in the database file until it is "
                           "rewritten: run the same command again to finish it")
    return Interrupted("interrupted before anything was deleted; nothing was written")


AUDIT_LOG_SQL = """
SELECT logged_at, action, criteria, rows_deleted, tables::VARCHAR AS tables
FROM audit_log ORDER BY logged_at
"""


def audit_entries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every recorded deletion, oldest first."""
    return [{"logged_at": at, "action": action, "criteria": criteria, "rows_deleted": rows,
             "tables": json.loads(tables)}
            for at, action, criteria, rows, tables in con.execute(AUDIT_LOG_SQL).fetchall()]


def _register_caches() -> None:
    # The embedding cache is keyed by text, not by user or request: it registers how.
    from aimon.store.embeddings import register_forget_links

    register_forget_links()


_register_caches()
