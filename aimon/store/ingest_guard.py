"""What may go wrong while ingest runs a statement, turned into what the user should
see: a DuckDB error on one file is one line naming the file, running out of memory names
the budget and how to raise it, and Ctrl-C interrupts the running query and is
remembered, so that the whole run rolls back."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

from aimon.errors import InputError
from aimon.store.reader import LogFile


@contextmanager
def file_errors(budget: str, f: LogFile) -> Iterator[None]:
    """A DuckDB error while reading one file becomes one line naming the file (the
    caller's transaction is rolled back): never a traceback. Running out of memory
    names the budget and how to change it."""
    try:
        yield
    except (duckdb.InterruptException, KeyboardInterrupt):
        raise
    except duckdb.OutOfMemoryException:
        raise InputError(out_of_memory(f.name, budget)) from None
    except duckdb.Error as exc:
        if "interrupted" in str(exc).lower():
            raise
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise InputError(f"{f.name}: cannot load: {first}; nothing was written") from None


def out_of_memory(what: str, budget: str) -> str:
    return (f"{what}: ran out of memory at the memory budget of {budget}; nothing was written. Give "
            "ingest more with AIMON_MEMORY_LIMIT (e.g. AIMON_MEMORY_LIMIT=4GB), or split the file")


def memory_budget(con: duckdb.DuckDBPyConnection) -> str:
    try:
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    except duckdb.Error:
        return "the configured limit"


def interrupt_or(exc: Exception) -> BaseException:
    """DuckDB reports Ctrl-C as RuntimeError('Query interrupted') during a query, or as
    InterruptException on the statement after an interrupt."""
    if isinstance(exc, duckdb.InterruptException) or "interrupted" in str(exc).lower():
        return KeyboardInterrupt()
    return exc


@contextmanager
def interruptible(con: duckdb.DuckDBPyConnection) -> Iterator[Callable[[], bool]]:
    """Ctrl-C interrupts the running query and is remembered, so the transaction is
    rolled back even when DuckDB's own check misses it between statements."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    seen = threading.Event()

    def handler(signum, frame):
        seen.set()
        con.interrupt()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield seen.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
