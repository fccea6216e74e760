"""The store keeps caches and state; analyses only read and return what to keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from aimon.analysis.alerts.check import CheckResult, Evaluation, StateChange, track_state
from aimon.analysis.alerts.rules import DEFAULT_RULES
from aimon.analysis.pii.cache import pending, scan_pending
from aimon.analysis.pii.entities import DEFAULT_FIELDS
from aimon.analysis.toolkit.window import Window
from aimon.store import alert_state, pii_cache
from aimon.store.connection import connect
from aimon.store.session import parameters, transaction
from tests.costing import add

AT = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
WINDOW = Window(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))


def test_a_transaction_that_raises_leaves_the_tables_as_they_were(con):
    con.execute("CREATE TABLE t (x INT)")
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("interrupted")
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    with transaction(con):
        con.execute("INSERT INTO t VALUES (2)")
    assert con.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_parameters_are_the_ones_a_statement_names():
    assert parameters("SELECT $a, $a_b", {"a": 1, "a_b": 2, "c": 3}) == {"a": 1, "a_b": 2}


def _evaluation(state: str, at: datetime = AT) -> Evaluation:
    return Evaluation("error_rate_high", "P1", "error_rate", "", state, 0.5, 0.05, None, None, 40.0,
                      at - timedelta(minutes=5), at, "")


def _result(state: str, at: datetime = AT) -> CheckResult:
    return CheckResult(at, DEFAULT_RULES, (_evaluation(state, at),))


def test_alert_state_is_decided_as_data_and_recorded_by_the_store(con):
    result, changes = track_state(_result("firing"), alert_state.open_incidents(con))
    assert [c.kind for c in changes] == ["open"] and result.evaluations[0].status == "new"
    alert_state.record(con, changes)
    # Ten minutes later, inside the 30-minute cooldown: the same incident, paged once.
    later = AT + timedelta(minutes=10)
    result, changes = track_state(_result("firing", later), alert_state.open_incidents(con))
    assert [c.kind for c in changes] == ["continue"] and result.evaluations[0].status == "ongoing"
    alert_state.record(con, changes)
    rows = con.execute("SELECT opened_at, last_fired_at, checks, resolved_at FROM alert_state").fetchall()
    assert rows == [(AT, later, 2, None)]
    # Quiet for a whole cooldown: resolved.
    quiet = AT + timedelta(hours=1)
    result, changes = track_state(_result("ok", quiet), alert_state.open_incidents(con))
    assert [c.kind for c in changes] == ["resolve"] and result.resolved
    alert_state.record(con, changes)
    assert alert_state.open_incidents(con) == []


def test_a_failing_change_records_none_of_the_check(con):
    good = StateChange("open", "r", "", AT, "P1", 1.0, 0.5, AT)
    clash = StateChange("open", "s", "", AT, "P1", "not a number", 0.5, AT)  # fails in the second INSERT
    before = con.execute("SELECT count(*) FROM alert_state").fetchall()
    with pytest.raises(duckdb.Error):
        alert_state.record(con, [good, clash])
    assert con.execute("SELECT count(*) FROM alert_state").fetchall() == before


@pytest.fixture
def pii_db(_migrated, tmp_path):
    from tests.conftest import copy_db

    path = copy_db(_migrated, tmp_path / "pii.duckdb")
    con = connect(path, write=True)
    add(con, {"ts": AT, "prompt": "mail me at jane.doe@example.com"}, {"ts": AT, "prompt": "nothing here"})
    con.close()
    return path


@pytest.mark.slow
def test_a_pii_scan_reads_a_read_only_database_and_the_store_keeps_it(pii_db):
    # Before the store took the cache, the scan wrote as it went: it needed a write connection.
    ro = duckdb.connect(str(pii_db), read_only=True)
    try:
        todo = pending(ro, WINDOW, DEFAULT_FIELDS)
        scan = scan_pending(ro, WINDOW, DEFAULT_FIELDS)
        assert todo > 0 and scan.stats.texts == todo and scan.stats.findings == 1
        assert ro.execute("SELECT count(*) FROM pii_scanned").fetchall() == [(0,)]
    finally:
        ro.close()
    con = connect(pii_db, write=True)
    try:
        pii_cache.keep(con, scan_pending(con, WINDOW, DEFAULT_FIELDS))
        assert pending(con, WINDOW, DEFAULT_FIELDS) == 0
        assert con.execute("SELECT entity_type FROM pii_findings").fetchall() == [("email",)]
        # A rescan replaces the window's findings and marks: nothing doubles.
        marks = con.execute("SELECT count(*) FROM pii_scanned").fetchall()
        again = scan_pending(con, WINDOW, DEFAULT_FIELDS, rescan=True)
        assert again.stats.texts == marks[0][0]
        pii_cache.keep(con, again)
        assert con.execute("SELECT count(*) FROM pii_scanned").fetchall() == marks
        assert con.execute("SELECT count(*) FROM pii_findings").fetchall() == [(1,)]
    finally:
        con.close()


# --------------------------------------------------------------------------- sessions and locks

def _table_rows(path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as raw:
        return raw.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_session_keeps_under_the_write_lock_and_reads_back(_migrated, tmp_path):
    from aimon.store.session import session
    from tests.conftest import copy_db

    db = copy_db(_migrated, tmp_path / "w.duckdb")
    with session(db) as s:
        with s.look() as con, pytest.raises(duckdb.Error):
            con.execute("INSERT INTO pii_scanned VALUES ('x', 'prompt', now())")  # looking never writes
        with s.keep() as con:
            con.execute("CREATE TABLE kept (x INT)")
            con.execute("INSERT INTO kept VALUES (1)")
        assert s.stored and s.read_only is None
        with s.read() as con:
            assert con.execute("SELECT x FROM kept").fetchall() == [(1,)]
    assert _table_rows(db, "kept") == 1


def test_a_session_that_has_nothing_to_keep_stays_read_only(_migrated, tmp_path):
    from aimon.store.session import session
    from tests.conftest import copy_db

    db = copy_db(_migrated, tmp_path / "r.duckdb")
    with session(db) as s, s.keep(refused=True) as con, pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE kept (x INT)")
    assert not s.stored and s.read_only is None


def test_a_session_on_a_read_only_file_keeps_in_memory_and_reads_that_back(_migrated, tmp_path):
    from aimon.store.session import session
    from tests.conftest import copy_db

    db = copy_db(_migrated, tmp_path / "ro.duckdb")
    with duckdb.connect(str(db)) as raw:
        raw.execute("CREATE TABLE kept (x INT)")
    db.chmod(0o444)
    try:
        with session(db) as s:
            with s.keep(shadow=("kept",)) as con:
                con.execute("INSERT INTO kept VALUES (1)")
            assert not s.stored and s.read_only and "read-only" in s.read_only
            with s.read() as con:
                assert con.execute("SELECT x FROM kept").fetchall() == [(1,)]
        assert _table_rows(db, "kept") == 0
    finally:
        db.chmod(0o644)
