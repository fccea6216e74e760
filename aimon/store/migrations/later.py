"""Migrations m010-m015: data fixes and the caches of later commands, as applied.

Frozen like the others: add a migration, never edit one (``aimon.store.schema.REWRITE_OWED``
and the embedding template name the same tables for the live code).
"""

from __future__ import annotations

import duckdb

# m010 as applied: the canonical form of extra as its macro was then (frozen; the live
# ingest writes the same form by other means).
M010_CANONICAL_EXTRA_SQL = [
    r"""
CREATE OR REPLACE TEMP MACRO aimon_m010_canonical_extra(x) AS (
    CASE WHEN x IS NULL OR x = '{}' THEN NULL ELSE nullif(CAST(to_json(map_from_entries(list_sort(list_filter(
        list_transform(json_keys(x), lambda aimon_k: struct_pack(
            k := aimon_k, v := json_extract(x, '/' || replace(replace(aimon_k, '~', '~0'), '/', '~1')))),
        lambda aimon_e: aimon_e.v IS NOT NULL AND CAST(aimon_e.v AS VARCHAR) <> 'null')))) AS VARCHAR), '{}') END
)
""",
    """
UPDATE _aimon_requests SET extra = aimon_m010_canonical_extra(CAST(extra AS VARCHAR))
WHERE extra IS NOT NULL AND CAST(extra AS VARCHAR) IS DISTINCT FROM aimon_m010_canonical_extra(CAST(extra AS VARCHAR))
""",
    """
UPDATE feedback SET extra = aimon_m010_canonical_extra(CAST(extra AS VARCHAR))
WHERE extra IS NOT NULL AND CAST(extra AS VARCHAR) IS DISTINCT FROM aimon_m010_canonical_extra(CAST(extra AS VARCHAR))
""",
]


def m010_canonical_extra(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite ``extra`` in the one form ingest now writes (sorted keys, no top-level
    nulls), so that re-ingesting a file loaded before finds duplicates, not conflicts."""
    for sql in M010_CANONICAL_EXTRA_SQL:
        con.execute(sql)


# A forget or purge whose file rewrite is still owed (aimon.store.forget): the row is
# committed with the deletes and is absent from the rewritten file, so a run interrupted
# anywhere between the two leaves it behind and the next forget or purge finishes the
# rewrite. Never a user id, only when and which action.
def m011_rewrite_owed(con: duckdb.DuckDBPyConnection) -> None:
    """The record of a database-file rewrite that forget or purge still owes."""
    con.execute("CREATE TABLE _aimon_rewrite_owed (owed_since TIMESTAMPTZ NOT NULL, action VARCHAR NOT NULL)")


# Findings of `aimon audit security` (aimon.analysis.security): one row per rule match
# in a request's prompt or response (family injection, leakage or exfiltration), or per
# episode of a user over an abuse limit (family abuse, field NULL, the episode's first
# request). category is the verdict for the whole text (or "abuse"), rule what matched
# here. start/end: 0-based character offsets into the field's text, end exclusive ("end"
# is a reserved word: quote it); NULL for abuse. score: how sure (0-1) for text
# findings, the peak as a multiple of the limit for abuse. evidence is redacted (PII
# masked). detector_version and settings (a digest of the configuration that changes
# findings) say what produced a row; security_scanned records which request fields a
# detector version and settings have scanned, so repeated audits scan only what is new.
M012_SECURITY_FINDINGS_SQL = [
    """
CREATE TABLE security_findings (
    request_id       VARCHAR NOT NULL,
    ts               TIMESTAMPTZ NOT NULL,
    field            VARCHAR,
    family           VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    rule             VARCHAR NOT NULL,
    severity         VARCHAR NOT NULL,
    score            DOUBLE NOT NULL,
    start            INTEGER,
    "end"            INTEGER,
    obfuscation      VARCHAR,
    evidence         VARCHAR,
    detector_version INTEGER NOT NULL,
    settings         VARCHAR NOT NULL
)
""",
    """
CREATE TABLE security_scanned (
    request_id       VARCHAR NOT NULL,
    field            VARCHAR NOT NULL,
    detector_version INTEGER NOT NULL,
    settings         VARCHAR NOT NULL,
    scanned_at       TIMESTAMPTZ NOT NULL
)
""",
]


def m012_security_findings(con: duckdb.DuckDBPyConnection) -> None:
    """Security findings (injection, leakage, exfiltration, abuse) and what was scanned."""
    for sql in M012_SECURITY_FINDINGS_SQL:
        con.execute(sql)


# Results of `aimon validate` (aimon.analysis.validate). A run applies some checks (each
# at a checker version and settings digest) to some requests: validation_runs lists a
# run's checks, validation_coverage its requests, validation_outcomes every result
# that is not a plain pass (passed false: failed; NULL: skipped, detail says why). Only
# those are stored one per check, so a million responses cost a million rows, not one
# per check. The view `validations` gives every result, one row per request and check.
M013_VALIDATIONS_SQL = [
    """
CREATE TABLE validation_runs (
    run_id          INTEGER NOT NULL,
    check_name      VARCHAR NOT NULL,
    checker_version INTEGER NOT NULL,
    settings        VARCHAR NOT NULL,
    ran_at          TIMESTAMPTZ NOT NULL
)
""",
    """
CREATE TABLE validation_coverage (
    request_id     VARCHAR NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    run_id         INTEGER NOT NULL,
    model          VARCHAR,
    endpoint       VARCHAR,
    prompt_version VARCHAR
)
""",
    """
CREATE TABLE validation_outcomes (
    request_id VARCHAR NOT NULL,
    run_id     INTEGER NOT NULL,
    check_name VARCHAR NOT NULL,
    passed     BOOLEAN,
    detail     VARCHAR
)
""",
    """
CREATE VIEW validations AS
SELECT v.request_id, v.ts, r.check_name,
       CASE WHEN o.request_id IS NULL THEN true ELSE o.passed END AS passed,
       o.detail, r.checker_version, r.settings, v.run_id, r.ran_at
FROM validation_coverage v
JOIN validation_runs r USING (run_id)
LEFT JOIN validation_outcomes o
       ON o.request_id = v.request_id AND o.run_id = v.run_id AND o.check_name = r.check_name
""",
]


def m013_validations(con: duckdb.DuckDBPyConnection) -> None:
    """Validation results: runs, the requests they covered, outcomes other than a pass."""
    for sql in M013_VALIDATIONS_SQL:
        con.execute(sql)


# The embedding cache (aimon.store.embeddings): one vector per (model, text), keyed by
# the SHA-256 of the text's UTF-8 bytes (DuckDB's ``unhex(sha256(text))``), so no text is
# embedded twice across commands and runs. A fixed-size array holds one dimension, so
# vectors live in one table per dimension, ``embeddings_<dim>``, made from the frozen
# template below (the default model's 384 here; others on their first write).
# ``embedding_models`` names each model key: what it was loaded from and its settings.
M014_EMBEDDING_MODELS_SQL = """
CREATE TABLE embedding_models (
    model          VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,
    dim            INTEGER NOT NULL,
    max_seq_length INTEGER,
    created_at     TIMESTAMPTZ NOT NULL
)
"""
EMBEDDINGS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS embeddings_{dim} (
    model       VARCHAR NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector      FLOAT[{dim}] NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
)
"""


def m014_embeddings(con: duckdb.DuckDBPyConnection) -> None:
    """The embedding cache: model keys, and the 384-dimension vector table."""
    con.execute(M014_EMBEDDING_MODELS_SQL)
    con.execute(EMBEDDINGS_TABLE_SQL.format(dim=384))


# NaN and infinity that an older ingest let in (issue 15 item 7): each such request moves
# to rejects with the reason ingest now gives, as ingest would have done, and its cached
# findings go with it. The frozen list of number columns and caches is as of m014.
M015_NONFINITE_COLUMNS = ("cost_usd", "latency_ms", "ttft_ms", "temperature", "token_cost_usd",
                          "computed_cost_usd", "cache_read_saving_usd")
M015_CACHES = ("pii_findings", "pii_scanned", "security_findings", "security_scanned",
               "validation_coverage", "validation_outcomes")


def m015_nonfinite_numbers(con: duckdb.DuckDBPyConnection) -> None:
    """Move requests holding NaN or infinity out to rejects: no analysis can use them."""
    reason = "CASE " + " ".join(
        f"WHEN NOT isfinite({c}) THEN '{c} is not a finite number: ' || CAST({c} AS VARCHAR)"
        for c in M015_NONFINITE_COLUMNS) + " END"
    bad = " OR ".join(f"NOT isfinite({c})" for c in M015_NONFINITE_COLUMNS)
    con.execute(f"CREATE TEMP TABLE _m015_moved AS SELECT rowid AS _rowid, request_id, "
                f"coalesce(source_file, '(unknown)') AS source_file, source_line, "
                f"CAST(to_json(r) AS VARCHAR) AS raw, {reason} || ' (moved out by an upgrade)' AS reason "
                f"FROM _aimon_requests AS r WHERE {bad}")
    try:
        con.execute("INSERT INTO rejects (source_file, source_line, raw, reason, ingested_at) "
                    "SELECT source_file, source_line, raw, reason, current_timestamp FROM _m015_moved")
        for cache in M015_CACHES:
            con.execute(f"DELETE FROM {cache} WHERE request_id IN (SELECT request_id FROM _m015_moved)")
        con.execute("DELETE FROM _aimon_requests WHERE rowid IN (SELECT _rowid FROM _m015_moved)")
    finally:
        con.execute("DROP TABLE _m015_moved")


def m016_reject_bytes(con: duckdb.DuckDBPyConnection) -> None:
    """A reject's bytes as read, for a line that is not valid UTF-8 (``raw`` then holds
    it with the undecodable bytes escaped as ``\\xNN``); NULL otherwise."""
    con.execute("ALTER TABLE rejects ADD COLUMN raw_bytes BLOB")


# `aimon validate` coverage by range (issue 13: a million coverage rows cost more to
# write than most checks). A run that covered every pending response of a group (the
# requests of one ingest, endpoint, model and prompt version between two instants) keeps
# one row for the group instead of one per request: the group's requests are those of
# `requests` with status ok, that ingest's ingested_at, those keys and a ts in
# [ts_from, ts_to]. An ingest stamps all its rows with one ingested_at and later ingests
# with later ones, so a group never gains a request; forget and purge remove requests,
# and with them their part of the group. validation_coverage keeps the requests of runs
# whose groups were not whole (some responses in the range were already covered).
M017_VALIDATION_RANGES_SQL = [
    """
CREATE TABLE validation_coverage_ranges (
    run_id         INTEGER NOT NULL,
    ingested_at    TIMESTAMPTZ NOT NULL,
    endpoint       VARCHAR,
    model          VARCHAR,
    prompt_version VARCHAR,
    ts_from        TIMESTAMPTZ NOT NULL,
    ts_to          TIMESTAMPTZ NOT NULL,
    requests       BIGINT NOT NULL
)
""",
    """
CREATE OR REPLACE VIEW validations AS
WITH covered AS (
    SELECT request_id, ts, run_id FROM validation_coverage
    UNION ALL
    SELECT q.request_id, q.ts, g.run_id
    FROM validation_coverage_ranges g
    JOIN requests q
      ON q.ingested_at = g.ingested_at AND q.endpoint IS NOT DISTINCT FROM g.endpoint
     AND q.model IS NOT DISTINCT FROM g.model AND q.prompt_version IS NOT DISTINCT FROM g.prompt_version
     AND q.ts >= g.ts_from AND q.ts <= g.ts_to AND q.status = 'ok'
)
SELECT v.request_id, v.ts, r.check_name,
       CASE WHEN o.request_id IS NULL THEN true ELSE o.passed END AS passed,
       o.detail, r.checker_version, r.settings, v.run_id, r.ran_at
FROM covered v
JOIN validation_runs r USING (run_id)
LEFT JOIN validation_outcomes o
       ON o.request_id = v.request_id AND o.run_id = v.run_id AND o.check_name = r.check_name
""",
]


def m017_validation_ranges(con: duckdb.DuckDBPyConnection) -> None:
    """Validation coverage by range of requests, and the view that reads both forms."""
    for sql in M017_VALIDATION_RANGES_SQL:
        con.execute(sql)
