"""aimon audit: PII and secrets in the logs, and the compliance report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from aimon.cli.output import ShowPiiOption, exit_on, show

if TYPE_CHECKING:
    import duckdb

    from aimon.analysis.pii.cache import ScanStats
    from aimon.analysis.pii.entities import Field
    from aimon.analysis.security.config import SecurityConfig
    from aimon.analysis.toolkit.window import Window

audit_app = typer.Typer(help="Audit the logs: PII and secrets (pii), prompt injection and other attacks "
                             "(security), compliance (compliance).",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")

FieldsOption = Annotated[str | None, typer.Option(
    "--fields", help="Comma list of what to scan: prompt, response, system_prompt, error_message, "
                     "feedback (inline), extra (every field without a column, nested ones too), the ids and "
                     "names (user_id, session_id, request_id, endpoint, provider, model, model_version, "
                     "prompt_version, error_type, experiment, variant, user_tier, jurisdiction), and the "
                     "request's feedback log rows (feedback_text, feedback_extra, feedback_user_id, "
                     "feedback_category).", show_default="all of them")]
RescanOption = Annotated[bool, typer.Option(
    "--rescan", help="Scan the window again even if it was scanned before (findings are cached).")]


def _scan_and_keep(con: duckdb.DuckDBPyConnection, window: Window, fields: tuple[Field, ...],
                   rescan: bool) -> ScanStats:
    """Scan what the window still needs (analysis) and keep it in the cache (store)."""
    from aimon.analysis.pii.cache import scan_pending
    from aimon.store import pii_cache

    result = scan_pending(con, window, fields, rescan=rescan)
    pii_cache.keep(con, result)
    return result.stats


@contextmanager
def scanned(db: Path, since: str | None, until: str | None, tz: str, fields: tuple[Field, ...],
            rescan: bool = False) -> Iterator[tuple[duckdb.DuckDBPyConnection, Window, ScanStats | None]]:
    """A read-only connection on which the window is scanned: what was not scanned yet is
    scanned under a short write lock only when there is something new, so repeated reports
    stay read-only. On a read-only database the scan runs in memory, with a note."""
    from aimon.analysis.pii.cache import pending, window_for
    from aimon.render import err_console
    from aimon.render.pii import spinner
    from aimon.store.pii_cache import PII_TABLES
    from aimon.store.session import session

    with session(db, tz) as s:
        with s.look() as con:
            window = window_for(con, since, until, tz=tz)
            todo = rescan or pending(con, window, fields)
        stats = None
        if todo:
            with s.keep(shadow=PII_TABLES) as con:
                if s.read_only:
                    err_console.print(f"note: {db} is {s.read_only}: PII findings were computed in memory and "
                                      "not stored.", style="dim", markup=False, highlight=False, soft_wrap=True)
                with spinner("scanning for PII and secrets"):
                    stats = _scan_and_keep(con, window, fields, rescan)
        with s.read() as con:
            yield con, window, stats


@audit_app.command("pii")
def audit_pii(
    since: SinceOption = None,
    until: UntilOption = None,
    fields: FieldsOption = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 1 when any of these is found: 'any', 'pii', 'secret', or a comma list "
                          "of entity types such as email,credit_card,openai_api_key.")] = None,
    show_pii: Annotated[bool, typer.Option(
        "--show-pii", help="Show the raw values in the samples (and unmasked user ids). Off by default: "
                           "reports never print raw PII.")] = False,
    samples: Annotated[int, typer.Option("--samples", min=0,
                                         help="How many redacted context snippets to show (0: none).")] = 10,
    top: Annotated[int, typer.Option("--top", min=1, help="How many users to list.")] = 10,
    rescan: RescanOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Find PII and leaked secrets in prompts and responses: e-mails, phone numbers,
    SSNs, payment cards, IP addresses, IBANs, dates of birth, passport and driver's
    licence numbers, cloud and API keys, private keys and JWTs.

    A vectorised DuckDB pass finds candidates; each one is validated
    (Luhn, mod-97, SSN ranges, numbering plans, ipaddress, context words)
    and look-alikes such as order numbers, versions, UUIDs and timestamps
    are rejected. Findings are stored in pii_findings (positions, never
    values). Samples are redacted unless --show-pii.

    Example: [bold]aimon audit pii --since 7d --fail-on email,credit_card[/]
    """
    from aimon.analysis.pii.entities import parse_entity_types, parse_fields
    from aimon.analysis.pii.report import gate, pii_report
    from aimon.render.pii import gate_message

    chosen = parse_fields(fields)
    gate_types = parse_entity_types(fail_on) if fail_on else None
    with scanned(db, since, until, tz, chosen, rescan) as (con, window, stats):
        report = pii_report(con, window, chosen, top=top, samples=samples, show_pii=show_pii)
    show(report, fmt, output, show_pii=show_pii, tz=tz, stats=stats)
    if gate_types:
        exit_on(gate(report, gate_types), gate_message)


def _as_of(value: str | None, tz: str) -> datetime | None:
    from aimon.analysis.toolkit.window import parse_time

    return parse_time(value, anchor=None, tz=tz, option="--as-of") if value else None


ConfigOption = Annotated[Path | None, typer.Option(
    "--config", envvar="AIMON_CONFIG", dir_okay=False,
    help="aimon.toml with a [compliance] table (retention_days, consent_required).",
    show_default="./aimon.toml when present")]


@audit_app.command("compliance")
def audit_compliance(
    since: SinceOption = None,
    until: UntilOption = None,
    retention_days: Annotated[int | None, typer.Option(
        "--retention-days", min=1, help="Retention policy in days (overrides the config file).",
        show_default="90, or compliance.retention_days")] = None,
    consent_required: Annotated[str | None, typer.Option(
        "--consent-required", help="Comma list of jurisdictions where requests need consent, e.g. EU,UK,BR "
                                   "(overrides the config file; EU and EEA include their member states).",
        show_default="EU,EEA,UK,CH, or compliance.consent_required")] = None,
    config: ConfigOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Count retention from this time instead of now (ISO date or time).")] = None,
    rescan: RescanOption = False,
    show_pii: ShowPiiOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """A compliance report: requests with PII in prompts and responses, content flags,
    models and jurisdictions seen, requests without consent where the jurisdiction
    requires it, rows kept past the retention policy, and the deletions done.

    Counts only: no text, no PII. Which jurisdictions need consent and the
    retention period come from the compliance section of aimon.toml or the
    options.

    Example: [bold]aimon audit compliance --since 30d -f markdown -o c.md[/]
    """
    from dataclasses import replace

    from aimon.analysis import compliance
    from aimon.config import discover

    cfg = compliance.load_config(discover(config))
    if retention_days is not None:
        cfg = replace(cfg, retention_days=retention_days)
    if consent_required is not None:
        cfg = replace(cfg, consent_required=compliance.parse_jurisdictions(consent_required))
    when = _as_of(as_of, tz)
    with scanned(db, since, until, tz, compliance.COMPLIANCE_FIELDS, rescan) as (con, window, _):
        report = compliance.compliance_report(con, window, cfg, as_of=when)

    show(report, fmt, output, show_pii=show_pii, tz=tz)


SecurityConfigOption = Annotated[Path | None, typer.Option(
    "--config", envvar="AIMON_CONFIG", dir_okay=False,
    help="aimon.toml with a [security] table: allowed_hosts, leak_min_words, and [security.abuse] "
         "requests_per_minute, tokens_per_hour, cost_per_day.",
    show_default="./aimon.toml when present")]
NoStoreOption = Annotated[bool, typer.Option(
    "--no-store", help="Compute in memory and leave the database as it is (automatic when the file is "
                       "read-only).")]


def _security_config(config: Path | None, semantic: bool) -> SecurityConfig:
    """[security] of aimon.toml, with --semantic on top; refused (exit 2) when the
    classifier is asked for and the embeddings extra is missing."""
    from aimon.analysis import security
    from aimon.store.toml_config import config_path

    cfg = security.load_config(config_path(config))
    if semantic:
        cfg = cfg.model_copy(update={"semantic": True})
    if cfg.semantic:
        from aimon.analysis.security import semantic as sem

        sem.require()
    return cfg


@audit_app.command("security")
def audit_security(
    since: SinceOption = None,
    until: UntilOption = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 1 when a finding of this severity or above is in the window: high, "
                          "medium, low or any.")] = None,
    show_pii: Annotated[bool, typer.Option(
        "--show-pii", help="Show raw text around each example and real user ids. Off by default: evidence "
                           "is redacted and users are pseudonyms.")] = False,
    examples: Annotated[int, typer.Option("--examples", min=0,
                                          help="Examples per category (0: none).")] = 3,
    top: Annotated[int, typer.Option("--top", min=1, help="How many users to list.")] = 10,
    semantic: Annotated[bool, typer.Option(
        "--semantic", help="Also read each prompt the rules' first pass lets through with a fine-tuned "
                           "classifier (all-MiniLM-L6-v2): finds more paraphrased and indirect "
                           "injections, at tens of prompts a second. Needs the embeddings extra; "
                           "[security] semantic = true makes it the default.")] = False,
    config: SecurityConfigOption = None,
    rescan: RescanOption = False,
    no_store: NoStoreOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Find prompt injection, system-prompt leakage, data exfiltration and abuse.

    Prompts: instruction overrides, jailbreaks (DAN and kin), fake system
    and chat-template tokens, requests for the system prompt, instructions
    hidden in base64 or hex, injections inside quoted documents or tool
    output, in English, Spanish, French, German, Chinese and more, seen
    through homoglyphs, zero-width characters and spaced-out letters.
    Responses: the system prompt copied verbatim or disclosed, images and
    links carrying data to hosts outside [security] allowed_hosts,
    invisible text. Users over the [security.abuse] limits. Findings are
    kept in security_findings; only new texts are scanned.

    Example: [bold]aimon audit security --since 7d --fail-on high[/]
    """
    from aimon.analysis import security
    from aimon.analysis.pii.cache import window_for
    from aimon.analysis.security import report as sr
    from aimon.analysis.security import scan
    from aimon.render.pii import spinner
    from aimon.render.progress import TextsProgress
    from aimon.render.security import gate_message
    from aimon.store.security import save_audit
    from aimon.store.session import session

    gate = sr.parse_gate(fail_on) if fail_on is not None else None
    cfg = _security_config(config, semantic)

    def look(con):
        window = window_for(con, since, until, tz=tz)
        return window, rescan or scan.pending(con, window, scan.settings_digest(cfg)) > 0

    def read(con, result, stored, notes):
        if cfg.semantic:
            notes = (*notes, "prompts read with the fine-tuned classifier too (--semantic): findings of rule "
                             "semantic_classifier are its own")
        return sr.security_report(con, result, stored=stored, top=top, examples=examples, show_pii=show_pii,
                                  notes=notes)

    busy_text = "scanning for injection, leakage and exfiltration"
    # The classifier reads a few dozen prompts a second: it gets a bar with the time left.
    shown = TextsProgress("reading prompts with the classifier", busy=busy_text) if cfg.semantic else None
    with session(db, tz) as s:
        kept = s.keep_then_read("findings", look=look,
                                compute=lambda con, window: security.audit(
                                    con, window, cfg, rescan=rescan, on_texts=shown and shown.on_texts),
                                save=save_audit, read=read, no_store=no_store,
                                busy=shown or spinner(busy_text))
    report = kept.shown
    show(report, fmt, output, show_pii=show_pii, tz=tz, stats=kept.computed.stats if kept.fresh else None)
    if gate is not None:
        exit_on(sr.gate(report, gate), gate_message)
