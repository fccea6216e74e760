"""The embedding cache: vectors keyed by (model, SHA-256 of the text).

A text's key is the SHA-256 of its UTF-8 bytes, the same value as DuckDB's
``unhex(sha256(text))``, so SQL can join stored texts to their vectors. Vectors of
one dimension share a table (``embeddings_<dim>``, a fixed-size ``FLOAT[dim]``
column); :func:`save` is the only writer and runs on a connection the caller opened
for writing. Reading works on a read-only connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import duckdb

from aimon.store.schema import EMBEDDINGS_TABLE_SQL
from aimon.store.session import transaction

if TYPE_CHECKING:
    import numpy as np


def table_name(dim: int) -> str:
    """The table holding vectors of ``dim`` dimensions."""
    if not isinstance(dim, int) or not 0 < dim <= 65536:
        raise ValueError(f"embedding dimension {dim!r} out of range")
    return f"embeddings_{dim}"


def text_key(text: str) -> bytes:
    """The cache key of a text: SHA-256 of its UTF-8 bytes (DuckDB's unhex(sha256(text)))."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def is_writable(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con`` may write (a read-only open may not)."""
    row = con.execute("SELECT NOT readonly FROM duckdb_databases() "
                      "WHERE database_name = current_database()").fetchall()[0]
    return bool(row[0])


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                      "AND schema_name = 'main' AND table_name = $t", {"t": name}).fetchall()[0]
    return bool(row[0])


LOOKUP_SQL = """
SELECT k.i, e.vector
FROM _aimon_embed_keys k
JOIN {table} e ON e.text_sha256 = k.h AND e.model = $model
"""


def lookup(con: duckdb.DuckDBPyConnection, model: str, dim: int,
           keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The cached vectors among ``keys``: (positions found, float32 array of them)."""
    import numpy as np
    import pyarrow as pa

    empty = (np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32))
    table = table_name(dim)
    if not keys or not _has_table(con, table):
        return empty
    con.register("_aimon_embed_keys", pa.table({"i": pa.array(range(len(keys)), pa.int64()),
                                                "h": pa.array(keys, pa.binary())}))
    try:
        # One copy of a key may be stored twice by two racing writers: keep one.
        found = con.sql(LOOKUP_SQL.format(table=table) + " QUALIFY row_number() OVER (PARTITION BY k.i) = 1",
                        params={"model": model}).to_arrow_table()
    finally:
        con.unregister("_aimon_embed_keys")
    if found.num_rows == 0:
        return empty
    positions = found.column("i").to_numpy()
    flat = found.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return positions, flat.astype(np.float32, copy=False).reshape(-1, dim)


REGISTER_MODEL_SQL = """
INSERT INTO embedding_models (model, name, dim, max_seq_length, created_at)
SELECT $model, $name, $dim, $seq, current_timestamp
WHERE NOT EXISTS (SELECT 1 FROM embedding_models WHERE model = $model)
"""

SAVE_SQL = """
INSERT INTO {table} (model, text_sha256, vector, created_at)
SELECT $model, n.h, n.v, current_timestamp
FROM _aimon_embed_new n
WHERE NOT EXISTS (SELECT 1 FROM {table} e WHERE e.model = $model AND e.text_sha256 = n.h)
"""


def save(con: duckdb.DuckDBPyConnection, model: str, name: str, dim: int, max_seq_length: int | None,
         keys: Sequence[bytes], vectors: np.ndarray) -> int:
    """Store vectors not stored yet (one transaction); returns how many were new."""
    import numpy as np
    import pyarrow as pa

    if len(keys) != len(vectors):
        raise ValueError("one vector per key")
    if not keys:
        return 0
    table = table_name(dim)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    con.register("_aimon_embed_new", pa.table({"h": pa.array(keys, pa.binary()),
                                               "v": pa.FixedSizeListArray.from_arrays(flat, dim)}))
    try:
        with transaction(con):
            con.execute(EMBEDDINGS_TABLE_SQL.format(dim=dim))
            con.execute(REGISTER_MODEL_SQL, {"model": model, "name": name, "dim": dim, "seq": max_seq_length})
            before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            con.execute(SAVE_SQL.format(table=table), {"model": model})
            after = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.unregister("_aimon_embed_new")
    return int(after - before)


def cached_share(con: duckdb.DuckDBPyConnection, model: str, dim: int, texts_sql: str,
                 params: dict) -> tuple[int, int]:
    """(texts, of which cached) for the non-null texts a query returns (column ``text``)."""
    table = table_name(dim)
    if not _has_table(con, table):
        row = con.execute(f"SELECT count(*) FROM ({texts_sql}) WHERE text IS NOT NULL", params).fetchall()[0]
        return int(row[0]), 0
    row = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM {table} e WHERE e.model = $model AND e.text_sha256 = unhex(sha256(t.text))))
        FROM ({texts_sql}) t WHERE t.text IS NOT NULL""", {**params, "model": model}).fetchall()[0]
    return int(row[0]), int(row[1])


# Forget and purge reach the cache through the texts of the requests they delete: a
# vector (and the hash that could confirm a guessed text) goes with its prompt or
# response. Tables of the usual dimensions are registered; any other is listed by
# forget/purge as "not searched".
_TEXTS_OF = ("SELECT unhex(sha256(t)) FROM (SELECT unnest([prompt, response, system_prompt]) AS t FROM requests "
             "WHERE request_id IN (SELECT request_id FROM {temp})) WHERE t IS NOT NULL")
COMMON_DIMS = (256, 384, 512, 768, 1024, 1536, 3072)


def register_forget_links() -> None:
    """Tell forget and purge how to find the cached vectors of the texts they delete."""
    from aimon.store.forget import register_link

    for dim in COMMON_DIMS:
        register_link(table_name(dim),
                      forget=f"text_sha256 IN ({_TEXTS_OF.format(temp='_aimon_forget_requests')})",
                      purge=f"text_sha256 IN ({_TEXTS_OF.format(temp='_aimon_purge_requests')})")
