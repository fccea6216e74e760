"""Feedback joined to the requests it is about: votes, satisfaction, reports, implicit signals.

Signals come from the feedback table and from the requests' own inline ``feedback``
column (some apps log the thumb with the call). Each signal counts once per request
and type: a user who clicks thumbs-up twice cast one vote. Feedback is attributed to
its request, so a window selects feedback by when the *request* was made, and a split
uses the request's model, endpoint, prompt version, variant or tier.

Definitions (every proportion with a 95% Wilson interval):

- satisfaction = up / (up + down); thumbs_down_rate = down / (up + down)
- thumbs_ratio = up / down (no interval: it is not a proportion)
- nps = (up - down) / (up + down), from -1 to 1; its interval is 2 x satisfaction's - 1
- report_rate, regenerated_rate, copied_rate, edited_rate: requests with that signal /
  requests in the window
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from aimon.analysis.metrics.catalogue import FEEDBACK_SHARES
from aimon.analysis.toolkit import dimensions
from aimon.analysis.toolkit.dimensions import Split
from aimon.analysis.toolkit.intervals import wilson_exprs
from aimon.analysis.toolkit.window import Window

# The inline feedback column holds whatever the app logged; read the usual spellings.
INLINE_TYPE_SQL = """
CASE lower(trim(r.feedback))
    WHEN 'thumbs_up' THEN 'thumbs_up' WHEN 'up' THEN 'thumbs_up' WHEN 'positive' THEN 'thumbs_up'
    WHEN 'like' THEN 'thumbs_up' WHEN '+1' THEN 'thumbs_up' WHEN '👍' THEN 'thumbs_up'
    WHEN 'thumbs_down' THEN 'thumbs_down' WHEN 'down' THEN 'thumbs_down'
    WHEN 'negative' THEN 'thumbs_down' WHEN 'dislike' THEN 'thumbs_down' WHEN '-1' THEN 'thumbs_down'
    WHEN '👎' THEN 'thumbs_down'
    WHEN 'report' THEN 'report'
    WHEN 'regenerated' THEN 'regenerated' WHEN 'copied_response' THEN 'copied_response'
    WHEN 'edited_output' THEN 'edited_output'
END
"""

# Per request: which signals it received. Feedback follows its request, so only
# feedback logged after the window opened (with a day of slack for skewed clocks) can
# belong to a request in it.
SIGNALS_CTE = """
signals AS (
    SELECT f.request_id, f.feedback_type AS kind
    FROM feedback f
    WHERE f.ts >= $start - INTERVAL 1 DAY
    UNION ALL
    SELECT r.request_id, {inline_type} AS kind
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end AND r.feedback IS NOT NULL
), per_request AS (
    SELECT request_id,
           bool_or(kind = 'thumbs_up') AS up,
           bool_or(kind = 'thumbs_down') AS down,
           bool_or(kind = 'report') AS reported,
           bool_or(kind = 'regenerated') AS regenerated,
           bool_or(kind = 'copied_response') AS copied,
           bool_or(kind = 'edited_output') AS edited
    FROM signals
    WHERE kind IS NOT NULL
    GROUP BY request_id
)
"""

# ``{group}`` is SELECT items naming the group columns (split or period), ``{names}``
# those names.
# The signal counts of a set of per_request rows (p), shared by the breakdown and the
# per-period series.
SIGNAL_COUNTS_SQL = """count(*) AS with_feedback,
    count(*) FILTER (WHERE p.up) AS thumbs_up,
    count(*) FILTER (WHERE p.down) AS thumbs_down,
    count(*) FILTER (WHERE p.up OR p.down) AS voted,
    count(*) FILTER (WHERE p.reported) AS reports,
    count(*) FILTER (WHERE p.regenerated) AS regenerated,
    count(*) FILTER (WHERE p.copied) AS copied,
    count(*) FILTER (WHERE p.edited) AS edited"""

FEEDBACK_SQL = """
WITH {signals}, totals AS (
    SELECT {group} count(*) AS requests
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end
    GROUP BY ALL
), counted AS (
    SELECT {group}
           {signal_counts}
    FROM per_request p JOIN requests r USING (request_id)
    WHERE r.ts >= $start AND r.ts < $end
    GROUP BY ALL
)
SELECT {names} t.requests,
       {counts}
FROM totals t {join}
ORDER BY t.requests DESC{order_tail}
"""

_COUNTS = ("with_feedback", "thumbs_up", "thumbs_down", "voted", "reports", "regenerated", "copied", "edited")


def _feedback_sql(group: str, names: list[str]) -> str:
    join = (f"LEFT JOIN counted c USING ({', '.join(names)})" if names
            else "LEFT JOIN counted c ON true")
    return FEEDBACK_SQL.format(
        signal_counts=SIGNAL_COUNTS_SQL,
        signals=SIGNALS_CTE.format(inline_type=INLINE_TYPE_SQL.strip()), group=group,
        names="".join(f"t.{n}, " for n in names), join=join,
        counts=", ".join(f"coalesce(c.{k}, 0) AS {k}" for k in _COUNTS),
        order_tail="".join(f", t.{n}" for n in names))


@dataclass(frozen=True)
class FeedbackResult:
    """Feedback rates per split group and report rates by category."""

    title: str
    window: Window
    by: tuple[Split, ...]
    table: pl.DataFrame
    categories: pl.DataFrame


def with_rates(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the rates and intervals to a frame of feedback counts."""
    votes = pl.col("thumbs_up") + pl.col("thumbs_down")
    frame = frame.with_columns(votes.alias("votes"))
    shares = [wilson_exprs(k, n, name) for name, (k, n) in FEEDBACK_SHARES.items()]
    ratio = (pl.when(pl.col("thumbs_down") > 0).then(pl.col("thumbs_up") / pl.col("thumbs_down"))
             .otherwise(None).alias("thumbs_ratio"))
    # Column order: the two vote shares, the ratio, then the per-request signals.
    frame = frame.with_columns(*shares[0], *shares[1], ratio, *(e for s in shares[2:] for e in s))
    return frame.with_columns(
        (2 * pl.col("satisfaction") - 1).alias("nps"),
        (2 * pl.col("satisfaction_low") - 1).alias("nps_low"),
        (2 * pl.col("satisfaction_high") - 1).alias("nps_high"),
    )


def feedback_table(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = ()) -> pl.DataFrame:
    """Counts and rates of every feedback signal per group."""
    by = tuple(by)
    frame = pl.DataFrame(con.sql(_feedback_sql(dimensions.select_sql(by), dimensions.names(by)), params=window.params()))
    if not by and frame.height == 1 and frame["requests"][0] == 0:
        frame = frame.clear()
    return with_rates(frame)


def _names(by: Sequence[Split]) -> str:
    return "".join(f"req.{n}, " for n in dimensions.names(by))


CATEGORIES_SQL = """
WITH req AS (
    SELECT {split} r.request_id
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end
), totals AS (
    SELECT {names} count(*) AS requests FROM req GROUP BY ALL
), reported AS (
    SELECT {names} coalesce(nullif(trim(f.feedback_category), ''), 'uncategorised') AS category,
           count(DISTINCT f.request_id) AS reports
    FROM feedback f JOIN req USING (request_id)
    WHERE f.feedback_type = 'report'
    GROUP BY ALL
)
SELECT reported.*, totals.requests
FROM reported {join}
ORDER BY {order} reports DESC, category
"""


def report_categories(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = ()) -> pl.DataFrame:
    """Reports per category and their rate per request in the group, with intervals."""
    by = tuple(by)
    names = dimensions.names(by)
    join = f"JOIN totals USING ({', '.join(names)})" if names else "CROSS JOIN totals"
    sql = CATEGORIES_SQL.format(split=dimensions.select_sql(by), names=_names(by),
                                join=join, order="".join(f"{n}, " for n in names))
    frame = pl.DataFrame(con.sql(sql, params=window.params()))
    return frame.with_columns(wilson_exprs("reports", "requests", "report_rate"))


def feedback(con: duckdb.DuckDBPyConnection, window: Window, by: Sequence[Split] = ()) -> FeedbackResult:
    """Feedback rates per group and report categories in ``window``."""
    by = tuple(by)
    return FeedbackResult("Feedback", window, by, feedback_table(con, window, by),
                          report_categories(con, window, by))


PERIOD_COUNTS_SQL = """
WITH {signals}
SELECT $period_of[((epoch_us(r.ts) - $origin_us) // 3600000000)::INT + 1] AS period,
       {signal_counts}
FROM per_request p JOIN requests r USING (request_id)
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
"""


def feedback_by_period(con: duckdb.DuckDBPyConnection, window: Window, grid) -> pl.DataFrame:
    """Feedback counts per report period (the daily report has the request counts):
    ``grid`` (an ``aimon.analysis.toolkit.period.HourGrid``) maps each hour of ``window`` to a
    period index. Periods without feedback are absent."""
    sql = PERIOD_COUNTS_SQL.format(signals=SIGNALS_CTE.format(inline_type=INLINE_TYPE_SQL.strip()),
                                   signal_counts=SIGNAL_COUNTS_SQL)
    return pl.DataFrame(con.sql(sql, params={**window.params(), **grid.params()}))
