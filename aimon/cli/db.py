"""aimon db: the database itself."""

from __future__ import annotations

import typer

from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, OutputOption
from aimon.cli.output import show

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
    show(result, fmt, output, show_pii=False)
