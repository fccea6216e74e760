"""The ingest holds the database's write lock only to merge (issue 16 item 1): readers
open the database while files are read; the merge is one transaction; an interrupted or
failed run leaves the database as it was and no staging file behind; records stored by
a run alongside are checked again at the merge."""

from __future__ import annotations

import gzip
import json
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import aimon.store.ingest as ingest_module
from aimon.errors import InputError
from aimon.store import ingest_staging
from aimon.store.connection import connect
from aimon.store.ingest import ingest
from aimon.store.ingest_staging import STAGING_PREFIX, ingest_staged
from tests.conftest import copy_db, ingested_template, request, rows

# Opens the database read-only as a report does, without waiting: exit 0 when it could.
PROBE = "import sys, duckdb; duckdb.connect(sys.argv[1], read_only=True).close()"


def reader_opens(db: Path) -> bool:
    """Whether another process can open the database for reading right now."""
    probe = subprocess.run([sys.executable, "-c", PROBE, str(db)], capture_output=True, text=True)
    assert probe.returncode == 0 or "lock" in probe.stderr.lower(), probe.stderr
    return probe.returncode == 0


@pytest.fixture(scope="module")
def first_template(tmp_path_factory):
    return ingested_template(tmp_path_factory, [request(request_id=f"old-{i}") for i in range(3)])


@pytest.fixture
def db(first_template, tmp_path):
    return copy_db(first_template, tmp_path / "aimon.duckdb")


def contents(db: Path) -> dict[str, list[tuple]]:
    """Every stored table's rows, in a fixed order (times of the run left out)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            "requests": con.execute("SELECT * EXCLUDE (ingested_at) FROM _aimon_requests "
                                    "ORDER BY request_id").fetchall(),
            "feedback": con.execute("SELECT * EXCLUDE (ingested_at) FROM feedback ORDER BY feedback_id").fetchall(),
            "rejects": con.execute("SELECT * EXCLUDE (ingested_at) FROM rejects "
                                   "ORDER BY source_file, source_line, reason").fetchall(),
            "prices": con.execute("SELECT * EXCLUDE (snapshot_at) FROM prices ORDER BY ALL").fetchall(),
        }


def staging_left(db: Path) -> list[Path]:
    return list(db.parent.glob(f"{STAGING_PREFIX}*"))


def during_files(monkeypatch, action) -> list:
    """Run ``action()`` before each file is read and mapped; returns what it gave."""
    seen = []
    original = ingest_module._ingest_file

    def reading(*args, **kwargs):
        seen.append(action())
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_ingest_file", reading)
    return seen


# Also checked, for each of two files, by test_the_write_lock_is_held_only_to_merge.
@pytest.mark.slow
def test_readers_open_the_database_while_an_ingest_reads_its_files(cli, db, write_jsonl, monkeypatch):
    log = write_jsonl("new.jsonl", [request(request_id=f"new-{i}") for i in range(20)])
    opened = during_files(monkeypatch, lambda: reader_opens(db))
    result = cli("ingest", log, "--db", db, "--wait", "0")
    assert result.exit_code == 0, result.stderr
    assert opened == [True]
    with connect(db) as con:
        assert rows(con, "SELECT count(*) FROM requests") == [(23,)]


@pytest.mark.slow
def test_the_write_lock_is_held_only_to_merge(cli, db, write_jsonl, monkeypatch):
    logs = [write_jsonl(f"{n}.jsonl", [request(request_id=f"{n}-{i}") for i in range(5)]) for n in "ab"]
    while_reading = during_files(monkeypatch, lambda: reader_opens(db))
    while_merging = []
    original = ingest_staging._copy_staged

    def merging(con, prices):
        while_merging.append(reader_opens(db))
        original(con, prices)
        while_merging.append(reader_opens(db))  # committed, still open: still locked

    monkeypatch.setattr(ingest_staging, "_copy_staged", merging)
    result = cli("ingest", *logs, "--db", db)
    assert result.exit_code == 0, result.stderr
    assert while_reading == [True, True]
    assert while_merging == [False, False]
    assert reader_opens(db)


def test_the_staging_file_is_private_and_beside_the_database(cli, db, write_jsonl, monkeypatch):
    def modes():
        (folder,) = staging_left(db)
        return stat.S_IMODE(folder.stat().st_mode), {p.name: stat.S_IMODE(p.stat().st_mode)
                                                     for p in folder.iterdir()}

    seen = during_files(monkeypatch, modes)
    db.chmod(0o640)  # a group may read the database: the staging file is no wider
    result = cli("ingest", write_jsonl("x.jsonl", [request(request_id="x")]), "--db", db)
    assert result.exit_code == 0, result.stderr
    folder_mode, files = seen[0]
    assert folder_mode == 0o700
    assert files and all(mode & 0o037 == 0 for mode in files.values()), files
    assert staging_left(db) == []


@pytest.mark.slow
@pytest.mark.parametrize("failure", [KeyboardInterrupt, duckdb.IOException])
def test_a_run_stopped_while_staging_leaves_the_database_as_it_was(cli, db, write_jsonl, monkeypatch, failure):
    logs = [write_jsonl(f"{n}.jsonl", [request(request_id=f"{n}-{i}") for i in range(5)]) for n in "abc"]
    before = contents(db)
    original = ingest_module._ingest_file
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first file is staged already
            raise failure("stopped while staging")
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_ingest_file", failing)
    result = cli("ingest", *logs, "--db", db)
    assert result.exit_code == (130 if failure is KeyboardInterrupt else 2), result.stderr
    if failure is KeyboardInterrupt:
        assert "no rows were stored" in result.stderr
    assert contents(db) == before
    assert staging_left(db) == []


def test_a_staging_folder_left_by_a_killed_run_is_removed(cli, db, write_jsonl):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = db.parent / f"{STAGING_PREFIX}{dead.pid}-abc123"
    left.mkdir()
    (left / "staging.duckdb").write_bytes(b"half a file")
    alive = db.parent / f"{STAGING_PREFIX}1-abc123"  # pid 1 runs: not ours to remove
    alive.mkdir()
    result = cli("ingest", write_jsonl("x.jsonl", [request(request_id="x")]), "--db", db)
    assert result.exit_code == 0, result.stderr
    assert not left.exists() and alive.exists()


def run_alongside(monkeypatch, other) -> None:
    """Let ``other()`` run (and commit) between this run's staging and its merge."""
    original = ingest_staging.merge_staged

    def merge(*args, **kwargs):
        monkeypatch.setattr(ingest_staging, "merge_staged", original)
        other()
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest_staging, "merge_staged", merge)


@pytest.mark.slow
def test_a_record_stored_by_a_run_alongside_counts_as_a_duplicate(db, write_jsonl, monkeypatch):
    log = write_jsonl("same.jsonl", [request(request_id=f"same-{i}") for i in range(4)]
                      + [request(request_id="same-0")])
    other = []
    run_alongside(monkeypatch, lambda: other.append(ingest_staged(db, [log])))
    summary = ingest_staged(db, [log])
    assert (other[0].loaded, other[0].duplicates) == (4, 1)
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (5, 0, 5, 0)
    assert (summary.files[0].loaded, summary.files[0].duplicates) == (0, 5)
    with connect(db) as con:
        assert rows(con, "SELECT count(*) FROM requests WHERE request_id LIKE 'same-%'") == [(4,)]


@pytest.mark.slow
def test_a_conflict_with_a_run_alongside_reads_as_without_staging(db, tmp_path, write_jsonl, monkeypatch):
    theirs = write_jsonl("theirs.jsonl", [request(request_id="r-1", prompt="their text"), request(request_id="r-2")])
    ours = write_jsonl("ours.jsonl", [request(request_id="r-1", prompt="our text"), request(request_id="r-3")])
    serial = copy_db(db, tmp_path / "serial.duckdb")
    with connect(serial, write=True) as con:
        ingest(con, [theirs])
        expected = ingest(con, [ours])
    run_alongside(monkeypatch, lambda: ingest_staged(db, [theirs]))
    summary = ingest_staged(db, [ours])
    assert summary.files == expected.files
    assert (summary.loaded, summary.rejected) == (1, 1)
    assert contents(db) == contents(serial)
    assert staging_left(db) == []


def mixed_logs(folder: Path) -> list[Path]:
    """Files with a bit of everything an ingest accounts for: duplicates within and
    across files, a conflicting duplicate, broken and invalid records, a feedback log
    among request logs, a gzip cut short, and a model seen only in a rejected record."""
    folder.mkdir()
    lines = [json.dumps(request(request_id="m-1", model="gpt-4o-mini")),
             json.dumps(request(request_id="m-2", model="claude-3-5-haiku-latest", prompt_tokens=-5)),
             "{broken", json.dumps(request(request_id="m-1", model="gpt-4o-mini")),
             json.dumps(request(request_id="m-3", prompt="a", timestamp="not a time")), ""]
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "b.jsonl").write_text("\n".join([
        json.dumps(request(request_id="m-1", model="gpt-4o-mini")),
        json.dumps(request(request_id="m-4", model="gpt-4.1")),
        json.dumps(request(request_id="old-0", prompt="other text")),
        json.dumps(request(request_id="old-1"))]) + "\n", encoding="utf-8")
    (folder / "c.jsonl").write_text(json.dumps({"feedback_id": "f-1", "request_id": "m-1", "feedback_type": "thumbs_up",
                                                "timestamp": "2026-11-01T10:00:05Z"}) + "\n", encoding="utf-8")
    # More than the MiB a file's layout is told from, before the cut.
    whole = gzip.compress(("\n".join(json.dumps(request(request_id=f"g-{i}", prompt="w " * 800))
                                     for i in range(1500)) + "\n").encode())
    (folder / "d.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    return sorted(folder.iterdir())


# Four ingests of four files, one a 2.4 MB gzip (about 7 s of CPU): CI runs it; in the
# quick loop test_a_conflict_with_a_run_alongside_reads_as_without_staging compares a
# staged database with a serial one.
@pytest.mark.slow
def test_a_staged_ingest_stores_what_one_transaction_stores(db, tmp_path):
    logs = mixed_logs(tmp_path / "logs")
    serial = copy_db(db, tmp_path / "serial.duckdb")
    staged_runs, serial_runs = [], []
    for _ in range(2):  # the second run finds everything stored
        staged_runs.append(ingest_staged(db, logs))
        with connect(serial, write=True) as con:
            serial_runs.append(ingest(con, logs))
    assert [r.files for r in staged_runs] == [r.files for r in serial_runs]
    first = staged_runs[0]
    assert first.duplicates and first.rejected and {f.table for f in first.files} == {"requests", "feedback"}
    assert contents(db) == contents(serial)


@pytest.mark.slow
def test_a_runs_price_snapshot_does_not_depend_on_the_order_of_its_files(tmp_path, write_jsonl):
    """A model met only in a rejected record of one file kept its price row or lost it
    depending on whether a later file brought a new model; a staged run, which prices
    each file in its own snapshot, could not take the same one."""
    rejected_only = write_jsonl("a.jsonl", [request(request_id="p-1", model="claude-3-5-haiku-latest",
                                                    prompt_tokens=-5)])
    new_model = write_jsonl("b.jsonl", [request(request_id="p-2", model="gpt-4.1")])
    models = []
    for i, order in enumerate(([rejected_only, new_model], [new_model, rejected_only])):
        with connect(tmp_path / f"{i}.duckdb", write=True) as con:
            ingest(con, order)
            models.append(rows(con, "SELECT DISTINCT model FROM prices ORDER BY model"))
    assert models[0] == models[1] == [("claude-3-5-haiku-latest",), ("gpt-4.1",)]


def catalog(db: Path) -> list[tuple]:
    """Every object and applied migration of the database: its schema state."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("""SELECT 'table', table_name, sql FROM duckdb_tables() WHERE NOT internal
            UNION ALL SELECT 'view', view_name, sql FROM duckdb_views() WHERE NOT internal
            UNION ALL SELECT 'migration', name, NULL FROM _aimon_migrations ORDER BY ALL""").fetchall()


def test_a_database_the_run_creates_is_adopted_not_merged(tmp_path, write_jsonl, monkeypatch):
    """Nobody can be reading a file that did not exist: the staged database is put in
    place whole instead of having every row copied in a second time."""
    def no_merge(*args, **kwargs):
        raise AssertionError("a new database was merged")

    monkeypatch.setattr(ingest_staging, "merge_staged", no_merge)
    new = tmp_path / "new.duckdb"
    log = write_jsonl("x.jsonl", [request(request_id="x"), request(request_id="x"), request(request_id="y")])
    summary = ingest_staged(new, [log])
    assert (summary.loaded, summary.duplicates) == (2, 1)
    assert oct(new.stat().st_mode & 0o777) == "0o600"
    assert not Path(str(new) + ".wal").exists() and staging_left(new) == []
    with connect(new, write=True) as con:  # a complete aimon database: nothing left to migrate
        assert rows(con, "SELECT request_id FROM requests ORDER BY 1") == [("x",), ("y",)]
    made = tmp_path / "made.duckdb"
    connect(made, write=True).close()
    assert catalog(new) == catalog(made)
    monkeypatch.undo()
    assert ingest_staged(new, [log]).duplicates == 3  # and it is written like any other


def test_a_database_another_run_creates_meanwhile_keeps_both_runs_rows(tmp_path, write_jsonl, monkeypatch):
    new = tmp_path / "new.duckdb"
    theirs = write_jsonl("theirs.jsonl", [request(request_id="t-1"), request(request_id="both")])
    ours = write_jsonl("ours.jsonl", [request(request_id="o-1"), request(request_id="both")])
    original = ingest_staging.adopt

    def created_meanwhile(staged, db):
        with connect(db, write=True) as con:
            ingest(con, [theirs])
        return original(staged, db)

    monkeypatch.setattr(ingest_staging, "adopt", created_meanwhile)
    summary = ingest_staged(new, [ours])
    assert (summary.loaded, summary.duplicates) == (1, 1)
    with connect(new) as con:
        assert rows(con, "SELECT request_id FROM requests ORDER BY 1") == [("both",), ("o-1",), ("t-1",)]
        assert rows(con, "SELECT source_file FROM requests WHERE request_id = 'both'") == [(str(theirs),)]
    assert staging_left(new) == []


@pytest.mark.parametrize("failure", [KeyboardInterrupt, duckdb.IOException])
def test_a_run_that_fails_creating_a_database_leaves_none(tmp_path, write_jsonl, monkeypatch, failure):
    logs = [write_jsonl(f"{n}.jsonl", [request(request_id=f"{n}-{i}") for i in range(3)]) for n in "ab"]
    original = ingest_module._ingest_file
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise failure("stopped while staging")
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_ingest_file", failing)
    new = tmp_path / "new.duckdb"
    with pytest.raises((KeyboardInterrupt, InputError)):
        ingest_staged(new, logs)
    assert not new.exists() and staging_left(new) == []


def test_a_failed_run_never_removes_a_database_another_run_created_meanwhile(cli, tmp_path, write_jsonl, monkeypatch):
    # The command removes the database a failed run created (an empty file is no use); a
    # database another run created and filled while this one staged is not this run's.
    new = tmp_path / "new.duckdb"
    theirs = write_jsonl("theirs.jsonl", [request(request_id="t-1")])
    ours = write_jsonl("ours.jsonl", [request(request_id="o-1")])
    original = ingest_staging.adopt

    def created_meanwhile(staged, db):
        with connect(db, write=True) as con:
            ingest(con, [theirs])
        return original(staged, db)

    def failing_merge(*args, **kwargs):
        raise duckdb.IOException("disk full while merging")

    monkeypatch.setattr(ingest_staging, "adopt", created_meanwhile)
    monkeypatch.setattr(ingest_staging, "merge_staged", failing_merge)
    result = cli("ingest", ours, "--db", new)
    assert result.exit_code == 2
    with connect(new) as con:
        assert rows(con, "SELECT request_id FROM requests") == [("t-1",)]
