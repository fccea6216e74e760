"""aimon sql as its enemies would use it: nothing it runs changes the database or writes a file.

Every attempt runs against a loaded database; afterwards the database file (and its
hard link), every table's contents, the directory tree around it and /tmp are
compared with a snapshot taken before (issue 15 item 1, issue 16 item 7).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import duckdb
import pytest

from tests.conftest import request

MARK = f"aimon-escape-{uuid.uuid4().hex[:8]}"
TMP_TARGET = f"/tmp/{MARK}"

# (id, SQL); {db}, {link}, {symlink} and {tmp} are filled in per test. Grouped by what
# the attempt tries: attach, write the database, write a file, change settings or
# logging, install or load code, escape the statement check.
ATTEMPTS = [
    # --- attach a database read-write (the file itself, a hard link, a symlink, others)
    ("attach-scratch-rw", "ATTACH 'scratch.duckdb' AS m (READ_WRITE)"),
    ("attach-self-rw", "ATTACH '{db}' AS rw (READ_WRITE)"),
    ("attach-hardlink-rw", "ATTACH '{link}' AS rw (READ_WRITE)"),
    ("attach-symlink-rw", "ATTACH '{symlink}' AS rw (READ_WRITE)"),
    ("attach-memory", "ATTACH ':memory:' AS m"),
    ("attach-tmp", "ATTACH '{tmp}.duckdb' AS m"),
    ("attach-sqlite", "ATTACH 'scratch.sqlite' AS s (TYPE sqlite)"),
    ("attach-if-not-exists", "ATTACH IF NOT EXISTS 'scratch2.duckdb' AS m2"),
    ("attach-database-kw", "ATTACH DATABASE 'scratch3.duckdb' AS m3 (READ_WRITE)"),
    ("detach-default", "DETACH aimon"),
    ("detach-if-exists", "DETACH DATABASE IF EXISTS aimon"),
    ("use-memory", "USE memory"),
    ("issue-15-chain", "ATTACH 'scratch.duckdb' AS m (READ_WRITE); USE m; DETACH aimon; "
                       "ATTACH '{db}' AS rw (READ_WRITE); DELETE FROM rw._aimon_requests"),
    ("hardlink-chain", "ATTACH '{link}' AS rw (READ_WRITE); DELETE FROM rw.audit_log"),
    # --- change the database
    ("delete-requests", "DELETE FROM _aimon_requests"),
    ("delete-view", "DELETE FROM requests"),
    ("delete-audit-log", "DELETE FROM audit_log"),
    ("update", "UPDATE _aimon_requests SET model = 'x'"),
    ("insert", "INSERT INTO feedback (request_id) VALUES ('x')"),
    ("insert-or-replace", "INSERT OR REPLACE INTO prices SELECT * FROM prices"),
    ("truncate", "TRUNCATE _aimon_requests"),
    ("drop-table", "DROP TABLE _aimon_requests"),
    ("drop-view", "DROP VIEW requests"),
    ("alter", "ALTER TABLE _aimon_requests ADD COLUMN x INTEGER"),
    ("create-table", "CREATE TABLE x AS SELECT 1 AS a"),
    ("create-temp-table", "CREATE TEMP TABLE x AS SELECT 1 AS a"),
    ("create-view", "CREATE VIEW v AS SELECT 1 AS a"),
    ("create-macro", "CREATE MACRO m() AS 1"),
    ("create-function", "CREATE FUNCTION f(a) AS a + 1"),
    ("create-sequence", "CREATE SEQUENCE s"),
    ("create-index", "CREATE INDEX i ON _aimon_requests (model)"),
    ("create-schema", "CREATE SCHEMA s"),
    ("create-type", "CREATE TYPE t AS INTEGER"),
    ("create-secret", "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')"),
    ("create-persistent-secret", "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')"),
    ("comment-on", "COMMENT ON TABLE _aimon_requests IS 'x'"),
    ("merge-into", "MERGE INTO feedback USING (SELECT 'x' AS request_id) s USING (request_id) "
                   "WHEN NOT MATCHED THEN INSERT (request_id) VALUES (s.request_id)"),
    ("transaction", "BEGIN; DELETE FROM _aimon_requests; COMMIT"),
    ("checkpoint", "CHECKPOINT"),
    ("force-checkpoint", "FORCE CHECKPOINT"),
    ("vacuum", "VACUUM"),
    ("analyze", "ANALYZE"),
    ("prepare-delete", "PREPARE p AS DELETE FROM _aimon_requests"),
    ("execute", "EXECUTE p"),
    ("explain-analyze-delete", "EXPLAIN ANALYZE DELETE FROM _aimon_requests"),
    ("query-function-delete", "SELECT * FROM query('DELETE FROM _aimon_requests')"),
    ("cte-delete", "WITH d AS (DELETE FROM _aimon_requests RETURNING *) SELECT * FROM d"),
    ("force-checkpoint-function", "SELECT * FROM force_checkpoint()"),
    # --- write a file
    ("copy-to-csv", "COPY (SELECT 1 AS a) TO 'out.csv'"),
    ("copy-table-parquet", "COPY _aimon_requests TO 'out.parquet' (FORMAT parquet)"),
    ("copy-to-tmp", "COPY (SELECT 1 AS a) TO '{tmp}.csv'"),
    ("copy-to-json", "COPY (SELECT prompt FROM requests) TO 'prompts.json'"),
    ("copy-from", "COPY feedback FROM 'x.csv'"),
    ("explain-analyze-copy", "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO 'out.csv'"),
    ("export-database", "EXPORT DATABASE 'exported'"),
    ("export-database-tmp", "EXPORT DATABASE '{tmp}' (FORMAT parquet)"),
    ("import-database", "IMPORT DATABASE 'exported'"),
    ("copy-from-database", "COPY FROM DATABASE aimon TO memory"),
    # --- settings and logging that act later
    ("set-log-query-path", "SET log_query_path = 'queries.log'"),
    ("set-log-query-path-tmp", "SET log_query_path = '{tmp}.log'"),
    ("call-enable-logging", "CALL enable_logging(storage = 'file', storage_path = 'logs')"),
    ("select-enable-logging", "SELECT * FROM enable_logging(storage = 'file', storage_path = 'logs')"),
    ("pragma-enable-profiling", "PRAGMA enable_profiling"),
    ("pragma-profiling-output", "PRAGMA profiling_output = 'profile.json'"),
    ("set-profiling-output", "SET profiling_output = 'profile.json'"),
    ("set-enable-profiling", "SET enable_profiling = 'json'"),
    ("set-temp-directory", "SET temp_directory = '.'"),
    ("set-external-access", "SET enable_external_access = true"),
    ("reset-lock", "RESET lock_configuration"),
    ("set-lock-off", "SET lock_configuration = false"),
    ("set-allowed-directories", "SET allowed_directories = ['/']"),
    ("set-global-threads", "SET GLOBAL threads = 1"),
    ("set-variable", "SET VARIABLE x = 1"),
    ("pragma-version", "PRAGMA version"),
    # --- install or load code
    ("install-httpfs", "INSTALL httpfs"),
    ("force-install", "FORCE INSTALL httpfs"),
    ("install-from-url", "INSTALL httpfs FROM 'http://127.0.0.1:9/'"),
    ("load-httpfs", "LOAD httpfs"),
    ("load-local-file", "LOAD 'evil.duckdb_extension'"),
    ("autoload-https", "SELECT * FROM read_csv('https://127.0.0.1:9/x.csv')"),
    # --- read outside the database without --read-files
    ("read-etc-passwd", "SELECT * FROM read_text('/etc/passwd')"),
    ("read-local-csv", "SELECT * FROM read_csv('data/x.csv')"),
    ("glob-root", "SELECT * FROM glob('/*')"),
    ("replacement-scan", "SELECT * FROM 'data/x.csv'"),
]


def _snapshot_tree(root: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink() or path.is_dir():
                out[str(path)] = (0, "")
            else:
                out[str(path)] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _table_digests(db: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()]
        out = {}
        for name in names:
            out[name] = con.execute(
                f'SELECT count(*), md5(coalesce(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR), \'\')) '
                f'FROM "{name}" t').fetchone()
        return out
    finally:
        con.close()


def _tmp_marked() -> list[str]:
    return sorted(name for name in os.listdir("/tmp") if MARK in name)


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """One ingest per module; each test gets its own copy of the file."""
    from aimon.store.connection import connect
    from aimon.store.ingest import ingest

    folder = tmp_path_factory.mktemp("sql-template")
    logs = folder / "a.jsonl"
    logs.write_text("".join(json.dumps(request(request_id=f"r{i}", user_id=f"u{i % 3}")) + "\n"
                            for i in range(5)))
    db = folder / "aimon.duckdb"
    con = connect(db, write=True)
    try:
        ingest(con, [logs])
    finally:
        con.close()
    return db


@pytest.fixture
def loaded(template_db, tmp_path):
    db = tmp_path / "aimon.duckdb"
    shutil.copyfile(template_db, db)
    os.link(db, tmp_path / "link.duckdb")
    os.symlink(db, tmp_path / "symlink.duckdb")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a,b\n1,2\n")
    return db


@pytest.mark.slow
@pytest.mark.parametrize(("sql",), [(q,) for _, q in ATTEMPTS], ids=[i for i, _ in ATTEMPTS])
def test_no_attempt_changes_the_database_or_writes_a_file(cli, loaded, tmp_path, sql):
    query = sql.format(db=loaded, link=tmp_path / "link.duckdb", symlink=tmp_path / "symlink.duckdb",
                       tmp=TMP_TARGET)
    tree, tables, tmp_before = _snapshot_tree(tmp_path), _table_digests(loaded), _tmp_marked()
    result = cli("sql", query)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    assert _snapshot_tree(tmp_path) == tree
    assert _table_digests(loaded) == tables
    assert _tmp_marked() == tmp_before == []


# The attempts DuckDB's own settings stop even when the statement check is bypassed:
# the second guard holds on its own for everything that reaches a file or the network.
SANDBOX_ALONE = {"attach-scratch-rw", "attach-hardlink-rw", "attach-symlink-rw", "attach-tmp",
                 "attach-sqlite", "copy-to-csv", "copy-to-tmp", "copy-table-parquet",
                 "export-database", "export-database-tmp", "set-log-query-path",
                 "call-enable-logging", "set-profiling-output", "set-temp-directory",
                 "set-external-access", "set-lock-off", "set-allowed-directories",
                 "install-httpfs", "load-httpfs", "load-local-file", "read-etc-passwd",
                 "read-local-csv", "delete-requests", "drop-table", "create-table"}


@pytest.mark.slow
@pytest.mark.parametrize("attempt", sorted(SANDBOX_ALONE))
def test_the_sandbox_alone_stops_file_and_network_access(loaded, tmp_path, attempt):
    from aimon.store.connection import connect
    from aimon.store.query import sandbox

    sql = dict(ATTEMPTS)[attempt].format(db=loaded, link=tmp_path / "link.duckdb",
                                         symlink=tmp_path / "symlink.duckdb", tmp=TMP_TARGET)
    tree, tables = _snapshot_tree(tmp_path), _table_digests(loaded)
    con = connect(loaded)
    try:
        sandbox(con)
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    finally:
        con.close()
    assert _snapshot_tree(tmp_path) == tree
    assert _table_digests(loaded) == tables
    assert _tmp_marked() == []


def test_at_least_sixty_attempts():
    assert len(ATTEMPTS) >= 60
    assert len({i for i, _ in ATTEMPTS}) == len(ATTEMPTS)


@pytest.mark.slow
def test_the_refusal_names_the_statement_kind(cli, loaded):
    result = cli("sql", "COPY (SELECT 1) TO 'out.csv'")
    assert "COPY statement is not allowed" in result.stderr
    result = cli("sql", "SELECT 1; SELECT 2")
    assert "one statement at a time" in result.stderr


@pytest.mark.parametrize("query", [
    "SELECT * FROM checkpoint()",
    "SELECT * FROM truncate_duckdb_logs()",
    "SELECT * FROM duckdb_settings()",
])
def test_harmless_functions_of_the_select_kind_change_nothing(cli, loaded, tmp_path, query):
    tree, tables = _snapshot_tree(tmp_path), _table_digests(loaded)
    result = cli("sql", query)
    assert result.exit_code == 0, result.output
    assert _snapshot_tree(tmp_path) == tree
    assert _table_digests(loaded) == tables


def test_read_files_lets_a_query_read_only_there(cli, loaded, tmp_path):
    result = cli("sql", "SELECT a + b AS s FROM read_csv('data/x.csv')", "--read-files", "data", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"s": 3}]
    outside = cli("sql", "SELECT * FROM read_text('/etc/passwd')", "--read-files", "data")
    assert outside.exit_code == 2 and "--read-files" in outside.stderr
    tree = _snapshot_tree(tmp_path)
    write = cli("sql", "COPY (SELECT 1 AS a) TO 'data/y.csv'", "--read-files", "data")
    assert write.exit_code == 2
    assert _snapshot_tree(tmp_path) == tree


def test_ordinary_reads_still_work(cli, loaded):
    for query in ("SELECT count(*) AS n FROM requests", "FROM requests SELECT model LIMIT 1",
                  "DESCRIBE requests", "SHOW TABLES", "SUMMARIZE SELECT latency_ms FROM requests",
                  "WITH t AS (SELECT 1 AS a) SELECT * FROM t", "VALUES (1), (2)"):
        result = cli("sql", query, "-f", "json")
        assert result.exit_code == 0, (query, result.output)


# --------------------------------------------------------------------------- row cap

def test_table_output_is_capped_like_the_duckdb_shell(cli, loaded):
    result = cli("sql", "SELECT range AS n FROM range(1000)")
    assert result.exit_code == 0
    assert "… 960 more rows" in result.stdout
    assert " 39 " in result.stdout and " 40 " not in result.stdout
    md = cli("sql", "SELECT range AS n FROM range(1000)", "-f", "markdown").stdout
    assert md.count("\n| ") == 40 and "960 more rows" in md


def test_limit_changes_the_cap_and_zero_shows_all(cli, loaded):
    result = cli("sql", "SELECT range AS n FROM range(100)", "--limit", "5")
    assert "… 95 more rows" in result.stdout
    everything = cli("sql", "SELECT range AS n FROM range(100)", "--limit", "0")
    assert "more rows" not in everything.stdout and " 99 " in everything.stdout


def test_csv_and_json_are_not_capped_unless_asked(cli, loaded):
    assert len(cli("sql", "SELECT range AS n FROM range(1000)", "-f", "csv").stdout.splitlines()) == 1001
    assert len(json.loads(cli("sql", "SELECT range AS n FROM range(1000)", "-f", "json").stdout)) == 1000
    capped = cli("sql", "SELECT range AS n FROM range(1000)", "-f", "json", "--limit", "10")
    assert len(json.loads(capped.stdout)) == 10
    assert "990 more rows" in capped.stderr
