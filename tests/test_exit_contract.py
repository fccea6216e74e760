"""The exit-code contract and the files aimon must never destroy or ignore
(issue 15 items 4 and 5, issue 16 item 4): Ctrl-C tells the truth and is honoured at
once, a closed pipe is not an error, a full disk or any unexpected failure is one line
and exit 2, -o never overwrites a database, --db never "stores" into a log file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from aimon.store import ingest as ingest_lib
from aimon.store import ingest_staging
from aimon.store.connection import connect
from tests.conftest import copy_db, ingested_template, request, rows


def aimon(*args, **kwargs) -> subprocess.Popen:
    """A real aimon process with Ctrl-C live (a background job may have it ignored)."""
    return subprocess.Popen([sys.executable, "-m", "aimon", *map(str, args)],
                            stdout=kwargs.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


@pytest.fixture(scope="module")
def small_template(tmp_path_factory):
    return ingested_template(tmp_path_factory, [
        request(request_id=f"r{i}", timestamp=f"2026-11-{1 + i % 10:02d}T10:00:00Z") for i in range(60)])


@pytest.fixture
def small_db(small_template, db_path):
    return copy_db(small_template, db_path)


def count_requests(db) -> int:
    con = connect(db)
    try:
        return rows(con, "SELECT count(*) FROM requests")[0][0]
    finally:
        con.close()


# --------------------------------------------------------------------------- Ctrl-C

@pytest.mark.slow
@pytest.mark.parametrize("database", ["existing", "new"])
def test_ctrl_c_after_the_commit_says_the_rows_were_stored(cli, write_jsonl, small_db, tmp_path, monkeypatch,
                                                          database):
    # Right after the COMMIT: the worst moment for the old "nothing was written". An
    # existing database commits in the staging file's merge; one the run creates is
    # stored when its staged file is adopted.
    step = "_copy_staged" if database == "existing" else "adopt"
    committing = getattr(ingest_staging, step)

    def interrupted(*args, **kwargs):
        committing(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_staging, step, interrupted)
    db = small_db if database == "existing" else tmp_path / "new.duckdb"
    before = count_requests(db) if database == "existing" else 0
    result = cli("ingest", write_jsonl("a.jsonl", [request(request_id=f"a{i}") for i in range(5)]), "--db", db)
    assert result.exit_code == 130
    assert "nothing was written" not in result.stderr
    assert "5 row(s) were stored" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert count_requests(db) == before + 5


@pytest.mark.slow
def test_ctrl_c_before_the_commit_says_nothing_was_written(cli, write_jsonl, small_db, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_lib, "_ingest_file", interrupted)
    result = cli("ingest", write_jsonl("b.jsonl", [request(request_id="new")]))
    assert result.exit_code == 130
    assert "no rows were stored" in result.stderr
    assert count_requests(small_db) == 60


def test_ctrl_c_before_a_new_database_is_created_says_so(cli, write_jsonl, tmp_path, monkeypatch):
    # It used to say the database "holds all of this run's rows or none: check with
    # aimon db info", about a database that does not exist.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_lib, "_ingest_file", interrupted)
    db = tmp_path / "new.duckdb"
    result = cli("ingest", write_jsonl("b.jsonl", [request(request_id="new")]), "--db", db)
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == [
        f"aimon: error: interrupted before the ingest committed; no rows were stored and {db} was not created"]
    assert not db.exists()


@pytest.mark.slow
def test_ctrl_c_during_a_long_ingest_is_honoured_at_once(tmp_path):
    big = tmp_path / "big.jsonl"
    line = json.dumps(request(prompt="a question " * 30))
    with big.open("w") as fh:
        for i in range(500_000):
            fh.write(line.replace('"req-1"', f'"q{i}"') + "\n")
    db = tmp_path / "big.duckdb"
    proc = aimon("ingest", big, "--db", db)
    deadline = time.monotonic() + 60
    # A new database is loaded in a staging folder beside it (and put in place at the end).
    while (not db.exists() and not list(tmp_path.glob(f"{ingest_staging.STAGING_PREFIX}*"))
           and proc.poll() is None and time.monotonic() < deadline):
        time.sleep(0.05)
    time.sleep(1.0)  # into the load, where DuckDB used to keep Ctrl-C waiting for 15-40 s
    assert proc.poll() is None, "the ingest finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=60)
    waited = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert waited < 2.5, f"Ctrl-C took {waited:.1f} s to stop the ingest"
    err = err.decode()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if "no rows were stored" in err and db.exists():
        assert count_requests(db) == 0


# --------------------------------------------------------------------------- pipes and disks

@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["report", "daily"],
    pytest.param(["report", "daily", "-f", "markdown"], marks=pytest.mark.slow),
    pytest.param(["sql", "SELECT * FROM range(5000)", "--limit", "0"], marks=pytest.mark.slow),
    pytest.param(["sql", "SELECT * FROM range(50000)", "-f", "csv"], marks=pytest.mark.slow)])
def test_a_closed_pipe_stops_quietly(small_db, args):
    proc = aimon(*args, "--db", small_db)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0, err
    assert err == ""


@pytest.mark.parametrize("fmt", [pytest.param("table", marks=pytest.mark.slow),
                                 pytest.param("markdown", marks=pytest.mark.slow),
                                 pytest.param("json", marks=pytest.mark.slow), "html"])
def test_a_full_disk_is_one_line_and_exit_2(small_db, fmt):
    with open("/dev/full", "w") as full:
        proc = aimon("report", "daily", "-f", fmt, "--db", small_db, stdout=full)
        _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err


@pytest.mark.slow
def test_an_unexpected_failure_is_one_line_and_exit_2(cli, small_db, monkeypatch):
    from aimon.store import query

    def broken(*args, **kwargs):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(query, "run_query", broken)
    result = cli("sql", "SELECT 1")
    assert result.exit_code == 2
    assert "unexpected ValueError: boom" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- files

@pytest.mark.parametrize("args", [["report", "daily"], ["report", "daily", "-f", "html"],
                                  ["sql", "SELECT 1", "-f", "csv"], ["cost", "breakdown", "-f", "json"]])
def test_output_naming_a_database_is_refused(cli, small_db, tmp_path, args):
    before = small_db.read_bytes()
    (tmp_path / "alias.txt").symlink_to(small_db)
    for target in (small_db, tmp_path / "alias.txt"):
        result = cli(*args, "-o", target)
        assert result.exit_code == 2, result.output
        assert "is a DuckDB database" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert small_db.read_bytes() == before
    assert count_requests(small_db) == 60


@pytest.mark.parametrize("args", [["ingest", "a.jsonl"], ["report", "daily"], ["sql", "SELECT 1"],
                                  ["forget", "--user", "u1"]])
def test_a_db_that_is_not_a_database_is_refused(cli, write_jsonl, tmp_path, args):
    logs = write_jsonl("a.jsonl", [request()])
    before = logs.read_bytes()
    result = cli(*args, "--db", logs)
    assert result.exit_code == 2, result.output
    assert "not a DuckDB database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert logs.read_bytes() == before


def test_a_new_db_named_like_a_log_is_refused(cli, write_jsonl, tmp_path):
    write_jsonl("a.jsonl", [request()])
    result = cli("ingest", "a.jsonl", "--db", "new.jsonl")
    assert result.exit_code == 2 and "named like a log file" in result.stderr
    assert not os.path.exists(tmp_path / "new.jsonl")
