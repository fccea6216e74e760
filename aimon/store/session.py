"""The store's transactions: every write of a cache or of state (PII findings, alert
state, security findings, validations, embeddings) runs in one, so an interrupted or
failed write leaves the tables as they were.

Analyses read and return data; the store functions that keep their results
(``pii_cache``, ``alert_state``, ``security``) write through :func:`transaction`. A
failing statement aborts DuckDB's open transaction: check what can fail before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN, then COMMIT when the block ends, or ROLLBACK when it raises (Ctrl-C too)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def parameters(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``params`` that ``sql`` names: DuckDB refuses a statement given others."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}
