"""Incidents: find them in the logs, and write what happened as a post-mortem.

Detection (:func:`detect`) works on one-minute buckets, each seen through a centred
rolling window of ``smooth`` minutes (low-traffic minutes borrow strength from their
neighbours), for all traffic and for each of the busiest model+endpoint pairs on its
own (an outage of one model is diluted in the total). Two signals, both counts of
"bad" requests tested against the baseline:

- errors: requests with status 'error' against the baseline error rate;
- latency: requests slower than their model and endpoint's P95 over the scored range
  (5% of them when the P95 has not moved), which tests a shift of the P95 itself
  without mistaking more calls to a slow model for an incident.

A minute's score is a z-score taken as the *smaller* of two: the exact binomial tail
of its count under the baseline rate, turned into a normal quantile (it knows that 3
errors in 10 requests is weak evidence), and the robust z-score of its rate against
all minutes ((rate - median) / (1.4826 * MAD): it knows how much the rate wanders on
its own). Both must call the minute unusual. The baseline rates are pooled over the
window and the 24 hours before it, leaving out the minutes a first pass flagged.
Minutes scoring at least ``threshold`` with at least ``min_requests`` requests and
``min_bad`` bad ones in their rolling window are flagged, merged into windows when
less than ``merge_gap`` minutes apart, and each window's edges are placed at the
change points that maximise the binomial likelihood of "baseline rate outside,
elevated rate inside" (the rolling window blurs them by ``smooth/2`` minutes). A
placed window is an incident only when it holds ``min_requests`` requests and
``min_bad`` bad ones itself (minimum volume: a few unrelated errors in quiet minutes
are bad luck, and with some twenty thousand minutes per slice scored, bad luck at
z >= 4 does happen).

Severity follows the incident classification of the runbook: P0 an error rate of at
least 50% (an outage) or spend per minute at least 10x the baseline's (cost runaway),
P1 an error rate of at least 10% (elevated errors), P2 at least 5% or a P95 at least
twice the baseline's (latency spike, a feature failing), P3 anything else detected.

The post-mortem (:func:`postmortem`) compares the window with the 24 hours before it,
attributes bad requests (errors, or slower than the baseline P99) to model, endpoint,
prompt version and user tier by risk ratio with a 95% CI, and error types by their
rate against the baseline; the likely root cause is the value whose risk ratio has
the highest lower bound. Text samples are redacted (:func:`redact`) unless asked.

This module is the detection; the post-mortem is :mod:`aimon.analysis.incident.postmortem`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import polars as pl

from aimon.analysis.incident.scoring import (  # Z_CAP, binomial_z and robust_z are re-exported
    Z_CAP,
    _change_points,
    _ramp_start,
    _segments,
    binomial_z,
    robust_z,
)
from aimon.analysis.metrics.catalogue import latency_quantile, metric
from aimon.analysis.toolkit.window import Window

__all__ = ["BASELINE", "DEFAULT_SETTINGS", "MINUTE", "MINUTE_US", "Z_CAP", "DetectResult", "DetectSettings",
           "Incident", "binomial_z", "detect", "incidents_frame", "robust_z", "severity"]

MINUTE = timedelta(minutes=1)
MINUTE_US = 60_000_000
BASELINE = timedelta(hours=24)




@dataclass(frozen=True)
class Incident:
    """One incident window. ``end`` is exclusive; rates are over the whole window."""

    id: str
    start: datetime
    end: datetime
    minutes: int
    severity: str
    signals: str  # errors, latency, or errors+latency
    requests: int
    errors: int
    error_rate: float | None
    baseline_error_rate: float | None
    p95_ms: float | None
    baseline_p95_ms: float | None
    traffic_ratio: float | None  # requests per minute against the 24 hours before
    cost_usd: float | None
    cost_ratio: float | None  # cost per minute against the 24 hours before
    peak_at: datetime
    peak_error_rate: float | None
    peak_p95_ms: float | None
    peak_z: float | None  # the detection score at the peak (None for a window given by hand)
    where: str | None = None  # the model and endpoint whose own series flagged it, if not all traffic
    where_requests: int | None = None  # that model and endpoint's requests in the window
    where_errors: int | None = None


@dataclass(frozen=True)
class DetectSettings:
    """How detection ran (every figure a user can change on the command line)."""

    smooth: int = 5
    threshold: float = 4.0
    min_requests: int = 5
    min_bad: int = 5
    merge_gap: int = 10
    segments: int = 20  # the busiest model+endpoint pairs, each scored on its own too


DEFAULT_SETTINGS = DetectSettings()


@dataclass(frozen=True)
class DetectResult:
    """The incidents found in a window, newest last."""

    title: str
    window: Window
    incidents: tuple[Incident, ...]
    settings: DetectSettings
    baseline_error_rate: float | None
    baseline_slow_share: float | None  # requests above their model+endpoint P95 outside incidents
    minutes_scored: int

    @property
    def table(self) -> pl.DataFrame:
        return incidents_frame(self.incidents)


def incidents_frame(incidents: Sequence[Incident]) -> pl.DataFrame:
    """Incidents as a frame (one row each)."""
    if not incidents:
        # No incident: the empty table still names every column, in the same order.
        types = {"str": pl.String, "datetime": pl.Datetime("us", "UTC"), "int": pl.Int64, "float": pl.Float64}
        return pl.DataFrame(schema={f.name: types[str(f.type).split(" ")[0]] for f in dataclasses.fields(Incident)})
    return pl.DataFrame([i.__dict__ for i in incidents])


# An incident is what users waited through, failures included: latency over every request.
P95_ALL = metric("latency_all_p95_ms")

# "Slow" is judged against the request's own model and endpoint, so a shift in the mix
# (more reasoning-model calls, which are slow by nature) is not a latency incident.
# The threshold is the pair's P95 over the scored range, or the overall P95 for pairs
# with too few requests to have one of their own.
SLOW_CTE = f"""
slow_at AS (
    SELECT r.model, r.endpoint,
           CASE WHEN count(r.latency_ms) >= 50 THEN {latency_quantile("$slow_q")} END AS slow_ms
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end
    GROUP BY ALL
), slow_all AS (
    SELECT {latency_quantile("$slow_q")} AS slow_ms
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end
), x AS (
    SELECT r.*, r.latency_ms > coalesce(t.slow_ms, (SELECT slow_ms FROM slow_all)) AS slow
    FROM requests r
    LEFT JOIN slow_at t ON t.model IS NOT DISTINCT FROM r.model AND t.endpoint IS NOT DISTINCT FROM r.endpoint
    WHERE r.ts >= $start AND r.ts < $end
)
"""


# Per minute (``off`` = 0) or per centred rolling window (offsets -h..h): a request at
# minute t counts in the windows centred on t-h .. t+h.
MINUTES_SQL = f"""
WITH {{slow}}, shifted AS (
    SELECT (epoch_us(r.ts) // 60000000)::BIGINT + k.off AS minute, r.*
    FROM x AS r
    CROSS JOIN range($lo, $hi) AS k(off)
)
SELECT minute, grouping(model, endpoint) > 0 AS total, model, endpoint,
       count(*) AS requests,
       count(*) FILTER (WHERE status = 'error') AS errors,
       count(latency_ms) AS timed,
       count(*) FILTER (WHERE slow) AS slow,
       count(*) FILTER (WHERE status = 'error' OR slow) AS bad,
       {P95_ALL.sql("shifted")} AS p95_ms
FROM shifted
GROUP BY GROUPING SETS ((minute), (minute, model, endpoint))
"""


# The busiest (model, endpoint) pairs of the scored range, scored on their own.
SEGMENTS_SQL = """
SELECT r.model, r.endpoint, count(*) AS requests
FROM requests r
WHERE r.ts >= $start AND r.ts < $end
GROUP BY ALL
ORDER BY requests DESC, r.model, r.endpoint
LIMIT $limit
"""


WINDOW_STATS_SQL = f"""
SELECT count(*) FILTER (WHERE r.ts >= $start) AS requests,
       count(*) FILTER (WHERE r.ts >= $start AND r.status = 'error') AS errors,
       {P95_ALL.sql(where="r.ts >= $start")} AS p95_ms,
       sum(c.cost_usd) FILTER (WHERE r.ts >= $start) AS cost_usd,
       count(*) FILTER (WHERE r.ts < $start) AS baseline_requests,
       count(*) FILTER (WHERE r.ts < $start AND r.status = 'error') AS baseline_errors,
       {P95_ALL.sql(where="r.ts < $start")} AS baseline_p95_ms,
       sum(c.cost_usd) FILTER (WHERE r.ts < $start) AS baseline_cost_usd
FROM requests r
LEFT JOIN request_costs c USING (request_id)
WHERE r.ts >= $baseline_start AND r.ts < $end
"""


@dataclass(frozen=True)
class _Series:
    """Per-minute counts of one slice of traffic (all of it, or one model+endpoint)."""

    first: int  # epoch minute of index 0
    n: np.ndarray
    e: np.ndarray
    timed: np.ndarray
    slow: np.ndarray
    bad: np.ndarray
    p95: np.ndarray


TOTAL = ("", "")  # the key of the series of all traffic


def _series(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, half: int,
            keys: set[tuple], slow_q: float = 0.95) -> dict[tuple, _Series]:
    frame = con.sql(MINUTES_SQL.format(slow=SLOW_CTE.strip()),
                    params={"start": start, "end": end, "slow_q": slow_q, "lo": -half, "hi": half + 1}).pl()
    first = _minute(start)
    length = _minute(end - timedelta(microseconds=1)) - first + 1
    out: dict[tuple, _Series] = {}
    frame = frame.with_columns(
        (pl.col("minute") - first).alias("i"),
        pl.when(pl.col("total")).then(pl.lit(TOTAL[0])).otherwise(pl.col("model").fill_null("(none)")).alias("k1"),
        pl.when(pl.col("total")).then(pl.lit(TOTAL[1])).otherwise(pl.col("endpoint").fill_null("(none)")).alias("k2"),
    ).filter((pl.col("i") >= 0) & (pl.col("i") < length))
    for key in [TOTAL, *keys]:
        part = frame.filter((pl.col("k1") == key[0]) & (pl.col("k2") == key[1]))
        arrays = {k: np.zeros(length) for k in ("requests", "errors", "timed", "slow", "bad")}
        p95 = np.full(length, np.nan)
        idx = part["i"].to_numpy()
        for k in arrays:
            arrays[k][idx] = part[k].to_numpy()
        p95[idx] = part["p95_ms"].fill_null(np.nan).to_numpy()
        out[key] = _Series(first, arrays["requests"], arrays["errors"], arrays["timed"], arrays["slow"],
                           arrays["bad"], p95)
    return out


def _minute(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000) // MINUTE_US


def _at(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)



def severity(error_rate: float | None, p95_ms: float | None, baseline_p95_ms: float | None,
             cost_ratio: float | None = None) -> str:
    """P0-P3 from the window's error rate, P95 and spend (see the module docstring)."""
    rate = error_rate or 0.0
    if rate >= 0.5 or (cost_ratio is not None and cost_ratio >= 10):
        return "P0"
    if rate >= 0.10:
        return "P1"
    slow = p95_ms is not None and baseline_p95_ms and p95_ms >= 2 * baseline_p95_ms
    if rate >= 0.05 or slow:
        return "P2"
    return "P3"


def detect(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    settings: DetectSettings = DEFAULT_SETTINGS,
) -> DetectResult:
    """Incident windows in ``window`` (scored against it and the 24 hours before)."""
    con.complete()  # a caller's fetchone() (window.resolve) leaves a result open
    s = settings
    half = max(0, s.smooth // 2)
    start = window.start - BASELINE
    keys = {("(none)" if m is None else m, "(none)" if e is None else e) for m, e, _ in con.execute(
        SEGMENTS_SQL, {"start": start, "end": window.end, "limit": s.segments}).fetchall()}
    raws = _series(con, start, window.end, 0, keys)
    rolls = _series(con, start, window.end, half, keys)
    raw = raws[TOTAL]
    in_window = np.zeros(len(raw.n), dtype=bool)
    in_window[max(0, _minute(window.start) - raw.first):] = True

    scored = {key: _score(raws[key], rolls[key], s) for key in raws}
    flagged = np.zeros(len(raw.n), dtype=bool)
    for sc in scored.values():
        flagged |= sc.err_flag | sc.lat_flag

    spans: list[list] = []  # [start index, end index (inclusive), slice key, errors?, latency?]
    for f1, f2 in _segments(flagged, s.merge_gap):
        # The slice with the strongest evidence places the edges and names where it happened.
        def strength(k: tuple, f1: int = f1, f2: int = f2) -> tuple:
            hit = scored[k].err_flag[f1:f2 + 1].any() or scored[k].lat_flag[f1:f2 + 1].any()
            return (float(np.max(scored[k].z[f1:f2 + 1])) if hit else -math.inf, k == TOTAL)

        key = max(scored, key=strength)
        sc, series = scored[key], raws[key]
        own_err, own_lat = sc.err_flag[f1:f2 + 1].any(), sc.lat_flag[f1:f2 + 1].any()
        if own_err and own_lat:
            bad, n, base = series.bad, series.n, sc.bad0
        elif own_err:
            bad, n, base = series.e, series.n, sc.p0
        else:
            bad, n, base = series.slow, series.timed, sc.q0
        a, b = _change_points(bad, n, f1, f2, s.smooth + s.merge_gap, float(base), half)
        ramp = _ramp_start(bad, n, f1, f2, float(base))
        if ramp is not None and ramp < b:
            a = ramp  # a slow ramp: the start is its crossing of twice the baseline rate
        # Minimum volume: the placed window itself must hold enough requests and bad ones
        # (a rolling window can flag a minute whose own traffic shows nothing).
        if n[a:b + 1].sum() < s.min_requests or bad[a:b + 1].sum() < s.min_bad:
            continue
        err = any(scored[k].err_flag[f1:f2 + 1].any() for k in scored)
        lat = any(scored[k].lat_flag[f1:f2 + 1].any() for k in scored)
        if spans and a <= spans[-1][1] + 1:  # placed edges can make neighbours touch: one incident
            last = spans[-1]
            keep = last[2] if strength(last[2], last[0], last[1]) >= strength(key, a, b) else key
            spans[-1] = [min(last[0], a), max(last[1], b), keep, last[3] or err, last[4] or lat]
        else:
            spans.append([a, b, key, err, lat])

    incidents: list[Incident] = []
    for a, b, key, err, lat in spans:
        if not in_window[b]:
            continue  # an incident of the baseline day, outside the window asked about
        a = max(a, int(np.argmax(in_window)))
        sc, roll = scored[key], rolls[key]
        peak = a + int(np.argmax(sc.z[a:b + 1]))
        where = None if key == TOTAL else f"model {key[0]} on endpoint {key[1]}"
        found = _incident(con, _at(raw.first + a), _at(raw.first + b + 1),
                          "errors+latency" if err and lat else "errors" if err else "latency",
                          _at(raw.first + peak),
                          float(roll.e[peak] / roll.n[peak]) if roll.n[peak] else None,
                          None if math.isnan(roll.p95[peak]) else float(roll.p95[peak]),
                          float(sc.z[peak]), where)
        if key != TOTAL:
            own = raws[key]
            found = dataclasses.replace(found, where_requests=int(own.n[a:b + 1].sum()),
                                        where_errors=int(own.e[a:b + 1].sum()))
        incidents.append(found)
    total = scored[TOTAL]
    return DetectResult("Incidents", window, tuple(incidents), settings, float(total.p0), float(total.q0),
                        int(in_window.sum()))


@dataclass(frozen=True)
class _Scored:
    z: np.ndarray
    err_flag: np.ndarray
    lat_flag: np.ndarray
    p0: float
    q0: float
    bad0: float


def _score(raw: _Series, roll: _Series, s: DetectSettings) -> _Scored:
    """Flag the minutes of one slice (two passes: the second leaves the first's incidents out
    of the baseline rates)."""
    flagged = np.zeros(len(raw.n), dtype=bool)
    usable = roll.n >= s.min_requests
    timed_ok = roll.timed >= s.min_requests
    with np.errstate(invalid="ignore", divide="ignore"):
        err_rate = np.where(roll.n > 0, roll.e / np.maximum(roll.n, 1), 0.0)
        slow_rate = np.where(roll.timed > 0, roll.slow / np.maximum(roll.timed, 1), 0.0)
    rz_err = robust_z(err_rate, usable)
    rz_lat = robust_z(slow_rate, usable & timed_ok)
    for _ in range(2):
        clean = ~flagged
        p0 = raw.e[clean].sum() / raw.n[clean].sum() if raw.n[clean].sum() else 0.0
        q0 = raw.slow[clean].sum() / raw.timed[clean].sum() if raw.timed[clean].sum() else 0.0
        z_err = np.minimum(binomial_z(roll.e, roll.n, p0), rz_err)
        z_lat = np.minimum(binomial_z(roll.slow, roll.timed, q0), rz_lat)
        err_flag = usable & (roll.e >= s.min_bad) & (z_err >= s.threshold)
        lat_flag = usable & timed_ok & (roll.slow >= s.min_bad) & (z_lat >= s.threshold)
        flagged = err_flag | lat_flag
    clean = ~flagged
    bad0 = raw.bad[clean].sum() / raw.n[clean].sum() if raw.n[clean].sum() else 0.0
    return _Scored(np.maximum(z_err, z_lat), err_flag, lat_flag, float(p0), float(q0), float(bad0))


def _incident(con, start: datetime, end: datetime, signals: str, peak_at: datetime,
              peak_rate: float | None, peak_p95: float | None, peak_z: float | None,
              where: str | None = None) -> Incident:
    row = con.execute(WINDOW_STATS_SQL, {"start": start, "end": end,
                                         "baseline_start": start - BASELINE}).fetchall()[0]
    requests, errors, p95, cost, b_requests, b_errors, b_p95, b_cost = row
    rate = errors / requests if requests else None
    b_rate = b_errors / b_requests if b_requests else None
    minutes = (end - start) / MINUTE
    base_minutes = BASELINE / MINUTE
    traffic = (requests / minutes) / (b_requests / base_minutes) if b_requests else None
    cost_ratio = (cost / minutes) / (b_cost / base_minutes) if cost and b_cost else None
    if cost_ratio is not None and cost_ratio >= 10:
        signals = "cost" if signals == "none" else signals + "+cost"
    return Incident(
        id=f"INC-{start:%Y%m%d-%H%M}", start=start, end=end,
        minutes=int(minutes), severity=severity(rate, p95, b_p95, cost_ratio), signals=signals,
        requests=int(requests), errors=int(errors), error_rate=rate, baseline_error_rate=b_rate,
        p95_ms=p95, baseline_p95_ms=b_p95, traffic_ratio=traffic, cost_usd=cost, cost_ratio=cost_ratio,
        peak_at=peak_at, peak_error_rate=peak_rate, peak_p95_ms=peak_p95, peak_z=peak_z, where=where,
    )
