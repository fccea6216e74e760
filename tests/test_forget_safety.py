"""forget and purge as their enemies would meet them: a symlinked --db, a reader racing
the rewrite, an interruption between the delete and the rewrite, ids written as numbers
or with JSON escapes, and the file's mode (issue 15 item 3, issue 16 item 3)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest

from aimon.store import forget as lib
from aimon.store.connection import connect
from tests.conftest import request, rows

VICTIM = "zz-victim-41b7e2"
PLANTED = "PLANTED-FEEDBACK-0c6d93"   # in an uncompressed VARCHAR column: greppable
OTHERS = [f"user-{i}" for i in range(10)]


def file_holds(path, value: str) -> bool:
    """Whether any file of the database (the file, its WAL) holds ``value``'s bytes."""
    data = b""
    for part in (path, path.with_name(path.name + ".wal")):
        data += part.read_bytes() if part.exists() else b""
    return value.encode() in data


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    from typer.testing import CliRunner

    from aimon.cli import app

    work = tmp_path_factory.mktemp("forget-safety")
    db = work / "template.duckdb"
    recs = [request(request_id=f"r{i}", user_id=OTHERS[i % len(OTHERS)], prompt_tokens=100 + i,
                    timestamp=f"2026-11-{1 + i % 20:02d}T10:00:00Z") for i in range(200)]
    recs += [request(request_id="v1", user_id=VICTIM, timestamp="2026-11-05T10:00:00Z"),
             request(request_id="v2", user_id=VICTIM, timestamp="2026-11-06T10:00:00Z")]
    lines = [json.dumps(r) for r in recs]
    # Rejected records (bad time) whose user id is a number, or written with a JSON escape.
    lines.append(json.dumps(request(request_id="n1", user_id=4242, timestamp="not a time")))
    lines.append('{"timestamp": "bad", "request_id": "e1", "user_id": "zz\\u002dvictim\\u002d41b7e2", '
                 '"model": "gpt-4o"}')
    lines.append('{"timestamp": "bad", "request_id": "o1", "user_id": "user-1", "prompt_tokens": 7}')
    (work / "r.jsonl").write_text("\n".join(lines) + "\n")
    fb = [{"timestamp": "2026-11-05T11:00:00Z", "request_id": "v1", "user_id": VICTIM,
           "feedback_type": "thumbs_down", "feedback_text": PLANTED}]
    (work / "f.jsonl").write_text("".join(json.dumps(r) + "\n" for r in fb))
    runner = CliRunner()
    for args in (["ingest", work / "r.jsonl"], ["ingest", "--feedback", work / "f.jsonl"]):
        result = runner.invoke(app, [*map(str, args), "--db", str(db)])
        assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def populated(template, db_path):
    shutil.copy(template, db_path)
    os.chmod(db_path, 0o600)
    return db_path


def victim_rows(db) -> int:
    con = connect(db)
    try:
        return rows(con, f"SELECT (SELECT count(*) FROM requests WHERE user_id = '{VICTIM}') "
                         f"+ (SELECT count(*) FROM feedback WHERE user_id = '{VICTIM}')")[0][0]
    finally:
        con.close()


def rejects_with(db, request_id: str) -> int:
    con = connect(db)
    try:
        return rows(con, f"SELECT count(*) FROM rejects WHERE contains(raw, '\"{request_id}\"')")[0][0]
    finally:
        con.close()


@pytest.mark.slow
def test_a_symlinked_database_has_its_real_file_rewritten(cli, populated, tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "aimon.duckdb"
    shutil.move(populated, real)
    link = tmp_path / "link.duckdb"
    link.symlink_to(real)
    assert file_holds(real, PLANTED)
    result = cli("forget", "--user", VICTIM, "--db", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert not file_holds(real, PLANTED) and not file_holds(real, VICTIM)
    assert victim_rows(real) == 0
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in real_dir.iterdir()) == ["aimon.duckdb"]


def _reader(db, hold: str) -> subprocess.Popen:
    code = ("import duckdb, sys, time\n"
            "db, hold = sys.argv[1], sys.argv[2]\n"
            "if hold == 'hold':\n"
            "    c = duckdb.connect(db, read_only=True); print('ready', flush=True); sys.stdin.read()\n"
            "else:\n"
            "    print('ready', flush=True); end = time.time() + 20\n"
            "    while time.time() < end:\n"
            "        try:\n"
            "            duckdb.connect(db, read_only=True).close()\n"
            "        except duckdb.Error:\n"
            "            pass\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), hold], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_reader_holding_the_file_stops_forget_before_it_deletes(cli, populated):
    reader = _reader(populated, "hold")
    try:
        result = cli("forget", "--user", VICTIM, "--wait", "0")
    finally:
        reader.stdin.close()
        reader.wait(10)
    assert result.exit_code == 2 and "in use" in result.stderr
    assert victim_rows(populated) == 3       # nothing deleted, so nothing owed
    assert cli("forget", "--user", VICTIM).exit_code == 0
    assert not file_holds(populated, PLANTED) and not file_holds(populated, VICTIM)


@pytest.mark.slow
def test_readers_racing_forget_never_leave_the_bytes(cli, populated):
    reader = _reader(populated, "loop")
    try:
        for _ in range(200):
            result = cli("forget", "--user", VICTIM)
            assert result.exit_code in (0, 2), result.output
            if result.exit_code == 0:
                break
            assert "in use" in result.stderr
            time.sleep(0.01)
        else:
            pytest.fail("forget never got the lock")
    finally:
        reader.kill()
        reader.wait(10)
    assert not file_holds(populated, PLANTED) and not file_holds(populated, VICTIM)
    assert victim_rows(populated) == 0


@pytest.mark.slow
def test_an_interrupted_rewrite_is_owed_and_a_rerun_finishes_it(cli, populated, monkeypatch):
    def interrupted(con, path):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(lib, "compact", interrupted)
        result = cli("forget", "--user", VICTIM)
    assert result.exit_code == 130
    assert "nothing was written" not in result.stderr
    assert "run the same command again" in result.stderr
    assert victim_rows(populated) == 0          # the deletes committed ...
    assert file_holds(populated, PLANTED)       # ... but the bytes are still on disk
    con = connect(populated)
    assert lib.rewrite_owed(con)
    con.close()
    again = cli("forget", "--user", VICTIM, "-f", "json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["rows_deleted"] == 0 and data["file"]["rewritten"] is True
    assert not file_holds(populated, PLANTED) and not file_holds(populated, VICTIM)
    con = connect(populated)
    assert not lib.rewrite_owed(con)
    con.close()


def test_a_purge_finishes_a_rewrite_a_forget_still_owes(cli, populated, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(lib, "compact", lambda con, path: (_ for _ in ()).throw(KeyboardInterrupt))
        assert cli("forget", "--user", VICTIM).exit_code == 130
    result = cli("purge", "--older-than", "2000-01-01")
    assert result.exit_code == 0, result.output
    assert not file_holds(populated, PLANTED)


@pytest.mark.slow
def test_rejected_records_with_numeric_or_escaped_ids_are_forgotten(cli, populated):
    assert rejects_with(populated, "n1") == 1 and rejects_with(populated, "e1") == 1
    assert cli("forget", "--user", "4242").exit_code == 0
    assert rejects_with(populated, "n1") == 0
    assert cli("forget", "--user", VICTIM).exit_code == 0
    assert rejects_with(populated, "e1") == 0
    assert rejects_with(populated, "o1") == 1    # another user's reject stays


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
@pytest.mark.parametrize("command", [["forget", "--user", VICTIM], ["purge", "--older-than", "2026-11-03"]])
def test_forget_and_purge_keep_the_file_mode(cli, populated, mode, command):
    os.chmod(populated, mode)
    if mode == 0o444:
        # Read-only means read-only, even for root who could write it: refused in one line.
        before = populated.read_bytes()
        result = cli(*command)
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
        assert "is read-only (mode 0444)" in result.stderr
        assert populated.read_bytes() == before and stat.S_IMODE(populated.stat().st_mode) == 0o444
        return
    result = cli(*command, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["file"]["rewritten"] is True
    assert stat.S_IMODE(populated.stat().st_mode) == mode
    assert populated.stat().st_uid == os.getuid()


def test_a_new_database_is_private(cli, write_jsonl, db_path):
    assert cli("ingest", write_jsonl("a.jsonl", [request()])).exit_code == 0
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert not db_path.with_name(db_path.name + ".wal").exists()
