"""Turning results into text: rich tables, Markdown, JSON and CSV, in one place.

Commands hand a result to :func:`emit`; nothing here queries the database. A result
is shown as a list of *blocks* (headings, key figures, tables of polars frames,
notes) that every format knows how to draw, while JSON comes from the result's own
data so scripts get every figure with stable keys.

stdout carries only data; progress, warnings and errors go to :data:`err_console`.

Every value from a log is data in every format, and each format escapes it here, in one
place, whatever the command: :func:`visible` shows control characters (ANSI escapes,
NUL, ``\\r``, C1 and bidi controls) as ``\\x1b``-style text in the terminal, Markdown and
CSV; :func:`md_text` also escapes raw HTML and ``|`` for Markdown; terminal text is
handed to rich as :class:`~rich.text.Text`, never as markup; :func:`csv_cell` defuses
spreadsheet formulas. JSON keeps the exact value (JSON escaping). See docs/security.md.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from aimon.errors import UsageError
from aimon.files import is_database_file
from aimon.render import units
from aimon.render.layout import fit
from aimon.render.present import Format, ReportFormat, RulesFormat  # noqa: F401 - the format switches

FORMATS = ("table", "markdown", "json", "csv")


err_console = Console(stderr=True, highlight=False)


# --------------------------------------------------------------------------- blocks

@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Figures:
    """Key figures shown as 'label: value' pairs (a small two-column table)."""

    items: Sequence[tuple[str, Any]]
    title: str | None = None


@dataclass(frozen=True)
class FrameBlock:
    """A table: a polars DataFrame (or a list of dicts) with an optional title."""

    frame: Any
    title: str | None = None
    # Column name -> format spec (",.0f", ".1%", a unit such as "usd") used for table and Markdown.
    formats: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """Prose, and an optional list under it (one item a line: Markdown list items), so a
    value holding a newline stays inside its item instead of starting a line of its own."""

    text: str = ""
    style: str = ""
    items: Sequence[str] = ()
    marker: str = "-"  # "- [ ]" for a checklist


@dataclass(frozen=True)
class Chart:
    """Series over a shared x axis: sparklines in the terminal, a Mermaid xychart in
    Markdown (GitHub draws it). One chart per series in Markdown, since series of
    different units (requests, milliseconds, dollars) do not share a y axis."""

    title: str
    x: Sequence[Any]
    series: Mapping[str, Sequence[float | None]]
    kind: str = "line"  # or "bar"
    # Series of one unit (P50/P95/P99 in ms) share one Markdown chart, in the order given.
    shared_axis: bool = False


Block = Heading | Figures | FrameBlock | Note | Chart

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """A one-line picture of a series; gaps (None) are spaces."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return ""
    low, high = min(present), max(present)
    span = high - low
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(" ")
        else:
            out.append(SPARK[0 if span == 0 else min(len(SPARK) - 1, int((v - low) / span * (len(SPARK) - 1) + 0.5))])
    return "".join(out)


def _mermaid_label(value: Any) -> str:
    text = format_value(value) if not isinstance(value, str) else value
    return '"' + _mermaid_safe(text) + '"'


def _mermaid_safe(text: str) -> str:
    # Inside a code fence and a quoted label: no quote, backtick, newline or markup.
    # Brackets stay as they are: a code fence renders no links.
    return _md_plain(text, " ").replace('"', "'").replace("`", "'")


def chart_mermaid(chart: Chart) -> str:
    """Mermaid xychart-beta blocks, one per series."""
    parts = []
    xs = ", ".join(_mermaid_label(x) for x in chart.x)
    if chart.shared_axis:
        lines = "".join(
            f"    {'bar' if chart.kind == 'bar' else 'line'} ["
            + ", ".join(f"{0 if v is None or (isinstance(v, float) and math.isnan(v)) else v:.6g}" for v in values)
            + "]\n" for values in chart.series.values())
        return ("```mermaid\nxychart-beta\n"
                f'    title "{_mermaid_safe(chart.title + ": " + ", ".join(chart.series))}"\n'
                f"    x-axis [{xs}]\n{lines}```\n")
    for name, values in chart.series.items():
        clean = [0 if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]
        ys = ", ".join(f"{v:.6g}" for v in clean)
        parts.append("```mermaid\nxychart-beta\n"
                     f'    title "{_mermaid_safe(chart.title + ": " + name)}"\n'
                     f"    x-axis [{xs}]\n"
                     f"    {'bar' if chart.kind == 'bar' else 'line'} [{ys}]\n```\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------- escaping

# C0 controls but tab and newline, DEL, C1 controls, and the bidi/line-separator controls
# that can reorder or hide text on a terminal ("Trojan Source").
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _control_text(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """Control characters as visible text (ESC as ``\\x1b``, NUL as ``\\x00``, ``\\r`` as
    ``\\x0d``): nothing from a log can move the cursor, recolour or hide output."""
    return _CONTROL_RE.sub(_control_text, text)


def console_text(value: Any, style: str = "") -> Text:
    """A value for rich, never parsed as markup (``[/]`` or ``[bold]`` stay as typed)."""
    return Text(visible(value if isinstance(value, str) else format_value(value)), style=style)


# Markdown punctuation a backslash escapes: a backslash before one is doubled, so a value
# ending in "\\" cannot undo the escape of the "|" after it.
_MD_BACKSLASH_RE = re.compile(r"\\(?=[!-/:-@\[-`{-~])")


def md_text(text: str, newline: str = "<br>") -> str:
    """Text for Markdown: raw HTML (``<``, ``>``, ``&``), ``|`` and link brackets escaped, control
    characters visible, newlines as ``<br>`` so a value cannot start a line of its own."""
    # A logged "[x](https://host/?q=secret)" or "![](...)" would be a live link or an image
    # that a Markdown viewer fetches: escaped brackets keep it text.
    return _md_plain(text, newline).replace("[", "\\[").replace("]", "\\]")


def _md_plain(text: str, newline: str) -> str:
    text = _MD_BACKSLASH_RE.sub(r"\\\\", visible(text))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return text.replace("\n", newline)


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV
# injection"); a plain number such as "-3.5" is left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER_RE = re.compile(r"[+-]?(?:\d[\d,]*)?\.?\d+(?:[eE][+-]?\d+)?%?")


def csv_cell(text: str) -> str:
    """A text cell for CSV: a leading ``'`` defuses a formula; control characters visible."""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER_RE.fullmatch(text):
        text = "'" + text
    return visible(text)


# --------------------------------------------------------------------------- values

def format_value(value: Any, spec: str | None = None) -> str:
    """A cell as text: numbers with thousands separators, times in ISO form, and the one
    missing-value text (:data:`units.MISSING`) for null or NaN. CSV leaves such a cell
    empty and JSON writes null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return units.MISSING
    if spec:
        return units.spec(value, spec)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return units.plain(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _rows(frame: Any) -> tuple[list[str], list[list[Any]]]:
    if hasattr(frame, "columns") and hasattr(frame, "iter_rows"):
        return list(frame.columns), [list(r) for r in frame.iter_rows()]
    records = list(frame)
    columns: list[str] = []
    for rec in records:
        for key in rec:
            if key not in columns:
                columns.append(key)
    return columns, [[rec.get(c) for c in columns] for rec in records]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(type(value), "model_fields") and not isinstance(value, type):  # a pydantic model
        return {name: _jsonable(getattr(value, name)) for name in type(value).model_fields}
    if hasattr(value, "to_dicts") and hasattr(value, "columns"):
        return [_jsonable(r) for r in value.to_dicts()]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def to_json(value: Any) -> str:
    """Stable, pretty JSON for scripts: NaN becomes null, times ISO 8601."""
    return json.dumps(_jsonable(value), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- formats

def frame_table(frame: Any, title: str | None = None, formats: Mapping[str, str] | None = None) -> Table:
    """A rich Table for a frame; numbers right-aligned."""
    columns, rows = _rows(frame)
    formats = formats or {}
    table = Table(title=console_text(title) if title else None, title_justify="left", header_style="bold")
    numeric = {c for i, c in enumerate(columns)
               if any(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)}
    cells = [[format_value(v, formats.get(c)) for c, v in zip(columns, r, strict=True)] for r in rows]
    for i, c in enumerate(columns):
        if c in numeric:
            # A number broken over lines misreads: text columns (and headings) give way.
            width = max([1, *(len(row[i]) for row in cells)])
            table.add_column(console_text(c), justify="right", min_width=width)
        else:
            table.add_column(console_text(c), justify="left", overflow="fold")
    for row in cells:
        table.add_row(*(console_text(v) for v in row))
    return table


def _md_cell(text: str) -> str:
    return md_text(text)


def frame_markdown(frame: Any, formats: Mapping[str, str] | None = None) -> str:
    """A GitHub-flavoured Markdown table."""
    columns, rows = _rows(frame)
    formats = formats or {}
    if not columns:
        return "_(no rows)_\n"
    numeric = [any(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
               for i in range(len(columns))]
    lines = ["| " + " | ".join(_md_cell(c) for c in columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_md_cell(format_value(v, formats.get(c)))
                                       for c, v in zip(columns, r, strict=True)) + " |")
    if not rows:
        lines.append("| " + " | ".join("" for _ in columns) + " |")
    return "\n".join(lines) + "\n"


def frame_csv(frame: Any) -> str:
    """CSV with a header row; values unformatted so scripts can parse them."""
    columns, rows = _rows(frame)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in columns])
    for r in rows:
        writer.writerow(["" if v is None else (_jsonable(v) if not isinstance(v, str) else csv_cell(v)) for v in r])
    return buf.getvalue()


def blocks_markdown(blocks: Iterable[Block]) -> str:
    parts: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append("#" * b.level + " " + md_text(b.text) + "\n")
        elif isinstance(b, Figures):
            if b.title:
                parts.append(f"**{md_text(b.title)}**\n")
            parts.append("\n".join(f"- **{md_text(label)}**: {md_text(format_value(v))}" for label, v in b.items)
                         + "\n")
        elif isinstance(b, FrameBlock):
            if b.title:
                parts.append(f"**{md_text(b.title)}**\n")
            parts.append(frame_markdown(b.frame, b.formats))
        elif isinstance(b, Note):
            parts.append(_note_markdown(b) + "\n")
        elif isinstance(b, Chart):
            parts.append(chart_mermaid(b))
        else:  # pragma: no cover - a new block type must be drawn here
            raise TypeError(f"cannot draw {type(b).__name__} as Markdown")
    return "\n".join(parts)


def _note_markdown(note: Note) -> str:
    if note.items:
        head = md_text(note.text) + "\n" if note.text else ""
        return head + "\n".join(f"{note.marker} {md_text(item)}" for item in note.items)
    return md_text(note.text)


def blocks_console(blocks: Iterable[Block], console: Console) -> None:
    for b in blocks:
        if isinstance(b, Heading):
            console.print(console_text(b.text, style="bold underline" if b.level == 1 else "bold"))
        elif isinstance(b, Figures):
            table = Table(title=console_text(b.title) if b.title else None, title_justify="left",
                          show_header=False, box=None, padding=(0, 2, 0, 0))
            table.add_column(style="bold")
            table.add_column()
            for label, value in b.items:
                table.add_row(console_text(label), console_text(value))
            console.print(table)
        elif isinstance(b, FrameBlock):
            for part in fit(frame_table(b.frame, b.title, b.formats), console.width):
                console.print(part)
        elif isinstance(b, Note):
            lines = ([b.text] if b.text else []) + [f"{b.marker} {item}" for item in b.items]
            console.print(console_text("\n".join(lines), style=b.style))
        elif isinstance(b, Chart):
            table = Table(title=console_text(b.title), title_justify="left", show_header=False, box=None,
                          padding=(0, 2, 0, 0))
            table.add_column(style="bold")
            table.add_column()
            table.add_column(justify="right", style="dim")
            for name, values in b.series.items():
                present = [v for v in values if v is not None]
                span = f"{format_value(min(present))} .. {format_value(max(present))}" if present else ""
                table.add_row(console_text(name), sparkline(values), span)
            console.print(table)
        else:  # pragma: no cover
            raise TypeError(f"cannot draw {type(b).__name__} in the terminal")


# --------------------------------------------------------------------------- output

def write(text: str, output: Path | None) -> None:
    """Write to the file, or to stdout."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    refuse_database_output(output)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc


class _PipeConsole(Console):
    """Rich exits 1 on a closed pipe (the code for a failed gate); let the command line
    decide instead, which stops quietly as pipes expect."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def refuse_database_output(output: Path) -> None:
    """-o naming a DuckDB database (the aimon database, through any name) would replace
    it with the report: refuse."""
    if is_database_file(output):
        raise UsageError(f"-o {output} is a DuckDB database; write the output to another file")


def console_for(output: Path | None) -> tuple[Console, io.StringIO | None]:
    """A console drawing to stdout, or to a buffer when the output goes to a file."""
    if output is None:
        return _PipeConsole(highlight=False, soft_wrap=False), None
    buf = io.StringIO()
    return Console(file=buf, highlight=False, width=120, color_system=None), buf


def emit(
    fmt: Format | str,
    output: Path | None,
    *,
    data: Any,
    blocks: Sequence[Block] | None = None,
    csv_frame: Any | None = None,
) -> None:
    """Write a result in the chosen format.

    ``data`` is what JSON shows; ``blocks`` what table and Markdown draw (defaults to
    one table of ``data``); ``csv_frame`` the single table CSV can hold.
    """
    fmt = Format(fmt)
    if fmt is Format.json:
        write(to_json(data), output)
        return
    if fmt is Format.csv:
        frame = csv_frame
        if frame is None and blocks:
            tables = [b.frame for b in blocks if isinstance(b, FrameBlock)]
            if len(tables) == 1:
                frame = tables[0]
            elif len(tables) > 1:
                raise UsageError("this result holds several tables and CSV can hold one; "
                                 "use --format json or markdown")
        if frame is None:
            raise UsageError("this result is not a table; use --format json, markdown or table")
        write(frame_csv(frame), output)
        return
    blocks = list(blocks) if blocks is not None else [FrameBlock(data)]
    if fmt is Format.markdown:
        write(blocks_markdown(blocks), output)
        return
    console, buf = console_for(output)
    blocks_console(blocks, console)
    if buf is not None:
        write(buf.getvalue(), output)
