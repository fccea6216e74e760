"""How ``aimon validate`` reads: the JSON contract (keys in docs/validate.md) and the
blocks table and Markdown draw. Examples arrive redacted unless --show-pii."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimon.render import Block, Figures, FrameBlock, Heading, Note, units
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.analysis.validate import RunStats
    from aimon.analysis.validate.report import ValidationReport

RATES = {"failure_rate": ".2%", "failure_rate_low": ".2%", "failure_rate_high": ".2%"}


def gate_message(verdict: Any) -> str:
    """The message of a failed --fail-on gate (exit 1): a line per check over its rate."""
    lines = [f"  {b.condition}: {units.pct(b.figures['rate'], 2)} of {units.count(b.figures['checked'])} responses "
             f"failed (gate {'>=' if b.figures['inclusive'] else '>'} {units.pct(b.figures['threshold'], 2)})"
             for b in verdict.breaches]
    return "validation gate failed (--fail-on):\n" + "\n".join(lines)


def validate_data(report: ValidationReport, stats: RunStats | None) -> dict[str, Any]:
    """The JSON contract of `aimon validate --format json`."""
    return {
        "window": {"start": report.window.start, "end": report.window.end},
        "responses": report.responses,
        "checked": report.checked,
        "by_check": report.by_check,
        "by_model": report.by_model,
        "by_endpoint": report.by_endpoint,
        "by_prompt_version": report.by_prompt_version,
        "examples": report.examples,
        "notes": list(report.notes),
        "pii_shown": report.pii_shown,
        "run": None if stats is None else {"responses_checked": stats.responses, "candidates": stats.candidates,
                                           "seconds": round(stats.seconds, 3)},
    }


def _failing(frame: Any) -> Any:
    """Splits where a check failed at least once (JSON keeps every row)."""
    return frame.filter(frame["failed"] > 0) if frame.height else frame


def validate_blocks(report: ValidationReport, stats: RunStats | None, tz: str = "UTC") -> list[Block]:
    w = report.window
    blocks: list[Block] = [
        Heading(report.title),
        Figures([("window", units.span(w.start, w.end, tz, " .. ")),
                 ("responses (status ok)", report.responses),
                 ("responses checked", report.checked)]),
    ]
    if stats is not None and stats.responses:
        blocks.append(Note(f"Checked {stats.responses:,} new responses in {stats.seconds:.1f} s "
                           f"({stats.candidates:,} looked at in Python).", style="dim"))
    for note in report.notes:
        blocks.append(Note(note, style="yellow"))
    blocks.append(FrameBlock(report.by_check, title="Failure rate by check (95% interval)", formats=RATES))
    for title, frame in (("By model", report.by_model), ("By endpoint", report.by_endpoint),
                         ("By prompt version", report.by_prompt_version)):
        failing = _failing(frame)
        if failing.height:
            blocks.append(FrameBlock(failing, title=f"{title} (checks that failed)", formats=RATES))
    if report.examples.height:
        title = "Examples (raw: --show-pii)" if report.pii_shown else "Examples (redacted)"
        blocks.append(FrameBlock(report.examples, title=title, formats={"ts": "%Y-%m-%d %H:%M"}))
    return blocks


register("ValidationReport", Presentation("a validation report", ("validate",), validate_data, validate_blocks,
                                          table=lambda report: report.by_check))
