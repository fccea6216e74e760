"""Fitting a table to the terminal's width (issue 16 item 5: piped output, CI logs at 80).

Rich squeezes a table that is too wide by wrapping every column, so a model name breaks
into 4-character fragments and the right-hand columns are cut. :func:`fit` decides the
layout once, for every table ``aimon.render`` draws, from the cells as they will be shown
(escaping is done before, in :func:`aimon.render.frame_table`):

- a column whose cells have no space (identifiers, numbers, times) keeps its widest cell
  on one line; only a column of prose wraps, at spaces;
- a heading may wrap at its spaces but never loses a letter;
- when the columns still do not fit, the table is split: the leading key column(s) are
  repeated and the other columns move, in order, to tables below titled "(continued)",
  with a note under the first saying which columns moved.

Only a single column too wide for the terminal on its own is folded, as a last resort.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.table import Column, Table
from rich.text import Text

SHORT = 20  # a column whose cells are all this short never wraps
PROSE_MIN = 14  # prose wraps at spaces down to this width (or its longest word)


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    return cell if isinstance(cell, str) else str(cell)


def _widest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _widest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


@dataclasses.dataclass(frozen=True)
class _Need:
    natural: int  # the widest cell or heading, unwrapped
    minimum: int  # the narrowest it may be without breaking a word


def _need(column: Column) -> _Need:
    header = _plain(column.header)
    cells = [_plain(c) for c in column._cells]
    natural = max([_widest_line(header), *(_widest_line(c) for c in cells), 1])
    unbroken = max([_widest_word(header), *(_widest_word(c) for c in cells), 1])
    # Short values with a space ("2026-11-12 11:08", "▲ +10.1%") stay on one line too.
    prose = any(any(ch.isspace() for ch in c.strip()) for c in cells) and \
        max(map(_widest_line, cells), default=0) > SHORT
    if not prose:  # every cell on one line; the heading may wrap at its spaces
        return _Need(natural, max([_widest_word(header), *(_widest_line(c) for c in cells), 1]))
    return _Need(natural, min(natural, max(unbroken, PROSE_MIN)))


def _frame(table: Table) -> tuple[int, int]:
    """Borders and padding around n columns take ``a * n + b`` cells: (a, b)."""
    _top, right, _bottom, left = table.padding
    if table.box is None:
        return left + right, 0
    return left + right + 1, (1 if table.show_edge else -1)


def _width(table: Table, widths: Sequence[int]) -> int:
    per_column, edges = _frame(table)
    return sum(widths) + per_column * len(widths) + edges


def _key_count(table: Table, needs: Sequence[_Need], width: int) -> int:
    """The leading text columns that name a row (at most two, at most half the width)."""
    keys = 0
    for column in table.columns[:2]:
        if column.justify == "right" or _width(table, [n.minimum for n in needs[:keys + 1]]) > width // 2:
            break
        keys += 1
    return max(keys, 1)


def _allocate(table: Table, needs: Sequence[_Need], width: int) -> list[int]:
    """Column widths within ``width``: natural widths, less what wrapping headings and
    prose can give (the column with the most to give first); a column that cannot fit
    even at its minimum gets what is left (folded, the last resort)."""
    per_column, edges = _frame(table)
    room = width - per_column * len(needs) - edges
    widths = [n.natural for n in needs]
    excess = sum(widths) - room
    while excess > 0:
        slack, i = max((w - n.minimum, i) for i, (w, n) in enumerate(zip(widths, needs, strict=True)))
        if slack <= 0:
            break
        widths[i] -= 1
        excess -= 1
    if excess > 0:  # unavoidable: the widest column folds
        widest = max(range(len(widths)), key=lambda i: widths[i])
        widths[widest] = max(1, widths[widest] - excess)
    return widths


def _with_columns(table: Table, indices: Sequence[int], needs: Sequence[_Need], title: Any,
                  width: int) -> Table:
    part = copy.copy(table)
    part.title = title
    part.caption = None
    part.columns = []
    widths = _allocate(table, [needs[i] for i in indices], width)
    for i, w in zip(indices, widths, strict=True):
        col = dataclasses.replace(table.columns[i])
        col._cells = list(table.columns[i]._cells)
        col.width = w
        col.min_width = None
        col.overflow = "fold"  # only ever used when a column cannot fit on its own
        col._index = len(part.columns)
        part.columns.append(col)
    return part


def fit(table: Table, width: int) -> list[Table]:
    """The table as one or more tables, each fitting ``width`` cells where possible."""
    if not table.columns or table.box is None:
        return [table]
    needs = [_need(c) for c in table.columns]
    everything = range(len(needs))
    if _width(table, [n.minimum for n in needs]) <= width:
        return [_with_columns(table, everything, needs, table.title, width)]
    keys = list(range(_key_count(table, needs, width)))
    if any(_width(table, [*(needs[k].minimum for k in keys), needs[i].minimum]) > width
           for i in everything[len(keys):]):
        keys = keys[:1]  # a wide column fits beside one key column, not two
    key_widths = [needs[i].minimum for i in keys]
    chunks: list[list[int]] = [[]]
    for i in everything[len(keys):]:
        trial = [*key_widths, *(needs[j].minimum for j in chunks[-1]), needs[i].minimum]
        if chunks[-1] and _width(table, trial) > width:
            chunks.append([])
        chunks[-1].append(i)
    title = _plain(table.title) if table.title is not None else ""
    parts = []
    for n, chunk in enumerate(chunks):
        part_title = table.title if n == 0 else Text(f"{title} (continued)".strip())
        parts.append(_with_columns(table, [*keys, *chunk], needs, part_title, width))
    moved = [_plain(table.columns[i].header) for chunk in chunks[1:] for i in chunk]
    if not moved:  # the key column alone is too wide: it folds
        return parts
    parts[0].caption = Text(f"{len(moved)} more column(s) below, too wide for {width} columns: "
                            + ", ".join(moved))
    parts[0].caption_justify = "left"
    return parts
