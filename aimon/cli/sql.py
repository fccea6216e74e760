"""aimon sql: the user's own query, which can read and never write (docs/security.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, OutputOption
from aimon.cli.output import ShowPiiOption, show
from aimon.render import Format

# Like DuckDB's own shell: a terminal or a Markdown page shows a screenful, a file
# format everything.
TABLE_ROWS = 40


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="The SQL to run, e.g. \"SELECT model, count(*) FROM requests GROUP BY ALL\".")],
    limit: Annotated[int | None, typer.Option(
        "--limit", min=0,
        help=f"Show at most this many rows, 0 for all. Default: {TABLE_ROWS} for table and "
             "markdown, all for json and csv.")] = None,
    read_files: Annotated[list[Path] | None, typer.Option(
        "--read-files", metavar="DIR", file_okay=False, exists=True,
        help="Let the query read local files under DIR (read_csv, read_parquet, ...). "
             "Repeatable. Without it the query sees the database only.")] = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    show_pii: ShowPiiOption = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Run one read-only SQL query against the database (DuckDB dialect).

    Tables: [bold]requests[/] (one row per model call), [bold]feedback[/] and
    [bold]rejects[/]; their columns are listed in the README. Only SELECT, WITH, FROM,
    VALUES, DESCRIBE, SHOW and SUMMARIZE run: nothing the query does can change the
    database or write a file (see docs/security.md). Personal data in the rows is
    masked like in every other command; --show-pii prints it as stored.

    Example: aimon sql "SELECT model, count(*) AS calls FROM requests GROUP BY ALL"
    --format csv -o calls.csv
    """
    from aimon.store.connection import opened
    from aimon.store.query import checked_statement, run_query, sandbox

    checked_statement(query)
    fmt = Format(fmt)
    if limit is None:
        limit = TABLE_ROWS if fmt in (Format.table, Format.markdown) else 0
    with opened(db, write=False) as con:
        sandbox(con, read_files or ())
        result = run_query(con, query, limit=limit or None)
    if result.more_rows and fmt in (Format.json, Format.csv):
        # Data formats carry no notes; say it where people look.
        from aimon.render import err_console
        err_console.print(f"aimon: {result.more_rows:,} more rows not shown (--limit 0 shows all)",
                          markup=False)
    show(result, fmt, output, show_pii=show_pii)

