"""What a file on disk is, told by its bytes: shared by the store (``--db``) and render (``-o``)."""

from __future__ import annotations

from pathlib import Path

# Every DuckDB database file carries this magic after its 8-byte checksum.
DUCKDB_MAGIC = b"DUCK"


def is_database_file(path: Path) -> bool:
    """Whether ``path`` is an existing file (or a link to one) that starts like a DuckDB database."""
    try:
        with open(path, "rb") as fh:
            return fh.read(12)[8:12] == DUCKDB_MAGIC
    except OSError:
        return False
