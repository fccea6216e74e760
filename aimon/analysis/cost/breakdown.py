"""``aimon cost breakdown``: cost per group in one scan of the window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from aimon.analysis.cost.common import _BY_SQL, By, _frame, _one, by_columns, unpriced
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError

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
    params = window.params()
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
    frame = _derived(frame)
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
    notes = _notes(total, approx_p95, exact)
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


def _derived(frame: pl.DataFrame) -> pl.DataFrame:
    """The figures computed from a group's sums: computed and unpriced shares, means,
    rates, and what response-cache hits saved."""
    mean_not_hit = ((pl.col("cost_usd").fill_null(0) - pl.col("_hit_cost").fill_null(0))
                    / (pl.col("_priced") - pl.col("_hit_priced").fill_null(0)))
    return frame.with_columns(
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


def _notes(total: dict | None, approx_p95: bool, exact: bool) -> list[str]:
    notes: list[str] = []
    if total and total["cache_hits_estimated"]:
        notes.append(f"{total['cache_hits_estimated']:,} response-cache hit(s) logged no tokens: "
                     "each is valued at the mean cost of its group's requests that were not hits.")
    if approx_p95:
        notes.append("P95 cost per request is approximate (t-digest).")
    if not exact:
        notes.append("Over 2 million requests, active user-days are counted approximately "
                     "(HyperLogLog, about 2% error) and the total's P95 is estimated from a 1-in-16 "
                     "sample of the requests (t-digest).")
    return notes
