"""aimon db: the database itself."""

from __future__ import annotations

import typer

from aimon import __version__
from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, OutputOption
from aimon.cli.output import show
from aimon.render import Figures, FrameBlock

db_app = typer.Typer(help="Inspect the database file.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("info")
def info(
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Row counts, time range, file size and schema version of the database."""
    from aimon.store.connection import opened
    with opened(db, write=False) as con:
        from aimon.store.info import database_info
        result = database_info(con, str(db))
    tables = [{"table": t.table, "rows": t.rows, "first": t.first, "last": t.last} for t in result.tables]
    blocks = [
        Figures([("database", result.path), ("size", f"{result.size_bytes / 1e6:,.1f} MB"),
                 ("schema version", result.schema_version), ("aimon", __version__)]),
        FrameBlock(tables, title="Tables (rejects: when they were ingested)"),
    ]
    if result.by_shape:
        blocks.append(FrameBlock([{"shape": k, "requests": v} for k, v in result.by_shape.items()],
                                 title="Requests by source shape"))
    if result.reject_reasons:
        blocks.append(FrameBlock([{"reason": k, "records": v} for k, v in result.reject_reasons.items()],
                                 title="Rejected records by reason"))
    show(fmt, output, show_pii=False, data=result, blocks=blocks, csv_frame=tables)
