"""How ``aimon audit security`` reads: the JSON contract (keys in docs/audit-security.md) and
the blocks table and Markdown draw. Evidence arrives redacted and user ids as
pseudonyms unless --show-pii; every log value goes through the blocks, which escape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimon.render import Block, Chart, Figures, FrameBlock, Heading, Note, units
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.security.report import SecurityReport
    from aimon.analysis.security.scan import ScanStats

MINUTE = "%Y-%m-%d %H:%M"


def gate_message(verdict: Any) -> str:
    """The message of a failed --fail-on gate (exit 1): a line per category over it."""
    return (f"security gate failed (--fail-on {verdict.asked}):\n"
            + "\n".join(f"  {b.condition} ({b.figures['family']}): {units.count(b.figures['findings'])} finding(s) "
                        f"at {b.figures['level']} or above in {units.count(b.figures['requests'])} request(s)"
                        for b in verdict.breaches))


def security_data(report: SecurityReport, stats: ScanStats | None) -> dict[str, Any]:
    """The JSON contract of `aimon audit security --format json`."""
    return {
        "window": {"start": report.window.start, "end": report.window.end},
        "detector_version": report.detector_version,
        "requests": report.requests,
        "requests_flagged": report.requests_flagged,
        "injection_requests": report.injection_requests,
        "findings": report.findings,
        "high": report.high,
        "by_category": report.by_category,
        "by_user": report.by_user,
        "by_endpoint": report.by_endpoint,
        "by_day": report.by_day,
        "examples": report.examples,
        "abuse": report.abuse,
        "notes": list(report.notes),
        "pii_shown": report.pii_shown,
        "scan": None if stats is None else {"texts_scanned": stats.texts, "candidates": stats.candidates,
                                            "findings": stats.findings, "seconds": round(stats.seconds, 3)},
    }


def _joined(frame: Any, column: str) -> Any:
    import polars as pl

    return frame.with_columns(pl.col(column).list.join(", ")) if frame.height else frame


def security_blocks(report: SecurityReport, stats: ScanStats | None, tz: str = "UTC") -> list[Block]:
    from aimon.analysis.security.report import CATEGORY_HELP

    w = report.window
    blocks: list[Block] = [
        Heading(report.title),
        Figures([("window", units.span(w.start, w.end, tz, " .. ")),
                 ("requests", report.requests),
                 ("requests flagged", report.requests_flagged),
                 ("injection attempts (requests)", report.injection_requests),
                 ("findings", report.findings),
                 ("high severity", report.high)]),
    ]
    if stats is not None and stats.texts:
        blocks.append(Note(f"Scanned {stats.texts:,} prompts and responses in {stats.seconds:.1f} s "
                           f"({stats.candidates:,} flagged by the SQL pass).", style="dim"))
    for note in report.notes:
        blocks.append(Note(note, style="yellow"))
    if report.findings == 0 and report.abuse.height == 0:
        blocks.append(Note("No injection, leakage, exfiltration or abuse found in this window."))
        return blocks
    import polars as pl

    cats = report.by_category
    if cats.height:
        cats = cats.with_columns(pl.col("category").replace_strict(CATEGORY_HELP, default="").alias("what"))
    blocks += [
        FrameBlock(cats, title="By category", formats={"first_seen": MINUTE, "last_seen": MINUTE}),
        FrameBlock(_joined(report.by_user, "categories"),
                   title="Top users" + ("" if report.pii_shown else " (pseudonyms; --show-pii for ids)"),
                   formats={"last_seen": MINUTE}),
        FrameBlock(report.by_endpoint, title="By endpoint"),
    ]
    if report.by_day.height > 1:
        days = [d.isoformat() for d in report.by_day["day"].to_list()]
        blocks.append(Chart("Flagged requests by day", days,
                            {"injection": report.by_day["injection"].to_list(),
                             "high severity": report.by_day["high"].to_list()}, kind="bar"))
    blocks.append(FrameBlock(report.by_day, title="By day"))
    if report.abuse.height:
        blocks.append(FrameBlock(report.abuse, title="Abuse: users over a limit",
                                 formats={"started": MINUTE, "ended": MINUTE, "ratio": ".2f"}))
    if report.examples.height:
        title = "Examples (raw text: --show-pii)" if report.pii_shown else "Examples (evidence redacted)"
        blocks.append(FrameBlock(report.examples, title=title, formats={"ts": MINUTE}))
    return blocks


register("SecurityReport", Presentation("a security audit", ("audit security",), security_data, security_blocks,
                                        table=lambda report: report.by_category))
