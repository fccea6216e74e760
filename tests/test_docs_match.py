"""The README tells the truth (issue 16 item 9): formats it promises work, the redact
example shows how to make its key, the sample counts are what the ingest loads, and no
--help shows a value for a flag."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import typer.main

from aimon.cli import app
from tests.conftest import rows

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _leaves():
    group = typer.main.get_command(app)
    ctx = typer.Context(group)

    def walk(cmd, prefix=()):
        if hasattr(cmd, "list_commands"):
            yield prefix
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), (*prefix, name))
        else:
            yield prefix

    return list(walk(group))


def test_no_help_shows_a_bool_metavar(help_pages):
    commands = _leaves()
    assert len(commands) > 25
    for name in commands:
        result = help_pages[name]
        assert result.exit_code == 0, name
        assert "<bool>" not in result.stdout, name
    shown = help_pages[("audit", "pii")].stdout
    assert re.search(r"--show-pii\s+Show the raw values", shown)


def test_the_readme_promises_exactly_these_formats():
    text = " ".join(README.split())
    assert ("`--format table|markdown|json|csv` (`report daily|weekly` also `html`; `incident postmortem` "
            "holds several tables and refuses `csv` with one line)") in text


@pytest.mark.slow
@pytest.mark.parametrize("args", [("report", "daily", "--date", "2026-11-10"), ("report", "weekly"),
                                  ("alerts", "rules")])
def test_formats_the_readme_promises_work(cli, sample_db, args):
    for fmt in ("table", "markdown", "json", "csv"):
        result = cli(*args, "--format", fmt, "--db", sample_db)
        assert result.exit_code == 0, (fmt, result.output)
        assert result.stdout.strip()
    table = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv", "--db", sample_db).stdout)))
    if args[0] == "report":
        figures = {r["metric"]: r for r in table}
        if args[1] == "daily":
            con = duckdb.connect(str(sample_db), read_only=True)
            try:
                day = rows(con, "SELECT count(*) FROM requests WHERE ts >= '2026-11-10' AND ts < '2026-11-11'")
            finally:
                con.close()
            assert int(figures["requests"]["value"]) == day[0][0]
        assert {"thumbs_down_rate", "satisfaction"} <= set(figures)
    else:
        assert len(table) == len(cli("alerts", "rules", "-f", "json").stdout.split('"name"')) - 1


def test_the_postmortem_refuses_csv_in_one_line(cli, sample_db):
    result = cli("incident", "postmortem", "--start", "2026-11-10T14:00", "--end", "2026-11-10T15:00",
                 "--format", "csv", "--db", sample_db)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "a post-mortem cannot be written as csv; use --format table, markdown or json" in result.stderr


def test_the_readme_sample_counts_are_what_the_ingest_loads(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        requests, feedback = rows(con, "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM feedback)")[0]
    finally:
        con.close()
    text = " ".join(README.split())
    assert f"({requests:,} requests in three log shapes and {feedback:,} feedback events;" in text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the README's example uses openssl")
def test_the_redact_example_makes_its_key(cli, sample_db, tmp_path):
    make_key = next(line.split("#")[0].strip() for line in README.splitlines() if "> key.txt" in line)
    subprocess.run(["sh", "-c", make_key], cwd=tmp_path, check=True)
    key = tmp_path / "key.txt"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    result = cli("redact", "--out", tmp_path / "shared", "--pseudonymize-key-file", key,
                 "--since", "2026-11-14", "--db", sample_db)
    assert result.exit_code == 0, result.output
    assert "aimon redact --out shared/ --pseudonymize-key-file key.txt" in README
