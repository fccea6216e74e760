"""The canonical schema and its numbered migrations.

The tables here are the data contract users query with ``aimon sql``; their columns
are documented in the README and asserted by ``tests/test_schema.py``. Migrations are
functions applied in order, each in one transaction together with its record in
``_aimon_migrations``. Never edit an applied migration: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from aimon.errors import SchemaError

# Long free text compresses several-fold with zstd, and writing less makes ingest
# faster than DuckDB's default string compression on this kind of data.
TEXT = "VARCHAR USING COMPRESSION zstd"

M001_REQUESTS_SQL = f"""
CREATE TABLE requests (
    request_id          VARCHAR NOT NULL,
    ts                  TIMESTAMPTZ NOT NULL,
    user_id             VARCHAR,
    session_id          VARCHAR,
    endpoint            VARCHAR,
    provider            VARCHAR,
    model               VARCHAR,
    model_version       VARCHAR,
    prompt_version      VARCHAR,
    system_prompt       {TEXT},
    prompt              {TEXT},
    response            {TEXT},
    input_tokens        BIGINT,
    output_tokens       BIGINT,
    cached_input_tokens BIGINT,
    cache_write_tokens  BIGINT,
    reasoning_tokens    BIGINT,
    cost_usd            DOUBLE,
    latency_ms          DOUBLE,
    ttft_ms             DOUBLE,
    status              VARCHAR NOT NULL,
    error_type          VARCHAR,
    error_message       VARCHAR,
    cache_hit           BOOLEAN,
    experiment          VARCHAR,
    variant             VARCHAR,
    success             BOOLEAN,
    temperature         DOUBLE,
    user_tier           VARCHAR,
    jurisdiction        VARCHAR,
    consent             BOOLEAN,
    feedback            VARCHAR,
    extra               JSON,
    source_file         VARCHAR,
    source_line         BIGINT,
    source_format       VARCHAR,
    ingested_at         TIMESTAMPTZ NOT NULL
)
"""

M002_FEEDBACK_SQL = """
CREATE TABLE feedback (
    feedback_id       VARCHAR NOT NULL,
    request_id        VARCHAR,
    ts                TIMESTAMPTZ NOT NULL,
    user_id           VARCHAR,
    feedback_type     VARCHAR NOT NULL,
    feedback_category VARCHAR,
    feedback_text     VARCHAR,
    extra             JSON,
    source_file       VARCHAR,
    source_line       BIGINT,
    source_format     VARCHAR,
    ingested_at       TIMESTAMPTZ NOT NULL
)
"""

M003_REJECTS_SQL = f"""
CREATE TABLE rejects (
    source_file VARCHAR NOT NULL,
    source_line BIGINT,
    raw         {TEXT},
    reason      VARCHAR NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL
)
"""


def m001_requests(con: duckdb.DuckDBPyConnection) -> None:
    """One row per model call."""
    con.execute(M001_REQUESTS_SQL)


def m002_feedback(con: duckdb.DuckDBPyConnection) -> None:
    """Explicit and implicit feedback signals."""
    con.execute(M002_FEEDBACK_SQL)


def m003_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """Every input record that could not be loaded, with the reason."""
    con.execute(M003_REJECTS_SQL)


# The price snapshot (written by aimon.store.prices.refresh_prices): for each
# (provider, model) as logged, the prices in force over non-overlapping periods. A row
# applies to a request when its ts is in [valid_from, valid_to) (NULL: an open end), its
# UTC second of day in [day_from_s, day_to_s) (time-of-day prices), and its input_tokens
# in [min_input_tokens, max_input_tokens] (long-context tiers). Prices are USD per
# million tokens; NULL input_mtok means "no price known". batch_* are the prices of
# batch requests when the source knows a batch discount. version identifies the
# snapshot's content: it changes when, and only when, a price in it changes.
M004_PRICES_SQL = """
CREATE TABLE prices (
    provider               VARCHAR,
    model                  VARCHAR NOT NULL,
    valid_from             TIMESTAMPTZ,
    valid_to               TIMESTAMPTZ,
    day_from_s             INTEGER NOT NULL DEFAULT 0,
    day_to_s               INTEGER NOT NULL DEFAULT 86400,
    min_input_tokens       BIGINT NOT NULL DEFAULT 0,
    max_input_tokens       BIGINT NOT NULL DEFAULT 9223372036854775807,
    input_mtok             DOUBLE,
    output_mtok            DOUBLE,
    cache_read_mtok        DOUBLE,
    cache_write_mtok       DOUBLE,
    batch_input_mtok       DOUBLE,
    batch_output_mtok      DOUBLE,
    batch_cache_read_mtok  DOUBLE,
    batch_cache_write_mtok DOUBLE,
    matched_provider       VARCHAR,
    matched_model          VARCHAR,
    source                 VARCHAR NOT NULL,
    note                   VARCHAR,
    version                VARCHAR NOT NULL,
    snapshot_at            TIMESTAMPTZ NOT NULL
)
"""

# M005's costed_requests priced every request on read; m009 replaces it with a view of
# the stored costs, so on a fresh database the M005 view exists only between the two.
# Frozen as applied: the live pricing SQL (aimon.store.pricing) may change, this may not.
M005_COSTED_REQUESTS_SQL = """CREATE VIEW costed_requests AS

WITH price_rows AS (
    -- Each price row twice: as a standard request pays it, and as a batch request does
    -- (the batch prices where known, else the standard ones), missing cache prices
    -- resolved to the input price; so each request needs one join and no per-row CASE.
    SELECT provider, model, coalesce(valid_from, '-infinity'::TIMESTAMPTZ) AS valid_from,
           coalesce(valid_to, 'infinity'::TIMESTAMPTZ) AS valid_to, day_from_s, day_to_s,
           min_input_tokens, max_input_tokens, false AS batch, source,
           input_mtok AS p_in, output_mtok AS p_out,
           coalesce(cache_read_mtok, input_mtok) AS p_read,
           coalesce(cache_write_mtok, input_mtok) AS p_write
    FROM prices
    UNION ALL
    SELECT provider, model, coalesce(valid_from, '-infinity'::TIMESTAMPTZ),
           coalesce(valid_to, 'infinity'::TIMESTAMPTZ), day_from_s, day_to_s,
           min_input_tokens, max_input_tokens, true AS batch, source,
           coalesce(batch_input_mtok, input_mtok),
           CASE WHEN batch_input_mtok IS NOT NULL THEN batch_output_mtok ELSE output_mtok END,
           CASE WHEN batch_input_mtok IS NOT NULL THEN coalesce(batch_cache_read_mtok, batch_input_mtok)
                ELSE coalesce(cache_read_mtok, input_mtok) END,
           CASE WHEN batch_input_mtok IS NOT NULL THEN coalesce(batch_cache_write_mtok, batch_input_mtok)
                ELSE coalesce(cache_write_mtok, input_mtok) END
    FROM prices
), flagged AS (
    SELECT *,
        coalesce(source_format ILIKE '%batch%', false)
        OR (extra IS NOT NULL AND contains(CAST(extra AS VARCHAR), 'batch') AND (
            coalesce(json_extract_string(extra, '$.service_tier') = 'batch', false)
            OR coalesce(json_extract_string(extra, '$.processing') = 'batch', false)
            OR coalesce(lower(json_extract_string(extra, '$.batch')) = 'true', false)))
        AS batch
    FROM requests
), rated AS (
    SELECT r.*, p.source AS _price_source, p.p_in AS _p_in, p.p_out AS _p_out,
           p.p_read AS _p_read, p.p_write AS _p_write
    FROM flagged AS r
    LEFT JOIN price_rows AS p
      ON p.model = r.model
     AND p.batch = r.batch
     AND p.provider IS NOT DISTINCT FROM r.provider
     AND r.ts >= p.valid_from AND r.ts < p.valid_to
     AND (epoch_us(r.ts) // 1000000) % 86400 >= p.day_from_s
     AND (epoch_us(r.ts) // 1000000) % 86400 < p.day_to_s
     AND coalesce(r.input_tokens, 0) >= p.min_input_tokens
     AND coalesce(r.input_tokens, 0) <= p.max_input_tokens
), tokened AS (
    SELECT *,
        -- NULL when no price matched (_p_in is NULL) or no token counts were logged.
        CASE WHEN (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
                  AND (_p_out IS NOT NULL OR coalesce(output_tokens, 0) = 0)
             THEN (greatest(coalesce(input_tokens, 0) - coalesce(cached_input_tokens, 0)
                            - coalesce(cache_write_tokens, 0), 0) * _p_in
                   + coalesce(cached_input_tokens, 0) * _p_read
                   + coalesce(cache_write_tokens, 0) * _p_write
                   + coalesce(output_tokens, 0) * coalesce(_p_out, 0)) / 1e6
        END AS token_cost_usd
    FROM rated
), computed AS (
    SELECT *,
        CASE WHEN coalesce(cache_hit, false) THEN 0.0
             -- No tokens used (both logged as 0), or a failed call that reports no usage:
             -- nothing was billed, whatever the model's price.
             WHEN coalesce(input_tokens, 0) = 0 AND coalesce(output_tokens, 0) = 0
                  AND (status = 'error' OR (input_tokens IS NOT NULL AND output_tokens IS NOT NULL))
             THEN 0.0
             ELSE token_cost_usd END AS computed_cost_usd
    FROM tokened
)
SELECT * EXCLUDE (cost_usd, _price_source, _p_in, _p_out, _p_read, _p_write),
    cost_usd AS logged_cost_usd,
    coalesce(cost_usd, computed_cost_usd) AS cost_usd,
    CASE WHEN cost_usd IS NOT NULL THEN 'logged'
         WHEN computed_cost_usd IS NOT NULL THEN 'computed'
         ELSE 'unpriced' END AS cost_source,
    CASE WHEN token_cost_usd IS NOT NULL
         THEN coalesce(cached_input_tokens, 0) * (_p_in - _p_read) / 1e6 END AS cache_read_saving_usd,
    CASE WHEN _p_in IS NOT NULL THEN _price_source END AS price_source
FROM computed
"""

# The contract other reports join on: FROM requests r LEFT JOIN request_costs c USING (request_id).
M005_REQUEST_COSTS_VIEW_SQL = """
CREATE VIEW request_costs AS
SELECT request_id, ts, cost_usd, cost_source, computed_cost_usd, token_cost_usd,
       cache_read_saving_usd, batch, price_source
FROM costed_requests
"""

M005_REQUEST_COSTS_SQL = [M005_COSTED_REQUESTS_SQL, M005_REQUEST_COSTS_VIEW_SQL]


def m004_prices(con: duckdb.DuckDBPyConnection) -> None:
    """The price snapshot: prices in force per (provider, model) over periods."""
    con.execute(M004_PRICES_SQL)


def m005_request_costs(con: duckdb.DuckDBPyConnection) -> None:
    """The effective cost of every request, and where it came from (two views)."""
    for sql in M005_REQUEST_COSTS_SQL:
        con.execute(sql)


# Alert incidents for `aimon alerts check` (aimon.analysis.alerts): one row per rule,
# split key and incident, so a cron job pages once per incident. Times opened_at,
# last_fired_at and resolved_at are data time (the --at of the check); notified_at is
# the wall clock when the page went out.
M006_ALERT_STATE_SQL = """
CREATE TABLE alert_state (
    rule          VARCHAR NOT NULL,
    key           VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL,
    opened_at     TIMESTAMPTZ NOT NULL,
    last_fired_at TIMESTAMPTZ NOT NULL,
    resolved_at   TIMESTAMPTZ,
    notified_at   TIMESTAMPTZ NOT NULL,
    checks        BIGINT NOT NULL,
    value         DOUBLE,
    threshold     DOUBLE
)
"""


def m006_alert_state(con: duckdb.DuckDBPyConnection) -> None:
    """Alert incidents: what fired when, for the cooldown of `aimon alerts check`."""
    con.execute(M006_ALERT_STATE_SQL)


# PII findings of `aimon audit pii` (aimon.analysis.pii): where an entity is, never its
# value. start/end are 0-based character offsets into the field's text, end exclusive
# ("end" is a reserved word: quote it). ts is the request's ts. Rejected look-alikes
# are kept with validated = false and the reason. pii_scanned records which request
# fields a detector version has scanned, so reports scan only what is new.
M007_PII_FINDINGS_SQL = [
    """
CREATE TABLE pii_findings (
    request_id       VARCHAR NOT NULL,
    field            VARCHAR NOT NULL,
    entity_type      VARCHAR NOT NULL,
    start            INTEGER NOT NULL,
    "end"            INTEGER NOT NULL,
    validated        BOOLEAN NOT NULL,
    ts               TIMESTAMPTZ NOT NULL,
    reason           VARCHAR,
    detector_version INTEGER NOT NULL
)
""",
    """
CREATE TABLE pii_scanned (
    request_id       VARCHAR NOT NULL,
    field            VARCHAR NOT NULL,
    detector_version INTEGER NOT NULL,
    scanned_at       TIMESTAMPTZ NOT NULL
)
""",
]

# What `aimon forget` and `aimon purge` deleted (aimon.store.forget): when, which
# action, how many rows per table. Never the data, never the user id.
M008_AUDIT_LOG_SQL = """
CREATE TABLE audit_log (
    logged_at     TIMESTAMPTZ NOT NULL,
    action        VARCHAR NOT NULL,
    criteria      VARCHAR NOT NULL,
    rows_deleted  BIGINT NOT NULL,
    tables        JSON NOT NULL,
    aimon_version VARCHAR NOT NULL
)
"""


def m007_pii_findings(con: duckdb.DuckDBPyConnection) -> None:
    """PII findings (positions, never values) and which request fields were scanned."""
    for sql in M007_PII_FINDINGS_SQL:
        con.execute(sql)


def m008_audit_log(con: duckdb.DuckDBPyConnection) -> None:
    """The record of deletions made by forget and purge."""
    con.execute(M008_AUDIT_LOG_SQL)


# The effective cost of every request, stored beside it (m009). Pricing each request at
# the price in force at its time is a range join over the price snapshot; done on every
# read, it doubled the cost of a breakdown over millions of requests. So the rows live in
# ``_aimon_requests`` with these columns and ``requests`` is a view of exactly the
# documented ones. Every write keeps them true in its own transaction: ingest prices
# what it loads, a price refresh reprices the requests of every model whose prices
# changed (aimon.store.prices). cost_source NULL marks a row not priced yet, which only
# exists inside such a transaction.
STORED_REQUESTS = "_aimon_requests"
REQUEST_COST_COLUMNS = (
    ("batch", "BOOLEAN"),
    ("token_cost_usd", "DOUBLE"),
    ("computed_cost_usd", "DOUBLE"),
    ("cache_read_saving_usd", "DOUBLE"),
    ("price_source", "VARCHAR"),
    ("cost_source", "VARCHAR"),
)


def stored(table: str) -> str:
    """The table that holds a canonical table's rows (``requests`` is a view)."""
    return STORED_REQUESTS if table == "requests" else table


# m009 as applied (frozen: the stored table's cost columns above and the live pricing SQL
# may change, this may not). The requests view lists m001's columns, the contract.
M009_STORE_COSTS_SQL = [
    "ALTER TABLE requests RENAME TO _aimon_requests",
    "ALTER TABLE _aimon_requests ADD COLUMN batch BOOLEAN",
    "ALTER TABLE _aimon_requests ADD COLUMN token_cost_usd DOUBLE",
    "ALTER TABLE _aimon_requests ADD COLUMN computed_cost_usd DOUBLE",
    "ALTER TABLE _aimon_requests ADD COLUMN cache_read_saving_usd DOUBLE",
    "ALTER TABLE _aimon_requests ADD COLUMN price_source VARCHAR",
    "ALTER TABLE _aimon_requests ADD COLUMN cost_source VARCHAR",
    """
CREATE VIEW requests AS SELECT request_id, ts, user_id, session_id, endpoint, provider, model, model_version, prompt_version, system_prompt, prompt, response, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms, status, error_type, error_message, cache_hit, experiment, variant, success, temperature, user_tier, jurisdiction, consent, feedback, extra, source_file, source_line, source_format, ingested_at FROM _aimon_requests
""",
    """
CREATE OR REPLACE VIEW costed_requests AS
SELECT * EXCLUDE (cost_usd), cost_usd AS logged_cost_usd, coalesce(cost_usd, computed_cost_usd) AS cost_usd
FROM _aimon_requests
""",
    """
UPDATE _aimon_requests AS r
SET batch = p.batch, token_cost_usd = p.token_cost_usd, computed_cost_usd = p.computed_cost_usd, cache_read_saving_usd = p.cache_read_saving_usd, price_source = p.price_source, cost_source = p.cost_source
FROM (
WITH price_rows AS (
    -- Each price row twice: as a standard request pays it, and as a batch request does
    -- (the batch prices where known, else the standard ones), missing cache prices
    -- resolved to the input price; so each request needs one join and no per-row CASE.
    SELECT provider, model, coalesce(valid_from, '-infinity'::TIMESTAMPTZ) AS valid_from,
           coalesce(valid_to, 'infinity'::TIMESTAMPTZ) AS valid_to, day_from_s, day_to_s,
           min_input_tokens, max_input_tokens, false AS batch, source,
           input_mtok AS p_in, output_mtok AS p_out,
           coalesce(cache_read_mtok, input_mtok) AS p_read,
           coalesce(cache_write_mtok, input_mtok) AS p_write
    FROM prices
    UNION ALL
    SELECT provider, model, coalesce(valid_from, '-infinity'::TIMESTAMPTZ),
           coalesce(valid_to, 'infinity'::TIMESTAMPTZ), day_from_s, day_to_s,
           min_input_tokens, max_input_tokens, true AS batch, source,
           coalesce(batch_input_mtok, input_mtok),
           CASE WHEN batch_input_mtok IS NOT NULL THEN batch_output_mtok ELSE output_mtok END,
           CASE WHEN batch_input_mtok IS NOT NULL THEN coalesce(batch_cache_read_mtok, batch_input_mtok)
                ELSE coalesce(cache_read_mtok, input_mtok) END,
           CASE WHEN batch_input_mtok IS NOT NULL THEN coalesce(batch_cache_write_mtok, batch_input_mtok)
                ELSE coalesce(cache_write_mtok, input_mtok) END
    FROM prices
), flagged AS (
    SELECT *,
        coalesce(source_format ILIKE '%batch%', false)
        OR (extra IS NOT NULL AND contains(CAST(extra AS VARCHAR), 'batch') AND (
            coalesce(json_extract_string(extra, '$.service_tier') = 'batch', false)
            OR coalesce(json_extract_string(extra, '$.processing') = 'batch', false)
            OR coalesce(lower(json_extract_string(extra, '$.batch')) = 'true', false)))
        AS batch
    FROM (SELECT rowid AS _rowid, * EXCLUDE (batch, token_cost_usd, computed_cost_usd, cache_read_saving_usd, price_source, cost_source) FROM _aimon_requests WHERE cost_source IS NULL)
), rated AS (
    SELECT r.*, p.source AS _price_source, p.p_in AS _p_in, p.p_out AS _p_out,
           p.p_read AS _p_read, p.p_write AS _p_write
    FROM flagged AS r
    LEFT JOIN price_rows AS p
      ON p.model = r.model
     AND p.batch = r.batch
     AND p.provider IS NOT DISTINCT FROM r.provider
     AND r.ts >= p.valid_from AND r.ts < p.valid_to
     AND (epoch_us(r.ts) // 1000000) % 86400 >= p.day_from_s
     AND (epoch_us(r.ts) // 1000000) % 86400 < p.day_to_s
     AND coalesce(r.input_tokens, 0) >= p.min_input_tokens
     AND coalesce(r.input_tokens, 0) <= p.max_input_tokens
), tokened AS (
    SELECT *,
        -- NULL when no price matched (_p_in is NULL) or no token counts were logged.
        CASE WHEN (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
                  AND (_p_out IS NOT NULL OR coalesce(output_tokens, 0) = 0)
             THEN (greatest(coalesce(input_tokens, 0) - coalesce(cached_input_tokens, 0)
                            - coalesce(cache_write_tokens, 0), 0) * _p_in
                   + coalesce(cached_input_tokens, 0) * _p_read
                   + coalesce(cache_write_tokens, 0) * _p_write
                   + coalesce(output_tokens, 0) * coalesce(_p_out, 0)) / 1e6
        END AS token_cost_usd
    FROM rated
), computed AS (
    SELECT *,
        CASE WHEN coalesce(cache_hit, false) THEN 0.0
             -- No tokens used (both logged as 0), or a failed call that reports no usage:
             -- nothing was billed, whatever the model's price.
             WHEN coalesce(input_tokens, 0) = 0 AND coalesce(output_tokens, 0) = 0
                  AND (status = 'error' OR (input_tokens IS NOT NULL AND output_tokens IS NOT NULL))
             THEN 0.0
             ELSE token_cost_usd END AS computed_cost_usd
    FROM tokened
)
SELECT * EXCLUDE (cost_usd, _price_source, _p_in, _p_out, _p_read, _p_write),
    cost_usd AS logged_cost_usd,
    coalesce(cost_usd, computed_cost_usd) AS cost_usd,
    CASE WHEN cost_usd IS NOT NULL THEN 'logged'
         WHEN computed_cost_usd IS NOT NULL THEN 'computed'
         ELSE 'unpriced' END AS cost_source,
    CASE WHEN token_cost_usd IS NOT NULL
         THEN coalesce(cached_input_tokens, 0) * (_p_in - _p_read) / 1e6 END AS cache_read_saving_usd,
    CASE WHEN _p_in IS NOT NULL THEN _price_source END AS price_source
FROM computed
) AS p
WHERE r.rowid = p._rowid
""",
]


def m009_stored_request_costs(con: duckdb.DuckDBPyConnection) -> None:
    """Store each request's effective cost beside it; ``requests`` becomes a view."""
    for sql in M009_STORE_COSTS_SQL:
        con.execute(sql)


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
REWRITE_OWED = "_aimon_rewrite_owed"


def m011_rewrite_owed(con: duckdb.DuckDBPyConnection) -> None:
    """The record of a database-file rewrite that forget or purge still owes."""
    con.execute(f"CREATE TABLE {REWRITE_OWED} (owed_since TIMESTAMPTZ NOT NULL, action VARCHAR NOT NULL)")


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


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    m001_requests,
    m002_feedback,
    m003_rejects,
    m004_prices,
    m005_request_costs,
    m006_alert_state,
    m007_pii_findings,
    m008_audit_log,
    m009_stored_request_costs,
    m010_canonical_extra,
    m011_rewrite_owed,
    m012_security_findings,
    m013_validations,
    m014_embeddings,
    m015_nonfinite_numbers,
    m016_reject_bytes,
]

MIGRATIONS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS _aimon_migrations (
    name       VARCHAR PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)
"""


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = $name",
        {"name": name},
    ).fetchone()
    return bool(row and row[0])


def applied(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations recorded in this database, oldest first."""
    if not _table_exists(con, "_aimon_migrations"):
        return []
    return [r[0] for r in con.execute("SELECT name FROM _aimon_migrations ORDER BY name").fetchall()]


def check_known(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Refuse a database whose schema this aimon does not know (written by a newer one)."""
    known = {m.__name__ for m in MIGRATIONS}
    unknown = [name for name in applied(con) if name not in known]
    if unknown:
        raise SchemaError(
            f"{path} was written by a newer aimon (schema version {len(applied(con))}, "
            f"this aimon knows {len(MIGRATIONS)}); upgrade aimon to read it"
        )
    if not applied(con) and _table_exists(con, "requests"):
        raise SchemaError(f"{path} has a 'requests' table but no aimon schema record; "
                          "it is not an aimon database")


def pending(con: duckdb.DuckDBPyConnection) -> list[Callable[[duckdb.DuckDBPyConnection], None]]:
    """Migrations not yet applied, in order. Reads only."""
    done = set(applied(con))
    return [m for m in MIGRATIONS if m.__name__ not in done]


def migrate(con: duckdb.DuckDBPyConnection, path: str = "database") -> int:
    """Apply pending migrations, each in its own transaction; return how many ran."""
    check_known(con, path)
    todo = pending(con)
    if not todo:
        return 0
    con.execute(MIGRATIONS_TABLE_SQL)
    for migration in todo:
        con.execute("BEGIN TRANSACTION")
        try:
            migration(con)
            con.execute("INSERT INTO _aimon_migrations (name) VALUES ($name)",
                        {"name": migration.__name__})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(todo)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """How many migrations this database has applied."""
    return len(applied(con))
