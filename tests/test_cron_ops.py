"""Running aimon as a scheduled job next to other jobs (issue 16 items 1 and 2): every
command waits a while for a database another process holds, and every analysis works
on a database it may not write."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from aimon.cli import app
from aimon.store import lockwait
from aimon.store.connection import connect, read_only_reason
from tests.conftest import GOLDEN_ENV, SampleDb, copy_db, ingested_template, request, rows
from tests.test_golden import CASES

# --------------------------------------------------------------------------- lock wait


def _aimon(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aimon", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _locked(db: Path) -> bool:
    try:
        duckdb.connect(str(db), read_only=True).close()
    except duckdb.Error as exc:
        return "lock" in str(exc).lower()
    return False


@pytest.mark.slow
def test_a_report_started_during_an_ingest_waits_and_then_succeeds(tmp_path, write_jsonl):
    db = tmp_path / "cron.duckdb"
    first = [request(request_id=f"a{i}", timestamp=f"2026-11-01T{i % 24:02d}:00:00Z") for i in range(50)]
    assert _aimon("ingest", write_jsonl("first.jsonl", first), "--db", db).wait(60) == 0
    # A second ingest big enough to hold the write lock for a few seconds.
    big = [request(request_id=f"b{i}", timestamp=f"2026-11-02T{i % 24:02d}:{i % 60:02d}:00Z",
                   prompt=f"question {i} " * 40, response=f"answer {i} " * 60) for i in range(150_000)]
    ingest = _aimon("ingest", write_jsonl("big.jsonl", big), "--db", db)
    try:
        deadline = time.monotonic() + 60
        while not _locked(db):
            assert ingest.poll() is None, ingest.communicate()
            assert time.monotonic() < deadline, "the ingest never took the lock"
            time.sleep(0.02)
        report = _aimon("report", "daily", "--format", "json", "--db", db, "--wait", "2m")
        out, err = report.communicate(timeout=180)
        assert ingest.wait(120) == 0, ingest.communicate()
    finally:
        ingest.kill()
    assert report.returncode == 0, err
    assert f"waiting for the database: another aimon process (PID {ingest.pid}, ingest) holds" in err
    # It read the database after the ingest committed: the new day is the report's day.
    assert json.loads(out)["period"]["last_day"] == "2026-11-02"


def _hold(db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom aimon.store.connection import connect\n"
        f"con = connect({str(db)!r}, write=True)\nprint('ready', flush=True)\ntime.sleep({seconds})\n")],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture(scope="module")
def small_template(tmp_path_factory):
    return ingested_template(tmp_path_factory, [request()])


@pytest.fixture
def small_db(small_template, db_path):
    return copy_db(small_template, db_path)


@pytest.mark.slow
def test_the_wait_runs_out_with_one_line_and_exit_2(cli, small_db):
    holder = _hold(small_db, 30)
    try:
        started = time.monotonic()
        result = cli("db", "info", "--wait", "1s")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("waiting for the database: another process")
    assert len(lines) == 2 and lines[1].startswith("aimon: error: database is in use")
    assert "gave up after 1s" in lines[1]
    assert 1.0 <= waited < 10


@pytest.mark.slow
def test_aimon_lock_timeout_sets_the_default_wait(cli, small_db, monkeypatch):
    holder = _hold(small_db, 2)
    try:
        monkeypatch.setenv("AIMON_LOCK_TIMEOUT", "1m")
        result = cli("db", "info", "--format", "json")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 0, result.stderr
    assert "waiting for the database" in result.stderr
    assert json.loads(result.stdout)["tables"][0] == {**json.loads(result.stdout)["tables"][0], "rows": 1}


def test_no_wait_fails_at_once(cli, small_db, monkeypatch):
    holder = _hold(small_db, 30)
    try:
        monkeypatch.setenv("AIMON_LOCK_TIMEOUT", "0")
        started = time.monotonic()
        result = cli("report", "daily")
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "did not wait" in result.stderr


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("45", 45), ("30s", 30), ("2m", 120), ("1h", 3600),
                                               ("500ms", 0.5), ("1.5m", 90)])
def test_durations(text, seconds):
    assert lockwait.parse_wait(text) == seconds


@pytest.mark.parametrize("args", [("--wait", "soon"), ("--wait", "-1s")])
def test_a_bad_wait_is_one_line(cli, small_db, args):
    result = cli("report", "daily", *args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "is not a duration" in result.stderr


def test_every_command_takes_wait(help_pages):
    import typer.main

    group = typer.main.get_command(app)
    ctx = typer.Context(group)

    def leaves(cmd, prefix=()):
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                yield from leaves(cmd.get_command(ctx, name), (*prefix, name))
        else:
            yield prefix

    names = list(leaves(group))
    assert len(names) > 20
    for name in names:
        assert "--wait" in help_pages[name].stdout, name


# --------------------------------------------------------------------------- read-only databases

# Caches and state every analysis may want to write.
CACHE_TABLES = ("pii_findings", "pii_scanned", "alert_state", "security_findings", "security_scanned",
                "validation_runs", "validation_coverage", "validation_coverage_ranges", "validation_outcomes",
                "embeddings")


@pytest.fixture(scope="module")
def read_only_db(sample_logs_db: SampleDb, tmp_path_factory) -> Path:
    """A 0444 copy of the sample database whose caches are empty: never scanned, never
    checked, so every analysis would like to write."""
    folder = tmp_path_factory.mktemp("ro")
    db = folder / "sample.duckdb"
    shutil.copyfile(sample_logs_db.path, db)  # the shared file is 0444: not its mode
    con = connect(db, write=True)
    try:
        present = {r[0] for r in rows(con, "SELECT table_name FROM duckdb_tables()")}
        for table in CACHE_TABLES:
            if table in present:
                con.execute(f"DELETE FROM {table}")
    finally:
        con.close()
    db.chmod(0o444)
    return db


def _snapshot(db: Path) -> tuple[bytes, int]:
    return db.read_bytes(), stat.S_IMODE(db.stat().st_mode)


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_read_only_is_detected(read_only_db, tmp_path):
    assert read_only_reason(read_only_db) == "read-only (mode 0444)"
    writable = tmp_path / "w.duckdb"
    shutil.copy(read_only_db, writable)
    writable.chmod(0o600)
    assert read_only_reason(writable) is None


READ_ONLY_CASES = [c for c in CASES if "--help" not in c.args and c.args[0] not in ("forget", "purge")
                   and c.database]  # `config` reads aimon.toml, no database
# What the analysis notes when it would have written a cache or state.
NOTES = {"audit-pii": "PII findings were computed in memory and not stored",
         "audit-pii-gate": "PII findings were computed in memory and not stored",
         "audit-compliance": "PII findings were computed in memory and not stored",
         "redact": "PII findings were computed in memory and not stored",
         "alerts-check-state": "alert state was read but this check is not recorded",
         "validate": "results were computed in memory and not stored",
         "audit-security": "findings were computed in memory and not stored"}


@pytest.mark.slow
@pytest.mark.parametrize("case", READ_ONLY_CASES, ids=lambda c: c.name)
def test_every_analysis_runs_on_a_read_only_database(case, read_only_db, tmp_path):
    before = _snapshot(read_only_db)
    fmt = "json" if "json" in case.formats else case.formats[0]
    result = CliRunner().invoke(app, [*case.args, "--format", fmt, "--db", str(read_only_db)], env=GOLDEN_ENV)
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        assert case.name.endswith(("-fails", "-gate")) or "--fail-on" in case.args, result.stderr
    assert "aimon: error" not in result.stderr or result.exit_code == 1
    if case.name in NOTES:
        assert NOTES[case.name] in result.output, result.output
    assert _snapshot(read_only_db) == before


@pytest.mark.slow
def test_a_read_only_pii_audit_still_finds_what_a_writable_one_finds(read_only_db, tmp_path):
    writable = tmp_path / "w.duckdb"
    shutil.copy(read_only_db, writable)
    writable.chmod(0o600)
    args = ["audit", "pii", "--since", "2026-11-12", "--format", "json", "--samples", "0"]
    ro = CliRunner().invoke(app, [*args, "--db", str(read_only_db)], env=GOLDEN_ENV)
    rw = CliRunner().invoke(app, [*args, "--db", str(writable)], env=GOLDEN_ENV)
    assert ro.exit_code == rw.exit_code == 0
    assert json.loads(ro.stdout)["by_entity"] == json.loads(rw.stdout)["by_entity"]
    assert json.loads(ro.stdout)["findings"] > 0


@pytest.mark.parametrize("args", [("ingest", "x.jsonl"), ("forget", "--user", "u1"),
                                  ("purge", "--older-than", "2026-11-03"),
                                  ("cost", "prices", "--refresh")])
def test_commands_that_must_write_refuse_a_read_only_database_in_one_line(cli, small_db, write_jsonl, args):
    write_jsonl("x.jsonl", [request(request_id="r2")])
    small_db.chmod(0o444)
    before = _snapshot(small_db)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "is read-only (mode 0444)" in result.stderr
    assert _snapshot(small_db) == before
