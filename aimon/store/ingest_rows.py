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


def number_ids(con: duckdb.DuckDBPyConnection) -> bool:
    """Each record with an id: whether it is (so far) valid, which valid copy of its id
    it is, and how many records share the id. Returns whether no id occurs twice."""
    unique = con.execute("SELECT count(id) = count(DISTINCT id) FROM _batch").fetchone()[0]
    if unique:
        # Every record is its id's first and only copy: no need for the windows' sorts
        # (0.2 s a million records, where the check above takes 0.05).
        con.execute("""CREATE OR REPLACE TEMP TABLE _ids AS
            SELECT rec_no, sub_no, line, id, reason IS NULL AS valid, 1::BIGINT AS occurrence, 1::BIGINT AS copies
            FROM _batch WHERE id IS NOT NULL""")
        return True
    con.execute("""CREATE OR REPLACE TEMP TABLE _ids AS
        SELECT rec_no, sub_no, line, id, reason IS NULL AS valid,
               row_number() OVER (PARTITION BY id, reason IS NULL ORDER BY rec_no, sub_no) AS occurrence,
               count(*) OVER (PARTITION BY id) AS copies
        FROM _batch WHERE id IS NOT NULL""")
    return False


# Records up to this many bytes have their keys listed in the same statement that maps
# their ids. Each JSON function keeps the parse of a whole chunk of records, so two of
# them over one chunk take twice the memory of one: bounded here by the records' size
# (2,048 records of 16 KB: 32 MB of text per call). Longer records are listed by a pass
# of their own, as before.
KEYS_WITH_IDS_BYTES = 16384


def verdict_lines(con: duckdb.DuckDBPyConnection, view: str, reader_sql: str, id_col: str,
                  seen_keys: frozenset[str] | None, priced_cols: tuple[str, ...], raw_sql: str,
                  key_orders: tuple[tuple[str, ...], ...] = ()) -> None:
    """``_batch0`` and ``_batch`` for a JSON-lines file read in parallel, unnumbered:
    each record's id, why it cannot load (so far), its size, its price keys, whether its
    id was generated and its keys that the sample did not show (to read the file as typed
    columns later). ``view``: the id mapping, reading ``doc`` from ``reader_sql`` and
    leaving duplicate keys to this pass (``Source.keys_checked``); ``key_orders``: orders
    of distinct keys that records are likely to come in (the sample's).

    The file is read once: the keys of each record up to KEYS_WITH_IDS_BYTES are listed
    beside its mapped id. A record whose key list is one of ``key_orders`` cannot give a
    key twice and brings no key the sample did not show; only other lists are searched
    for a repeated key (``list_distinct`` over every record's keys took as long as
    parsing them)."""
    seen = "[" + ", ".join(sql_str(k) for k in sorted(seen_keys or ())) + "]::VARCHAR[]"
    known = ("k IN (" + ", ".join("[" + ", ".join(map(sql_str, order)) + "]::VARCHAR[]" for order in key_orders)
             + ")") if key_orders else "false"
    priced = "".join(f", {c}" for c in priced_cols)
    # A record that gives a key twice keeps the id it gives (the first, as every reader
    # takes it): the reader of typed columns reads such a record as valid, so a valid
    # record sharing that id must not be loaded by a join on the id alone.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _batch0 AS
        SELECT id, coalesce(reason, dup) AS reason,
               CASE WHEN coalesce(reason, dup) IS NOT NULL THEN {raw_sql} END AS raw,
               bytes{"".join(f", CASE WHEN dup IS NULL THEN {c} END AS {c}" for c in priced_cols)}, id_generated,
               CASE WHEN reason IS NULL AND dup IS NULL THEN new_keys END AS new_keys
        FROM (SELECT *, {_key_checks(known, seen)}
              FROM (SELECT {id_col} AS id, reason, doc, strlen(doc) AS bytes{priced},
                           id_generated,
                           CASE WHEN reason IS NULL AND strlen(doc) <= {KEYS_WITH_IDS_BYTES}
                                THEN json_keys(doc) END AS k
                    FROM ({view})))""")
    if con.execute(f"SELECT count(*) FROM _batch0 WHERE reason IS NULL AND bytes > {KEYS_WITH_IDS_BYTES}"
                   ).fetchone()[0]:
        _long_record_keys(con, reader_sql, seen, priced_cols)
    # Inserts keep their source order, so rowid order is record order; in a table just
    # created, with nothing deleted, the rowids run 0..n-1 and are the record numbers
    # less one (numbering them by a window over rowid sorted every record: 0.3 CPU s a
    # million records). Should they ever have gaps, the window numbers them.
    rows, top = con.execute("SELECT count(*), coalesce(max(rowid) + 1, 0) FROM _batch0").fetchone()
    rec_no = "rowid + 1" if rows == top else "row_number() OVER (ORDER BY rowid)"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _batch AS
        SELECT rec_no, 1 AS sub_no, rec_no AS line, id, reason, raw
        FROM (SELECT {rec_no} AS rec_no, * FROM _batch0)""")


def _key_checks(known: str, seen: str) -> str:
    """``dup`` (the reason a key list ``k`` gives a key twice) and ``new_keys``."""
    return (f"CASE WHEN k IS NULL OR {known} THEN NULL ELSE aimon_dup_key(k) END AS dup, "
            f"CASE WHEN k IS NULL OR {known} THEN NULL "
            f"ELSE nullif(list_filter(k, lambda aimon_k: NOT list_contains({seen}, aimon_k)), []) END AS new_keys")


def _long_record_keys(con: duckdb.DuckDBPyConnection, reader_sql: str, seen: str,
                      priced: tuple[str, ...]) -> None:
    """The keys of the records longer than KEYS_WITH_IDS_BYTES, listed by a pass of
    their own over the file and put beside ``_batch0`` in record order."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _keys0 AS
        SELECT dup, CASE WHEN dup IS NOT NULL THEN CAST(doc AS VARCHAR) END AS raw, new_keys
        FROM (SELECT doc, {_key_checks("false", seen)}
              FROM (SELECT doc, CASE WHEN strlen(doc) > {KEYS_WITH_IDS_BYTES} AND left(doc, 1) = '{{'
                                     THEN json_keys({ROOMY.format(doc='CAST(doc AS VARCHAR)')}) END AS k
                    FROM ({reader_sql})))""")
    one, other = con.execute("SELECT (SELECT count(*) FROM _keys0), (SELECT count(*) FROM _batch0)").fetchone()
    if one != other:
        raise InputError(f"{one} and {other} records read by two passes over the same file; nothing was "
                         "written (please report this)")
    long_rec = f"v.reason IS NULL AND v.bytes > {KEYS_WITH_IDS_BYTES}"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _batch0 AS
        SELECT v.id, CASE WHEN {long_rec} THEN k.dup ELSE v.reason END AS reason,
               CASE WHEN {long_rec} THEN k.raw ELSE v.raw END AS raw, v.bytes,
               {"".join(f"CASE WHEN k.dup IS NULL THEN v.{c} END AS {c}, " for c in priced)}v.id_generated,
               CASE WHEN {long_rec} THEN CASE WHEN k.dup IS NULL THEN k.new_keys END ELSE v.new_keys END AS new_keys
        FROM _batch0 v POSITIONAL JOIN _keys0 k""")
    con.execute("DROP TABLE _keys0")


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
