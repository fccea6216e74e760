"""Ingest through a staging file, so that the database's write lock is held only to merge.

DuckDB lets one process write a database file, and while it does no other process may
even read it. An ingest spends nearly all its time reading, mapping and pricing
records; done on the database itself, a cron report that overlaps it waits for all of
that. So :func:`ingest_staged` runs the same ingest (:func:`aimon.store.ingest.ingest`)
into a private staging file beside the database, and opens the database for writing
only to merge:

1. *check*: a short open makes (or migrates) the database and refuses one this aimon
   cannot write; the staging file takes the database's own table definitions, and the
   rejects already stored for the files being read, so a rerun adds no second copy;
2. *stage*: the files are loaded into the staging file. A file's ids are looked up among
   the stored rows by attaching the database read-only for that one query: readers do
   not wait for it, a writer at most for that query;
3. *merge*: one transaction on the database refreshes the price snapshot to cover the
   staged models (as the run's first file would have) and copies in the staged rows and
   rejects.

Records stored between a file's look-up and the merge (another ingest of the same
records, run alongside) are looked up again at the merge: one stored meanwhile with the
same content counts as a duplicate, as it would have had the runs not overlapped; one
with different content makes the run load again under the write lock, as a single
transaction, so that the conflict is reported exactly as without staging. The staging
folder is removed whatever happens, Ctrl-C included; one left by a killed run is
removed by the next ingest of that database.

A database the run creates is staged as a whole aimon database (schema, migrations,
mode 0600) and then *adopted*: hard-linked into place, an atomic step that fails if the
name exists by then. Nobody can have been reading a file that did not exist, and the
merge would write every row a second time (1M flat rows: about 9 s of a 29 s ingest).
The load itself is the staged one (no transaction, the same memory), so a run that
fails or is stopped leaves no database. When another run created the database
meanwhile, the staging file is merged into it as above: neither run's rows are lost.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb

from aimon.errors import AimonError
from aimon.store import reader
from aimon.store.connection import (
    LOG_SUFFIXES,
    attach_read_only,
    opened,
    private_files,
    refuse_read_only,
    scratch,
)
from aimon.store.ingest import StoredRows, ingest
from aimon.store.ingest_accounts import IngestSummary
from aimon.store.ingest_guard import interrupt_or
from aimon.store.mapping import ID_COLUMN
from aimon.store.prices import UserPrices, price_pending, refresh_prices
from aimon.store.reader import LogFile
from aimon.store.schema import STORED_REQUESTS, stored
from aimon.store.session import transaction
from aimon.store.shapes import TABLE_COLUMNS, sql_str

# Names the two databases take in each other's connection.
MAIN = "aimon_main"
STAGE = "aimon_stage"
# What an ingest writes (and its duplicate checks read): staged with the database's own
# definitions, so that every value is stored in the staging file as it would be in the
# database.
STAGED_TABLES = (STORED_REQUESTS, "feedback", "rejects", "prices")
STAGED_VIEWS = ("requests",)
STAGING_PREFIX = ".aimon-staging-"


def ingest_staged(
    db: Path | str,
    paths: Sequence[str | Path],
    *,
    table: str = "requests",
    shape: str | None = None,
    default_time: datetime | None = None,
    on_file: Callable[[int, int, LogFile], None] | None = None,
    prices: UserPrices | None = None,
    memory_limit: str | None = None,
) -> IngestSummary:
    """Load ``paths`` into the database at ``db`` as :func:`aimon.store.ingest.ingest`
    does, holding its write lock only for the merge of what was loaded into a staging
    file. The result, and every value stored, is the same."""
    db = Path(db)

    def load(con: duckdb.DuckDBPyConnection, **staging) -> IngestSummary:
        return ingest(con, paths, table=table, shape=shape, default_time=default_time, on_file=on_file,
                      prices=prices, **staging)

    if str(db) == ":memory:":  # nobody else can read it: nothing to stage
        with opened(db, write=True, memory_limit=memory_limit) as con:
            return load(con)
    names = [f.name for f in reader.expand(paths)]  # a missing file stops the run here
    new = _creatable(db)
    if not new:
        _check_database(db)
    with private_files(db), staging_folder(db) as folder:
        staged = folder / "staging.duckdb"
        if new:
            with opened(staged, write=True, memory_limit=memory_limit) as con:  # a whole aimon database
                summary = load(con, atomic=False)
                con.execute("CHECKPOINT")  # everything in the file itself: no WAL to carry along
            if adopt(staged, db):
                return summary
            # Another run created the database meanwhile: merge into it, as for any.
            _check_database(db)
            _as_staging_file(staged)
        else:
            with scratch(staged, memory_limit) as con:
                _prepare(con, db, names)
                summary = load(con, stored_rows=main_rows(db), atomic=False)
        return merge_staged(db, staged, summary, prices, memory_limit, load)


def merge_staged(db: Path, staged: Path, summary: IngestSummary, prices: UserPrices | None,
                 memory_limit: str | None, load: Callable[..., IngestSummary]) -> IngestSummary:
    """Take the write lock and copy in what was staged; or, when a record stored since
    it was staged has other content, ``load`` again under the lock, as one transaction,
    so that the conflict reads as it always has."""
    with opened(db, write=True, memory_limit=memory_limit) as con:
        con.execute(f"ATTACH {sql_str(str(staged))} AS {STAGE} (READ_ONLY)")
        try:
            merged = _merge(con, summary, prices)
        finally:
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH {STAGE}")
        return merged if merged is not None else load(con)


def _creatable(db: Path) -> bool:
    """Whether the run creates the database and may load it whole in its staging folder:
    nothing at that name (not even a dangling link, or a WAL DuckDB would replay into a
    new file), in a directory this user can write. Anything else takes the usual path,
    and its usual errors (a directory, a name like a log file's)."""
    parent = db.resolve().parent
    return (not db.exists() and not db.is_symlink() and not _wal(db).exists()
            and not db.name.lower().endswith(LOG_SUFFIXES)
            and parent.is_dir() and os.access(parent, os.W_OK | os.X_OK))


def _wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def adopt(staged: Path, db: Path) -> bool:
    """Put the staged database in place at ``db`` unless something is there by now (a
    hard link: atomic, and it never replaces a file). Its mode (0600) comes with it."""
    if _wal(staged).exists() or _wal(db).exists():
        return False
    try:
        os.link(staged, db)
    except OSError:  # the name is taken (another run), or the file system has no hard links
        return False
    # The new name must survive a crash as the rows do (DuckDB synced the file itself).
    with contextlib.suppress(OSError):
        fd = os.open(db.resolve().parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return True


def _as_staging_file(staged: Path) -> None:
    """A staged database that could not be adopted, made mergeable: its rejects marked
    as not seeded from the database (there was none to seed them from)."""
    con = duckdb.connect(str(staged))
    try:
        con.execute("ALTER TABLE rejects ADD COLUMN _seeded BOOLEAN DEFAULT false")
    finally:
        con.close()


def discard_if_empty(db: Path) -> None:
    """Remove the database at ``db`` if it holds nothing: what a failed run that created
    it leaves (no empty file behind). A database with any row, or one another process
    holds, is not the failed run's to remove: another run may have created and filled
    it meanwhile."""
    if not db.exists():
        return
    try:
        with opened(db, write=True) as con:
            held = con.execute(
                f"SELECT (SELECT count(*) FROM {STORED_REQUESTS}) + (SELECT count(*) FROM feedback)"
                " + (SELECT count(*) FROM rejects)").fetchone()[0]
    except (duckdb.Error, OSError, AimonError):  # held, unreadable, not an aimon database: leave it
        return
    if held == 0:
        for path in (db, _wal(db)):
            path.unlink(missing_ok=True)


def _check_database(db: Path) -> None:
    """Make or migrate the database, or refuse it, before any file is read."""
    if db.exists():
        refuse_read_only(db)
    with opened(db, write=not db.exists()):
        pass


@contextmanager
def staging_folder(db: Path) -> Iterator[Path]:
    """A private folder beside the database (same file system, same owner) for the
    staging file, its write-ahead log and spilled blocks; removed on the way out."""
    parent = db.resolve().parent
    _remove_abandoned(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_abandoned(parent: Path) -> None:
    """Staging folders whose process is gone (killed, or the machine restarted)."""
    for folder in parent.glob(f"{STAGING_PREFIX}*"):
        match = re.fullmatch(rf"{re.escape(STAGING_PREFIX)}(\d+)-\w+", folder.name)
        if match is None or not folder.is_dir():
            continue
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OverflowError):
            continue  # alive, another user's


def _prepare(con: duckdb.DuckDBPyConnection, db: Path, names: list[str]) -> None:
    """The staging file's tables, defined as the database defines them, and the rejects
    the database holds for these files (``_seeded``: not to be merged back)."""
    attach_read_only(con, db, MAIN)
    try:
        for catalog, names_of in (("duckdb_tables", STAGED_TABLES), ("duckdb_views", STAGED_VIEWS)):
            kind = catalog.removeprefix("duckdb_").removesuffix("s")
            for (sql,) in con.execute(f"SELECT sql FROM {catalog}() WHERE database_name = '{MAIN}' "
                                      f"AND schema_name = 'main' AND list_contains($names, {kind}_name)",
                                      {"names": list(names_of)}).fetchall():
                con.execute(sql)
        con.execute("ALTER TABLE rejects ADD COLUMN _seeded BOOLEAN DEFAULT false")
        con.execute(f"INSERT INTO rejects SELECT *, true FROM {MAIN}.rejects WHERE list_contains($names, source_file)",
                    {"names": names})
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DETACH {MAIN}")


def main_rows(db: Path) -> StoredRows:
    """Stored rows for a staged run's duplicate checks: the database's (attached
    read-only for the one query) and the rows staged so far."""

    @contextmanager
    def rows(con: duckdb.DuckDBPyConnection, table: str) -> Iterator[str]:
        attach_read_only(con, db, MAIN)
        try:
            yield f"(SELECT * FROM {MAIN}.main.{table} UNION ALL BY NAME SELECT * FROM {table})"
        finally:
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH {MAIN}")

    return rows


# New rejects, unless a run alongside stored the same since they were staged. (The
# staging file already left out those stored before: see ``_prepare``.)
MERGE_REJECTS_SQL = f"""
INSERT INTO rejects BY NAME
SELECT s.* EXCLUDE (_seeded) FROM {STAGE}.rejects s
WHERE NOT s._seeded AND NOT EXISTS (
    SELECT 1 FROM rejects r
    WHERE r.source_file = s.source_file AND r.source_line IS NOT DISTINCT FROM s.source_line
      AND r.raw IS NOT DISTINCT FROM s.raw
      AND (s.source_line IS NOT NULL OR s.raw IS NOT NULL OR r.reason = s.reason))
"""


def _merge(con: duckdb.DuckDBPyConnection, summary: IngestSummary,
           prices: UserPrices | None) -> IngestSummary | None:
    """Copy what was staged into the database, in one transaction. None (and nothing
    written) when a record stored since it was staged has other content."""
    try:
        stored_since: dict[tuple[str, str], int] = {}
        for table in TABLE_COLUMNS:
            same, differ = _stored_since(con, table)
            if differ:
                return None
            stored_since.update({(table, path): n for path, n in same.items()})
        _copy_staged(con, prices)
    finally:
        with contextlib.suppress(duckdb.Error):  # a Ctrl-C may still be interrupting con
            for table in TABLE_COLUMNS:
                con.execute(f"DROP TABLE IF EXISTS _stored_since_{table}")
    files = tuple(replace(f, loaded=f.loaded - n, duplicates=f.duplicates + n)
                  if (n := stored_since.get((f.table, f.path), 0)) else f for f in summary.files)
    return replace(summary, files=files)


def _copy_staged(con: duckdb.DuckDBPyConnection, prices: UserPrices | None) -> None:
    # The models of every staged file: the snapshot the staged costs were computed with.
    names = con.execute(f"SELECT DISTINCT provider, model, NULL FROM {STAGE}.prices").fetchall()
    con.execute("SET preserve_insertion_order = false")  # rows carry their own file and line
    try:
        with transaction(con):
            refresh_prices(con, prices, in_transaction=True, also=names)
            for table, id_col in ID_COLUMN.items():
                target = stored(table)
                con.execute(f"""INSERT INTO {target} BY NAME SELECT s.* FROM {STAGE}.{target} s
                    ANTI JOIN _stored_since_{table} x ON x.id = s.{id_col}""")
            con.execute(MERGE_REJECTS_SQL)
            price_pending(con)  # rows of the database whose prices the refresh changed
    except (RuntimeError, duckdb.InterruptException) as exc:
        raise interrupt_or(exc) from None
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute("RESET preserve_insertion_order")


def _stored_since(con: duckdb.DuckDBPyConnection, table: str) -> tuple[dict[str, int], int]:
    """Staged records of ``table`` whose id the database now holds (``_stored_since_<table>``):
    per file, how many have the same content, and how many in all differ."""
    id_col, target = ID_COLUMN[table], stored(table)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _stored_since_{table} AS
        SELECT DISTINCT t.{id_col} AS id FROM {target} t SEMI JOIN {STAGE}.{target} s ON t.{id_col} = s.{id_col}""")
    if not con.execute(f"SELECT count(*) FROM _stored_since_{table}").fetchone()[0]:
        return {}, 0
    # The content an ingest compares to tell a duplicate from a conflict.
    content = ", ".join(f"t.{c}" for c in TABLE_COLUMNS[table]) + ", t.extra"
    rows = con.execute(f"""
        SELECT s.source_file, count(*) FILTER (WHERE s.h = m.h), count(*) FILTER (WHERE s.h <> m.h)
        FROM (SELECT t.{id_col} AS id, t.source_file, hash({content}) AS h FROM {STAGE}.{table} t
              SEMI JOIN _stored_since_{table} x ON x.id = t.{id_col}) s
        JOIN (SELECT t.{id_col} AS id, any_value(hash({content})) AS h FROM {table} t
              SEMI JOIN _stored_since_{table} x ON x.id = t.{id_col} GROUP BY t.{id_col}) m USING (id)
        GROUP BY s.source_file""").fetchall()
    return {path: same for path, same, _ in rows if same}, sum(differ for _, _, differ in rows)
