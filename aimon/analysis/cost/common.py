"""What every cost question shares: the groups a cost can be split by (``--by``), the
unpriced bucket, and the models the price snapshot has not seen.

Every figure reads the effective cost from the ``costed_requests`` view (the logged
cost when present, else the tokens priced at the price in force at the request's
time; see ``aimon.store.schema``). Requests that cannot be priced are their own
bucket: counted with their tokens and the reason, never added as $0.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import duckdb
import polars as pl

from aimon.analysis.toolkit.dimensions import NONE_LABEL
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError

COST_SOURCES = ("logged", "computed", "unpriced")


class By(StrEnum):
    """What a cost breakdown can be grouped by (``--by``)."""

    model = "model"
    provider = "provider"
    endpoint = "endpoint"
    user = "user"
    day = "day"
    hour = "hour"
    prompt_version = "prompt_version"
    variant = "variant"
    experiment = "experiment"
    user_tier = "user_tier"


# Fixed expressions over costed_requests and the column each becomes (never user text).
_BY_SQL: dict[By, tuple[str, str]] = {
    By.model: ("coalesce(model, '(none)')", "model"),
    By.provider: ("coalesce(provider, '(none)')", "provider"),
    By.endpoint: ("coalesce(endpoint, '(none)')", "endpoint"),
    By.user: ("coalesce(user_id, '(none)')", "user_id"),
    By.day: ("_day", "day"),
    By.hour: ("date_trunc('hour', ts)", "hour"),
    By.prompt_version: ("coalesce(prompt_version, '(none)')", "prompt_version"),
    By.variant: ("coalesce(variant, '(none)')", "variant"),
    By.experiment: ("coalesce(experiment, '(none)')", "experiment"),
    By.user_tier: ("coalesce(user_tier, '(none)')", "user_tier"),
}
assert all(NONE_LABEL in expr for b, (expr, _) in _BY_SQL.items() if b not in (By.day, By.hour))
# _day is CAST(ts AS DATE), computed once per row in the scan that feeds the groups: a
# TIMESTAMPTZ to DATE cast goes through the time zone and costs more than any sum.


def parse_by(text: str | Sequence[str] | None) -> tuple[By, ...]:
    """'model,day' -> (By.model, By.day); UsageError naming the choices when unknown."""
    if not text:
        return ()
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    out: list[By] = []
    for name in (p.strip().lower() for p in parts):
        if not name:
            continue
        if name == "user_id":
            name = "user"
        try:
            by = By(name)
        except ValueError:
            raise UsageError(f"--by {name!r}: choose from {', '.join(b.value for b in By)}") from None
        if by not in out:
            out.append(by)
    return tuple(out)


def by_columns(by: Sequence[By]) -> list[str]:
    """The output column names of a breakdown's groups."""
    return [_BY_SQL[b][1] for b in by]


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pl.DataFrame:
    """A query's rows as a polars frame. DuckDB 2.0 refuses a relation while a result from
    execute() is still open (a fetchone() elsewhere, e.g. in window.resolve): finish it.
    The frame comes through the Arrow C stream: ``.pl()`` would import pyarrow and numpy
    (0.1 s of start-up)."""
    con.execute("SELECT 1").fetchall()
    return pl.DataFrame(con.sql(sql, params=params))


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple:
    """The first row of a query, with the result fully fetched."""
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0] if rows else ()


# The unpriced bucket.

# Aggregated before the join with the snapshot, so the reason is worked out per model,
# not per request.
UNPRICED_SQL = """
WITH rows AS (
    SELECT provider, model, kind, count(*) AS requests,
           coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
           coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
           min(ts) AS first_seen, max(ts) AS last_seen
    FROM (SELECT provider, model, input_tokens, output_tokens, ts,
                 CASE WHEN model IS NULL THEN 'no model logged'
                      WHEN input_tokens IS NULL AND output_tokens IS NULL THEN 'no token counts logged'
                      ELSE 'no price' END AS kind
          FROM costed_requests
          WHERE ts >= $start AND ts < $end AND cost_source = 'unpriced')
    GROUP BY ALL
), snap AS (
    SELECT provider, model, bool_or(input_mtok IS NOT NULL) AS has_price, min(note) AS note
    FROM prices GROUP BY ALL
)
SELECT coalesce(r.provider, '(none)') AS provider, coalesce(r.model, '(none)') AS model,
       r.requests, r.input_tokens, r.output_tokens, r.first_seen, r.last_seen,
       CASE WHEN r.kind <> 'no price' THEN r.kind
            WHEN s.model IS NULL THEN 'not in the price snapshot (run: aimon cost prices --refresh)'
            WHEN s.has_price THEN 'no price in force at these times'
            ELSE coalesce(s.note, 'no price') END AS reason
FROM rows r
LEFT JOIN snap s ON s.model = r.model AND s.provider IS NOT DISTINCT FROM r.provider
ORDER BY r.requests DESC, model
"""


def unpriced(con: duckdb.DuckDBPyConnection, window: Window) -> pl.DataFrame:
    """Requests in the window with neither a logged cost nor a price, with their tokens and why."""
    return _frame(con, UNPRICED_SQL, window.params())


STALE_SQL = """
SELECT coalesce(provider, '(none)') AS provider, model, count(*) AS requests
FROM requests r
WHERE model IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM prices p WHERE p.model = r.model AND p.provider IS NOT DISTINCT FROM r.provider)
GROUP BY ALL ORDER BY requests DESC
"""


def missing_from_snapshot(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(provider, model) pairs in requests that the price snapshot has never resolved."""
    return _frame(con, STALE_SQL)
