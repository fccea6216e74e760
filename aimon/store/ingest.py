"""Loading log files into the canonical tables.

The whole run is one transaction: killed midway, the database holds all of it or none
of it. (``aimon ingest`` runs it on a staging file and merges that in one transaction,
or puts it in place as a database the run creates: :mod:`aimon.store.ingest_staging`.) Each file is planned (:mod:`aimon.store.ingest_plan`:
its shape and reader), then loaded by the passes of :mod:`aimon.store.ingest_file`.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from aimon.errors import InputError
from aimon.store import macros, reader
from aimon.store.connection import restore_budget
from aimon.store.ingest_accounts import (
    FileResult,
    IngestSummary,
    add_file_reject,
    reject_whole_file,
)
from aimon.store.ingest_file import StoredRows, drop_temp, own_rows
from aimon.store.ingest_file import ingest_file as _ingest_file
from aimon.store.ingest_guard import (
    file_errors,
    interrupt_or,
    interruptible,
    memory_budget,
    out_of_memory,
)
from aimon.store.ingest_plan import FilePlan, forced_shape, parquet_unreadable, plan_file
from aimon.store.prices import UserPrices, price_pending, refresh_prices
from aimon.store.reader import LogFile
from aimon.store.schema import stored
from aimon.store.session import transaction
from aimon.store.shapes import TABLE_COLUMNS


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
                    plans.append(plan_file(con, f, table, forced, Path(tmp), read_parquet_whole=atomic))
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

    try:
        with transaction(con) if atomic else contextlib.nullcontext():
            refresh_prices(con, prices, in_transaction=True)
            for i, plan in enumerate(plans):
                if on_file:
                    on_file(i, len(plans), plan.file)
                with file_errors(budget, plan.file):
                    load_file = _ingest_or_take_back if plan.unread else _ingest_file
                    result = load_file(con, plan, plan.shape.table, default_time, ingested_at, prices, stored_rows)
                    con.execute("RESET threads")  # a heavy file's mapping runs on one
                    restore_budget(con)  # ... with a lower budget
                    if plan.note:
                        result = add_file_reject(con, plan.file, result, plan.note, ingested_at)
                    results.append(result)
                if interrupted():
                    raise KeyboardInterrupt
            # Every load priced its rows; this finds none unless a model resolved differently
            # between a file's first pass and its load.
            price_pending(con)
    except (RuntimeError, duckdb.InterruptException) as exc:
        raise interrupt_or(exc) from None
    finally:
        drop_temp(con)
        con.execute("RESET disabled_optimizers")
        con.execute("RESET threads")
        restore_budget(con)
    return IngestSummary(table, tuple(results))


def _ingest_or_take_back(
    con: duckdb.DuckDBPyConnection,
    plan: FilePlan,
    table: str,
    default_time: datetime | None,
    ingested_at: datetime,
    prices: UserPrices | None,
    stored_rows: StoredRows,
) -> FileResult:
    """Load a Parquet file that was not read whole first (outside a transaction, see
    plan_file). Should loading it fail because the file is corrupt, what its passes
    stored is taken back and the file is one reject, as a corrupt file found first is."""
    try:
        return _ingest_file(con, plan, table, default_time, ingested_at, prices, stored_rows)
    except duckdb.Error as exc:
        if (isinstance(exc, duckdb.InterruptException | duckdb.OutOfMemoryException)
                or "interrupted" in str(exc).lower()):
            raise
        unreadable = parquet_unreadable(con, plan.file)
        if unreadable is None:
            raise
    con.execute("RESET preserve_insertion_order")  # as a pass that failed midway left it
    for target in (stored(table), "rejects"):
        con.execute(f"DELETE FROM {target} WHERE source_file = $file AND ingested_at = $at",
                    {"file": plan.file.name, "at": ingested_at})
    return reject_whole_file(con, plan.file, plan.shape, unreadable, ingested_at)
