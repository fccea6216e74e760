"""aimon forget / aimon purge: delete personal data for good."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, TzOption
from aimon.cli.output import show

DryRunOption = Annotated[bool, typer.Option(
    "--dry-run", help="Count what would be deleted, per table, and change nothing.")]


def _finish(result, compaction, fmt) -> None:
    show(result, fmt, None, show_pii=False, compaction=compaction)


@app.command()
def forget(
    user: Annotated[list[str], typer.Option(
        "--user", help="The user id to forget (repeat --user for several).", show_default=False)],
    dry_run: DryRunOption = False,
    fmt: FormatOption = "table",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Remove every row of a user from every table: requests, feedback, PII findings,
    rejected records that mention the user or their requests, and any derived or
    cache table keyed by user_id or request_id.

    Records an entry in audit_log (when, how many rows per table; never
    the data or the id) and rewrites the database file so the deleted
    values are gone from disk, not only hidden. Re-ingesting the original
    logs would load them again.

    Example: [bold]aimon forget --user usr_6d814dc2 --dry-run[/]
    """
    from aimon.render.pii import spinner
    from aimon.store.forget import run_forget

    result, compaction = run_forget(db, user, dry_run=dry_run, rewriting=spinner("rewriting the database file"))
    _finish(result, compaction, fmt)


@app.command()
def purge(
    older_than: Annotated[str, typer.Option(
        "--older-than", help="Delete what is older than this: a span such as 90d or 12w counted back from "
                             "now (or --as-of), or an ISO date.", show_default=False)],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Count the span back from this time instead of now (ISO date or time).")] = None,
    dry_run: DryRunOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Enforce a retention policy: delete requests older than the cutoff with every
    row tied to them (feedback, PII findings, caches), feedback older than the cutoff,
    and rejected records ingested before it.

    Retention counts back from the clock, not from the newest request.
    Records an entry in audit_log and rewrites the database file like
    aimon forget.

    Example: [bold]aimon purge --older-than 90d --dry-run[/]
    """
    from aimon.analysis.toolkit.window import cutoff, parse_span, parse_time
    from aimon.render.pii import spinner
    from aimon.store.forget import run_purge

    anchor = parse_time(as_of, anchor=None, tz=tz, option="--as-of") if as_of else datetime.now(UTC)
    when = cutoff(older_than, anchor, tz=tz, option="--older-than")
    span = parse_span(older_than)
    label = f"--older-than {older_than}" if span is not None else None
    result, compaction = run_purge(db, when, dry_run=dry_run, label=label,
                                   rewriting=spinner("rewriting the database file"))
    _finish(result, compaction, fmt)
