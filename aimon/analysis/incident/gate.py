"""incident detect's --fail-on gate: the incidents at or above a severity, as data."""

from __future__ import annotations

from typing import Any

from aimon.analysis.toolkit.gate import PRIORITIES as SEVERITIES
from aimon.analysis.toolkit.gate import Breach, Verdict, at_or_above
from aimon.errors import UsageError


def parse_gate(text: str) -> str:
    """'p1' -> 'P1': the least grave severity that fails the gate."""
    value = text.strip().upper()
    if value not in SEVERITIES:
        raise UsageError(f"--fail-on {text!r}: choose a severity, one of {', '.join(SEVERITIES)}")
    return value


def judge(result: Any, level: str) -> Verdict:
    """A breach per incident of ``result`` (a DetectResult) at ``level`` or graver."""
    return Verdict(level, tuple(
        Breach(i.severity, {"id": i.id, "start": i.start, "end": i.end, "error_rate": i.error_rate})
        for i in result.incidents if at_or_above(i.severity, level, SEVERITIES)))
