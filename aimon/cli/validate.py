"""aimon validate: output validation sweeps over stored responses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import (
    DEFAULT_DB,
    DbOption,
    FormatOption,
    OutputOption,
    SinceOption,
    TzOption,
    UntilOption,
)
from aimon.cli.output import exit_on, show


@app.command("validate")
def validate(
    since: SinceOption = None,
    until: UntilOption = None,
    checks: Annotated[str | None, typer.Option(
        "--checks", help="Comma list of checks: non_empty, too_short, too_long, repetition, unbalanced, "
                         "invalid_json, refusal, truncated, language_mismatch, off_topic.",
        show_default="all")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 1 when a check's failure rate is above a limit: 'repetition>2%,refusal>5%'.")] = None,
    examples: Annotated[int, typer.Option("--examples", min=0, help="Failing examples per check (0: none).")] = 3,
    show_pii: Annotated[bool, typer.Option(
        "--show-pii", help="Show examples unredacted. Off by default: PII in examples is masked.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="AIMON_CONFIG", dir_okay=False,
        help="aimon.toml with a [validate] table: min_words, max_words, per-endpoint limits, JSON answers "
             "and JSON Schema files.", show_default="./aimon.toml when present")] = None,
    no_store: Annotated[bool, typer.Option(
        "--no-store", help="Compute in memory and leave the database as it is (automatic when the file is "
                           "read-only).")] = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Check every response: empty, too short or long for its endpoint,
    stuck in a loop, unbalanced brackets or code fences, not the JSON its
    endpoint must answer (optionally against a JSON Schema), a refusal,
    truncated, in another language than the prompt, or off-topic (when the
    embedding layer is installed; otherwise reported as skipped).

    Results are kept (the view validations has one row per response and
    check) and only new responses, or checks whose version or settings
    changed, are checked again. Shows the failure rate per check by model,
    endpoint and prompt version, with redacted examples.

    Example: [bold]aimon validate --since 7d --fail-on 'repetition>2%,refusal>5%'[/]
    """
    from aimon.analysis import validate as v
    from aimon.analysis.pii.cache import window_for
    from aimon.analysis.validate import report as vr
    from aimon.render.pii import spinner
    from aimon.render.validate import gate_message
    from aimon.store.session import session
    from aimon.store.toml_config import config_path
    from aimon.store.validations import save_run

    names = v.parse_checks(checks)
    gates = vr.parse_gate(fail_on) if fail_on is not None else None
    loaded = v.load_config(config_path(config))

    def look(con):
        window = window_for(con, since, until, tz=tz)
        return window, v.pending(con, window, loaded, names) > 0

    def read(con, run, stored, notes):
        return vr.validation_report(con, run, stored=stored, examples=examples, show_pii=show_pii, notes=notes)

    with session(db, tz) as s:
        kept = s.keep_then_read("results", look=look, compute=lambda con, window: v.validate(con, window, loaded, names),
                                save=save_run, read=read, no_store=no_store, busy=spinner("validating responses"))
    report = kept.shown
    show(report, fmt, output, show_pii=show_pii, tz=tz, stats=kept.computed.stats if kept.fresh else None)
    if gates:
        exit_on(vr.gate(report, gates), gate_message)
