"""Migrations m005 and m009: request costs, with the pricing SQL as it was when each was
applied.

The live pricing SQL (``aimon.store.pricing``) may change; these copies may not, so an
old migration does on a new database exactly what it did when it was released.
"""

from __future__ import annotations

import duckdb

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



def m005_request_costs(con: duckdb.DuckDBPyConnection) -> None:
    """The effective cost of every request, and where it came from (two views)."""
    for sql in M005_REQUEST_COSTS_SQL:
        con.execute(sql)



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
