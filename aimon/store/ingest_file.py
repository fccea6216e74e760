"""One file's passes, each a function whose signature names the relation it reads and
the one it writes (:func:`ingest_file` runs them top to bottom). The file is read by
DuckDB and mapped in SQL (``aimon.store.mapping``); no Python loop touches the records.

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

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb

from aimon.errors import InputError
from aimon.store import reader
from aimon.store.connection import MANY_A_LINE_MEMORY_LIMIT_MB, lower_budget_for_one_thread
from aimon.store.ingest_accounts import (
    FileResult,
    exact_lines,
    number_lines,
    reject_whole_file,
)
from aimon.store.ingest_guard import out_of_memory
from aimon.store.ingest_plan import FilePlan, json_reader, parquet_reader
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
from aimon.store.prices import UserPrices, ensure_priced
from aimon.store.reader import LogFile
from aimon.store.schema import stored
from aimon.store.shapes import (
    TABLE_COLUMNS,
    CompiledShape,
    Shape,
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
TEMP_TABLES = ("_batch0", "_batch", "_keys0", "_verdict0", "_ids", "_known", "_hashed", "_status",
               "_load", "_shift", "_broken", "_conflict_raw", "_late")
TEMP_VIEWS = ("_parsed",)

# The rows a file's ids are checked against for duplicates, as SQL naming a relation:
# given the connection and the canonical table. A staged run (aimon.store.ingest_staging)
# adds the main database's rows, attached only while one file's ids are looked up.
StoredRows = Callable[[duckdb.DuckDBPyConnection, str], AbstractContextManager[str]]


@contextmanager
def own_rows(con: duckdb.DuckDBPyConnection, table: str) -> Iterator[str]:
    """The rows already in the database being written."""
    yield table


# A file's passes hand their results on in temp tables. Each step below names, in its
# signature, the relations it reads and the one it writes: the verdict pass writes
# VERDICTS, the duplicate pass reads them and writes STATUS, the load reads STATUS and
# inserts into the canonical table, the rejects read both.

# One row per record in record order: rec_no, sub_no, line, id, reason (NULL: valid so
# far), raw (the record's text, for rejects). The helpers in ingest_rows read it by name.
VERDICTS = "_batch"
# With a by-id read, the parallel verdict read first lands here, with each record's
# priced-by columns, whether its id was generated and the keys the sample did not show.
FIRST_PASS = "_batch0"
# One row per record with an id: rec_no, sub_no, line, id, status ('load', 'duplicate',
# 'conflict', 'rejected'), first_seen (where its id was met first), copies.
STATUS = "_status"


@dataclass(frozen=True)
class Verdicts:
    """What the verdict pass wrote: ``table`` (VERDICTS), and the relation holding each
    record's priced-by columns (FIRST_PASS with a by-id read, else VERDICTS)."""

    table: str
    priced_from: str


@dataclass(frozen=True)
class FileRead:
    """How one file's records are read, as SQL relations the passes select from."""

    file: LogFile
    shape: Shape
    table: str
    compiled: CompiledShape
    id_col: str
    # Records with a unique id are read unnumbered, in parallel, and joined by id.
    by_id: bool
    # The verdict maps only ids: the passes that map whole records learn which are invalid.
    late: bool
    numbered_src: Source
    verdict_src: Source
    parallel_src: Source
    # Every record mapped and numbered (rec_no, sub_no): a subquery.
    numbered: str
    # The verdict pass's mapping (ids only when ``late``).
    verdict: str
    # A record's text as the verdict's reader gives it (NULL once the file is read typed:
    # rejects then take the line from the file).
    record_raw: str
    # The by-id read of whole records (the typed view, or JSON text); None without one.
    by_id_reader: str | None = None
    typed: bool = False
    # The memory budget the file's records load under when it was lowered for it.
    lowered_budget: str | None = None


def ingest_file(
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
    read = _file_read(con, plan, table, default_time)
    verdicts = _verdict_pass(con, read, plan)                      # -> VERDICTS
    read = _whole_record_reader(con, read, plan, default_time)      # FIRST_PASS -> the by-id reader
    try:
        if table == "requests":
            _price_models(con, verdicts, prices)                    # VERDICTS or FIRST_PASS
        status = _duplicate_pass(con, read, verdicts, stored_rows)  # VERDICTS -> STATUS
        _load_pass(con, read, status, ingested_at)                  # STATUS -> the table
    except duckdb.OutOfMemoryException:
        if read.lowered_budget is None:
            raise
        # The one-line error names the budget that ran out, not the run's.
        raise InputError(out_of_memory(f.name, read.lowered_budget)) from None
    records, invalid, duplicates, conflicts, loaded = _tally(con, verdicts, status)
    reasons: dict[str, int] = {}
    if invalid or conflicts:                                        # VERDICTS, STATUS -> rejects
        # Conflicting records' text comes from the numbered JSON reader (typed columns
        # hold no record text).
        reasons = write_rejects(con, f, read.id_col, read.numbered, None if read.typed else read.by_id_reader,
                                conflicts, ingested_at, raw_text(read.numbered_src, "p.doc"))
    return FileResult(f.name, shape.name, records, loaded, duplicates, invalid + conflicts, reasons, table)


def _file_read(con: duckdb.DuckDBPyConnection, plan: FilePlan, table: str,
               default_time: datetime | None) -> FileRead:
    """The readers of one file and the mappings over them."""
    f, shape = plan.file, plan.shape
    compiled = compile_shape(shape)
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
        verdict = parsed_sql(ids, replace(verdict_src, keys_checked=by_id), table, default_time,
                             with_extra=False, ids_only=True)
        if f.layout == "parquet":
            # Typed columns: when every row has its id, the verdict reads that column alone.
            bare_ids = parsed_sql(ids, verdict_src, table, default_time, with_extra=False, ids_only=True,
                                  id_fallback=False)
            if not con.execute(f"SELECT count(*) FROM ({bare_ids}) WHERE {id_col} IS NULL").fetchone()[0]:
                verdict = bare_ids
    else:
        verdict = parsed_sql(compile_shape(verdict_shape(shape)), verdict_src, table, default_time,
                             with_extra=False)
    return FileRead(f, shape, table, compiled, id_col, by_id, late, numbered_src, verdict_src, parallel_src,
                    numbered, verdict, raw_text(verdict_src, "p.doc"))


def _verdict_pass(con: duckdb.DuckDBPyConnection, read: FileRead, plan: FilePlan) -> Verdicts:
    """Map every record (its id, at least) and note why it cannot load: writes VERDICTS
    (and FIRST_PASS with a by-id read), with each record's line in the file."""
    f, id_col, src = read.file, read.id_col, read.verdict_src
    priced_cols = PRICED_BY if read.table == "requests" else ()
    priced_by = "".join(f", {c}" for c in priced_cols)
    # Line numbers: DuckDB skips blank lines, so Python counts the file's lines
    # alongside, unless the records' bytes show they fill a plain file exactly.
    with ThreadPoolExecutor(max_workers=1) as pool:
        count_now = f.layout == "lines" and (not read.by_id or f.gzipped)
        physical = pool.submit(reader.count_lines, f.path) if count_now else None
        if read.by_id:
            # Also: whether a record's id was generated, and its keys that the sample did
            # not show, to read the file as typed columns below.
            verdict_lines(con, read.verdict, src.sql, id_col, plan.seen_keys, priced_cols, raw_text(src, "doc"),
                          plan.key_orders)
        else:
            # Typed columns cannot be broken records: an id-only verdict has no reason
            # yet, and leaving the record's text out lets DuckDB read only the id.
            raw = ("NULL::VARCHAR" if read.late and src.columns is not None
                   else f"CASE WHEN reason IS NOT NULL THEN {raw_text(src, 'doc')} END")
            con.execute(f"""CREATE OR REPLACE TEMP TABLE {VERDICTS} AS
                SELECT rec_no, sub_no, rec_no AS line, {id_col} AS id, reason, {raw} AS raw{priced_by}
                FROM ({read.verdict})""")
        if physical is not None:
            number_lines(con, f, physical.result())
        elif f.layout == "lines":
            number_lines(con, f, exact_lines(con, f))
    return Verdicts(VERDICTS, FIRST_PASS if read.by_id else VERDICTS)


def _whole_record_reader(con: duckdb.DuckDBPyConnection, read: FileRead, plan: FilePlan,
                         default_time: datetime | None) -> FileRead:
    """The by-id read of whole records: typed columns when FIRST_PASS shows they give
    the same records (the view ``_parsed``), else JSON text."""
    f = read.file
    typed = read.by_id and _read_typed(con, f, plan, read.compiled, read.table, default_time)
    by_id_reader = (None if not read.by_id else "_parsed" if typed
                    else f"({parsed_sql(read.compiled, replace(read.parallel_src, keys_checked=True), read.table, default_time)})")
    if f.layout != "parquet" and not typed and _heaviest_key_paths(read.compiled) > TYPED_MAX_NESTED_PATHS:
        # Mapping records of such shapes (message lists unpacked in nested lambdas) takes
        # DuckDB working memory that grows with the records each thread has mapped: one
        # thread needs about 60% of what two do (20,000 spans: 618 MB against 842 MB).
        con.execute("SET threads = 1")
        limit = MANY_A_LINE_MEMORY_LIMIT_MB if read.shape.records else None
        read = replace(read, lowered_budget=lower_budget_for_one_thread(con, limit))
    # Typed: rejects take the line from the file (fill_raw_from_file).
    record_raw = "NULL::VARCHAR" if typed else read.record_raw
    return replace(read, by_id_reader=by_id_reader, typed=typed, record_raw=record_raw)


def _price_models(con: duckdb.DuckDBPyConnection, verdicts: Verdicts, prices: UserPrices | None) -> None:
    """Put the file's models in the price snapshot before its requests are loaded."""
    pairs = con.execute(f"SELECT DISTINCT {', '.join(PRICED_BY)} FROM {verdicts.priced_from} "
                        "WHERE model IS NOT NULL OR model_version IS NOT NULL").fetchall()
    ensure_priced(con, pairs, prices)


STATUS_SQL = f"""CREATE OR REPLACE TEMP TABLE {STATUS} AS
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
    LEFT JOIN _hashed first ON first.rec_no = firsti.rec_no AND first.sub_no = firsti.sub_no"""


# STATUS_SQL where no id occurs twice in the file nor is stored: each valid record loads.
# (first_seen names the earlier copy in a conflict's reason; there are none here.)
NEW_IDS_STATUS_SQL = f"""CREATE OR REPLACE TEMP TABLE {STATUS} AS
    SELECT rec_no, sub_no, line, id, CASE WHEN valid THEN 'load' ELSE 'rejected' END AS status,
           NULL::VARCHAR AS first_seen, copies
    FROM _ids"""


def _duplicate_pass(con: duckdb.DuckDBPyConnection, read: FileRead, verdicts: Verdicts,
                    stored_rows: StoredRows) -> str:
    """Decide each record of VERDICTS: load, duplicate (same content as a stored row or
    an earlier copy in the file), conflict (different content) or rejected. Ids already
    in the table, or occurring more than once in the file, are compared by a hash of
    their canonical content. Writes ``_ids``, ``_known``, ``_hashed`` and STATUS;
    returns STATUS."""
    unique = number_ids(con)  # VERDICTS -> _ids
    columns = list(TABLE_COLUMNS[read.table])
    id_col = read.id_col
    with stored_rows(con, read.table) as stored_sql:
        # (The EXISTS: with nothing stored yet, a first ingest, the join would still hash
        # every id of the file.)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _known AS
            SELECT t.{id_col} AS id, any_value(hash({', '.join('t.' + c for c in columns)}, t.extra)) AS h,
                   any_value(t.source_file) AS source_file, any_value(t.source_line) AS source_line
            FROM {stored_sql} t SEMI JOIN (SELECT id FROM _ids WHERE valid AND EXISTS (SELECT 1 FROM {stored_sql})) b
              ON t.{id_col} = b.id
            GROUP BY t.{id_col}""")
    con.execute("CREATE OR REPLACE TEMP TABLE _hashed (rec_no BIGINT, sub_no BIGINT, h UBIGINT, "
                "reason VARCHAR, raw VARCHAR)")
    # Records to compare: valid ones whose id is known, or that share their id.
    candidates = """SELECT rec_no, sub_no, id, copies FROM _ids
        WHERE valid AND (copies > 1 OR id IN (SELECT id FROM _known))"""
    if con.execute(f"SELECT count(*) FROM ({candidates})").fetchone()[0]:
        content = ", ".join(columns) + ", extra"
        select_rows(con, "_hashed", candidates,
                    f"hash({content}) AS h, p.reason, CASE WHEN p.reason IS NOT NULL THEN {read.record_raw} END",
                    read.numbered, read.by_id_reader, id_col)
        if read.late and mark_invalid(con, "_hashed"):
            # Which copy of an id comes first counts only valid copies.
            unique = number_ids(con)
    if unique and not con.execute("SELECT count(*) FROM _known").fetchone()[0]:
        con.execute(NEW_IDS_STATUS_SQL)
    else:
        con.execute(STATUS_SQL)
    return STATUS


def _load_pass(con: duckdb.DuckDBPyConnection, read: FileRead, status: str, ingested_at: datetime) -> None:
    """Insert the records ``status`` says to load into the canonical table, with file and
    line. With a late verdict, the load shows whether any record it was given is invalid,
    and only then are they read once more: those become 'rejected' in ``status`` (and
    get their reason in VERDICTS)."""
    f, columns = read.file, list(TABLE_COLUMNS[read.table])
    to_load = con.execute(f"SELECT count(*) FROM {status} WHERE status = 'load'").fetchone()[0]
    if not to_load:
        return
    loads = f"SELECT rec_no, sub_no, id, line, copies FROM {status} WHERE status = 'load'"
    lineage = (f"{sql_str(f.name)} AS source_file, k.line AS source_line, "
               f"{sql_str(read.shape.name)} AS source_format, "
               f"TIMESTAMPTZ {sql_str(ingested_at.isoformat())} AS ingested_at")
    inserted = select_rows(
        con, stored(read.table), loads, f"{', '.join('p.' + c for c in columns)}, p.extra, {lineage}",
        read.numbered, read.by_id_reader, read.id_col,
        insert_columns=f"{', '.join(columns)}, extra, source_file, source_line, source_format, ingested_at",
        where="p.reason IS NULL", priced=read.table == "requests")
    if inserted > to_load:
        raise InputError(f"{f.name}: {inserted - to_load} record(s) more read by the load than by the first "
                         "pass over the file; nothing was written (please report this)")
    if inserted < to_load:
        con.execute("CREATE OR REPLACE TEMP TABLE _late (rec_no BIGINT, sub_no BIGINT, reason VARCHAR, "
                    "raw VARCHAR)")
        late_rejects = select_rows(con, "_late", loads, f"p.reason, {read.record_raw}", read.numbered,
                                   read.by_id_reader, read.id_col, where="p.reason IS NOT NULL")
        if inserted + late_rejects != to_load:
            # The passes disagree about a record's id: never lose one quietly.
            raise InputError(f"{f.name}: {to_load - inserted - late_rejects} record(s) read differently "
                             "by two passes over the file; nothing was written (please report this)")
        mark_invalid(con, "_late")
        con.execute(f"""UPDATE {status} SET status = 'rejected' FROM _late x
            WHERE x.rec_no = {status}.rec_no AND x.sub_no = {status}.sub_no""")


def _tally(con: duckdb.DuckDBPyConnection, verdicts: Verdicts, status: str) -> tuple[int, int, int, int, int]:
    """Records, invalid ones, duplicates, conflicts and loaded rows of the file."""
    return con.execute(f"""SELECT
            (SELECT count(*) FROM {verdicts.table}),
            (SELECT count(*) FROM {verdicts.table} WHERE reason IS NOT NULL),
            count(*) FILTER (WHERE status = 'duplicate'),
            count(*) FILTER (WHERE status = 'conflict'),
            count(*) FILTER (WHERE status = 'load')
        FROM {status}""").fetchone()


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
           f"columns = {columns}, maximum_object_size = {f.max_record_bytes}, ignore_errors = true)")
    src = Source(sql, False, types, frozenset(keys), record_text=False)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _parsed AS {parsed_sql(compiled, src, table, default_time)}")
    return True


def _heaviest_key_paths(compiled: CompiledShape) -> int:
    """The most paths the shape reads below any one top-level key."""
    below = Counter(split[0] for split in map(split_path, (*compiled.text_paths, *compiled.json_paths))
                    if split is not None and split[1] != "$")
    return max(below.values(), default=0)


def drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what the passes left, at the end of a run."""
    for name in TEMP_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS {name}")
    for name in (*TEMP_TABLES, "_keys"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
