"""Options shared by every command, declared once so they read the same everywhere."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from aimon.render import Format


def finite(value: float | None) -> float | None:
    """Callback for a number option: "nan" and "inf" parse as floats, and every comparison
    with NaN is false, so a NaN threshold would silently flag nothing (or everything)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number (got {value})")
    return value


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


def _set_lock_wait(ctx: Any, param: Any, value: str | None) -> None:
    from aimon.render import err_console
    from aimon.store import lockwait

    lockwait.on_lock_wait = lambda line: err_console.print(line, style="dim", markup=False, highlight=False,
                                                         soft_wrap=True)
    lockwait.set_lock_wait(lockwait.parse_wait(value) if value is not None else None)


def add_wait_option(cmd: Any) -> None:
    """Give ``cmd`` (and every command under it) --wait: how long to wait for a database
    another aimon process holds (a cron report overlapping the cron ingest). Added here
    once rather than declared in each command; the value goes to aimon.store.lockwait."""
    subs = getattr(cmd, "commands", None)
    if subs is not None:
        for sub in subs.values():
            add_wait_option(sub)
        return
    if not any(p.name == "lock_wait" for p in cmd.params):
        cmd.params.append(_wait_param())


def _wait_param() -> Any:
    """The --wait option as typer builds it (typer owns its option classes), taken from a
    throwaway command."""
    holder = typer.Typer()

    @holder.command()
    def _holder(lock_wait: Annotated[str | None, typer.Option(
        "--wait", metavar="DURATION", expose_value=False, callback=_set_lock_wait,
        show_default="30s, or $AIMON_LOCK_TIMEOUT",
        help="How long to wait while another aimon process (an ingest) holds the database, "
             "e.g. 0, 30s, 2m; then exit 2.")] = None) -> None:
        pass

    return typer.main.get_command(holder).params[0]
