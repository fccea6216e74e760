"""Every value from a log is data in every format (issue 15 item 6).

Names planted in every name field (model, endpoint, user and session id, variant,
experiment, error type, prompt version, request id, provider, feedback) are rendered by
the render layer and by every command in every format: nothing crashes, Markdown holds no
raw HTML, the terminal no raw ESC, NUL or carriage return, rich markup is never
interpreted, CSV defuses formulas, and the HTML report runs no injected script in
headless Chromium while it shows the values.
"""

from __future__ import annotations

import csv
import io
import json
import re

import polars as pl
import pytest
from rich.console import Console

from aimon.render import (
    Chart,
    Figures,
    FrameBlock,
    Heading,
    Note,
    blocks_console,
    blocks_markdown,
    csv_cell,
    frame_csv,
    md_text,
    visible,
)
from aimon.render.html import _script_json

HOSTILE = ("<script>alert(1)</script>", "<!--", "[/]", "[control]", "a\rb", "\x1b[31mred", "nul\x00x",
           "=1+2|x", "two\nlines", "back\\|slash", "\u202eevil", "c1\x9bx")

# What a terminal must never receive from a log: ESC, NUL, CR, other C0 (tab and newline
# are aimon's own layout), DEL, C1 and bidi overrides.
RAW_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _console_text(blocks) -> str:
    buf = io.StringIO()
    blocks_console(blocks, Console(file=buf, width=200, color_system=None, highlight=False))
    return buf.getvalue()


def _blocks(value: str) -> list:
    frame = pl.DataFrame({"name": [value, "plain"], "requests": [3, 4]})
    return [Heading(f"Report for {value}"), Figures([(f"label {value}", value)], title=f"figures {value}"),
            FrameBlock(frame, title=f"table {value}"), Note(f"a note on {value}"),
            Note(items=[f"item {value}", "second"]),
            Chart(f"chart {value}", ["x1", value], {value: [1.0, 2.0]})]


# --------------------------------------------------------------------------- render layer

@pytest.mark.parametrize("value", HOSTILE)
def test_terminal_shows_every_value_and_no_control_character(value):
    text = _console_text(_blocks(value))  # "[/]" raised MarkupError here before
    assert not RAW_CONTROL_RE.search(text), repr(text)
    shown = visible(value)
    # Markup is text: "[control]" is printed, not swallowed as a style.
    for line in shown.split("\n"):
        assert line in text, (line, text)


def test_rich_markup_in_values_is_printed_as_typed():
    text = _console_text([Figures([("model", "[control]")], title="[bold]x[/bold]"),
                          FrameBlock([{"[b]col[/b]": "[/]"}], title="[red]t")])
    for s in ("[control]", "[bold]x[/bold]", "[b]col[/b]", "[/]", "[red]t"):
        assert s in text


def test_visible_names_every_control_character():
    assert visible("\x1b[31m") == "\\x1b[31m"
    assert visible("a\x00b\rc\x7f\x9b") == "a\\x00b\\x0dc\\x7f\\x9b"
    assert visible("\u202e") == "\\u202e"
    assert visible("tab\tand\nnewline ünïcödé") == "tab\tand\nnewline ünïcödé"


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_escapes_html_pipes_and_newlines_everywhere(value):
    md = blocks_markdown(_blocks(value))
    assert "<script" not in md and "<!--" not in md
    assert not RAW_CONTROL_RE.search(md)
    # Every table row keeps its shape: two cells, whatever the value holds.
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row.replace("\\\\", ""))) == 3, row
    # No value starts a line of its own (a heading, a list item, a table row).
    assert not any(line.startswith("lines") for line in md.splitlines())


def test_markdown_escape_keeps_the_text():
    assert md_text("<b>&amp;</b> | x") == "&lt;b&gt;&amp;amp;&lt;/b&gt; \\| x"
    assert md_text("a\nb") == "a<br>b"
    assert md_text("ends with \\|") == "ends with \\\\\\|"
    assert md_text("C:\\path") == "C:\\path"  # a backslash before a letter is literal in Markdown


def test_markdown_list_items_stay_items():
    md = blocks_markdown([Note(items=["a\n# not a heading", "b"], marker="- [ ]")])
    assert md == "- [ ] a<br># not a heading\n- [ ] b\n"


def test_csv_defuses_formulas_and_keeps_numbers():
    assert csv_cell("=1+2") == "'=1+2"
    assert csv_cell("+cmd") == "'+cmd"
    assert csv_cell("-2+3") == "'-2+3"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("-3.5") == "-3.5"
    assert csv_cell("+1,234") == "+1,234"
    assert csv_cell("gpt-4o") == "gpt-4o"
    text = frame_csv(pl.DataFrame({"=name": ["=HYPERLINK(\"x\")", "\x1b[31m"], "n": [-1, 2]}))
    got = list(csv.reader(io.StringIO(text)))
    assert got == [["'=name", "n"], ["'=HYPERLINK(\"x\")", "-1"], ["\\x1b[31m", "2"]]


@pytest.mark.parametrize("value", HOSTILE)
def test_html_data_block_cannot_be_ended_or_commented_out(value):
    text = _script_json({"name": value, "nested": [{"endpoint": value + "</script><script>"}]})
    assert "<" not in text and ">" not in text
    assert json.loads(text) == {"name": value, "nested": [{"endpoint": value + "</script><script>"}]}
