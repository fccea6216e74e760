"""The command line: help, version, --db everywhere, formats, exit codes."""

from __future__ import annotations

import json

import pytest

from aimon import __version__
from aimon.cli import app
from tests.conftest import copy_db, ingested_template, request


def all_commands():
    import typer.main

    root = typer.main.get_command(app)
    found = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.append((path, cmd))

    walk(root, [])
    return found


COMMANDS = all_commands()
# Commands that read no database (aimon.toml only), so they take no --db.
NO_DATABASE = {("config", "validate"), ("config", "show")}


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"aimon {__version__}"


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_teaches_and_takes_db(cli, path, cmd):
    result = cli(*path, "--help")
    assert result.exit_code == 0
    assert len((cmd.help or "").strip()) > 20, f"{' '.join(path)} needs a docstring that teaches"
    options = [p for p in cmd.params if p.param_type_name == "option"]
    if tuple(path) not in NO_DATABASE:
        assert "--db" in result.stdout
        assert any("--db" in opt.opts for opt in options)
    for opt in options:
        assert opt.help, f"{' '.join(path)} {opt.opts} has no help"


@pytest.mark.slow
def test_ingest_then_sql_in_every_format(cli, write_jsonl, db_path):
    path = write_jsonl("a.jsonl", [request(request_id="r1"), request(request_id="r2", model="gpt-4o-mini"), "{bad"])
    result = cli("ingest", path, "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("files", "records", "loaded", "duplicates", "rejected")} == {
        "files": 1, "records": 3, "loaded": 2, "duplicates": 0, "rejected": 1}
    assert summary["by_shape"]["flat"]["loaded"] == 2
    query = "SELECT request_id, model FROM requests ORDER BY 1"
    assert json.loads(cli("sql", query, "-f", "json").stdout) == [
        {"request_id": "r1", "model": "gpt-4o"}, {"request_id": "r2", "model": "gpt-4o-mini"}]
    assert cli("sql", query, "-f", "csv").stdout == "request_id,model\nr1,gpt-4o\nr2,gpt-4o-mini\n"
    assert cli("sql", query, "-f", "markdown").stdout.splitlines()[:3] == [
        "| request_id | model |", "|---|---|", "| r1 | gpt-4o |"]
    table = cli("sql", query).stdout
    assert "r1" in table and "gpt-4o-mini" in table
    out = db_path.parent / "out.csv"
    assert cli("sql", query, "-f", "csv", "-o", out).exit_code == 0
    assert out.read_text().startswith("request_id,model")


@pytest.mark.slow
def test_ingest_table_summary_points_at_rejects(cli, write_jsonl):
    result = cli("ingest", write_jsonl("a.jsonl", [request(), "{bad"]))
    assert result.exit_code == 0
    assert "broken JSON" in result.stdout
    assert "rejected" in result.stderr and "FROM rejects" in result.stderr


@pytest.fixture(scope="module")
def one_request(tmp_path_factory):
    return ingested_template(tmp_path_factory, [request()])


@pytest.mark.parametrize(("args", "message"), [
    (["sql", "DELETE FROM feedback"], "DELETE statement is not allowed"),
    (["sql", "DELETE FROM requests"], "only reads"),
    (["sql", "SELEC 1"], "SQL error"),
    (["ingest", "missing.jsonl"], "no such file"),
    (["ingest", "x.jsonl", "--shape", "nope"], "unknown shape"),
    (["ingest", "x.jsonl", "--default-time", "soon"], "expected an ISO date"),
])
@pytest.mark.slow
def test_bad_input_is_one_line_and_exit_2(cli, write_jsonl, one_request, db_path, args, message):
    write_jsonl("x.jsonl", [request()])
    copy_db(one_request, db_path)  # x.jsonl already ingested
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_reading_commands_need_an_existing_database(cli, tmp_path):
    result = cli("db", "info", "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 2
    assert "aimon ingest" in result.stderr


@pytest.mark.slow
def test_db_info(cli, write_jsonl):
    cli("ingest", write_jsonl("a.jsonl", [request(), "{bad"]))
    data = json.loads(cli("db", "info", "-f", "json").stdout)
    tables = {t["table"]: t for t in data["tables"]}
    assert tables["requests"]["rows"] == 1 and tables["rejects"]["rows"] == 1
    assert tables["requests"]["first"].startswith("2026-11-01T10:00:00")
    assert data["schema_version"] >= 3
    assert data["size_bytes"] > 0
    text = cli("db", "info").stdout
    assert "schema version" in text and "requests" in text


def test_aimon_debug_shows_the_traceback(cli, monkeypatch):
    monkeypatch.setenv("AIMON_DEBUG", "1")
    result = cli("sql", "SELECT 1")
    assert result.exit_code != 0
    assert result.exception is not None


@pytest.mark.parametrize("arg", ["missing.jsonl", "nothing-*.jsonl", "empty-dir"])
def test_a_failed_ingest_leaves_no_database_behind(cli, tmp_path, arg):
    (tmp_path / "empty-dir").mkdir()
    db = tmp_path / "new.duckdb"
    result = cli("ingest", tmp_path / arg, "--db", db)
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-dir"]


@pytest.mark.slow
def test_every_skipped_file_is_listed(cli, write_jsonl, tmp_path):
    (tmp_path / "logs").mkdir()
    write_jsonl("logs/a.jsonl", [request()])
    (tmp_path / "logs" / "export.csv").write_text("a,b\n1,2\n")
    (tmp_path / "logs" / "notes.txt").write_text("hello")
    result = cli("ingest", tmp_path / "logs", "--format", "json")
    assert result.exit_code == 0, result.output
    skipped = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in json.loads(result.stdout)["skipped_files"]}
    assert skipped == {"export.csv": "not a log file (aimon reads .jsonl, .ndjson, .json, their .gz, .parquet)",
                       "notes.txt": "not a log file (aimon reads .jsonl, .ndjson, .json, their .gz, .parquet)"}
    table = cli("ingest", tmp_path / "logs")
    assert "Skipped logs/export.csv" in table.stdout and "Skipped logs/notes.txt" in table.stdout
