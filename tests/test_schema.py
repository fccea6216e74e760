"""The canonical schema is a contract: exact columns and types, numbered migrations."""

from __future__ import annotations

import duckdb
import pytest

from aimon.errors import InputError, SchemaError
from aimon.store import schema
from aimon.store.connection import connect

REQUESTS = [
    ("request_id", "VARCHAR"), ("ts", "TIMESTAMP WITH TIME ZONE"), ("user_id", "VARCHAR"),
    ("session_id", "VARCHAR"), ("endpoint", "VARCHAR"), ("provider", "VARCHAR"), ("model", "VARCHAR"),
    ("model_version", "VARCHAR"), ("prompt_version", "VARCHAR"), ("system_prompt", "VARCHAR"),
    ("prompt", "VARCHAR"), ("response", "VARCHAR"), ("input_tokens", "BIGINT"),
    ("output_tokens", "BIGINT"), ("cached_input_tokens", "BIGINT"), ("cache_write_tokens", "BIGINT"),
    ("reasoning_tokens", "BIGINT"), ("cost_usd", "DOUBLE"), ("latency_ms", "DOUBLE"),
    ("ttft_ms", "DOUBLE"), ("status", "VARCHAR"), ("error_type", "VARCHAR"),
    ("error_message", "VARCHAR"), ("cache_hit", "BOOLEAN"), ("experiment", "VARCHAR"),
    ("variant", "VARCHAR"), ("success", "BOOLEAN"), ("temperature", "DOUBLE"),
    ("user_tier", "VARCHAR"), ("jurisdiction", "VARCHAR"), ("consent", "BOOLEAN"),
    ("feedback", "VARCHAR"), ("extra", "JSON"), ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"), ("source_format", "VARCHAR"), ("ingested_at", "TIMESTAMP WITH TIME ZONE"),
]
FEEDBACK = [
    ("feedback_id", "VARCHAR"), ("request_id", "VARCHAR"), ("ts", "TIMESTAMP WITH TIME ZONE"),
    ("user_id", "VARCHAR"), ("feedback_type", "VARCHAR"), ("feedback_category", "VARCHAR"),
    ("feedback_text", "VARCHAR"), ("extra", "JSON"), ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"), ("source_format", "VARCHAR"), ("ingested_at", "TIMESTAMP WITH TIME ZONE"),
]
REJECTS = [
    ("source_file", "VARCHAR"), ("source_line", "BIGINT"), ("raw", "VARCHAR"), ("reason", "VARCHAR"),
    ("ingested_at", "TIMESTAMP WITH TIME ZONE"), ("raw_bytes", "BLOB"),
]


TZ = "TIMESTAMP WITH TIME ZONE"
SECURITY_FINDINGS = [
    ("request_id", "VARCHAR"), ("ts", TZ), ("field", "VARCHAR"), ("family", "VARCHAR"), ("category", "VARCHAR"),
    ("rule", "VARCHAR"), ("severity", "VARCHAR"), ("score", "DOUBLE"), ("start", "INTEGER"), ("end", "INTEGER"),
    ("obfuscation", "VARCHAR"), ("evidence", "VARCHAR"), ("detector_version", "INTEGER"), ("settings", "VARCHAR"),
]
SECURITY_SCANNED = [("request_id", "VARCHAR"), ("field", "VARCHAR"), ("detector_version", "INTEGER"),
                    ("settings", "VARCHAR"), ("scanned_at", TZ)]
VALIDATIONS = [
    ("request_id", "VARCHAR"), ("ts", TZ), ("check_name", "VARCHAR"), ("passed", "BOOLEAN"), ("detail", "VARCHAR"),
    ("checker_version", "INTEGER"), ("settings", "VARCHAR"), ("run_id", "INTEGER"), ("ran_at", TZ),
]
VALIDATION_RUNS = [("run_id", "INTEGER"), ("check_name", "VARCHAR"), ("checker_version", "INTEGER"),
                   ("settings", "VARCHAR"), ("ran_at", TZ)]


def columns(con, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


EMBEDDING_MODELS = [
    ("model", "VARCHAR"), ("name", "VARCHAR"), ("dim", "INTEGER"), ("max_seq_length", "INTEGER"),
    ("created_at", "TIMESTAMP WITH TIME ZONE"),
]
EMBEDDINGS_384 = [
    ("model", "VARCHAR"), ("text_sha256", "BLOB"), ("vector", "FLOAT[384]"),
    ("created_at", "TIMESTAMP WITH TIME ZONE"),
]


@pytest.mark.parametrize(("table", "expected"), [("requests", REQUESTS), ("feedback", FEEDBACK),
                                                  ("rejects", REJECTS), ("security_findings", SECURITY_FINDINGS),
                                                  ("security_scanned", SECURITY_SCANNED),
                                                  ("validations", VALIDATIONS), ("validation_runs", VALIDATION_RUNS),
                                                  ("embedding_models", EMBEDDING_MODELS),
                                                  ("embeddings_384", EMBEDDINGS_384)])


def test_fresh_database_has_exactly_the_documented_columns(con, table, expected):
    assert columns(con, table) == expected


def test_migrations_are_recorded_and_applied_once(tmp_path):
    path = tmp_path / "m.duckdb"
    connect(path, write=True).close()
    with duckdb.connect(str(path)) as raw:
        names = [r[0] for r in raw.execute("SELECT name FROM _aimon_migrations ORDER BY name").fetchall()]
    assert names == [m.__name__ for m in schema.MIGRATIONS]
    con = connect(path, write=True)
    assert schema.pending(con) == []
    assert schema.migrate(con) == 0
    assert schema.schema_version(con) == len(schema.MIGRATIONS)
    con.close()


def test_read_only_open_of_an_older_database_migrates_it_first(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as raw:
        raw.execute(schema.MIGRATIONS_TABLE_SQL)
        schema.MIGRATIONS[0](raw)  # m001_requests
        raw.execute("INSERT INTO _aimon_migrations (name) VALUES ('m001_requests')")
    con = connect(path, write=False)
    assert schema.schema_version(con) == len(schema.MIGRATIONS)
    con.close()


def test_a_failing_migration_leaves_no_trace(tmp_path, monkeypatch):
    path = tmp_path / "f.duckdb"

    def m004_broken(c):
        c.execute("CREATE TABLE half_done (a INT)")
        c.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, m004_broken])
    with pytest.raises(InputError, match="no_such_table"):
        connect(path, write=True)
    with duckdb.connect(str(path)) as raw:
        tables = {r[0] for r in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        recorded = {r[0] for r in raw.execute("SELECT name FROM _aimon_migrations").fetchall()}
    assert "half_done" not in tables
    assert "m004_broken" not in recorded
    assert "m003_rejects" in recorded


def test_database_from_a_newer_aimon_is_refused_clearly(tmp_path, cli):
    path = tmp_path / "new.duckdb"
    connect(path, write=True).close()
    with duckdb.connect(str(path)) as raw:
        raw.execute("INSERT INTO _aimon_migrations (name) VALUES ('m999_from_the_future')")
    with pytest.raises(SchemaError, match="newer aimon"):
        connect(path, write=False)
    result = cli("db", "info", "--db", path)
    assert result.exit_code == 2
    assert "newer aimon" in result.stderr
    assert "Traceback" not in result.output


def test_file_that_is_not_a_database_is_a_clear_error(tmp_path, cli):
    path = tmp_path / "notes.duckdb"
    path.write_text("just some text, not a database\n" * 100)
    result = cli("db", "info", "--db", path)
    assert result.exit_code == 2
    assert "not a DuckDB database" in result.stderr


class _Recording:
    """A real DuckDB connection that remembers the SQL it was given."""

    def __init__(self, con):
        self.con, self.sql = con, []

    def execute(self, sql, *args, **kwargs):
        self.sql.append(sql)
        return self.con.execute(sql, *args, **kwargs)


# sha256 of the SQL each applied migration runs, as released. Editing an applied
# migration changes what it does to databases that already ran it and to new ones
# differently: add a migration instead.
FROZEN = {
    "m001_requests": "68a92e739faa3ead",
    "m002_feedback": "d6cf6d147a33c2d8",
    "m003_rejects": "6d9a9ec58f265e0c",
    "m004_prices": "713b8dac45247bdb",
    "m005_request_costs": "ce57589c053bcfbd",
    "m006_alert_state": "2fb9c8f837f6fe40",
    "m007_pii_findings": "02e116a57e41da7e",
    "m008_audit_log": "9944e9c3d85e8b57",
    "m009_stored_request_costs": "a8c2f3b1f7d050a2",
    "m010_canonical_extra": "24e9aefeb305853b",
    "m011_rewrite_owed": "cfcee693d9a58450",
    "m012_security_findings": "a0b002023add8dd8",
    "m013_validations": "ff535b5aab545ba3",
    "m014_embeddings": "d48a90742577fb98",
    "m015_nonfinite_numbers": "531894c83b10fccc",
    "m016_reject_bytes": "cfbcad60f55e234a",
    "m017_validation_ranges": "2a7c49f795028880",
}


def migration_digests() -> dict[str, str]:
    import hashlib

    out = {}
    with duckdb.connect() as raw:
        for migration in schema.MIGRATIONS:
            rec = _Recording(raw)
            migration(rec)
            out[migration.__name__] = hashlib.sha256("\n;\n".join(rec.sql).encode()).hexdigest()[:16]
    return out


def test_applied_migrations_are_frozen():
    got = migration_digests()
    for name, digest in FROZEN.items():
        assert got[name] == digest, f"{name} runs other SQL than it did when released; add a migration instead"


def test_every_migration_has_a_frozen_digest():
    """A released migration records its digest in FROZEN, so later edits to live SQL
    (pricing, the embedding template, table names) cannot change what it runs."""
    missing = [m.__name__ for m in schema.MIGRATIONS if m.__name__ not in FROZEN]
    assert not missing, f"add the digest of {missing} to FROZEN (see migration_digests())"
