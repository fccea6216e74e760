"""A ``--fail-on`` gate's decision, as data.

The analysis that owns a question judges its gate: the comparison of a figure with the
user's threshold or severity is made there, once, and comes back as a :class:`Verdict`
naming each condition met with the figures that meet it. The command only translates
a failed verdict into exit 1 (``aimon.errors.GateFailed``) with the lines its render
module writes from those figures; it compares nothing itself (tests/test_layers.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The paging scale alerts and incidents share, gravest first: P0 pages at once, P3 is for
# the dashboard. One scale, so that `alerts check --fail-on P1` and `incident detect
# --fail-on P1` mean the same thing.
PRIORITIES = ("P0", "P1", "P2", "P3")


@dataclass(frozen=True)
class Breach:
    """One condition of the gate that the result meets: which (``condition``, as the
    analysis names it: 'srm', a check name, a category) and the ``figures`` behind it."""

    condition: str
    figures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What a gate decided: ``asked`` is the gate as the user gave it (normalised), and
    every breach found; the gate failed when there is any."""

    asked: str
    breaches: tuple[Breach, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.breaches)


def at_or_above(severity: str, level: str, order: Sequence[str]) -> bool:
    """Whether ``severity`` is ``level`` or graver, ``order`` listing the severities from
    the gravest (P0, P1, ...) down."""
    return order.index(severity) <= order.index(level)
