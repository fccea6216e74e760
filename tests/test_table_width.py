"""Tables at 80 and 120 columns (issue 16 item 5): piped output and CI logs.

Every word a table shows wide (a model name, an endpoint, a heading) is shown whole at 80
and 120 columns, and no line is longer than the terminal: identifiers keep one line,
headings wrap at spaces, and columns that do not fit move to a "(continued)" table.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.testing import CliRunner

from aimon.cli import app
from aimon.render.layout import fit
from tests.conftest import GOLDEN_ENV, SampleDb
from tests.test_golden import CASES

WIDE = 250
# A word: what a wrap at spaces keeps whole. Box-drawing characters separate cells.
_SPLIT = re.compile(r"[\s│┃║|┏┓┗┛┡┩┠┨━─┳┻╇╈┼┯┷╋]+")


def words(text: str, longest: int) -> set[str]:
    """Words with a letter in them (names, headings, not sparklines), short enough for a line."""
    return {w for w in _SPLIT.split(text) if w and any(c.isalpha() for c in w) and len(w) <= longest}


def render(parts: list[Table], width: int) -> str:
    console = Console(width=width, color_system=None, highlight=False, record=True, file=io.StringIO())
    for part in parts:
        console.print(part)
    return console.export_text()


MODELS = ["claude-3-5-haiku-20241022", "gpt-4o-mini-2024-07-18", "claude-sonnet-4-5", "acme-llama-70b-ft"]


def wide_table() -> Table:
    table = Table(title="Cost", title_justify="left", header_style="bold")
    for name in ("model", "requests", "cost", "source", "mean/req", "P95/req", "per user-day", "share",
                 "output tokens"):
        table.add_column(name, justify="left" if name in ("model", "source") else "right")
    for i, model in enumerate(MODELS):
        table.add_row(Text(model), f"{1000 * i:,}", "$21.9783", "mixed", "$0.00751", "$0.03639", "$0.0363",
                      "45.5%", f"{123456 * i:,}")
    return table


@pytest.mark.parametrize("width", [80, 120])
def test_a_wide_table_keeps_names_whole_and_moves_columns(width):
    table = wide_table()
    parts = fit(table, width)
    text = render(parts, width)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    for model in MODELS:
        assert model in text.split(), f"{model} broken at {width} columns"
    for heading in ("model", "requests", "P95/req", "per", "user-day", "share", "output", "tokens"):
        assert heading in words(text, width), heading
    assert "…" not in text
    if width == 80:
        assert len(parts) == 2, "the columns that do not fit move to a second table"
        assert "(continued)" in text and "more column(s) below" in text
        assert all(p.columns[0].header == "model" for p in parts), "the key column is repeated"
    else:
        assert len(parts) == 1


def test_a_table_that_fits_is_left_whole():
    table = Table("endpoint", "requests")
    table.add_row("/chat", "12")
    assert len(fit(table, 80)) == 1
    assert "/chat" in render(fit(table, 80), 80)


def test_prose_wraps_at_spaces_instead_of_moving():
    table = Table("figure", "value", "vs yesterday")
    table.add_row("Requests per minute (mean)", "2.9% (2.3% to 3.6%) of all requests in the window", "▲ +10.1%")
    parts = fit(table, 56)
    text = render(parts, 56)
    assert len(parts) == 1
    assert max(cell_len(line) for line in text.splitlines()) <= 56
    assert {"Requests", "minute", "(mean)", "yesterday"} <= words(text, 56)


TABLE_CASES = [c for c in CASES if "table" in c.formats and not c.writes and "--help" not in c.args]


def run(args: list[str], width: int) -> str:
    result = CliRunner().invoke(app, args, env={**GOLDEN_ENV, "COLUMNS": str(width)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("case", TABLE_CASES, ids=[c.name for c in TABLE_CASES])
def test_every_table_command_reads_at_80_and_120_columns(case, sample_logs_db: SampleDb, tmp_path: Path,
                                                         monkeypatch):
    from aimon.render import err_console

    monkeypatch.setattr(err_console, "_width", None)
    db = tmp_path / "sample.duckdb"
    shutil.copy(sample_logs_db.path, db)
    args = [*case.args, "--format", "table", "--db", db.name]
    wide = run(args, WIDE)
    for width in (80, 120):
        narrow = run(args, width)
        lines = narrow.splitlines()
        too_long = [line for line in lines if cell_len(line) > width]
        assert not too_long, f"{case.name} at {width}: {too_long[:2]}"
        missing = words(wide, width - 8) - words(narrow, width)
        assert not missing, f"{case.name} at {width} columns breaks or cuts: {sorted(missing)[:10]}"


def test_a_single_column_too_wide_folds_without_a_note():
    table = Table("id")
    table.add_row("x" * 100)
    parts = fit(table, 40)
    text = render(parts, 40)
    assert len(parts) == 1 and "more column" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= 40
    assert text.count("x") == 100, "folded, not cut"
