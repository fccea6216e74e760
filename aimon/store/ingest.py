"""Loading log files into the canonical tables.

The whole run is one transaction: killed midway, the database holds all of it or none
of it. (``aimon ingest`` runs it on a staging file and merges that in one transaction:
:mod:`aimon.store.ingest_staging`.) Each file is read by DuckDB and mapped in SQL
(``aimon.store.mapping``); no Python loop touches the records. Per file:

1. *verdict*: map every record, note its id and why it cannot load (``_batch``);
2. *duplicates*: an id seen before (in the table, or earlier in the file) is compared
   by a hash of its canonical content: identical is a duplicate, different is a
   conflicting duplicate and goes to ``rejects``, never a silent overwrite;
3. *load*: insert the records that passed, with file and line;
4. *rejects*: every record that did not load, with file, line, raw text and reason.

Record numbers cost speed: DuckDB reads a JSON-lines file in parallel only when it is
not asked to number the records. So the verdict pass reads unnumbered and relies on
the order-preserving insert into ``_batch`` (its rowid is the record number), and the
load pass joins records to their verdict by id. Only records whose id occurs more than
once in the file need the slower numbered read.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from aimon.errors import InputError
from aimon.store import macros, reader
from aimon.store.ingest_accounts import (
    FileResult,
    IngestSummary,
    add_file_reject,
    exact_lines,
    number_lines,
    reject_whole_file,
)
from aimon.store.ingest_guard import (
    file_errors,
    interrupt_or,
    interruptible,
    memory_budget,
    out_of_memory,
)
from aimon.store.ingest_plan import FilePlan, forced_shape, json_reader, parquet_reader, plan_file
from aimon.store.ingest_rows import (
    mark_invalid,
    number_ids,
    select_rows,
    verdict_lines,
    write_rejects,
)
from aimon.store.mapping import (
    ID_COLUMN,
    PRICED_BY,
    Source,
    id_shape,
    json_column_types,
    parsed_sql,
    raw_text,
    verdict_shape,
)
from aimon.store.mapping import _split_path as split_path
from aimon.store.prices import UserPrices, ensure_priced, price_pending, refresh_prices
from aimon.store.reader import LogFile
from aimon.store.schema import stored
from aimon.store.shapes import (
    TABLE_COLUMNS,
    CompiledShape,
    compile_shape,
    sql_str,
)

# Beyond this many distinct top-level keys a file is read as JSON text, not typed columns.
TYPED_MAX_KEYS = 500
# A typed column read by more paths below it than this is read as JSON text: each path
# would turn the whole column back into JSON and parse it again, so a span's
# `attributes` (93 paths, messages and all) cost 0.6 MB of working memory per span and
# 1,411 spans peaked at 1 GB. JSON text is parsed once for all paths.
TYPED_MAX_NESTED_PATHS = 8
_TEMP_TABLES = ("_batch0", "_batch", "_keys0", "_verdict0", "_ids", "_known", "_hashed", "_status",
                "_load", "_shift", "_broken", "_conflict_raw", "_late")
_TEMP_VIEWS = ("_parsed",)

# The rows a file's ids are checked against for duplicates, as SQL naming a relation:
# given the connection and the canonical table. A staged run (aimon.store.ingest_staging)
# adds the main database's rows, attached only while one file's ids are looked up.
StoredRows = Callable[[duckdb.DuckDBPyConnection, str], AbstractContextManager[str]]


@contextmanager
def own_rows(con: duckdb.DuckDBPyConnection, table: str) -> Iterator[str]:
    """The rows already in the database being written."""
    yield table


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    *,
    table: str = "requests",
    shape: str | None = None,
    default_time: datetime | None = None,
    on_file: Callable[[int, int, LogFile], None] | None = None,
    prices: UserPrices | None = None,
    stored_rows: StoredRows = own_rows,
    atomic: bool = True,
) -> IngestSummary:
    """Load ``paths`` into ``table`` ("requests" or "feedback") in one transaction.

    Loading requests, a file that is plainly a feedback log goes to ``feedback``. The
    same transaction refreshes the price snapshot (genai-prices, overridden by
    ``prices``) to cover every model loaded, and stores each new request's cost.
    ``stored_rows``: what counts as already loaded. ``atomic=False`` runs without a
    transaction, for a staging file that is thrown away on failure: DuckDB keeps a file
    attached inside a transaction locked until the transaction ends.
    """
    if table not in TABLE_COLUMNS:
        raise ValueError(f"unknown table {table}")
    skipped: list[tuple[str, str]] = []
    files = reader.expand(paths, skipped)
    macros.install(con)
    forced = forced_shape(shape, table)
    budget = memory_budget(con)
    with interruptible(con) as interrupted, tempfile.TemporaryDirectory(prefix="aimon-ingest-") as tmp:
        plans: list[FilePlan] = []
        for f in files:
            try:
                with file_errors(budget, f):
                    plans.append(plan_file(con, f, table, forced, Path(tmp)))
            except (RuntimeError, duckdb.InterruptException) as exc:
                raise interrupt_or(exc) from None
            except InputError as exc:
                # A file the user named must load; one met in a directory may be
                # something else (a config, a report) and is listed as skipped, with
                # what was wrong with it (an unknown shape, a record nested too deep...).
                if f.explicit:
                    raise
                why = str(exc).removeprefix(f"{f.path}: ").partition("; pass --shape, one of:")[0]
                skipped.append((f.name, why))
        if interrupted():
            raise KeyboardInterrupt
        try:
            summary = _load(con, plans, table, default_time, on_file, interrupted, prices, budget,
                            stored_rows, atomic)
        except duckdb.OutOfMemoryException:
            # Outside any one file: the price refresh, or the commit.
            raise InputError(out_of_memory("ingest", budget)) from None
        return replace(summary, skipped=tuple(skipped))


def _load(
    con: duckdb.DuckDBPyConnection,
    plans: list[FilePlan],
    table: str,
    default_time: datetime | None,
    on_file: Callable[[int, int, LogFile], None] | None,
    interrupted: Callable[[], bool],
    prices: UserPrices | None,
    budget: str,
    stored_rows: StoredRows = own_rows,
    atomic: bool = True,
) -> IngestSummary:
    ingested_at = datetime.now(UTC)
    results: list[FileResult] = []
    # Every join below names its small side (keys, ids) on the right; DuckDB cannot
    # estimate how many records a file holds and would otherwise build its hash table
    # from the records themselves, text and all.
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")

    def transaction(statement: str) -> None:
        if atomic:
            con.execute(statement)

    transaction("BEGIN TRANSACTION")
    try:
        refresh_prices(con, prices, in_transaction=True)
        for i, plan in enumerate(plans):
            if on_file:
                on_file(i, len(plans), plan.file)
            with file_errors(budget, plan.file):
                result = _ingest_file(con, plan, plan.shape.table, default_time, ingested_at, prices,
                                      stored_rows)
                con.execute("RESET threads")  # a heavy file's mapping runs on one
                if plan.note:
                    result = add_file_reject(con, plan.file, result, plan.note, ingested_at)
                results.append(result)
            if interrupted():
                raise KeyboardInterrupt
        # Every load priced its rows; this finds none unless a model resolved differently
        # between a file's first pass and its load.
        price_pending(con)
        transaction("COMMIT")
    except (RuntimeError, duckdb.InterruptException) as exc:
        transaction("ROLLBACK")
        raise interrupt_or(exc) from None
    except BaseException:
        transaction("ROLLBACK")
        raise
    finally:
        _drop_temp(con)
        con.execute("RESET disabled_optimizers")
        con.execute("RESET threads")
    return IngestSummary(table, tuple(results))


# --------------------------------------------------------------------------- one file

def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    plan: FilePlan,
    table: str,
    default_time: datetime | None,
    ingested_at: datetime,
    prices: UserPrices | None = None,
    stored_rows: StoredRows = own_rows,
) -> FileResult:
    f, shape = plan.file, plan.shape
    if plan.unreadable is not None:
        return reject_whole_file(con, f, shape, plan.unreadable, ingested_at)
    compiled = compile_shape(shape)
    columns = list(TABLE_COLUMNS[table])
    id_col = ID_COLUMN[table]
    # By-id joins need an unnumbered parallel read; formats that nest records in a line
    # and Parquet (numbered for free) read numbered throughout.
    # Shapes that impute a record's values from its neighbours need record order too.
    by_id = f.layout == "lines" and shape.records is None and not shape.impute
    if f.layout == "parquet":
        cols = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {parquet_reader(f)}) "
                                f"WHERE column_name <> 'rec_no'").fetchall())
        numbered_src = Source(parquet_reader(f), True, cols, plan.seen_keys)
        parallel_src = numbered_src
    else:
        numbered_src = Source(json_reader(f, True), True, None, plan.seen_keys)
        parallel_src = Source(json_reader(f, False), False, None, plan.seen_keys) if by_id else numbered_src
    # Mappings are subqueries, not views: DuckDB binds a view's query where it is created
    # and again where it is read, and a file with unique ids may never read this one.
    numbered = f"({parsed_sql(compiled, numbered_src, table, default_time)})"
    # Whether a record is valid takes its whole mapping. Where a record is one line or
    # row, the verdict pass maps only its id, and the passes that map whole records
    # anyway (hashing candidate duplicates, loading) learn which records are invalid:
    # one full read of a clean file instead of two.
    late = shape.records is None
    verdict_src = parallel_src if by_id else numbered_src
    if late:
        ids = compile_shape(id_shape(shape))
        verdict_view = parsed_sql(ids, replace(verdict_src, keys_checked=by_id), table, default_time,
                                  with_extra=False, ids_only=True)
        if f.layout == "parquet":
            # Typed columns: when every row has its id, the verdict reads that column alone.
            bare_ids = parsed_sql(ids, verdict_src, table, default_time, with_extra=False, ids_only=True,
                                  id_fallback=False)
            if not con.execute(f"SELECT count(*) FROM ({bare_ids}) WHERE {id_col} IS NULL").fetchone()[0]:
                verdict_view = bare_ids
    else:
        verdict_view = parsed_sql(compile_shape(verdict_shape(shape)), verdict_src, table, default_time,
                                  with_extra=False)
    record_raw = raw_text(verdict_src, "p.doc")

    # 1. verdict. Line numbers: DuckDB skips blank lines, so Python counts the file's
    # lines alongside, unless the records' bytes show they fill a plain file exactly.
    priced_by = "".join(f", {c}" for c in PRICED_BY) if table == "requests" else ""
    with ThreadPoolExecutor(max_workers=1) as pool:
        count_now = f.layout == "lines" and (not by_id or f.gzipped)
        physical = pool.submit(reader.count_lines, f.path) if count_now else None
        if by_id:
            # Also: whether a record's id was generated, and its keys that the sample did
            # not show, to read the file as typed columns below.
            verdict_lines(con, verdict_view, verdict_src.sql, id_col, plan.seen_keys, priced_by,
                          raw_text(verdict_src, "doc"))
        else:
            # Typed columns cannot be broken records: an id-only verdict has no reason
            # yet, and leaving the record's text out lets DuckDB read only the id.
            raw = ("NULL::VARCHAR" if late and verdict_src.columns is not None
                   else f"CASE WHEN reason IS NOT NULL THEN {raw_text(verdict_src, 'doc')} END")
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _batch AS
                SELECT rec_no, sub_no, rec_no AS line, {id_col} AS id, reason, {raw} AS raw{priced_by}
                FROM ({verdict_view})""")
        if physical is not None:
            number_lines(con, f, physical.result())
        elif f.layout == "lines":
            number_lines(con, f, exact_lines(con, f))

    typed = by_id and _read_typed(con, f, plan, compiled, table, default_time)
    by_id_reader = None if not by_id else "_parsed" if typed else f"({parsed_sql(compiled, parallel_src, table, default_time)})"
    if f.layout != "parquet" and not typed and _heaviest_key_paths(compiled) > TYPED_MAX_NESTED_PATHS:
        # Mapping records of such shapes (message lists unpacked in nested lambdas) takes
        # DuckDB working memory that grows with the records each thread has mapped: one
        # thread needs about 60% of what two do (20,000 spans: 618 MB against 842 MB).
        con.execute("SET threads = 1")
    if typed:
        record_raw = "NULL::VARCHAR"  # rejects take the line from the file (fill_raw_from_file)
    if priced_by:
        pairs = con.execute(f"SELECT DISTINCT {', '.join(PRICED_BY)} FROM {'_batch0' if by_id else '_batch'} "
                            "WHERE model IS NOT NULL OR model_version IS NOT NULL").fetchall()
        ensure_priced(con, pairs, prices)

    # 2. duplicates: ids already in the table, or occurring more than once in the file.
    number_ids(con)
    content = ", ".join(columns) + ", extra"
    with stored_rows(con, table) as stored_sql:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _known AS
            SELECT t.{id_col} AS id, any_value(hash({', '.join('t.' + c for c in columns)}, t.extra)) AS h,
                   any_value(t.source_file) AS source_file, any_value(t.source_line) AS source_line
            FROM {stored_sql} t SEMI JOIN (SELECT id FROM _ids WHERE valid) b ON t.{id_col} = b.id
            GROUP BY t.{id_col}""")
    con.execute("CREATE OR REPLACE TEMP TABLE _hashed (rec_no BIGINT, sub_no BIGINT, h UBIGINT, "
                "reason VARCHAR, raw VARCHAR)")
    # Records to compare: valid ones whose id is known, or that share their id.
    candidates = """SELECT rec_no, sub_no, id, copies FROM _ids
        WHERE valid AND (copies > 1 OR id IN (SELECT id FROM _known))"""
    if con.execute(f"SELECT count(*) FROM ({candidates})").fetchone()[0]:
        select_rows(con, "_hashed", candidates,
                     f"hash({content}) AS h, p.reason, CASE WHEN p.reason IS NOT NULL THEN {record_raw} END",
                     numbered, by_id_reader, id_col)
        if late and mark_invalid(con, "_hashed"):
            # Which copy of an id comes first counts only valid copies.
            number_ids(con)

    con.execute("""CREATE OR REPLACE TEMP TABLE _status AS
        SELECT i.rec_no, i.sub_no, i.line, i.id,
               CASE WHEN NOT i.valid THEN 'rejected'
                    WHEN k.id IS NULL AND i.occurrence = 1 THEN 'load'
                    WHEN coalesce(k.h, first.h) = x.h THEN 'duplicate'
                    ELSE 'conflict' END AS status,
               CASE WHEN k.id IS NOT NULL THEN k.source_file || ':' || coalesce(k.source_line::VARCHAR, '?')
                    ELSE 'line ' || firsti.line || ' of this file' END AS first_seen,
               i.copies
        FROM _ids i
        LEFT JOIN _known k ON k.id = i.id AND i.valid
        LEFT JOIN _hashed x ON x.rec_no = i.rec_no AND x.sub_no = i.sub_no
        LEFT JOIN _ids firsti ON firsti.id = i.id AND firsti.valid AND firsti.occurrence = 1 AND i.valid
        LEFT JOIN _hashed first ON first.rec_no = firsti.rec_no AND first.sub_no = firsti.sub_no""")

    # 3. load the valid records; with a late verdict, the load shows whether any
    # record it was given is invalid, and only then are they read once more.
    to_load = con.execute("SELECT count(*) FROM _status WHERE status = 'load'").fetchone()[0]
    if to_load:
        loads = "SELECT rec_no, sub_no, id, line, copies FROM _status WHERE status = 'load'"
        lineage = (f"{sql_str(f.name)} AS source_file, k.line AS source_line, "
                   f"{sql_str(shape.name)} AS source_format, "
                   f"TIMESTAMPTZ {sql_str(ingested_at.isoformat())} AS ingested_at")
        inserted = select_rows(
            con, stored(table), loads, f"{', '.join('p.' + c for c in columns)}, p.extra, {lineage}",
            numbered, by_id_reader, id_col,
            insert_columns=f"{', '.join(columns)}, extra, source_file, source_line, source_format, ingested_at",
            where="p.reason IS NULL", priced=table == "requests")
        if inserted > to_load:
            raise InputError(f"{f.name}: {inserted - to_load} record(s) more read by the load than by the first "
                             "pass over the file; nothing was written (please report this)")
        if inserted < to_load:
            con.execute("CREATE OR REPLACE TEMP TABLE _late (rec_no BIGINT, sub_no BIGINT, reason VARCHAR, "
                        "raw VARCHAR)")
            late_rejects = select_rows(con, "_late", loads, f"p.reason, {record_raw}", numbered, by_id_reader,
                                        id_col, where="p.reason IS NOT NULL")
            if inserted + late_rejects != to_load:
                # The passes disagree about a record's id: never lose one quietly.
                raise InputError(f"{f.name}: {to_load - inserted - late_rejects} record(s) read differently "
                                 "by two passes over the file; nothing was written (please report this)")
            mark_invalid(con, "_late")
            con.execute("""UPDATE _status SET status = 'rejected' FROM _late x
                WHERE x.rec_no = _status.rec_no AND x.sub_no = _status.sub_no""")
    records, invalid, duplicates, conflicts, loaded = con.execute("""SELECT
            (SELECT count(*) FROM _batch),
            (SELECT count(*) FROM _batch WHERE reason IS NOT NULL),
            count(*) FILTER (WHERE status = 'duplicate'),
            count(*) FILTER (WHERE status = 'conflict'),
            count(*) FILTER (WHERE status = 'load')
        FROM _status""").fetchone()

    # 4. rejects
    reasons: dict[str, int] = {}
    if invalid or conflicts:
        # Conflicting records' text comes from the numbered JSON reader (typed columns
        # hold no record text).
        reasons = write_rejects(con, f, id_col, numbered, None if typed else by_id_reader, conflicts,
                                ingested_at, raw_text(numbered_src, "p.doc"))
    return FileResult(f.name, shape.name, records, loaded, duplicates, invalid + conflicts, reasons, table)


def _read_typed(con: duckdb.DuckDBPyConnection, f: LogFile, plan: FilePlan, compiled: CompiledShape,
                table: str, default_time: datetime | None) -> bool:
    """Make the by-id reader the view ``_parsed``: the file read as typed columns, one
    per top-level key, when the first pass shows that this gives the same records: every
    id comes from the records themselves. The typed reader parses each record once, where
    the JSON-text reader parses it for the paths and again to cut out ``extra``; broken
    lines, which it skips, were rejected by the first pass, and the numbered reader
    (copies of one id, rejects' text) stays on JSON text."""
    generated, found = con.execute("""SELECT count(*) FILTER (WHERE id_generated AND reason IS NULL),
        list_distinct(flatten(list(new_keys))) FROM _batch0""").fetchone()
    keys = sorted(set(plan.seen_keys or ()) | set(found or ()))
    # DuckDB takes any key as a column name except the empty one, and names columns
    # without regard to case. (No statement may fail here: an error would abort the
    # ingest's transaction.)
    if (generated or not keys or len(keys) > TYPED_MAX_KEYS or "" in keys
            or len({k.lower() for k in keys}) < len(keys)):
        return False
    types = json_column_types(compiled, keys)
    if types is None or _heaviest_key_paths(compiled) > TYPED_MAX_NESTED_PATHS:
        return False
    columns = "{" + ", ".join(f"{sql_str(k)}: {sql_str(t)}" for k, t in types.items()) + "}"
    sql = (f"SELECT * FROM read_json({sql_str(str(f.path))}, format = 'newline_delimited', "
           f"columns = {columns}, maximum_object_size = {reader.MAX_RECORD_BYTES}, ignore_errors = true)")
    src = Source(sql, False, types, frozenset(keys), record_text=False)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _parsed AS {parsed_sql(compiled, src, table, default_time)}")
    return True


def _heaviest_key_paths(compiled: CompiledShape) -> int:
    """The most paths the shape reads below any one top-level key."""
    below = Counter(split[0] for split in map(split_path, (*compiled.text_paths, *compiled.json_paths))
                    if split is not None and split[1] != "$")
    return max(below.values(), default=0)


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for name in _TEMP_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS {name}")
    for name in (*_TEMP_TABLES, "_keys"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
