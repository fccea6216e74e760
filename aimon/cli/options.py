"""Options shared by every command, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimon.render import Format

DbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        envvar="AIMON_DB",
        help="The aimon database file (created by 'aimon ingest').",
        show_default="./aimon.duckdb, or $AIMON_DB",
        dir_okay=False,
    ),
]
DEFAULT_DB = Path("aimon.duckdb")

FormatOption = Annotated[
    Format,
    typer.Option("--format", "-f", help="Output format: table (terminal), markdown, json or csv.",
                 case_sensitive=False),
]

OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of stdout.", dir_okay=False),
]

SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Start of the window: an ISO date or time (2026-11-01, 2026-11-01T09:00), or a "
             "span before the newest request such as 7d, 24h, 90m.",
    ),
]

UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="End of the window (exclusive), same forms as --since. Default: just after the "
             "newest request.",
    ),
]

TzOption = Annotated[
    str,
    typer.Option("--tz", help="Time zone for days, hours and naive times (IANA name).",
                 show_default=True),
]
