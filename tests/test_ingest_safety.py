"""An ingest killed midway leaves all or nothing; a second writer is turned away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import request

ROWS = 120_000


def big_log(path: Path) -> Path:
    """A flat log whose text does not compress away, so loading it writes for seconds."""
    duckdb.sql(f"""
        COPY (SELECT strftime(TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_seconds(i), '%Y-%m-%dT%H:%M:%SZ') AS timestamp,
                     'big-' || i AS request_id, 'gpt-4o' AS model,
                     array_to_string(list_transform(range(30), lambda k: md5((i * 100 + k)::VARCHAR)), ' ') AS prompt,
                     array_to_string(list_transform(range(40), lambda k: md5((i * 100 + k)::VARCHAR || 'r')), ' ') AS response,
                     100 + i % 50 AS prompt_tokens, 200 AS completion_tokens
              FROM range({ROWS}) t(i)) TO '{path}' (FORMAT json)""")
    return path


def aimon(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aimon", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "AIMON_DEBUG": ""})


def count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM requests").fetchone()[0]


@pytest.fixture(scope="module")
def log_and_seconds(tmp_path_factory) -> tuple[Path, float]:
    """The big log, and how long a whole ingest of it takes here (start-up included)."""
    tmp = tmp_path_factory.mktemp("big")
    log = big_log(tmp / "big.jsonl")
    # Timed as the kills run it: into a database that exists (a new one is loaded whole
    # and put in place, without the merge, so it finishes sooner).
    first = tmp / "first.jsonl"
    first.write_text(json.dumps(request(request_id="timing")) + "\n", encoding="utf-8")
    assert aimon("ingest", str(first), "--db", str(tmp / "timing.duckdb")).wait(timeout=60) == 0
    started = time.perf_counter()
    proc = aimon("ingest", str(log), "--db", str(tmp / "timing.duckdb"))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return log, time.perf_counter() - started


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_ingest_leaves_all_or_nothing(tmp_path, write_jsonl, log_and_seconds, sig):
    """Kill real ingests at several moments: each leaves the database as it was before
    or with the whole file, never part of it; at least one is caught mid-transaction."""
    log, seconds = log_and_seconds
    before = write_jsonl("first.jsonl", [request(request_id="before")])
    outcomes = []
    for fraction in (0.3, 0.45, 0.6, 0.75):
        db = tmp_path / f"kill-{fraction}.duckdb"
        assert aimon("ingest", str(before), "--db", str(db)).wait(timeout=60) == 0
        proc = aimon("ingest", str(log), "--db", str(db))
        time.sleep(seconds * fraction)
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        rows = count(db)
        assert rows in (1, ROWS + 1), f"partial ingest after {sig.name} at {fraction:.0%}: {rows} rows"
        if rows == 1 and sig == signal.SIGINT:
            assert proc.returncode == 130
            assert "no rows were stored" in err
        if rows > 1 and sig == signal.SIGINT and proc.returncode == 130:
            assert "were stored" in err and "no rows" not in err
        outcomes.append(rows)
    assert 1 in outcomes, f"no kill landed inside the ingest (outcomes {outcomes}); make the log bigger"
    # The database is healthy: the same file loads completely afterwards.
    db = tmp_path / "kill-0.3.duckdb"
    again = aimon("ingest", str(log), "--db", str(db))
    assert again.wait(timeout=300) == 0
    assert count(db) == ROWS + 1


def test_second_writer_is_turned_away_with_one_line(tmp_path, cli, write_jsonl):
    db = tmp_path / "busy.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from aimon.store.connection import connect
        con = connect({str(db)!r}, write=True)
        print("ready", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = cli("ingest", write_jsonl("a.jsonl", [request()]), "--db", db, "--wait", "0")
        assert result.exit_code == 2
        assert "database is in use by another process" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        reader = cli("db", "info", "--db", db, "--wait", "0")
        assert reader.exit_code == 2 and "in use" in reader.stderr
    finally:
        holder.kill()
        holder.wait()
