"""aimon sql: the user's own read-only query."""

from __future__ import annotations

from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, OutputOption
from aimon.render import FrameBlock, emit
from aimon.store.connection import opened
from aimon.store.query import run_query


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="The SQL to run, e.g. \"SELECT model, count(*) FROM requests GROUP BY ALL\".")],
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Run a read-only SQL query against the database (DuckDB dialect).

    Tables: [bold]requests[/] (one row per model call), [bold]feedback[/] and
    [bold]rejects[/]; their columns are listed in the README.
    """
    with opened(db, write=False) as con:
        frame = run_query(con, query)
    if frame is None:
        return
    emit(fmt, output, data=frame, blocks=[FrameBlock(frame)], csv_frame=frame)
