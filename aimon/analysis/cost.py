"""What the logs cost: prices in effect, breakdowns, reconciliation, spend anomalies,
routing opportunity.

Every figure reads the effective cost from the ``costed_requests`` view (the logged
cost when present, else the tokens priced at the price in force at the request's
time; see ``aimon.store.schema``). Requests that cannot be priced are their own
bucket: counted with their tokens and the reason, never added as $0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import duckdb
import polars as pl

from aimon.analysis.toolkit.dimensions import NONE_LABEL
from aimon.analysis.toolkit.robust import scale_sql
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
    execute() is still open (a fetchone() elsewhere, e.g. in window.resolve): finish it."""
    con.execute("SELECT 1").fetchall()
    return con.sql(sql, params=params).pl()


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple:
    """The first row of a query, with the result fully fetched."""
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0] if rows else ()


def _window_params(window: Window) -> dict:
    return {"start": window.start, "end": window.end}


# --------------------------------------------------------------------------- the unpriced bucket

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
    return _frame(con, UNPRICED_SQL, _window_params(window))


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


# --------------------------------------------------------------------------- prices in effect

PRICES_SQL = """
WITH used AS (
    SELECT provider, model, count(*) AS requests, min(ts) AS first_seen, max(ts) AS last_seen
    FROM requests WHERE model IS NOT NULL GROUP BY ALL
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


# --------------------------------------------------------------------------- breakdown

# One scan of the window computes every group; the totals are rolled up from the groups,
# not scanned again: sums add, and on large windows P95 and distinct user-days merge the
# groups' exported HyperLogLog and (sampled) t-digest states (GROUPING SETS would aggregate the
# window once per set). Every aggregate avoids per-row string tests: logged rows are
# those with a logged cost, priced rows those with any cost.
BREAKDOWN_SQL = """
WITH g AS (
    SELECT {key_names},
        count(*) AS requests,
        coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
        coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
        coalesce(sum(cached_input_tokens), 0)::BIGINT AS cached_input_tokens,
        coalesce(sum(cache_write_tokens), 0)::BIGINT AS cache_write_tokens,
        coalesce(sum(reasoning_tokens), 0)::BIGINT AS reasoning_tokens,
        sum(cost_usd) AS cost_usd,
        coalesce(sum(logged_cost_usd), 0) AS logged_cost_usd,
        count(cost_usd) AS _priced,
        count(logged_cost_usd) AS logged_requests,
        coalesce(sum(input_tokens) FILTER (WHERE cost_usd IS NULL), 0)::BIGINT AS unpriced_input_tokens,
        coalesce(sum(output_tokens) FILTER (WHERE cost_usd IS NULL), 0)::BIGINT AS unpriced_output_tokens,
        {p95} AS p95_cost_usd,
        {p95_state} AS _p95_state,
        {user_days} AS _user_days,
        coalesce(sum(cache_hit::INT), 0)::BIGINT AS _hits,
        coalesce(sum(cache_read_saving_usd), 0) AS cache_read_saving_usd
    FROM (SELECT {keys}, user_id AS _user, * EXCLUDE ({excluded})
          FROM (SELECT *, CAST(ts AS DATE) AS _day FROM costed_requests WHERE ts >= $start AND ts < $end))
    GROUP BY {key_names}
)
SELECT 0 AS _g, * EXCLUDE (_p95_state, _user_days), {user_days_final} AS user_days
FROM g
UNION ALL BY NAME
SELECT 1 AS _g,
    coalesce(sum(requests), 0)::BIGINT AS requests,
    coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
    coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
    coalesce(sum(cached_input_tokens), 0)::BIGINT AS cached_input_tokens,
    coalesce(sum(cache_write_tokens), 0)::BIGINT AS cache_write_tokens,
    coalesce(sum(reasoning_tokens), 0)::BIGINT AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    coalesce(sum(logged_cost_usd), 0) AS logged_cost_usd,
    coalesce(sum(_priced), 0)::BIGINT AS _priced,
    coalesce(sum(logged_requests), 0)::BIGINT AS logged_requests,
    coalesce(sum(unpriced_input_tokens), 0)::BIGINT AS unpriced_input_tokens,
    coalesce(sum(unpriced_output_tokens), 0)::BIGINT AS unpriced_output_tokens,
    coalesce($total_p95::DOUBLE, {p95_total}) AS p95_cost_usd,
    coalesce(sum(_hits), 0)::BIGINT AS _hits,
    coalesce(sum(cache_read_saving_usd), 0) AS cache_read_saving_usd,
    coalesce($total_user_days::BIGINT, {user_days_total}) AS user_days
FROM g
"""

# Exact P95 and distinct user-days for the window's total (small windows only).
TOTAL_EXACT_SQL = """
SELECT quantile_cont(cost_usd, 0.95),
       count(DISTINCT hash(user_id, CAST(ts AS DATE))) FILTER (WHERE user_id IS NOT NULL AND cost_usd IS NOT NULL)
FROM costed_requests
WHERE ts >= $start AND ts < $end
"""

# Response-cache hits, read apart (a filtered scan: hits are few): what their tokens
# would have cost, and how many logged no tokens (valued at the mean cost of their
# group's other requests, from the main figures).
HITS_SQL = """
SELECT {key_names},
    coalesce(sum(token_cost_usd) FILTER (WHERE token_cost_usd > 0), 0) AS _hit_token_value,
    count(*) FILTER (WHERE coalesce(token_cost_usd, 0) = 0) AS _hits_without_tokens,
    coalesce(sum(cost_usd), 0) AS _hit_cost,
    count(cost_usd) AS _hit_priced
FROM (SELECT {keys}, * EXCLUDE ({excluded})
      FROM (SELECT *, CAST(ts AS DATE) AS _day FROM costed_requests WHERE ts >= $start AND ts < $end AND cache_hit))
GROUP BY {key_names}
"""

# The total's P95 on large windows: a t-digest of the requests whose start time hashes
# into one of 16 buckets (a uniform 1-in-16 sample; over 2 million requests it holds
# more than 125,000), exported per group and merged. Feeding every row to a t-digest
# would cost more than the rest of the breakdown.
P95_SAMPLE_STATE = "approx_quantile(cost_usd, 0.95) FILTER (WHERE hash(ts) % 16 = 0) EXPORT_STATE"

# Exact P95 sorts every group; the approximate one (t-digest) keeps the breakdown a
# single streaming pass. Exact by default: windows of a few million rows sort fast.
P95_EXACT = "quantile_cont(cost_usd, 0.95)"
P95_APPROX = "approx_quantile(cost_usd, 0.95)"
# Distinct (user, day) pairs (counted by their 64-bit hash) and the totals' P95: exact up to
# a few million rows; beyond, per-group user-days by HyperLogLog and the total P95 from a
# sample (an exact distinct count is the slowest part of a breakdown over tens of millions).
USER_DAYS_EXACT = ("count(DISTINCT hash(_user, _day)) "
                   "FILTER (WHERE _user IS NOT NULL AND cost_usd IS NOT NULL)")
USER_DAYS_STATE = ("approx_count_distinct(hash(_user, _day)) "
                   "FILTER (WHERE _user IS NOT NULL AND cost_usd IS NOT NULL) EXPORT_STATE")
MERGED = "finalize(list_reduce(list({state}), lambda a, b: combine(a, b)))"
EXACT_USER_DAYS_ROWS = 2_000_000
WINDOW_ROWS_SQL = "SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end"
REQUEST_KEY_COLUMNS = {"model", "provider", "endpoint", "user_id", "prompt_version", "variant",
                       "experiment", "user_tier"}


@dataclass(frozen=True)
class Breakdown:
    """Cost per group, the window's totals and the unpriced bucket."""

    title: str
    window: Window
    by: tuple[str, ...]
    groups: pl.DataFrame
    totals: dict
    unpriced: pl.DataFrame
    notes: tuple[str, ...] = ()
    prices_version: str | None = None


PRICES_VERSION_SQL = "SELECT min(version) FROM prices"


def _finish(frame: pl.DataFrame, total_cost: float | None) -> pl.DataFrame:
    """Derived per-group figures: cost source, cost per user-day, share of total."""
    logged, computed = pl.col("logged_requests") > 0, pl.col("computed_requests") > 0
    return frame.with_columns(
        pl.when(logged & computed).then(pl.lit("mixed")).when(logged).then(pl.lit("logged"))
        .when(computed).then(pl.lit("computed")).otherwise(pl.lit("unpriced")).alias("cost_source"),
        (pl.col("cost_usd") / pl.when(pl.col("user_days") > 0).then(pl.col("user_days")))
        .alias("cost_per_user_day_usd"),
        (pl.col("cost_usd") / total_cost if total_cost else pl.lit(None, dtype=pl.Float64))
        .alias("share_of_cost"),
    )


GROUP_COLUMNS = [
    "requests", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "cost_source", "logged_cost_usd", "computed_cost_usd",
    "logged_requests", "computed_requests", "unpriced_requests", "unpriced_input_tokens",
    "unpriced_output_tokens", "mean_cost_usd", "p95_cost_usd", "cost_per_user_day_usd",
    "token_efficiency", "cache_hit_rate", "cached_input_share", "cache_read_saving_usd",
    "cache_hit_saving_usd", "cache_hits_estimated", "share_of_cost",
]


def breakdown(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[By], *,
              approx_p95: bool = False) -> Breakdown:
    """Cost and token figures per group (``by``), with totals, in one pass over the window."""
    if not by:
        raise UsageError("--by needs at least one of: " + ", ".join(b.value for b in By))
    keys = ", ".join(f"{_BY_SQL[b][0]} AS {_BY_SQL[b][1]}" for b in by)
    names = by_columns(by)
    key_names = ", ".join(names)
    params = _window_params(window)
    rows = con.execute(WINDOW_ROWS_SQL, params).fetchall()[0][0]
    exact = rows <= EXACT_USER_DAYS_ROWS
    total_p95, total_user_days = con.execute(TOTAL_EXACT_SQL, params).fetchall()[0] if exact else (None, None)
    # The key columns replace same-named request columns inside the scan.
    excluded = ", ".join(n for n in names if n in REQUEST_KEY_COLUMNS) or "request_id"
    fmt = {"keys": keys, "key_names": key_names, "excluded": excluded}
    sql = BREAKDOWN_SQL.format(
        **fmt,
        p95=P95_APPROX if approx_p95 else P95_EXACT,
        p95_state="NULL" if exact else P95_SAMPLE_STATE,
        p95_total="NULL::DOUBLE" if exact else MERGED.format(state="_p95_state"),
        user_days=USER_DAYS_EXACT if exact else USER_DAYS_STATE,
        user_days_final="_user_days" if exact else "finalize(_user_days)",
        user_days_total="NULL::BIGINT" if exact else MERGED.format(state="_user_days"))
    frame = _frame(con, sql, {**params, "total_user_days": total_user_days, "total_p95": total_p95})
    hits = _frame(con, HITS_SQL.format(**fmt), params)
    frame = (frame.join(hits, on=names, how="left", nulls_equal=True) if not hits.is_empty()
             else frame.with_columns(pl.lit(0.0).alias("_hit_token_value"), pl.lit(0).alias("_hits_without_tokens"),
                                     pl.lit(0.0).alias("_hit_cost"), pl.lit(0).alias("_hit_priced")))
    mean_not_hit = ((pl.col("cost_usd").fill_null(0) - pl.col("_hit_cost").fill_null(0))
                    / (pl.col("_priced") - pl.col("_hit_priced").fill_null(0)))
    frame = frame.with_columns(
        (pl.col("cost_usd") - pl.col("logged_cost_usd")).alias("computed_cost_usd"),
        (pl.col("_priced") - pl.col("logged_requests")).alias("computed_requests"),
        (pl.col("requests") - pl.col("_priced")).alias("unpriced_requests"),
        (pl.col("cost_usd") / pl.when(pl.col("_priced") > 0).then(pl.col("_priced"))).alias("mean_cost_usd"),
        (pl.col("output_tokens") / pl.when(pl.col("input_tokens") > 0).then(pl.col("input_tokens")))
        .alias("token_efficiency"),
        (pl.col("_hits") / pl.when(pl.col("requests") > 0).then(pl.col("requests"))).alias("cache_hit_rate"),
        (pl.col("cached_input_tokens") / pl.when(pl.col("input_tokens") > 0).then(pl.col("input_tokens")))
        .alias("cached_input_share"),
        pl.when(pl.col("_hits_without_tokens").fill_null(0) > 0)
        .then(mean_not_hit.fill_nan(None) * pl.col("_hits_without_tokens")).otherwise(0.0).fill_null(0.0)
        .add(pl.col("_hit_token_value").fill_null(0)).alias("cache_hit_saving_usd"),
        pl.when(mean_not_hit.fill_nan(None).is_not_null()).then(pl.col("_hits_without_tokens").fill_null(0))
        .otherwise(0).alias("cache_hits_estimated"),
    ).with_columns(pl.col("computed_cost_usd").fill_null(0.0))
    groups = frame.filter(pl.col("_g") == 0).drop("_g")
    total_row = frame.filter(pl.col("_g") == 1).drop("_g")
    total = None
    if not total_row.is_empty():
        total = total_row.to_dicts()[0]
        # Savings add up from the groups (each valued its hits at its own mean).
        for col in ("cache_hit_saving_usd", "cache_hits_estimated"):
            total[col] = groups[col].sum() if not groups.is_empty() else 0
    total_cost = total["cost_usd"] if total else None
    groups = _finish(groups, total_cost)
    sort_cols = [c for c in ("day", "hour") if c in names]
    groups = groups.sort([*sort_cols, "cost_usd", "requests"], descending=[False] * len(sort_cols) + [True, True],
                         nulls_last=True)
    groups = groups.select([*names, *GROUP_COLUMNS])
    # An empty window keeps every key (None), so scripts read the same shape.
    totals: dict = {**dict.fromkeys(GROUP_COLUMNS), "cache_saving_usd": None, "requests": 0}
    if total:
        finished = _finish(pl.DataFrame([total]), total_cost).to_dicts()[0]
        totals = {k: finished[k] for k in GROUP_COLUMNS if k in finished}
        totals["cache_saving_usd"] = (totals["cache_read_saving_usd"] or 0) + (totals["cache_hit_saving_usd"] or 0)
    notes = []
    if total and total["cache_hits_estimated"]:
        notes.append(f"{total['cache_hits_estimated']:,} response-cache hit(s) logged no tokens: "
                     "each is valued at the mean cost of its group's requests that were not hits.")
    if approx_p95:
        notes.append("P95 cost per request is approximate (t-digest).")
    if not exact:
        notes.append("Over 2 million requests, active user-days are counted approximately "
                     "(HyperLogLog, about 2% error) and the total's P95 is estimated from a 1-in-16 "
                     "sample of the requests (t-digest).")
    label = ", ".join(b.value for b in by)
    return Breakdown(
        title=f"Cost by {label}",
        window=window,
        by=tuple(names),
        groups=groups,
        totals=totals,
        unpriced=unpriced(con, window),
        notes=tuple(notes),
        prices_version=_one(con, PRICES_VERSION_SQL)[0],
    )


# --------------------------------------------------------------------------- reconcile

RECONCILE_ROWS_SQL = """
SELECT request_id, ts, coalesce(provider, '(none)') AS provider, model,
       input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, batch,
       logged_cost_usd, computed_cost_usd,
       logged_cost_usd - computed_cost_usd AS difference_usd,
       (logged_cost_usd - computed_cost_usd) / nullif(computed_cost_usd, 0) AS difference_ratio
FROM costed_requests
WHERE ts >= $start AND ts < $end
  AND logged_cost_usd IS NOT NULL AND computed_cost_usd IS NOT NULL
  AND abs(logged_cost_usd - computed_cost_usd)
      > $tolerance * greatest(abs(logged_cost_usd), abs(computed_cost_usd))
ORDER BY abs(logged_cost_usd - computed_cost_usd) DESC, request_id
LIMIT $limit
"""

RECONCILE_BY_MODEL_SQL = """
SELECT coalesce(provider, '(none)') AS provider, coalesce(model, '(none)') AS model,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL) AS logged_requests,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL AND computed_cost_usd IS NOT NULL) AS compared,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL AND computed_cost_usd IS NOT NULL
                          AND abs(logged_cost_usd - computed_cost_usd)
                              > $tolerance * greatest(abs(logged_cost_usd), abs(computed_cost_usd)))
           AS mismatched,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL AND computed_cost_usd IS NULL)
           AS logged_only,
       sum(logged_cost_usd) FILTER (WHERE computed_cost_usd IS NOT NULL) AS logged_cost_usd,
       sum(computed_cost_usd) FILTER (WHERE logged_cost_usd IS NOT NULL) AS computed_cost_usd,
       median(logged_cost_usd / nullif(computed_cost_usd, 0)) AS median_ratio
FROM costed_requests
WHERE ts >= $start AND ts < $end AND logged_cost_usd IS NOT NULL
GROUP BY ALL
ORDER BY mismatched DESC, compared DESC, model
"""


@dataclass(frozen=True)
class Reconciliation:
    """Requests whose logged cost differs from the priced tokens by more than the tolerance."""

    title: str
    window: Window
    tolerance: float
    summary: dict
    by_model: pl.DataFrame
    rows: pl.DataFrame


def reconcile(con: duckdb.DuckDBPyConnection, window: Window, *, tolerance: float = 0.01,
              limit: int = 20) -> Reconciliation:
    """Logged vs computed cost per model, and the largest disagreements."""
    if not 0 <= tolerance < 1:
        raise UsageError("--tolerance is a fraction between 0 and 1, e.g. 0.01 for 1%")
    params = {**_window_params(window), "tolerance": tolerance}
    by_model = _frame(con, RECONCILE_BY_MODEL_SQL, params)
    rows = _frame(con, RECONCILE_ROWS_SQL, {**params, "limit": limit})
    def total(col: str) -> float | int:
        return by_model[col].sum() if not by_model.is_empty() else 0
    compared = int(total("compared"))
    mismatched = int(total("mismatched"))
    summary = {
        "logged_requests": int(total("logged_requests")),
        "compared": compared,
        "mismatched": mismatched,
        "mismatched_share": mismatched / compared if compared else None,
        "logged_only": int(total("logged_only")),
        "logged_cost_usd": float(total("logged_cost_usd") or 0),
        "computed_cost_usd": float(total("computed_cost_usd") or 0),
    }
    summary["difference_usd"] = summary["logged_cost_usd"] - summary["computed_cost_usd"]
    return Reconciliation(
        title=f"Logged vs computed cost (tolerance {tolerance:.1%})",
        window=window, tolerance=tolerance, summary=summary, by_model=by_model, rows=rows)


# --------------------------------------------------------------------------- anomalies

HOURLY_SQL = """
WITH hours AS (
    SELECT unnest(generate_series(date_trunc('hour', $lo::TIMESTAMPTZ),
                                  date_trunc('hour', $hi::TIMESTAMPTZ), INTERVAL 1 HOUR)) AS hour
), spend AS (
    SELECT date_trunc('hour', ts) AS hour, sum(cost_usd) AS cost_usd, count(*) AS requests,
           count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_requests
    FROM costed_requests WHERE ts >= $start AND ts < $end
    GROUP BY ALL
), filled AS (
    SELECT h.hour, CAST(h.hour AS DATE) AS day, extract('hour' FROM h.hour) AS hour_of_day,
           coalesce(s.cost_usd, 0) AS cost_usd, coalesce(s.requests, 0) AS requests,
           coalesce(s.unpriced_requests, 0) AS unpriced_requests
    FROM hours h LEFT JOIN spend s USING (hour)
), scored AS (
    SELECT *,
        avg(cost_usd) OVER (PARTITION BY day) AS day_hourly_avg_usd,
        count(*) OVER (PARTITION BY day) AS day_hours,
        median(cost_usd) OVER (PARTITION BY hour_of_day) AS typical_same_hour_usd
    FROM filled
)
SELECT hour, day, cost_usd, requests, unpriced_requests, day_hourly_avg_usd, day_hours,
       cost_usd / nullif(day_hourly_avg_usd, 0) AS ratio_to_day_avg,
       typical_same_hour_usd,
       cost_usd / nullif(typical_same_hour_usd, 0) AS ratio_to_typical_hour,
       cost_usd - $factor * day_hourly_avg_usd AS excess_usd
FROM scored
WHERE cost_usd > $factor * day_hourly_avg_usd AND cost_usd >= $min_usd
ORDER BY ratio_to_typical_hour DESC NULLS LAST, hour
"""

# Daily cost per entity, zero-filled from its first day in the window, scored against
# its own trailing baseline: the median of the previous $baseline_days days and the
# scaled median absolute deviation (robust to the spikes being looked for).
JUMPS_SQL = """
WITH days AS (
    SELECT unnest(generate_series(CAST($lo AS DATE), CAST($hi AS DATE), INTERVAL 1 DAY))::DATE AS day
), spend AS (
    SELECT {entity} AS entity, CAST(ts AS DATE) AS day, sum(cost_usd) AS cost_usd, count(*) AS requests
    FROM costed_requests
    WHERE ts >= $start AND ts < $end AND {entity} IS NOT NULL
    GROUP BY ALL
), firsts AS (
    SELECT entity, min(day) AS first_day FROM spend GROUP BY ALL
), filled AS (
    SELECT f.entity, d.day, coalesce(s.cost_usd, 0) AS cost_usd, coalesce(s.requests, 0) AS requests
    FROM firsts f JOIN days d ON d.day >= f.first_day
    LEFT JOIN spend s ON s.entity = f.entity AND s.day = d.day
), history AS (
    SELECT *, list(cost_usd) OVER (PARTITION BY entity ORDER BY day
                                   ROWS BETWEEN $baseline_days PRECEDING AND 1 PRECEDING) AS prev
    FROM filled
), scored AS (
    SELECT entity, day, cost_usd, requests, len(prev) AS baseline_days,
           list_median(prev) AS baseline_usd,
           {spread} AS spread_usd
    FROM history
    WHERE len(prev) >= $min_days
)
SELECT entity, day, cost_usd, requests, baseline_usd, spread_usd, baseline_days,
       (cost_usd - baseline_usd) / greatest(spread_usd, 0.1 * baseline_usd, $min_usd / $z) AS robust_z,
       cost_usd / nullif(baseline_usd, 0) AS ratio_to_baseline
FROM scored
WHERE cost_usd - baseline_usd >= $min_usd
  AND cost_usd >= $jump * baseline_usd
  AND (cost_usd - baseline_usd) / greatest(spread_usd, 0.1 * baseline_usd, $min_usd / $z) >= $z
ORDER BY cost_usd - baseline_usd DESC, entity, day
LIMIT $limit
"""

ENTITIES = {"user": "user_id", "endpoint": "endpoint", "model": "model"}


@dataclass(frozen=True)
class AnomalySettings:
    """Thresholds of the spend-anomaly scan (defaults match the documented rule)."""

    hour_factor: float = 1.5
    hour_min_usd: float = 0.0
    baseline_days: int = 7
    min_baseline_days: int = 3
    z: float = 3.5
    jump: float = 2.0
    min_usd: float = 1.0
    limit: int = 50


@dataclass(frozen=True)
class Anomalies:
    """Hours above the day's hourly average, and entities whose daily cost jumped."""

    title: str
    window: Window
    settings: AnomalySettings
    hours: pl.DataFrame
    jumps: dict[str, pl.DataFrame] = field(default_factory=dict)


def anomalies(con: duckdb.DuckDBPyConnection, window: Window, *,
              entities: Sequence[str] = ("user", "endpoint"),
              settings: AnomalySettings = AnomalySettings()) -> Anomalies:
    """Spend anomalies in the window: hot hours and per-user/endpoint daily jumps."""
    for e in entities:
        if e not in ENTITIES:
            raise UsageError(f"--by {e!r}: choose from {', '.join(ENTITIES)}")
    if settings.hour_factor <= 0 or settings.z <= 0 or settings.baseline_days < 1:
        raise UsageError("--hour-factor, --z and --baseline-days must be positive")
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM requests WHERE ts >= $start AND ts < $end",
                         _window_params(window)).fetchall()[0]
    if lo is None:
        empty = pl.DataFrame()
        return Anomalies("Spend anomalies", window, settings, empty, {e: empty for e in entities})
    base = {**_window_params(window), "lo": lo, "hi": hi}
    hours = _frame(con, HOURLY_SQL, {**base, "factor": settings.hour_factor,
                                      "min_usd": settings.hour_min_usd})
    jumps = {}
    for e in entities:
        sql = JUMPS_SQL.format(entity=ENTITIES[e], spread=scale_sql("prev"))
        frame = _frame(con, sql, {**base, "baseline_days": settings.baseline_days,
                                  "min_days": settings.min_baseline_days, "z": settings.z,
                                  "jump": settings.jump, "min_usd": settings.min_usd,
                                  "limit": settings.limit})
        jumps[e] = frame.rename({"entity": ENTITIES[e]})
    return Anomalies("Spend anomalies", window, settings, hours, jumps)


# --------------------------------------------------------------------------- routing

# Defaults from the routing heuristic users start with: short prompts without code
# or reasoning words are "simple".
DEFAULT_MAX_WORDS = 20
DEFAULT_CODE_PATTERN = r"```|\bdef |\bclass |\bfunction\b|\bimport |\bdebug|\bcode\b|=>|\{\s*$|;\s*$"
DEFAULT_REASONING_WORDS = ("analyze", "analyse", "compare", "explain why", "why", "step by step",
                           "reason", "prove", "evaluate")
DEFAULT_EXPENSIVE_RATIO = 3.0


@dataclass(frozen=True)
class RoutingSettings:
    """What counts as a simple request, and which models count as expensive."""

    max_words: int = DEFAULT_MAX_WORDS
    code_pattern: str = DEFAULT_CODE_PATTERN
    reasoning_words: tuple[str, ...] = DEFAULT_REASONING_WORDS
    expensive_ratio: float = DEFAULT_EXPENSIVE_RATIO
    min_share: float = 0.01

    def reasoning_pattern(self) -> str:
        words = [re.escape(w.strip().lower()) for w in self.reasoning_words if w.strip()]
        return r"\b(" + "|".join(words) + r")\b" if words else r"(?!x)x"


def routing_settings(config: dict, overrides: dict, *, source: str = "aimon.toml [cost.routing]"
                     ) -> RoutingSettings:
    """Settings from a [cost.routing] table, then command-line overrides; UsageError on bad values."""
    allowed = {"max_words", "reasoning_words", "code_pattern", "expensive_ratio", "min_share"}
    if not isinstance(config, dict):
        raise UsageError(f"{source} must be a table")
    unknown = set(config) - allowed
    if unknown:
        raise UsageError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"expected {', '.join(sorted(allowed))}")
    merged = {**config, **overrides}
    values: dict = {}
    try:
        if "max_words" in merged:
            values["max_words"] = int(merged["max_words"])
            if values["max_words"] < 1:
                raise ValueError("max_words must be at least 1")
        if "reasoning_words" in merged:
            words = merged["reasoning_words"]
            if isinstance(words, str):
                words = words.split(",")
            values["reasoning_words"] = tuple(str(w).strip() for w in words if str(w).strip())
        if "code_pattern" in merged:
            values["code_pattern"] = str(merged["code_pattern"])
            re.compile(values["code_pattern"])
        if "expensive_ratio" in merged:
            values["expensive_ratio"] = float(merged["expensive_ratio"])
            if values["expensive_ratio"] < 1:
                raise ValueError("expensive_ratio must be at least 1")
        if "min_share" in merged:
            values["min_share"] = float(merged["min_share"])
    except (TypeError, ValueError, re.error) as exc:
        raise UsageError(f"routing settings ({source} or options): {exc}") from None
    return RoutingSettings(**values)


# Each model's list price per token on its own token mix: its tokens priced at the
# standard (not batch) rates in force, response-cache hits aside. Logged costs do not
# enter, so a model whose logs carry odd costs still ranks by its price.
MODEL_RATES_SQL = """
SELECT model, count(*) AS requests,
       sum(token_cost_usd) AS cost_usd,
       sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))::BIGINT AS tokens,
       sum(token_cost_usd) / nullif(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), 0) * 1e6
           AS usd_per_mtok
FROM costed_requests
WHERE ts >= $start AND ts < $end AND model IS NOT NULL AND token_cost_usd IS NOT NULL
  AND NOT coalesce(cache_hit, false) AND NOT batch
GROUP BY ALL
HAVING sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) > 0
ORDER BY usd_per_mtok, model
"""

CHEAPEST_PRICE_SQL = """
SELECT input_mtok, output_mtok, coalesce(cache_read_mtok, input_mtok), coalesce(cache_write_mtok, input_mtok)
FROM prices
WHERE model = $model AND input_mtok IS NOT NULL AND output_mtok IS NOT NULL
  AND coalesce(valid_from <= $at, true) AND coalesce(valid_to > $at, true) AND min_input_tokens = 0
ORDER BY (provider IS NULL), day_from_s
LIMIT 1
"""

ROUTING_SQL = """
WITH classified AS (
    SELECT model, cost_usd, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
           prompt IS NOT NULL AS known,
           prompt IS NOT NULL
             AND len(string_split_regex(trim(prompt), '\\s+')) <= $max_words
             AND NOT regexp_matches(prompt, $code, 'm')
             AND NOT regexp_matches(lower(prompt), $reasoning) AS simple
    FROM costed_requests
    WHERE ts >= $start AND ts < $end AND model IN (SELECT unnest($expensive::VARCHAR[]))
      AND cost_usd IS NOT NULL AND NOT coalesce(cache_hit, false)
)
SELECT model,
       count(*) AS requests,
       count(*) FILTER (WHERE simple) AS simple_requests,
       count(*) FILTER (WHERE NOT known) AS no_prompt_requests,
       sum(cost_usd) AS cost_usd,
       coalesce(sum(cost_usd) FILTER (WHERE simple), 0) AS simple_cost_usd,
       coalesce(sum((greatest(coalesce(input_tokens, 0) - coalesce(cached_input_tokens, 0)
                              - coalesce(cache_write_tokens, 0), 0) * $in_p
                     + coalesce(cached_input_tokens, 0) * $read_p
                     + coalesce(cache_write_tokens, 0) * $write_p
                     + coalesce(output_tokens, 0) * $out_p) / 1e6) FILTER (WHERE simple), 0)
           AS simple_cost_on_cheapest_usd
FROM classified
GROUP BY ALL
ORDER BY simple_cost_usd DESC
"""


ROUTING_SUMMARY_KEYS = ("cheapest_model", "cheapest_usd_per_mtok", "expensive_models", "expensive_requests",
                        "simple_requests", "simple_share", "no_prompt_requests", "window_days", "saving_usd",
                        "monthly_saving_usd", "cheapest_prices_mtok")


@dataclass(frozen=True)
class Routing:
    """Simple requests sent to expensive models, and what the cheapest model would save."""

    title: str
    window: Window
    settings: RoutingSettings
    model_rates: pl.DataFrame
    cheapest_model: str | None
    expensive_models: tuple[str, ...]
    by_model: pl.DataFrame
    summary: dict
    assumption: str


def routing(con: duckdb.DuckDBPyConnection, window: Window,
            settings: RoutingSettings = RoutingSettings()) -> Routing:
    """Share of expensive-model requests that look simple, and the monthly saving if the
    cheapest model in use answered them."""
    try:
        re.compile(settings.code_pattern)
    except re.error as exc:
        raise UsageError(f"--code-pattern is not a valid regular expression: {exc}") from None
    params = _window_params(window)
    rates = _frame(con, MODEL_RATES_SQL, params)
    total_requests = int(rates["requests"].sum()) if not rates.is_empty() else 0
    in_use = rates.filter((pl.col("requests") >= settings.min_share * max(total_requests, 1))
                          & pl.col("usd_per_mtok").is_not_null() & (pl.col("tokens") > 0))
    days = max(window.duration / timedelta(days=1), 1e-9)
    assumption = (
        "Assumes every simple request would be answered as well by the cheapest model in use, "
        "with the same input and output token counts, at that model's list price in force at "
        "the end of the window; the monthly figure scales the window's saving to 30 days. "
        "Simple = prompt of at most {w} words, no code, none of the reasoning words ({r}). "
        "Expensive = list price per token (on its own token mix) at least {x:g}x the cheapest "
        "model's. Quality is not assessed."
    ).format(w=settings.max_words, r=", ".join(settings.reasoning_words), x=settings.expensive_ratio)
    # The same summary keys whether or not there is an opportunity (stable JSON).
    blank = dict.fromkeys(ROUTING_SUMMARY_KEYS)
    empty = Routing("Routing opportunity", window, settings, rates, None, (), pl.DataFrame(), blank, assumption)
    if in_use.height < 2:
        return empty
    cheapest = in_use.row(0, named=True)
    floor = cheapest["usd_per_mtok"]
    expensive = [m for m, r in zip(in_use["model"], in_use["usd_per_mtok"], strict=True)
                 if r >= settings.expensive_ratio * floor and m != cheapest["model"]]
    price = con.execute(CHEAPEST_PRICE_SQL, {"model": cheapest["model"],
                                              "at": window.end - timedelta(microseconds=1)}).fetchall()
    price = price[0] if price else None
    if not expensive or price is None:
        return Routing("Routing opportunity", window, settings, rates, cheapest["model"], tuple(expensive),
                       pl.DataFrame(), {**blank, "cheapest_model": cheapest["model"],
                                        "cheapest_usd_per_mtok": floor, "expensive_models": expensive,
                                        "window_days": days}, assumption)
    in_p, out_p, read_p, write_p = price
    by_model = _frame(con, ROUTING_SQL, {
        **params, "expensive": expensive, "max_words": settings.max_words,
        "code": settings.code_pattern, "reasoning": settings.reasoning_pattern(),
        "in_p": in_p, "out_p": out_p, "read_p": read_p, "write_p": write_p})
    by_model = by_model.with_columns(
        (pl.col("simple_requests") / pl.col("requests")).alias("simple_share"),
        (pl.col("simple_cost_usd") - pl.col("simple_cost_on_cheapest_usd")).alias("saving_usd"),
    ).with_columns((pl.col("saving_usd") * 30 / days).alias("monthly_saving_usd"))
    req = int(by_model["requests"].sum())
    simple = int(by_model["simple_requests"].sum())
    saving = float(by_model["saving_usd"].sum())
    summary = {
        "cheapest_model": cheapest["model"],
        "cheapest_usd_per_mtok": floor,
        "expensive_models": expensive,
        "expensive_requests": req,
        "simple_requests": simple,
        "simple_share": simple / req if req else None,
        "no_prompt_requests": int(by_model["no_prompt_requests"].sum()),
        "window_days": days,
        "saving_usd": saving,
        "monthly_saving_usd": saving * 30 / days,
        "cheapest_prices_mtok": {"input": in_p, "output": out_p, "cache_read": read_p,
                                 "cache_write": write_p},
    }
    return Routing("Routing opportunity", window, settings, rates, cheapest["model"], tuple(expensive),
                   by_model, summary, assumption)


# --------------------------------------------------------------------------- budget gates

DAILY_SPEND_SQL = """
SELECT CAST(ts AS DATE) AS day, coalesce(sum(cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_requests
FROM costed_requests
WHERE ts >= $start AND ts < $end
GROUP BY ALL ORDER BY day
"""

MONTH_START_SQL = "SELECT date_trunc('month', $at::TIMESTAMPTZ)"
OLDEST_SQL = "SELECT min(ts) FROM requests WHERE ts < $end"


@dataclass(frozen=True)
class BudgetCheck:
    """Each gate's limit, value and status; one line per breach."""

    window: Window
    checks: list[dict]
    breaches: tuple[str, ...]
    notes: tuple[str, ...] = ()


def month_to_date(con: duckdb.DuckDBPyConnection, window: Window) -> Window:
    """From the start of the (session-zone) month holding the window's end, to its end."""
    start = con.execute(MONTH_START_SQL, {"at": window.end - timedelta(microseconds=1)}).fetchall()[0][0]
    return Window(start, window.end)


def check_budgets(con: duckdb.DuckDBPyConnection, window: Window, *, daily_budget: float | None = None,
                  monthly_budget: float | None = None, fail_on_unpriced: bool = False) -> BudgetCheck:
    """Actual and forecast spend against the budgets, and unpriced spend when asked."""
    from aimon.analysis.forecast import NotEnoughHistory, forecast

    if daily_budget is None and monthly_budget is None and not fail_on_unpriced:
        raise UsageError("nothing to check: give --daily-budget, --monthly-budget or --fail-on-unpriced")
    for name, value in (("--daily-budget", daily_budget), ("--monthly-budget", monthly_budget)):
        if value is not None and value <= 0:
            raise UsageError(f"{name} must be a positive amount of USD")
    checks: list[dict] = []
    breaches: list[str] = []
    notes: list[str] = []
    days = con.execute(DAILY_SPEND_SQL, _window_params(window)).fetchall()
    unpriced_n = sum(r[2] for r in days)

    fc = None
    if daily_budget is not None or monthly_budget is not None:
        oldest = con.execute(OLDEST_SQL, {"end": window.end}).fetchall()[0][0]
        if oldest is not None:
            try:
                # horizon 30, as `aimon cost forecast` by default: the same draws, the same figures.
                fc = forecast(con, Window(oldest, window.end), horizon=30, monthly_budget=monthly_budget,
                              run_backtest=False)
            except NotEnoughHistory as exc:
                notes.append(f"forecast checks skipped: {exc}")

    if daily_budget is not None:
        over = [(d, c) for d, c, _ in days if c > daily_budget]
        worst = max(days, key=lambda r: r[1]) if days else None
        checks.append({"check": "daily actual", "limit_usd": daily_budget,
                       "value_usd": worst[1] if worst else 0.0,
                       "status": "breach" if over else "ok",
                       "detail": f"highest day {worst[0]}" if worst else "no spend in the window"})
        for d, c in over:
            breaches.append(f"daily budget ${daily_budget:,.2f} exceeded on {d}: ${c:,.2f} spent")
        if fc is not None:
            month = fc.month_end["month"]
            rest = [r for r in fc.daily if r["day"].strftime("%Y-%m") == month] or fc.daily[:7]
            f_over = [r for r in rest if r["forecast_usd"] > daily_budget]
            peak = max(rest, key=lambda r: r["forecast_usd"])
            checks.append({"check": "daily forecast", "limit_usd": daily_budget, "value_usd": peak["forecast_usd"],
                           "status": "breach" if f_over else "ok",
                           "detail": f"highest forecast day {peak['day']} of {len(rest)} to {rest[-1]['day']}"})
            if f_over:
                breaches.append(f"daily budget ${daily_budget:,.2f} forecast to be exceeded from {f_over[0]['day']}: "
                                f"${f_over[0]['forecast_usd']:,.2f} forecast ({len(f_over)} of the "
                                f"{len(rest)} days to {rest[-1]['day']})")
        else:
            checks.append({"check": "daily forecast", "limit_usd": daily_budget, "value_usd": None,
                           "status": "skipped", "detail": "not enough history"})

    if monthly_budget is not None:
        mtd_window = month_to_date(con, window)
        mtd = sum(c for _, c, _ in con.execute(DAILY_SPEND_SQL, _window_params(mtd_window)).fetchall())
        label = f"{mtd_window.start:%Y-%m}"
        checks.append({"check": "monthly actual", "limit_usd": monthly_budget, "value_usd": mtd,
                       "status": "breach" if mtd > monthly_budget else "ok",
                       "detail": f"{label} to date"})
        if mtd > monthly_budget:
            breaches.append(f"monthly budget ${monthly_budget:,.2f} exceeded in {label}: ${mtd:,.2f} spent to date")
        if fc is not None:
            m = fc.month_end
            projected = m["projected_total_usd"]
            over = projected > monthly_budget
            crossing = fc.budget["crossing_date"] if fc.budget else None
            checks.append({"check": "monthly forecast", "limit_usd": monthly_budget, "value_usd": projected,
                           "status": "breach" if over else "ok",
                           "detail": f"{m['month']} projected month-end (80%: ${m['lo80_usd']:,.2f}-${m['hi80_usd']:,.2f})"})
            if over and not (m["month"] == label and mtd > monthly_budget):
                breaches.append(f"monthly budget ${monthly_budget:,.2f} forecast to be exceeded in {m['month']}: "
                                f"${projected:,.2f} projected month-end"
                                + (f", crossing on {crossing}" if crossing else ""))
        else:
            checks.append({"check": "monthly forecast", "limit_usd": monthly_budget, "value_usd": None,
                           "status": "skipped", "detail": "not enough history"})

    un = unpriced(con, window) if unpriced_n else pl.DataFrame()
    models = ", ".join(un["model"].to_list()[:5]) if unpriced_n else ""
    checks.append({"check": "unpriced requests", "limit_usd": None, "value_usd": None,
                   "status": ("breach" if fail_on_unpriced else "warning") if unpriced_n else "ok",
                   "detail": f"{unpriced_n:,} request(s)" + (f": {models}" if models else "")})
    if unpriced_n and fail_on_unpriced:
        tokens = int(un["input_tokens"].sum() + un["output_tokens"].sum())
        breaches.append(f"{unpriced_n:,} unpriced request(s) ({tokens:,} tokens) in the window: {models}")
    return BudgetCheck(window, checks, tuple(breaches), tuple(notes))
