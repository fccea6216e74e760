"""The SQL that prices requests: each request's effective cost and where it came from.

One definition serves every writer: ingest computes the cost columns of the rows it
inserts with :data:`PRICED_REQUESTS_SQL` (nothing loaded is updated again before its
commit, which would make DuckDB rewrite the rows), and :data:`PRICE_PENDING_SQL` prices
rows stored without a cost (other writers, and a price refresh that changed a model's
prices). Applied migrations keep their own frozen copy (``aimon.store.schema``).
"""

from __future__ import annotations

from aimon.store.schema import REQUEST_COST_COLUMNS, STORED_REQUESTS

# The effective cost of every request: the logged cost when present, else its tokens
# priced at the price in force at its ts. Input is billed as uncached input + cache
# reads + cache writes, each at its own price (a missing cache price falls back to the
# input price); output (reasoning included) at the output price. With no logged cost,
# a response-cache hit, a call with 0 input and 0 output tokens, and a failed call that
# reports no usage cost nothing when the model has a price (a model no price covers
# stays unpriced in every request). Batch requests (a *batch* source shape, or extra
# marking service_tier/processing 'batch' or batch = true) use the batch prices.
# Neither a price nor token counts: cost_usd NULL, cost_source 'unpriced' (never $0).
PRICED_REQUESTS_SQL = """
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
    FROM {requests}
), rated AS (
    -- The answering model's own price first (a dated snapshot can cost more than the
    -- alias it was asked by: gpt-4o-2024-05-13 against gpt-4o), else the requested one's.
    SELECT r.*,
           CASE WHEN v.model IS NOT NULL THEN v.source ELSE p.source END AS _price_source,
           CASE WHEN v.model IS NOT NULL THEN v.p_in ELSE p.p_in END AS _p_in,
           CASE WHEN v.model IS NOT NULL THEN v.p_out ELSE p.p_out END AS _p_out,
           CASE WHEN v.model IS NOT NULL THEN v.p_read ELSE p.p_read END AS _p_read,
           CASE WHEN v.model IS NOT NULL THEN v.p_write ELSE p.p_write END AS _p_write
    FROM flagged AS r
    LEFT JOIN price_rows AS v ON r.model_version IS DISTINCT FROM r.model AND {in_force_v}
    LEFT JOIN price_rows AS p ON {in_force_p}
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
             -- nothing was billed, for a model with a price. A model no price covers
             -- stays unpriced in every request: its group's cost is unknown, not $0.
             WHEN coalesce(input_tokens, 0) = 0 AND coalesce(output_tokens, 0) = 0
                  AND (status = 'error' OR (input_tokens IS NOT NULL AND output_tokens IS NOT NULL))
                  AND _p_in IS NOT NULL
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


def _in_force(price: str, name: str) -> str:
    """The join condition of a price row ``price`` for the request's column ``name``."""
    return f"""{price}.model = r.{name}
     AND {price}.batch = r.batch
     AND {price}.provider IS NOT DISTINCT FROM r.provider
     AND r.ts >= {price}.valid_from AND r.ts < {price}.valid_to
     AND (epoch_us(r.ts) // 1000000) % 86400 >= {price}.day_from_s
     AND (epoch_us(r.ts) // 1000000) % 86400 < {price}.day_to_s
     AND coalesce(r.input_tokens, 0) >= {price}.min_input_tokens
     AND coalesce(r.input_tokens, 0) <= {price}.max_input_tokens"""


PRICED_REQUESTS_SQL = PRICED_REQUESTS_SQL.replace("{in_force_v}", _in_force("v", "model_version")).replace(
    "{in_force_p}", _in_force("p", "model"))

COST_COLUMNS = ", ".join(c for c, _ in REQUEST_COST_COLUMNS)


def priced(requests_sql: str) -> str:
    """Rows of ``requests_sql`` (the canonical request columns plus ``source_format`` and
    ``extra``) with ``logged_cost_usd`` and the stored cost columns added."""
    return PRICED_REQUESTS_SQL.format(requests=f"({requests_sql})")


# Writes the stored cost of every row not priced yet (aimon.store.prices.price_pending).
PRICE_PENDING_SQL = f"""
UPDATE {STORED_REQUESTS} AS r
SET {', '.join(f'{c} = p.{c}' for c, _ in REQUEST_COST_COLUMNS)}
FROM ({priced(f"SELECT rowid AS _rowid, * EXCLUDE ({COST_COLUMNS}) FROM {STORED_REQUESTS} WHERE cost_source IS NULL")}) AS p
WHERE r.rowid = p._rowid
"""
