"""The one presentation path: each result type registers how it is shown, once, and
:func:`show` writes any result in any format it can hold.

A :class:`Presentation` names what ``--format json`` prints (``data``), what table and
Markdown draw (``blocks``), the one table CSV holds (``table``; none: the result has no
CSV form) and any other format drawn from the JSON data (``writers``: the report's HTML
page, the alert rules' TOML). Which formats a result can be written in follows from
that, and a format it cannot hold is refused here with one message for every command.

The render topic modules register their result types when imported (:data:`TOPICS`),
each only when a result of its own is shown; results are keyed by class name, so render
never imports an analysis module to show its result. ``show`` takes the command's context by keyword (``tz``, ``notes``, the
scan ``stats`` ...) and hands each function the keywords it names.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from aimon.errors import UsageError


class Format(StrEnum):
    """Output formats; one switch for every command. A command offers the formats its
    result can be written in (:attr:`Presentation.formats`): these four, or one of the
    wider switches below; tests/test_presentation.py checks that they agree."""

    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    """``aimon report``: the four (CSV holds the headline figures), and a standalone HTML page."""

    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"
    html = "html"


class RulesFormat(StrEnum):
    """``aimon alerts rules``: the four, and an alerts.toml to start editing from."""

    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"
    toml = "toml"


# Render modules that register presentations, and the result types each registers: showing
# a result imports its own topic module only (start-up: aimon.render.alerts alone imports
# polars, 0.11 CPU-s for a command that has not; rich's progress bars come with pii).
# tests/test_presentation.py checks this index against what each module registers.
TOPICS: dict[str, tuple[str, ...]] = {
    "abtest": ("ExperimentList", "AbTestResult"),
    "alerts": ("CheckResult", "ScanResult", "RuleList"),
    "cost": ("PricesResult", "Breakdown", "Reconciliation", "Forecast", "Anomalies", "BudgetCheck", "Routing"),
    "db": ("DbInfo", "QueryResult"),
    "drift": ("DriftResult",),
    "incident": ("DetectResult", "Postmortem"),
    "ingest": ("IngestSummary",),
    "pii": ("PiiReport", "ComplianceReport", "RedactResult", "DeletionResult"),
    "report": ("Report",),
    "security": ("SecurityReport",),
    "similarity": ("GoldenReport", "Consistency", "CacheOpportunity"),
    "validate": ("ValidationReport",),
}
TOPIC_OF = {name: topic for topic, names in TOPICS.items() for name in names}

# Table, Markdown and JSON hold every result; the rest depend on the result.
ALWAYS = ("table", "markdown", "json")


@dataclass(frozen=True)
class Presentation:
    """How one result type reads in every format."""

    kind: str  # the result as a user names it, in a refusal: "a post-mortem"
    commands: tuple[str, ...]  # the commands that show it: ("incident postmortem",)
    data: Callable[..., Any]
    blocks: Callable[..., list]
    table: Callable[..., Any] | None = None
    writers: Mapping[str, Callable[[Any], str]] = field(default_factory=dict)

    @property
    def formats(self) -> tuple[str, ...]:
        """The formats this result can be written in."""
        return ALWAYS + (("csv",) if self.table is not None else ()) + tuple(self.writers)


PRESENTATIONS: dict[str, Presentation] = {}


def register(type_name: str, presentation: Presentation) -> Presentation:
    """Register the presentation of the result class named ``type_name`` (once)."""
    if type_name in PRESENTATIONS:
        raise ValueError(f"{type_name} is registered twice")
    PRESENTATIONS[type_name] = presentation
    return presentation


def load() -> dict[str, Presentation]:
    """Every registered presentation (importing the topic modules once)."""
    for topic in TOPICS:
        importlib.import_module(f"aimon.render.{topic}")
    return PRESENTATIONS


def presentation_of(result: Any) -> Presentation:
    """The presentation registered for ``result``'s type."""
    name = type(result).__name__
    if name in TOPIC_OF:
        importlib.import_module(f"aimon.render.{TOPIC_OF[name]}")
    else:
        load()
    if name not in PRESENTATIONS:
        raise TypeError(f"no presentation registered for {name}: register one in aimon/render/")
    return PRESENTATIONS[name]


def presentation_for(command: str) -> Presentation:
    """The presentation of what ``command`` (e.g. "cost prices") shows."""
    for p in load().values():
        if command in p.commands:
            return p
    raise KeyError(command)


def check_format(command: str, fmt: Enum | str) -> None:
    """Refuse a format ``command``'s result cannot hold before the command does its work."""
    p = presentation_for(command)
    fmt = (fmt.value if isinstance(fmt, Enum) else str(fmt)).lower()
    if fmt not in p.formats:
        raise refuse(p, fmt)


def refuse(p: Presentation, fmt: str) -> UsageError:
    """The one refusal of a format a result cannot hold."""
    choices = list(p.formats)
    listed = ", ".join(choices[:-1]) + " or " + choices[-1]
    return UsageError(f"{p.kind} cannot be written as {fmt}; use --format {listed}")


@cache
def _names(fn: Callable) -> frozenset[str]:
    return frozenset(inspect.signature(fn).parameters)


def _call(fn: Callable, result: Any, context: Mapping[str, Any]) -> Any:
    names = _names(fn)
    return fn(result, **{k: v for k, v in context.items() if k in names})


def show(result: Any, fmt: Enum | str, output: Path | None, tz: str = "UTC", *,
         mask: Callable | None = None, **context: Any) -> None:
    """Write ``result`` in format ``fmt`` (to ``output``, or stdout), times in ``tz``.

    ``mask`` is the PII masker (None: values as they are); ``context`` holds what the
    command knows beside the result, each function taking the keywords it names.
    """
    from aimon.render import emit, write
    from aimon.render.masking import mask as masked

    p = presentation_of(result)
    fmt = (fmt.value if isinstance(fmt, Enum) else str(fmt)).lower()
    if fmt not in p.formats:
        raise refuse(p, fmt)
    context = {"tz": tz, **context}
    used = set().union(*(_names(f) for f in (p.data, p.blocks, p.table) if f is not None))
    unknown = set(context) - used - {"tz"}
    if unknown:
        raise TypeError(f"{type(result).__name__}'s presentation takes no {', '.join(sorted(unknown))}")
    if fmt == "json" or fmt in p.writers:
        (data,) = masked(mask, _call(p.data, result, context))
        if fmt in p.writers:
            write(p.writers[fmt](data), output)
        else:
            emit("json", output, data=data)
        return
    if fmt == "csv":
        (table,) = masked(mask, _call(p.table, result, context))
        emit("csv", output, data=None, csv_frame=table)
        return
    (blocks,) = masked(mask, _call(p.blocks, result, context))
    emit(fmt, output, data=None, blocks=blocks)


def first_table(blocks: list) -> Any:
    """The first table of ``blocks``: CSV for a result whose blocks hold its one table."""
    from aimon.render import FrameBlock

    return next(b.frame for b in blocks if isinstance(b, FrameBlock))
