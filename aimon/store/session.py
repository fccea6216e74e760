"""The store's transactions and locks.

Every write (migrations, ingest, price snapshots, deletes, and each cache or state:
PII findings, alert state, security findings, validations, embeddings) runs in one
:func:`transaction`, so an interrupted or failed write leaves the tables as they were.
A failing statement aborts DuckDB's open transaction: check what can fail before it.

Analyses read and return data; the store functions that keep their results
(``pii_cache``, ``alert_state``, ``security``) write through :func:`transaction`. A
command that keeps a cache opens a :class:`Session`: it looks under a read-only
connection, takes the write lock only while it keeps something new, and only when the
file can take it, so that repeated reports stay read-only and run side by side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
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


@dataclass(frozen=True)
class Kept:
    """What :meth:`Session.keep_then_read` did: what it ``computed``, what it read back
    (``shown``), and whether there was anything new (``fresh``; else the computation
    found it all kept already)."""

    computed: Any
    shown: Any
    fresh: bool


class Session:
    """One command's use of the database file when it keeps a cache: :meth:`look` and
    :meth:`read` under a read-only connection, :meth:`keep` under the write lock only
    for as long as it keeps something, and only when the file can take it. Open it with
    :func:`session`."""

    def __init__(self, db: Path, tz: str, stack: ExitStack) -> None:
        self.db, self.tz, self._stack = db, tz, stack
        # Whether the last keep wrote to the file; if not although asked to, why not (the
        # file's read-only reason).
        self.stored = False
        self.read_only: str | None = None
        # A read-only connection holding in-memory copies of what was kept, for read().
        self._held: duckdb.DuckDBPyConnection | None = None

    def _open(self, write: bool):
        # Imported here: connection imports schema, whose migrations open their
        # transactions through this module.
        from aimon.store.connection import opened

        return opened(self.db, write=write, tz=self.tz)

    @contextmanager
    def look(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, to find out what there is to do."""
        with self._open(False) as con:
            yield con

    @contextmanager
    def keep(self, *, refused: bool = False,
             shadow: tuple[str, ...] = ()) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to compute on and keep the result: under the write lock, unless
        the user ``refused`` (--no-store, or nothing new to keep) or the file is
        read-only; then read-only, with the ``shadow`` tables copied in memory so that
        what is kept there is what :meth:`read` reads back (``stored`` says which)."""
        from aimon.store.connection import read_only_reason, shadow_in_memory

        self.read_only = None if refused else read_only_reason(self.db)
        self.stored = not refused and self.read_only is None
        if self.stored:
            with self._open(True) as con:
                yield con
            return
        if not shadow:
            with self._open(False) as con:
                yield con
            return
        con = self._stack.enter_context(self._open(False))
        shadow_in_memory(con, shadow)
        self._held = con
        yield con

    def not_stored(self, what: str, *, wanted: bool, no_store: bool) -> tuple[str, ...]:
        """The note for ``what`` computed although not kept when there was something new
        to keep (``wanted``): why (--no-store, or the file is read-only); else none."""
        if not wanted or self.stored:
            return ()
        why = "--no-store" if no_store else f"{self.db} is read-only"
        return (f"{why}: {what} were computed in memory and not stored.",)

    def keep_then_read(self, what: str, *, look: Callable[[duckdb.DuckDBPyConnection], tuple[Any, bool]],
                       compute: Callable[[duckdb.DuckDBPyConnection, Any], Any],
                       save: Callable[[duckdb.DuckDBPyConnection, Any], None],
                       read: Callable[[duckdb.DuckDBPyConnection, Any, bool, tuple[str, ...]], Any],
                       no_store: bool = False, busy: AbstractContextManager | None = None) -> Kept:
        """A cache's whole round: ``look(con)`` gives the scope and whether anything in it
        is new; ``compute(con, scope)`` runs under :meth:`keep` (refused with --no-store
        or when nothing is new) and ``save(con, computed)`` keeps it when the file took
        the write lock; ``read(con, computed, stored, notes)`` reads back, ``stored``
        saying whether the kept tables hold it and ``notes`` why not (``what`` names it)."""
        with self.look() as con:
            scope, fresh = look(con)
        with self.keep(refused=no_store or not fresh) as con, busy or nullcontext():
            computed = compute(con, scope)
            if self.stored:
                save(con, computed)
        notes = self.not_stored(what, wanted=fresh, no_store=no_store)
        with self.read() as con:
            shown = read(con, computed, self.stored or not fresh, notes)
        return Kept(computed, shown, fresh)

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection that sees what was kept (in memory too)."""
        if self._held is not None:
            yield self._held
            return
        with self._open(False) as con:
            yield con


@contextmanager
def session(db: Path, tz: str = "UTC") -> Iterator[Session]:
    """A :class:`Session` on the database at ``db``; closes what it opened."""
    with ExitStack() as stack:
        yield Session(db, tz, stack)
