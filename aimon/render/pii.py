"""How the PII audit, the compliance report, redacted exports and deletions read.

Each ``*_data`` function is the JSON contract of its command (keys documented in
docs/pii.md); each ``*_blocks`` function what table and Markdown draw. Results arrive
without raw values (samples are redacted upstream unless --show-pii).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from aimon.render import Block, Chart, Figures, FrameBlock, Heading, Note, err_console, units
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.compliance import ComplianceReport
    from aimon.analysis.pii.cache import ScanStats
    from aimon.analysis.pii.export import RedactResult
    from aimon.analysis.pii.report import PiiReport
    from aimon.store.forget import Compaction, DeletionResult


@contextmanager
def spinner(text: str) -> Iterator[None]:
    """A spinner with elapsed time on a terminal; nothing in CI and pipes."""
    progress = Progress(SpinnerColumn(), TextColumn(text, markup=False), TimeElapsedColumn(), console=err_console,
                        transient=True, disable=not err_console.is_terminal)
    with progress:
        progress.add_task(text, total=None)
        yield


def gate_message(verdict: Any) -> str:
    """The message of a failed --fail-on gate (exit 1): a line per entity type found."""
    def where(f: Any) -> str:
        return "feedback without a request" if f["requests"] is None else f"{units.count(f['requests'])} request(s)"

    return "PII gate failed (--fail-on):\n" + "\n".join(
        f"  {b.condition}: {units.count(b.figures['findings'])} finding(s) in {where(b.figures)}"
        for b in verdict.breaches)


def _window(w: Any) -> dict[str, Any]:
    return {"start": w.start, "end": w.end}


def _scan(stats: ScanStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {"fields_scanned": stats.texts, "candidates": stats.candidates, "findings": stats.findings,
            "rejected": stats.rejected, "seconds": round(stats.seconds, 3)}


# --------------------------------------------------------------------------- audit pii

def pii_data(report: PiiReport, stats: ScanStats | None) -> dict[str, Any]:
    """The JSON contract of `aimon audit pii --format json`."""
    return {
        "window": _window(report.window),
        "fields": list(report.fields),
        "detector_version": report.detector_version,
        "requests": report.requests,
        "requests_with_pii": report.requests_with_pii,
        "share_with_pii": report.share_with_pii,
        "findings": report.findings,
        "rejected_candidates": report.rejected_candidates,
        "by_entity": report.by_entity,
        "by_field": report.by_field,
        "by_model": report.by_model,
        "by_endpoint": report.by_endpoint,
        "top_users": report.top_users,
        "by_day": report.by_day,
        "low_confidence": report.low_confidence,
        "rejected": report.rejected,
        "samples": report.samples,
        "feedback_without_request": report.feedback_without_request,
        "pii_shown": report.pii_shown,
        "scan": _scan(stats),
    }


MINUTE = "%Y-%m-%d %H:%M"


def _breakdown(frame: Any, dim: str) -> Any:
    """The tidy entity x field x ``dim`` counts as one row per ``dim`` value, for tables:
    total findings and 'phone 63, email 49, email (response) 4'. JSON keeps the tidy frame."""
    import polars as pl

    if not frame.height:
        return frame
    label = pl.when(pl.col("field") == "prompt").then(pl.col("entity_type")).otherwise(
        pl.col("entity_type") + " (" + pl.col("field") + ")")
    return (frame.with_columns(label.alias("label"))
            .sort([dim, "findings", "label"], descending=[False, True, False])
            .group_by(dim, maintain_order=True)
            .agg(pl.col("findings").sum().alias("findings"),
                 (pl.col("label") + " " + pl.col("findings").cast(pl.String)).str.join(", ").alias("by entity type"))
            .sort(["findings", dim], descending=[True, False]))


def _joined(frame: Any, column: str) -> Any:
    """A list column shown as 'a, b, c' in tables (JSON keeps the list)."""
    import polars as pl

    return frame.with_columns(pl.col(column).list.join(", ")) if frame.height else frame


def pii_blocks(report: PiiReport, stats: ScanStats | None, tz: str = "UTC") -> list[Block]:
    w = report.window
    blocks: list[Block] = [
        Heading(report.title),
        Figures([("window", units.span(w.start, w.end, tz, " .. ")),
                 ("fields", ", ".join(report.fields)),
                 ("requests", report.requests),
                 ("requests with PII or secrets", report.requests_with_pii),
                 ("share of requests", units.pct(report.share_with_pii, 2)),
                 ("findings (validated)", report.findings),
                 ("look-alikes rejected", report.rejected_candidates)]),
    ]
    if stats is not None and stats.texts:
        blocks.append(Note(f"Scanned {stats.texts:,} request fields in {stats.seconds:.1f} s: {stats.candidates:,} "
                           f"candidates, {stats.findings:,} validated.", style="dim"))
    if report.findings == 0:
        blocks.append(Note("No PII or secrets found in this window."))
    else:
        blocks += [
            FrameBlock(report.by_entity, title="By entity type",
                       formats={"first_seen": MINUTE, "last_seen": MINUTE}),
            FrameBlock(report.by_field, title="By entity type and field"),
            FrameBlock(_breakdown(report.by_model, "model"), title="By model (findings)"),
            FrameBlock(_breakdown(report.by_endpoint, "endpoint"), title="By endpoint (findings)"),
            FrameBlock(_joined(report.top_users, "entity_types"), title="Top users sending PII",
                       formats={"last_seen": MINUTE}),
        ]
        if report.by_day.height > 1:
            days = [d.isoformat() for d in report.by_day["day"].to_list()]
            blocks.append(Chart("Requests with PII by day", days,
                                {"requests with PII": report.by_day["requests_with_pii"].to_list(),
                                 "share of requests": report.by_day["share_with_pii"].to_list()}, kind="bar"))
        blocks.append(FrameBlock(report.by_day, title="Trend by day", formats={"share_with_pii": ".2%"}))
        if report.samples.height:
            title = "Samples (raw values: --show-pii)" if report.pii_shown else "Samples (redacted)"
            blocks.append(FrameBlock(report.samples.select("entity_type", "field", "request_id", "snippet"),
                                     title=title))
    orphans = report.feedback_without_request
    if orphans is not None and orphans.height:
        blocks.append(FrameBlock(orphans, title="Feedback without a request (findings)"))
    if report.rejected.height:
        blocks.append(FrameBlock(report.rejected, title="Look-alikes rejected by validation"))
    return blocks


# --------------------------------------------------------------------------- compliance

def compliance_data(report: ComplianceReport) -> dict[str, Any]:
    """The JSON contract of `aimon audit compliance --format json`."""
    return {
        "window": _window(report.window),
        "as_of": report.as_of,
        "config": {"source": report.config.source, "retention_days": report.config.retention_days,
                   "consent_required": list(report.config.consent_required)},
        "total_requests": report.total_requests,
        "requests_with_pii": report.requests_with_pii,
        "requests_with_pii_in_prompt": report.requests_with_pii_in_prompt,
        "requests_with_pii_in_response": report.requests_with_pii_in_response,
        "requests_with_pii_in_system_prompt": report.requests_with_pii_in_system_prompt,
        "share_with_pii": report.share_with_pii,
        "requests_with_secrets": report.requests_with_secrets,
        "pii_by_entity": report.pii_by_entity,
        "content_flags": report.content_flags,
        "content_flags_by_category": report.content_flags_by_category,
        "models": report.models,
        "jurisdictions": report.jurisdictions,
        "requests_without_consent": report.requests_without_consent,
        "requests_consent_unknown": report.requests_consent_unknown,
        "retention": {"days": report.config.retention_days, "cutoff": report.retention_cutoff,
                      "rows_past_retention": report.rows_past_retention, "oldest_request": report.oldest_request},
        "deletions": report.deletions,
        "rows_deleted": report.rows_deleted,
    }


def compliance_blocks(report: ComplianceReport, tz: str = "UTC") -> list[Block]:
    w = report.window
    past = report.rows_past_retention
    blocks: list[Block] = [
        Heading(report.title),
        Figures([("window", units.span(w.start, w.end, tz, " .. ")),
                 ("total requests", report.total_requests),
                 ("requests with PII", f"{report.requests_with_pii:,} ({units.pct(report.share_with_pii, 2)})"),
                 ("requests with PII in prompt", report.requests_with_pii_in_prompt),
                 ("requests with PII in response", report.requests_with_pii_in_response),
                 ("requests with PII in system prompt", report.requests_with_pii_in_system_prompt),
                 ("requests with secrets", report.requests_with_secrets),
                 ("content flags", report.content_flags),
                 ("consent required in", ", ".join(report.consent_required_jurisdictions) or "(none)"),
                 ("requests without consent there", report.requests_without_consent),
                 ("consent not logged there", report.requests_consent_unknown)],
                title="Summary"),
        Figures([("retention", f"{report.config.retention_days} days (as of {units.when(report.as_of, tz)} {tz})"),
                 ("cutoff", f"{units.when(report.retention_cutoff, tz)} {tz}"),
                 ("requests past retention", past["requests"]),
                 ("feedback past retention", past["feedback"]),
                 ("rejects past retention", past["rejects"]),
                 ("oldest request", f"{units.when(report.oldest_request, tz)} {tz}" if report.oldest_request else "(none)"),
                 ("config", report.config.source or "(defaults)")],
                title="Retention (whole database)"),
    ]
    if report.pii_by_entity.height:
        blocks.append(FrameBlock(report.pii_by_entity, title="Requests with each entity type"))
    blocks.append(FrameBlock(report.models, title="Models", formats={"first_seen": MINUTE, "last_seen": MINUTE}))
    blocks.append(FrameBlock(report.jurisdictions, title="Jurisdictions and consent"))
    unknown = report.jurisdictions.filter(report.jurisdictions["jurisdiction"] == "(unknown)")
    if unknown.height and unknown["requests"][0]:
        blocks.append(Note(f"{unknown['requests'][0]:,} request(s) log no jurisdiction: whether they need consent "
                           "cannot be told.", style="dim"))
    if report.content_flags_by_category.height:
        blocks.append(FrameBlock(report.content_flags_by_category, title="Content flags"))
    if report.deletions:
        rows = [{"logged_at": d["logged_at"], "action": d["action"], "criteria": d["criteria"],
                 "rows_deleted": d["rows_deleted"]} for d in report.deletions]
        blocks.append(FrameBlock(rows, title="Deletions (forget and purge)", formats={"logged_at": MINUTE}))
    else:
        blocks.append(Note("No deletions recorded (aimon forget / aimon purge)."))
    return blocks


# --------------------------------------------------------------------------- redact, forget, purge

def redact_data(result: RedactResult) -> dict[str, Any]:
    """The JSON contract of `aimon redact --format json`."""
    return {"out_dir": result.out_dir, "mode": result.mode, "key_id": result.key_id,
            "window": _window(result.window),
            "files": [{"table": f.table, "path": f.path, "rows": f.rows, "values_replaced": f.values_replaced}
                      for f in result.files],
            "by_entity": result.by_entity, "scheme": result.scheme}


def redact_blocks(result: RedactResult) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"Redacted copy in {result.out_dir}"),
        Figures([("mode", result.mode), ("key id", result.key_id or "(no key: type markers)")]),
        FrameBlock([{"table": f.table, "file": f.path, "rows": f.rows, "values_replaced": f.values_replaced}
                    for f in result.files], title="Files"),
    ]
    if result.by_entity:
        blocks.append(FrameBlock([{"entity_type": k, "values_replaced": v} for k, v in result.by_entity.items()],
                                 title="Replaced values by entity type"))
    return blocks


def deletion_data(result: DeletionResult, compaction: Compaction | None) -> dict[str, Any]:
    """The JSON contract of `aimon forget` and `aimon purge` with --format json."""
    return {"action": result.action, "criteria": result.criteria, "dry_run": result.dry_run,
            "rows_deleted": result.rows_deleted,
            "tables": [{"table": t.table, "rows": t.rows, "matched_by": t.rule} for t in result.tables],
            "not_searched": list(result.not_searched), "logged_at": result.logged_at,
            "file": None if compaction is None else {"bytes_before": compaction.bytes_before,
                                                     "bytes_after": compaction.bytes_after, "rewritten": True}}


def deletion_blocks(result: DeletionResult, compaction: Compaction | None) -> list[Block]:
    verb = "would delete" if result.dry_run else "deleted"
    blocks: list[Block] = [
        Heading(f"{result.action}: {verb} {result.rows_deleted:,} row(s)"),
        Figures([("criteria", result.criteria)]),
        FrameBlock([{"table": t.table, "rows": t.rows, "matched_by": t.rule} for t in result.tables],
                   title="Rows per table"),
    ]
    if result.not_searched:
        blocks.append(Note("Not searched (no user_id, request_id or registered link): "
                           + ", ".join(result.not_searched), style="dim"))
    if result.dry_run:
        blocks.append(Note("Dry run: nothing was deleted."))
    elif compaction is not None:
        blocks.append(Note(f"Recorded in audit_log. Database file rewritten so the deleted values are gone "
                           f"from disk ({compaction.bytes_before / 1e6:,.1f} MB -> {compaction.bytes_after / 1e6:,.1f} MB)."))
    else:
        blocks.append(Note("Recorded in audit_log."))
    return blocks


register("PiiReport", Presentation("a PII audit", ("audit pii",), pii_data, pii_blocks,
                                   table=lambda report: report.by_entity))
register("ComplianceReport", Presentation("a compliance audit", ("audit compliance",), compliance_data,
                                          compliance_blocks, table=lambda report: report.jurisdictions))
register("RedactResult", Presentation(
    "a redacted export", ("redact",), redact_data, redact_blocks,
    table=lambda result: [{"table": f.table, "path": f.path, "rows": f.rows, "values_replaced": f.values_replaced}
                          for f in result.files]))
register("DeletionResult", Presentation(
    "a deletion", ("forget", "purge"), deletion_data, deletion_blocks,
    table=lambda result: [{"table": t.table, "rows": t.rows, "matched_by": t.rule} for t in result.tables]))
