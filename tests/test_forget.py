"""`aimon forget` and `aimon purge`: every row of the user from every table, an audit entry
without the data, and the bytes gone from the database file."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import duckdb
import pytest

from aimon.analysis.pii.entities import Field
from aimon.store import forget as lib
from aimon.store.connection import connect
from tests.conftest import request, rows

VICTIM = "zz-victim-7f3a9c"
PLANTED_TEXT = "PLANTED-FEEDBACK-9d41e7"     # in an uncompressed VARCHAR column: greppable
PLANTED_REJECT = "PLANTED-REJECT-5c2b80"
OTHERS = [f"user-{i}" for i in range(40)]


def file_holds(path, *values: str) -> dict[str, bool]:
    data = path.read_bytes()
    wal = path.with_name(path.name + ".wal")
    data += wal.read_bytes() if wal.exists() else b""
    return {v: v.encode() in data for v in values}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Built once per module (ingest + scan); each test works on a copy."""
    from typer.testing import CliRunner

    from aimon.cli import app

    work = tmp_path_factory.mktemp("forget-db")
    db = work / "template.duckdb"
    recs = [request(request_id=f"r{i}", user_id=OTHERS[i % len(OTHERS)],
                    timestamp=f"2026-11-{1 + i % 20:02d}T10:00:00Z", prompt=f"question {i} " + "about refunds " * 20)
            for i in range(2000)]
    recs += [request(request_id="v1", user_id=VICTIM, timestamp="2026-11-05T10:00:00Z",
                     prompt="mail me at victim.person@example.org"),
             request(request_id="v2", user_id=VICTIM, timestamp="2026-11-06T10:00:00Z", prompt="thanks")]
    # A record of the victim that cannot load (bad time) lands in rejects with its raw text.
    recs.append(request(request_id="v3", user_id=VICTIM, timestamp="not a time", prompt=PLANTED_REJECT))
    fb = [{"timestamp": "2026-11-05T11:00:00Z", "request_id": "v1", "feedback_type": "thumbs_down",
           "feedback_text": PLANTED_TEXT},  # no user_id: found through the request
          {"timestamp": "2026-11-05T11:00:00Z", "request_id": "r7", "user_id": OTHERS[7],
           "feedback_type": "thumbs_up", "feedback_text": "great"}]
    (work / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (work / "f.jsonl").write_text("".join(json.dumps(r) + "\n" for r in fb))
    runner = CliRunner()
    for args in (["ingest", work / "r.jsonl"], ["ingest", "--feedback", work / "f.jsonl"],
                 ["audit", "pii"]):  # the audit fills pii_findings and pii_scanned
        assert runner.invoke(app, [*map(str, args), "--db", str(db)]).exit_code == 0
    con = connect(db, write=True)
    # Tables added later by other features: found by their columns, not by name.
    con.execute("CREATE TABLE embeddings AS SELECT request_id, [1.0, 2.0]::FLOAT[] AS vector FROM requests")
    con.execute("CREATE TABLE user_prefs AS SELECT DISTINCT user_id, 'dark' AS theme FROM requests")
    con.execute("CREATE TABLE notes (subject VARCHAR, note VARCHAR)")
    con.execute("INSERT INTO notes VALUES ('someone', 'ok')")
    con.execute("CHECKPOINT")
    con.close()
    return db


@pytest.fixture
def populated(template, db_path):
    shutil.copy(template, db_path)
    return db_path


def counts(db_path) -> dict[str, int]:
    con = connect(db_path)
    out = {t: rows(con, f"SELECT count(*) FROM {t}")[0][0]
           for t in ("requests", "feedback", "rejects", "pii_findings", "pii_scanned", "embeddings", "user_prefs")}
    con.close()
    return out


def test_checkpoint_alone_leaves_deleted_values_in_the_file(tmp_path):
    """Why forget rewrites the file: DuckDB keeps deleted values in freed blocks and
    min/max statistics after DELETE + CHECKPOINT."""
    path = tmp_path / "raw.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT 'user-' || (i % 100) AS user_id FROM range(100000) r(i)")
    con.execute("INSERT INTO t VALUES ($v)", {"v": VICTIM})
    con.execute("CHECKPOINT")
    con.execute("DELETE FROM t WHERE user_id = $v", {"v": VICTIM})
    con.execute("CHECKPOINT")
    con.close()
    if not file_holds(path, VICTIM)[VICTIM]:
        pytest.skip("this DuckDB scrubs deleted values on checkpoint; compaction may be unnecessary")


@pytest.mark.slow
def test_forget_removes_the_user_everywhere_and_the_bytes_from_the_file(cli, populated):
    before = counts(populated)
    # The user id and the feedback text sit in the file as plain bytes (rejects.raw is
    # zstd-compressed, so its planted text is checked through SQL below).
    assert all(file_holds(populated, VICTIM, PLANTED_TEXT).values())
    result = cli("forget", "--user", VICTIM, "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    per_table = {t["table"]: t["rows"] for t in data["tables"]}
    assert per_table["requests"] == 2 and per_table["feedback"] == 1 and per_table["rejects"] == 1
    assert per_table["embeddings"] == 2 and per_table["user_prefs"] == 1
    assert per_table["pii_findings"] == 1 and per_table["pii_scanned"] == 2 * len(Field)  # 2 requests x every scanned field
    assert data["rows_deleted"] == sum(per_table.values())
    assert "notes" in data["not_searched"]
    assert data["file"]["rewritten"] is True
    after = counts(populated)
    assert {t: before[t] - after[t] for t in before} == {t: per_table[t] for t in before}
    # The bytes are gone from the database file, not only hidden.
    assert file_holds(populated, VICTIM, PLANTED_TEXT, PLANTED_REJECT) == {
        VICTIM: False, PLANTED_TEXT: False, PLANTED_REJECT: False}
    assert cli("sql", f"SELECT count(*) AS n FROM rejects WHERE contains(raw, '{PLANTED_REJECT}')",
               "-f", "csv").stdout == "n\n0\n"
    assert not list(populated.parent.glob("*.compact*"))
    # Other users are untouched and the database still works.
    assert cli("sql", f"SELECT count(*) AS n FROM requests WHERE user_id = '{OTHERS[7]}'", "-f", "json").stdout \
        .count('"n": 50') == 1
    assert cli("audit", "pii", "--fail-on", "email").exit_code == 0


def test_the_audit_entry_records_counts_never_the_data(cli, populated):
    assert cli("forget", "--user", VICTIM).exit_code == 0
    con = connect(populated)
    (entry,) = lib.audit_entries(con)
    con.close()
    assert entry["action"] == "forget" and entry["rows_deleted"] > 0
    assert entry["tables"]["requests"] == 2
    assert VICTIM not in json.dumps(entry, default=str)


def test_dry_run_changes_nothing(cli, populated):
    before = counts(populated)
    size = populated.stat().st_size
    result = cli("forget", "--user", VICTIM, "--dry-run", "-f", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["dry_run"] is True and data["rows_deleted"] > 0 and data["file"] is None
    assert counts(populated) == before and populated.stat().st_size == size
    con = connect(populated)
    assert lib.audit_entries(con) == []
    con.close()


def test_registered_links_cover_tables_keyed_otherwise(cli, populated, monkeypatch):
    con = connect(populated, write=True)
    con.execute("INSERT INTO notes VALUES ($v, 'call back')", {"v": VICTIM})
    con.close()
    monkeypatch.setitem(lib.FORGET_LINKS, "notes", "subject IN (SELECT user_id FROM _aimon_forget_users)")
    data = json.loads(cli("forget", "--user", VICTIM, "-f", "json").stdout)
    assert {t["table"]: t["rows"] for t in data["tables"]}["notes"] == 1
    assert "notes" not in data["not_searched"]


def test_forget_needs_a_user(cli, populated):
    result = cli("forget")
    assert result.exit_code == 2
    result = cli("forget", "--user", "")
    assert result.exit_code == 2 and "user id" in result.stderr


def test_purge_enforces_retention_with_dependents_and_rewrites_the_file(cli, populated):
    before = counts(populated)
    assert file_holds(populated, PLANTED_TEXT)[PLANTED_TEXT]
    # As of 2026-11-26, 21 days keeps 2026-11-05 and later.
    result = cli("purge", "--older-than", "21d", "--as-of", "2026-11-26", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["criteria"].startswith("older than 2026-11-05T00:00:00+00:00")
    after = counts(populated)
    con = connect(populated)
    assert rows(con, "SELECT min(ts) FROM requests")[0][0].isoformat().startswith("2026-11-05")
    assert rows(con, "SELECT count(*) FROM embeddings WHERE request_id NOT IN (SELECT request_id FROM requests)") \
        == [(0,)]
    assert rows(con, "SELECT count(*) FROM pii_scanned WHERE request_id NOT IN (SELECT request_id FROM requests)") \
        == [(0,)]
    (entry,) = lib.audit_entries(con)
    con.close()
    assert entry["action"] == "purge" and entry["rows_deleted"] == data["rows_deleted"]
    assert before["requests"] - after["requests"] == 400  # 4 of 20 days of 100 requests
    assert after["feedback"] == before["feedback"]        # the feedback is from 2026-11-05
    assert after["rejects"] == before["rejects"]          # ingested today
    assert after["user_prefs"] == before["user_prefs"]    # no time column: retention leaves it


def test_purge_dry_run_and_bad_spans(cli, populated):
    data = json.loads(cli("purge", "--older-than", "2026-11-03", "--dry-run", "-f", "json").stdout)
    assert data["dry_run"] is True and {t["table"]: t["rows"] for t in data["tables"]}["requests"] == 200
    result = cli("purge", "--older-than", "soon")
    assert result.exit_code == 2 and "--older-than" in result.stderr


def test_every_migrated_table_is_searched_or_known_to_hold_no_personal_data(con):
    """A new table that keeps personal data under another key must be registered
    (register_link) or listed here with the reason it holds none."""
    no_personal_data = {
        "alert_state": "keyed by rule and model/endpoint/prompt_version/variant/user_tier splits, never a user",
        "prices": "the price snapshot",
        "validation_runs": "which checks, versions and settings a validation run applied",
        "validation_coverage_ranges": "which ranges of requests a validation run covered: an ingest's instant, "
                                      "endpoint, model, prompt version and two instants, never a user or request id",
        "embedding_models": "model names and settings",
    }
    for result in (lib.forget_users(con, ["nobody"], dry_run=True),
                   lib.purge_older_than(con, datetime(2026, 1, 1, tzinfo=UTC), dry_run=True)):
        assert set(result.not_searched) == set(no_personal_data), result.action
        assert {t.table for t in result.tables} == {"requests", "feedback", "rejects", "pii_findings", "pii_scanned",
                                                    "security_findings", "security_scanned", "validation_coverage",
                                                    "validation_outcomes", "embeddings_384"}


def test_forget_and_purge_refuse_a_missing_database_instead_of_creating_one(cli, db_path):
    for args in (["forget", "--user", VICTIM], ["purge", "--older-than", "90d"]):
        result = cli(*args)
        assert result.exit_code == 2 and "no database at" in result.stderr
        assert not db_path.exists()
