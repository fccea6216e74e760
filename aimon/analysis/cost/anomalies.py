"""``aimon cost anomalies``: hours above their day's average, and daily jumps against a
robust baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import polars as pl

from aimon.analysis.cost.common import _frame
from aimon.analysis.toolkit.robust import scale_sql
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError

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
                         window.params()).fetchall()[0]
    if lo is None:
        empty = pl.DataFrame()
        return Anomalies("Spend anomalies", window, settings, empty, {e: empty for e in entities})
    base = {**window.params(), "lo": lo, "hi": hi}
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
