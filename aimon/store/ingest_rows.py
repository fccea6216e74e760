"""The passes over one file's records that decide, row by row, what is stored and what
is rejected: numbering ids, marking records a later mapping found invalid, inserting the
chosen rows (priced, for requests) and writing the rejects. Each works on the temp
tables :func:`aimon.store.ingest_file.ingest_file` builds (``_batch``, ``_ids``, ``_status``)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from aimon.errors import InputError
from aimon.store import pricing
from aimon.store.ingest_accounts import fill_raw_from_file
from aimon.store.mapping_extra import ROOMY
from aimon.store.reader import LogFile
from aimon.store.schema import REQUEST_COST_COLUMNS
from aimon.store.shapes import sql_str


def number_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Each record with an id: whether it is (so far) valid, which valid copy of its id
    it is, and how many records share the id."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _ids AS
        SELECT rec_no, sub_no, line, id, reason IS NULL AS valid,
               row_number() OVER (PARTITION BY id, reason IS NULL ORDER BY rec_no, sub_no) AS occurrence,
               count(*) OVER (PARTITION BY id) AS copies
        FROM _batch WHERE id IS NOT NULL""")


def verdict_lines(con: duckdb.DuckDBPyConnection, view: str, reader_sql: str, id_col: str,
                  seen_keys: frozenset[str] | None, priced_by: str, raw_sql: str) -> None:
    """``_batch0`` and ``_batch`` for a JSON-lines file read in parallel, unnumbered:
    each record's id, why it cannot load (so far), its size, its price keys, whether its
    id was generated and its keys that the sample did not show (to read the file as typed
    columns later). ``view``: the id mapping, reading ``doc`` from ``reader_sql`` and
    leaving duplicate keys to this pass (``Source.keys_checked``).

    Every JSON function parses a whole record and keeps the parse of a whole chunk of
    records until the next chunk, about 4x the records' text: three such calls in one
    statement ran one 33 MB record, or ten 5 MB prompts, out of a 500 MB budget. So the
    keys are read by one pass and the id paths by another, each parsing every record
    once, and the two are put side by side in record order (both keep their inserts in
    source order)."""
    seen = "[" + ", ".join(sql_str(k) for k in sorted(seen_keys or ())) + "]::VARCHAR[]"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _keys0 AS
        SELECT dup, strlen(doc) AS bytes, CASE WHEN dup IS NOT NULL THEN CAST(doc AS VARCHAR) END AS raw,
               nullif(list_filter(k, lambda aimon_k: NOT list_contains({seen}, aimon_k)), []) AS new_keys
        FROM (SELECT doc, k, aimon_dup_key(k) AS dup
              FROM (SELECT doc, CASE WHEN left(doc, 1) = '{{' THEN json_keys({ROOMY.format(doc='CAST(doc AS VARCHAR)')}) END AS k
                    FROM ({reader_sql})))""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _verdict0 AS
        SELECT {id_col} AS id, reason, CASE WHEN reason IS NOT NULL THEN {raw_sql} END AS raw{priced_by},
               id_generated
        FROM ({view})""")
    one, other = con.execute("SELECT (SELECT count(*) FROM _keys0), (SELECT count(*) FROM _verdict0)").fetchone()
    if one != other:
        raise InputError(f"{one} and {other} records read by two passes over the same file; nothing was "
                         "written (please report this)")
    priced = "".join(f", CASE WHEN k.dup IS NULL THEN v.{c} END AS {c}" for c in priced_by.split(", ") if c)
    # A record that gives a key twice keeps the id it gives (the first, as every reader
    # takes it): the reader of typed columns reads such a record as valid, so a valid
    # record sharing that id must not be loaded by a join on the id alone.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _batch0 AS
        SELECT v.id,
               coalesce(v.reason, k.dup) AS reason, coalesce(v.raw, k.raw) AS raw, k.bytes{priced},
               v.id_generated,
               CASE WHEN v.reason IS NULL AND k.dup IS NULL THEN k.new_keys END AS new_keys
        FROM _verdict0 v POSITIONAL JOIN _keys0 k""")
    con.execute("DROP TABLE _keys0")
    con.execute("DROP TABLE _verdict0")
    # Inserts keep their source order, so rowid order is record order.
    con.execute("""CREATE OR REPLACE TEMP TABLE _batch AS
        SELECT rec_no, 1 AS sub_no, rec_no AS line, id, reason, raw
        FROM (SELECT row_number() OVER (ORDER BY rowid) AS rec_no, * FROM _batch0)""")


def mark_invalid(con: duckdb.DuckDBPyConnection, found: str) -> int:
    """Record in ``_batch`` the reasons (and raw text) that a full mapping found."""
    n = con.execute(f"SELECT count(*) FROM {found} WHERE reason IS NOT NULL").fetchone()[0]
    if n:
        con.execute(f"""UPDATE _batch SET reason = x.reason, raw = x.raw FROM {found} x
            WHERE x.rec_no = _batch.rec_no AND x.sub_no = _batch.sub_no AND x.reason IS NOT NULL""")
    return n


def select_rows(
    con: duckdb.DuckDBPyConnection,
    target: str,
    keys_sql: str,
    select: str,
    numbered: str,
    by_id: str | None,
    id_col: str,
    insert_columns: str | None = None,
    where: str | None = None,
    priced: bool = False,
) -> int:
    """Insert into ``target`` a SELECT over the mapped records named by ``keys_sql``
    (rec_no, sub_no, id, copies[, line]) that meet ``where``, reading from ``by_id`` (the
    parallel reader, joined by id) where there is one and the id is unique, else from
    ``numbered``; ``priced``: requests, stored with their cost. Returns the number of
    rows inserted."""
    into = f"INSERT INTO {target}" + (f" ({insert_columns})" if insert_columns else "")
    cond = f" WHERE {where}" if where else ""

    def run(sql: str) -> int:
        if not priced or insert_columns is None:
            return con.execute(f"{into} {sql}").fetchone()[0]
        # Each request's cost is worked out on its way in: updating freshly loaded rows
        # before the commit would make DuckDB rewrite them, text and all.
        cost_columns = ", ".join(c for c, _ in REQUEST_COST_COLUMNS)
        out = ", ".join("logged_cost_usd" if c == "cost_usd" else c for c in insert_columns.split(", "))
        return con.execute(f"INSERT INTO {target} ({insert_columns}, {cost_columns}) "
                           f"SELECT {out}, {cost_columns} "
                           f"FROM ({pricing.priced(sql)})").fetchone()[0]

    # Rows carry their own line numbers, so their order on disk does not matter, and
    # not keeping it lets DuckDB write without holding whole row groups per thread.
    con.execute("SET preserve_insertion_order = false")
    if insert_columns is None:
        select = f"k.rec_no, k.sub_no, {select}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _keys AS {keys_sql}")
    inserted = 0
    if by_id is not None:
        single = "(SELECT * FROM _keys WHERE copies = 1)"
        multi = "(SELECT * FROM _keys WHERE copies > 1)"
        inserted += run(f"SELECT {select} FROM {by_id} p JOIN {single} k ON p.{id_col} = k.id{cond}")
        if con.execute(f"SELECT count(*) FROM {multi}").fetchone()[0]:
            inserted += run(f"SELECT {select} FROM {numbered} p JOIN {multi} k "
                            f"ON p.rec_no = k.rec_no AND p.sub_no = k.sub_no{cond}")
    else:
        inserted += run(f"SELECT {select} FROM {numbered} p JOIN _keys k "
                        f"ON p.rec_no = k.rec_no AND p.sub_no = k.sub_no{cond}")
    con.execute("DROP TABLE _keys")
    con.execute("RESET preserve_insertion_order")
    return inserted


def write_rejects(con, f: LogFile, id_col: str, numbered: str, by_id: str | None, conflicts: int,
                  ingested_at: datetime,
                   raw_sql: str) -> dict[str, int]:
    """Rejects for invalid and conflicting records; a rerun adds no second copy."""
    file_lit = sql_str(f.name)
    fill_raw_from_file(con, f)
    con.execute("""CREATE OR REPLACE TEMP TABLE _conflict_raw (rec_no BIGINT, sub_no BIGINT, raw VARCHAR)""")
    if conflicts:
        select_rows(con, "_conflict_raw", "SELECT rec_no, sub_no, id, copies FROM _status WHERE status = 'conflict'",
                     raw_sql, numbered, by_id, id_col)
    rows = f"""
        SELECT b.line, b.raw, k.raw_bytes, b.reason FROM _batch b LEFT JOIN _broken k ON k.line = b.line
        WHERE b.reason IS NOT NULL
        UNION ALL
        SELECT s.line, c.raw, NULL,
               'conflicting duplicate: {id_col} ' || s.id || ' was already loaded from ' || s.first_seen
               || ' with different content'
        FROM _status s JOIN _conflict_raw c USING (rec_no, sub_no) WHERE s.status = 'conflict'"""
    con.execute(f"""INSERT INTO rejects (source_file, source_line, raw, raw_bytes, reason, ingested_at)
        SELECT {file_lit}, x.line, x.raw, x.raw_bytes, x.reason, $at FROM ({rows}) x
        WHERE NOT EXISTS (SELECT 1 FROM rejects r WHERE r.source_file = {file_lit}
                          AND r.source_line IS NOT DISTINCT FROM x.line AND r.raw IS NOT DISTINCT FROM x.raw)""",
                {"at": ingested_at})
    # 'invalid UTF-8 at byte N' is one kind, whatever N.
    return dict(con.execute(f"""SELECT regexp_replace(split_part(reason, ':', 1), ' at byte \\d+$', '') AS kind,
        count(*) FROM ({rows})
        GROUP BY kind ORDER BY count(*) DESC, kind""").fetchall())
