"""Migrations m001-m008 but m005: the canonical tables and the caches beside them, as applied.

Frozen: never edit one of these; add the next migration (``tests/test_schema.py``
checks the SQL each one runs against its digest at release).
"""

from __future__ import annotations

import duckdb

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


def m004_prices(con: duckdb.DuckDBPyConnection) -> None:
    """The price snapshot: prices in force per (provider, model) over periods."""
    con.execute(M004_PRICES_SQL)



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
