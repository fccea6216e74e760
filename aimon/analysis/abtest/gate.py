"""abtest analyze's --fail-on gate: which conditions an analysis meets, as data."""

from __future__ import annotations

from typing import Any

from aimon.analysis.toolkit.gate import Breach, Verdict
from aimon.errors import UsageError

GATES = ("srm", "regression", "no-winner", "none")


def parse_gates(text: str) -> set[str]:
    """'srm,regression' -> the conditions to judge ('none': none)."""
    names = {g.strip() for g in text.split(",") if g.strip()}
    unknown = names - set(GATES)
    if unknown:
        raise UsageError(f"--fail-on {', '.join(sorted(unknown))}: choose from {', '.join(GATES)}")
    return set() if "none" in names else names


def judge(result: Any, gates: set[str]) -> Verdict:
    """Each condition of ``gates`` that the analysis ``result`` meets: a sample ratio
    mismatch, a variant significantly worse than control (after Holm), no winner."""
    breaches = []
    if "srm" in gates and result.srm.mismatch:
        breaches.append(Breach("srm", {"p_value": result.srm.p_value, "threshold": result.srm.threshold}))
    if "regression" in gates:
        breaches += [Breach("regression", {"variant": c.variant, "control": c.control, "metric": c.metric,
                                           "p_adjusted": c.p_adjusted})
                     for c in result.comparisons if c.direction == "worse"]
    if "no-winner" in gates and (result.verdict.kind != "winner" or result.verdict.winner == result.control):
        breaches.append(Breach("no-winner", {"verdict": result.verdict.kind}))
    return Verdict(",".join(g for g in GATES if g in gates), tuple(breaches))
