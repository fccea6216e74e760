"""``aimon cost prices``: the prices in force for the models in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from aimon.analysis.cost.common import _frame, _one, missing_from_snapshot, unpriced
from aimon.analysis.toolkit.window import Window

PRICES_SQL = """
WITH entries AS (
    SELECT DISTINCT provider, model, matched_provider, matched_model FROM prices
), priced_as AS (
    -- Each request under the name its price comes from: the answering model when the
    -- snapshot prices it as another entry than the requested one (aimon.store.pricing
    -- looks it up first), else the requested model.
    SELECT r.provider, r.ts,
           CASE WHEN v.model IS NOT NULL AND (a.model IS NULL OR (v.matched_provider, v.matched_model)
                     IS DISTINCT FROM (a.matched_provider, a.matched_model))
                THEN r.model_version ELSE r.model END AS model
    FROM requests r
    LEFT JOIN entries v ON v.model = r.model_version AND v.provider IS NOT DISTINCT FROM r.provider
    LEFT JOIN entries a ON a.model = r.model AND a.provider IS NOT DISTINCT FROM r.provider
), used AS (
    SELECT provider, model, count(*) AS requests, min(ts) AS first_seen, max(ts) AS last_seen
    FROM priced_as WHERE model IS NOT NULL GROUP BY ALL
)
SELECT coalesce(p.provider, '(none)') AS provider, p.model,
       p.matched_provider, p.matched_model,
       p.valid_from, p.valid_to,
       CASE WHEN p.day_from_s = 0 AND p.day_to_s = 86400 THEN NULL
            ELSE printf('%02d:%02d-%02d:%02d UTC', p.day_from_s // 3600, p.day_from_s % 3600 // 60,
                        p.day_to_s // 3600, p.day_to_s % 3600 // 60) END AS time_of_day,
       CASE WHEN p.min_input_tokens = 0 AND p.max_input_tokens = 9223372036854775807 THEN NULL
            WHEN p.max_input_tokens = 9223372036854775807 THEN printf('> %d', p.min_input_tokens - 1)
            ELSE printf('<= %d', p.max_input_tokens) END AS input_tokens_tier,
       p.input_mtok, p.output_mtok, p.cache_read_mtok, p.cache_write_mtok,
       p.batch_input_mtok, p.batch_output_mtok, p.batch_cache_read_mtok, p.batch_cache_write_mtok,
       p.source, p.note, p.version, p.snapshot_at, u.requests
FROM prices p
JOIN used u ON u.model = p.model AND u.provider IS NOT DISTINCT FROM p.provider
WHERE p.input_mtok IS NOT NULL
  AND ($all OR (coalesce(p.valid_from <= u.last_seen, true) AND coalesce(p.valid_to > u.first_seen, true)))
ORDER BY u.requests DESC, p.model, p.provider, p.valid_from NULLS FIRST, p.day_from_s, p.min_input_tokens
"""

SNAPSHOT_SQL = """
SELECT min(snapshot_at), string_agg(DISTINCT source, '; ' ORDER BY source), min(version) FROM prices
"""


@dataclass(frozen=True)
class PricesResult:
    """The prices in effect for the models in the database, and the models without one."""

    title: str
    prices: pl.DataFrame
    unpriced: pl.DataFrame
    missing_from_snapshot: pl.DataFrame
    snapshot_at: datetime | None
    sources: str | None
    genai_prices_version: str
    version: str | None = None


def prices_in_effect(con: duckdb.DuckDBPyConnection, window: Window, *, all_periods: bool = False
                     ) -> PricesResult:
    """Price rows in force while each logged model was used (every period with all_periods)."""
    from aimon.store.prices import genai_prices_version

    frame = _frame(con, PRICES_SQL, {"all": all_periods})
    snapshot_at, sources, version = _one(con, SNAPSHOT_SQL)
    return PricesResult(
        title="Prices in effect (USD per million tokens)",
        prices=frame,
        unpriced=unpriced(con, window),
        missing_from_snapshot=missing_from_snapshot(con),
        snapshot_at=snapshot_at,
        sources=sources,
        genai_prices_version=genai_prices_version(),
        version=version,
    )
