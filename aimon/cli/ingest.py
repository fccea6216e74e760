"""aimon ingest: load log files into the database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from aimon.analysis.toolkit.window import parse_time
from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption
from aimon.cli.output import show
from aimon.errors import Interrupted
from aimon.render import err_console
from aimon.render.progress import file_progress
from aimon.store.connection import memory_budget, opened
from aimon.store.ingest_staging import discard_if_empty, ingest_staged
from aimon.store.prices import load_user_prices
from aimon.store.shapes import all_shapes


def _shapes_help() -> str:
    lines = ["[bold]Shapes[/] (detected from each file's first records; --shape forces one):", ""]
    for shape in all_shapes():
        lines.append(f"  [bold]{shape.name}[/] ({shape.table}): {shape.summary}")
        lines.append("")
    return "\n".join(lines)


def _interrupted(db, started: datetime) -> Interrupted:
    """Ctrl-C lands before the commit (nothing stored) or after it (everything stored);
    the database, not a guess, says which."""
    from aimon.store.info import rows_ingested_since

    if str(db) != ":memory:" and not Path(db).exists():
        # A new database is built aside and put in place by the commit.
        return Interrupted(f"interrupted before the ingest committed; no rows were stored and {db} "
                           "was not created")
    try:
        with opened(db, write=False) as con:
            stored = rows_ingested_since(con, started)
    except Exception:  # noqa: BLE001 - no database yet, or it cannot be read now
        return Interrupted("interrupted; the ingest is one transaction, so the database holds all "
                           "of this run's rows or none: check with aimon db info")
    if stored:
        return Interrupted(f"interrupted after the ingest committed: {stored:,} row(s) were stored "
                           "(see aimon db info); re-running it adds nothing")
    return Interrupted("interrupted before the ingest committed; no rows were stored")


@app.command(epilog=_shapes_help())
def ingest(
    paths: Annotated[list[str], typer.Argument(
        help="Log files, directories (searched recursively) or glob patterns: .jsonl, .json "
             "(array or lines), .jsonl.gz, .parquet.", show_default=False)],
    feedback: Annotated[bool, typer.Option(
        "--feedback", help="The files are feedback logs: load them into the feedback table.")] = False,
    shape: Annotated[str | None, typer.Option(
        "--shape", help="Read every file as this shape instead of detecting it (see below).")] = None,
    default_time: Annotated[str | None, typer.Option(
        "--default-time", help="Time for records that carry none (bare Anthropic message bodies); "
                               "without it such records are rejected.")] = None,
    fmt: FormatOption = "table",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Load request logs (or --feedback logs) into the database.

    One run is one transaction: interrupted, it leaves the database as it was.
    Records that cannot be loaded go to the [bold]rejects[/] table with file, line and
    reason while the rest loads; re-ingesting a file adds nothing.

    Example: [bold]aimon ingest logs/ --db prod.duckdb[/]
    """
    when: datetime | None = None
    if default_time:
        when = parse_time(default_time, anchor=None, option="--default-time")
    user_prices = load_user_prices()  # ./aimon.toml [models]: checked before anything loads
    started = datetime.now(UTC)
    new_db = Path(db) if not Path(db).exists() and str(db) != ":memory:" else None
    try:
        with file_progress() as on_file:
            summary = ingest_staged(db, paths, table="feedback" if feedback else "requests", shape=shape,
                                    default_time=when, on_file=on_file, prices=user_prices,
                                    memory_limit=memory_budget())
    except KeyboardInterrupt:
        raise _interrupted(db, started) from None
    except Exception as exc:
        if type(exc).__name__ == "InterruptException":  # DuckDB's, after the interrupt
            raise _interrupted(db, started) from None
        if new_db is not None:  # created by this run, or by another meanwhile
            discard_if_empty(new_db)
        raise
    show(summary, fmt, None, show_pii=False)
    if summary.rejected and fmt == "table":
        db_flag = "" if db == DEFAULT_DB else f" --db {db}"
        err_console.print(
            f"{summary.rejected:,} record(s) rejected; see them with: aimon sql{db_flag} "
            "\"SELECT source_file, source_line, reason FROM rejects ORDER BY ingested_at DESC\"",
            style="yellow", highlight=False, markup=False)
