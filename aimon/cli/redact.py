"""aimon redact: a redacted Parquet copy of requests and feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.audit import scanned
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, SinceOption, TzOption, UntilOption
from aimon.cli.output import show


@app.command()
def redact(
    out: Annotated[Path, typer.Option(
        "--out", file_okay=False, help="Directory for requests.parquet, feedback.parquet and manifest.json "
                                       "(created if needed; files there are replaced).")],
    pseudonymize_key_file: Annotated[Path | None, typer.Option(
        "--pseudonymize-key-file", dir_okay=False,
        help="Replace values by a stable keyed hash (HMAC-SHA256) instead of [REDACTED_TYPE] markers, so "
             "joins on the same person still work; also tokenises user_id and session_id. The file holds "
             "the secret key (at least 16 bytes).")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Write a redacted copy of requests and feedback as Parquet, for sharing with
    analytics: every e-mail, phone number, card, SSN, IBAN, IP, key or token found in
    the text columns is replaced by a [REDACTED_EMAIL]-style marker, or by a keyed
    pseudonym such as [EMAIL_3f9a2c1b7d4e8a10] with --pseudonymize-key-file.

    Example: [bold]aimon redact --out share/ --pseudonymize-key-file ~/.aimon-key[/]
    """
    from aimon.analysis.pii import export as lib
    from aimon.render.pii import spinner

    key = lib.read_key(pseudonymize_key_file) if pseudonymize_key_file else None
    with scanned(db, since, until, tz, lib.CACHED_FIELDS) as (con, window, _), spinner("writing the redacted copy"):
        result = lib.redact_export(con, out, window, key=key)
    show(result, fmt, None, show_pii=False, tz=tz)
