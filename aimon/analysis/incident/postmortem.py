"""The post-mortem of an incident window: impact against the 24 hours before it, the
timeline, the first and last bad request, redacted samples, similar past incidents,
and (from :mod:`.attribution` and :mod:`.prose`) the root cause, contributing factors
and follow-ups."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl

from aimon.analysis.incident.attribution import RootCause, _attribution, _error_types, _root_cause
from aimon.analysis.incident.detect import (
    BASELINE,
    DEFAULT_SETTINGS,
    MINUTE,
    MINUTE_US,
    DetectSettings,
    Incident,
    _incident,
    detect,
)
from aimon.analysis.incident.marked import _all, _frame, _one, _rate
from aimon.analysis.incident.prose import _contributing, _follow_ups
from aimon.analysis.metrics.catalogue import Metric, metric
from aimon.analysis.metrics.feedback import INLINE_TYPE_SQL
from aimon.analysis.pii.mask import redact
from aimon.analysis.pii.scan import redact_texts
from aimon.analysis.toolkit.window import Window
from aimon.errors import InputError

# An incident's latency is over every request, failures included (the catalogue's
# "all requests" percentiles): a timed-out call is part of what users waited through.
P50_ALL, P95_ALL, P99_ALL = (metric(f"latency_all_p{q}_ms") for q in (50, 95, 99))

# Window and baseline in one pass: impact figures per period.
IMPACT_SQL = """
WITH {pm}, votes AS (
    -- Votes as the metrics catalogue counts them (aimon.analysis.metrics.feedback): one
    -- per request and kind, from the feedback table and the inline column alike.
    SELECT request_id, bool_or(kind = 'thumbs_up') AS up, bool_or(kind = 'thumbs_down') AS down
    FROM (SELECT f.request_id, f.feedback_type AS kind FROM feedback f SEMI JOIN x USING (request_id)
          UNION ALL
          SELECT r.request_id, {inline} AS kind FROM x r WHERE r.feedback IS NOT NULL)
    GROUP BY request_id
)
SELECT x.in_window,
       count(*) AS requests,
       count(*) FILTER (WHERE x.status = 'error') AS errors,
       count(*) FILTER (WHERE x.bad) AS bad,
       count(*) FILTER (WHERE x.slow) AS slow,
       {p50} AS p50_ms,
       {p95} AS p95_ms,
       {p99} AS p99_ms,
       sum(c.cost_usd) AS cost_usd,
       count(c.cost_usd) AS priced,
       count(DISTINCT x.request_id) FILTER (WHERE v.up) AS thumbs_up,
       count(DISTINCT x.request_id) FILTER (WHERE v.down) AS thumbs_down,
       count(DISTINCT x.user_id) AS users,
       count(DISTINCT x.user_id) FILTER (WHERE x.bad) AS users_affected,
       count(DISTINCT x.session_id) AS sessions,
       count(DISTINCT x.session_id) FILTER (WHERE x.bad) AS sessions_affected,
       count(DISTINCT x.endpoint) AS endpoints,
       count(DISTINCT x.endpoint) FILTER (WHERE x.bad) AS endpoints_affected
FROM x
LEFT JOIN request_costs c USING (request_id)
LEFT JOIN votes v USING (request_id)
GROUP BY x.in_window
""".replace("{inline}", INLINE_TYPE_SQL).replace("{p50}", P50_ALL.sql("x")).replace(
    "{p95}", P95_ALL.sql("x")).replace("{p99}", P99_ALL.sql("x"))


# The user with the most requests in the window, and their share of the baseline.
TOP_USER_SQL = """
WITH {pm}
SELECT r.user_id,
       count(*) FILTER (WHERE r.in_window) AS requests,
       count(*) FILTER (WHERE NOT r.in_window) AS baseline_requests,
       count(DISTINCT r.session_id) FILTER (WHERE r.in_window) AS sessions
FROM x AS r
WHERE r.user_id IS NOT NULL AND r.ts < $end
GROUP BY ALL
ORDER BY requests DESC, r.user_id
LIMIT 1
"""


SAME_TIME_YESTERDAY_SQL = """
SELECT count(*) FROM requests r
WHERE r.ts >= $start - INTERVAL 1 DAY AND r.ts < $end - INTERVAL 1 DAY
"""


TIMELINE_SQL = """
WITH {pm}
SELECT $from_ts + to_microseconds(((epoch_us(r.ts) - epoch_us($from_ts)) // $bucket_us) * $bucket_us) AS minute,
       count(*) AS requests,
       count(*) FILTER (WHERE r.status = 'error') AS errors,
       {p95} AS p95_ms,
       count(*) FILTER (WHERE r.bad) AS bad
FROM x AS r
WHERE r.ts >= $from_ts
GROUP BY ALL
ORDER BY minute
""".replace("{p95}", P95_ALL.sql("r"))


BAD_EDGES_SQL = """
WITH {pm}, bad AS (SELECT * FROM x WHERE in_window AND bad)
(SELECT 'first' AS which, ts, request_id, status, error_type, latency_ms, model, endpoint
 FROM bad ORDER BY ts, request_id LIMIT 1)
UNION ALL
(SELECT 'last', ts, request_id, status, error_type, latency_ms, model, endpoint
 FROM bad ORDER BY ts DESC, request_id DESC LIMIT 1)
"""


# Bad requests of every kind (each error type, and slow), spread over the window: the
# requests of each kind are cut into $limit equal runs and the first of each run is a
# candidate; candidates are taken run by run (errors before slow ones) until $limit.
SAMPLES_SQL = """
WITH {pm}, bad AS (
    SELECT r.ts, r.request_id, r.model, r.endpoint, r.status, r.error_type, r.latency_ms,
           r.error_message, r.prompt,
           CASE WHEN r.status = 'error' THEN coalesce(r.error_type, 'unknown') ELSE '(slow)' END AS kind
    FROM x AS r
    WHERE r.in_window AND r.bad
), runs AS (
    SELECT *, ((row_number() OVER (PARTITION BY kind ORDER BY ts, request_id) - 1) * $limit)
              // count(*) OVER (PARTITION BY kind) AS run
    FROM bad
), picked AS (
    SELECT * FROM runs
    QUALIFY row_number() OVER (PARTITION BY kind, run ORDER BY ts, request_id) = 1
    ORDER BY run, status = 'error' DESC, kind, ts
    LIMIT $limit
)
SELECT ts, request_id, model, endpoint, status, error_type, latency_ms, error_message, prompt
FROM picked
ORDER BY ts, request_id
"""


RETRIES_SQL = """
WITH s AS (
    SELECT r.ts, r.session_id, r.status,
           lag(r.status) OVER (PARTITION BY r.session_id ORDER BY r.ts) AS prev_status,
           lag(r.ts) OVER (PARTITION BY r.session_id ORDER BY r.ts) AS prev_ts
    FROM requests r
    WHERE r.ts >= $start - INTERVAL 5 MINUTE AND r.ts < $end AND r.session_id IS NOT NULL
)
SELECT count(*) FILTER (WHERE prev_status = 'error' AND ts - prev_ts <= INTERVAL 2 MINUTE) AS retries
FROM s
WHERE ts >= $start
"""


NEW_VERSIONS_SQL = """
SELECT kind, value, first_seen, requests_in_window
FROM (
    SELECT 'prompt_version' AS kind, r.prompt_version AS value, min(r.ts) AS first_seen,
           count(*) FILTER (WHERE r.ts >= $start AND r.ts < $end) AS requests_in_window
    FROM requests r WHERE r.prompt_version IS NOT NULL AND r.ts < $end GROUP BY ALL
    UNION ALL
    SELECT 'model_version', r.model_version, min(r.ts),
           count(*) FILTER (WHERE r.ts >= $start AND r.ts < $end)
    FROM requests r WHERE r.model_version IS NOT NULL AND r.ts < $end GROUP BY ALL
    UNION ALL
    SELECT 'model', r.model, min(r.ts), count(*) FILTER (WHERE r.ts >= $start AND r.ts < $end)
    FROM requests r WHERE r.model IS NOT NULL AND r.ts < $end GROUP BY ALL
)
WHERE first_seen >= $baseline_start AND requests_in_window > 0
  AND (SELECT min(ts) FROM requests) < $baseline_start
ORDER BY first_seen
"""


# The most frequent model and endpoint among an incident's bad requests, and its most
# frequent error type: what "similar" compares.
SIGNATURE_SQL = """
WITH {pm}
SELECT
    (SELECT model FROM x WHERE in_window AND bad GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1) AS model,
    (SELECT endpoint FROM x WHERE in_window AND bad GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1) AS endpoint,
    (SELECT error_type FROM x WHERE in_window AND status = 'error'
     GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1) AS error_type
"""


@dataclass(frozen=True)
class BadRequest:
    which: str
    ts: datetime
    request_id: str
    status: str
    error_type: str | None
    latency_ms: float | None
    model: str | None
    endpoint: str | None


@dataclass(frozen=True)
class Postmortem:
    """Everything a post-mortem says about one incident window."""

    title: str
    incident: Incident
    baseline: Window
    impact: pl.DataFrame  # metric, window, baseline, change
    figures: dict
    error_types: pl.DataFrame
    attribution: pl.DataFrame
    root_cause: RootCause | None
    timeline: pl.DataFrame
    bucket_minutes: int
    first_bad: BadRequest | None
    last_bad: BadRequest | None
    samples: pl.DataFrame
    similar: pl.DataFrame
    contributing: tuple[str, ...]
    follow_ups: tuple[str, ...]
    pii_shown: bool


def postmortem(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    *,
    show_pii: bool = False,
    history: timedelta = timedelta(days=30),
    settings: DetectSettings = DEFAULT_SETTINGS,
    samples: int = 5,
) -> Postmortem:
    """The post-mortem of [start, end) against the 24 hours before it."""
    con.complete()  # a caller's fetchone() (window.resolve) leaves a result open
    start, end = start.astimezone(UTC), end.astimezone(UTC)  # the report speaks UTC
    baseline_start = start - BASELINE
    params = {"start": start, "end": end, "baseline_start": baseline_start, "until": end}

    periods = {row["in_window"]: row for row in _frame(con, IMPACT_SQL, params).iter_rows(named=True)}
    w = periods.get(True) or {}
    b = periods.get(False) or {}
    if not w.get("requests"):
        first, last = _one(con, "SELECT min(ts), max(ts) FROM requests", {})
        cover = f"the logs cover {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC" if first else "no requests loaded"
        raise InputError(f"no requests between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC; {cover}")
    minutes = max((end - start) / MINUTE, 1e-9)
    base_minutes = BASELINE / MINUTE
    impact = _impact_frame(w, b, minutes, base_minutes)

    error_types = _error_types(con, params, w, b)
    attribution = _attribution(con, params)
    root = _root_cause(con, params, attribution)
    timeline, bucket = _timeline(con, params)
    incident = _window_incident(con, start, end, timeline, w, b)
    edges = {r[0]: BadRequest(*r) for r in _all(con, BAD_EDGES_SQL, params)}
    sample_frame = _frame(con, SAMPLES_SQL, {**params, "limit": samples})
    if not show_pii:
        sample_frame = _redacted(con, sample_frame, ("prompt", "error_message"))
    similar = _similar(con, start, end, history, settings)
    retries = int(_one(con, RETRIES_SQL, params)[0] or 0)
    yesterday = int(_one(con, SAME_TIME_YESTERDAY_SQL, params)[0] or 0)
    top_user = _one(con, TOP_USER_SQL, params)
    new_versions = _frame(con, NEW_VERSIONS_SQL, params)
    figures = {
        "requests": int(w.get("requests") or 0),
        "errors": int(w.get("errors") or 0),
        "bad": int(w.get("bad") or 0),
        "error_rate": _rate(w.get("errors"), w.get("requests")),
        "baseline_error_rate": _rate(b.get("errors"), b.get("requests")),
        "p95_ms": w.get("p95_ms"),
        "baseline_p95_ms": b.get("p95_ms"),
        "users_affected": int(w.get("users_affected") or 0),
        "sessions_affected": int(w.get("sessions_affected") or 0),
        "endpoints_affected": int(w.get("endpoints_affected") or 0),
        "retries": retries,
        "requests_per_minute": (w.get("requests") or 0) / minutes,
        "baseline_requests_per_minute": (b.get("requests") or 0) / base_minutes,
        "yesterday_requests_per_minute": yesterday / minutes,
        "top_user": None if not top_user else redact(top_user[0], None),
        "top_user_requests": int(top_user[1]) if top_user else 0,
        "top_user_baseline_requests": int(top_user[2]) if top_user else 0,
        "top_user_sessions": int(top_user[3]) if top_user else 0,
        "baseline_requests": int(b.get("requests") or 0),
    }
    contributing = _contributing(figures, error_types, new_versions, attribution, root, w, b)
    follow_ups = _follow_ups(figures, error_types, new_versions, root, incident)
    return Postmortem(
        title=f"Post-mortem: {incident.severity} incident {start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC",
        incident=incident, baseline=Window(baseline_start, start),
        impact=impact, figures=figures,
        error_types=error_types, attribution=attribution, root_cause=root, timeline=timeline,
        bucket_minutes=bucket, first_bad=edges.get("first"), last_bad=edges.get("last"),
        samples=sample_frame, similar=similar, contributing=contributing, follow_ups=follow_ups,
        pii_shown=show_pii,
    )


def _redacted(con, frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """The sample texts with validated PII replaced by the PII module's markers
    ([REDACTED_EMAIL], ...), then this module's broader masks as a backstop (they also
    catch unvalidated look-alikes: a sample is no place to gamble), cut short."""
    texts = [t for c in columns for t in frame[c].to_list()]
    marked = redact_texts(con, texts) if texts else []
    out, k = {}, 0
    for c in columns:
        out[c] = pl.Series(c, [redact(t) for t in marked[k:k + frame.height]], dtype=pl.String)
        k += frame.height
    return frame.with_columns(*out.values())


def _window_incident(con, start: datetime, end: datetime, timeline: pl.DataFrame, w: dict, b: dict) -> Incident:
    """The window as an :class:`Incident`: its signals and peak read from the timeline."""
    inside = timeline.filter(pl.col("phase") == "incident")
    peak_at, peak_rate, peak_p95 = start, None, None
    if inside.height and inside["bad"].max():
        row = inside.sort(["bad", "minute"], descending=[True, False]).row(0, named=True)
        peak_at, peak_rate, peak_p95 = row["minute"], row["error_rate"], row["p95_ms"]
    rate, base = _rate(w.get("errors"), w.get("requests")), _rate(b.get("errors"), b.get("requests"))
    p95, base_p95 = w.get("p95_ms"), b.get("p95_ms")
    errors = rate is not None and (base is None or rate >= 2 * base) and bool(w.get("errors"))
    latency = p95 is not None and base_p95 is not None and p95 >= 1.5 * base_p95
    signals = "errors+latency" if errors and latency else "errors" if errors else \
        "latency" if latency else "none"
    return _incident(con, start, end, signals, peak_at, peak_rate, peak_p95, None)


def _label(m: Metric) -> str:
    """The catalogue's label in the impact table's lower case: "latency P95 (all requests)"."""
    return m.label[:1].lower() + m.label[1:]


def _impact_frame(w: dict, b: dict, minutes: float, base_minutes: float) -> pl.DataFrame:
    def row(metric: str, unit: str, a, z, per_minute: bool = False) -> dict:
        # Totals (requests, errors, cost) compare per minute: the window is minutes long,
        # the baseline a day, so their plain ratio would say nothing.
        change = None
        if a is not None and z not in (None, 0):
            change = (a / minutes) / (z / base_minutes) if per_minute else a / z
        return {"metric": metric, "unit": unit, "window": None if a is None else float(a),
                "baseline": None if z is None else float(z), "ratio": change,
                "ratio_basis": "per minute" if per_minute else "value"}

    def per(d: dict, key: str, den: str):
        return _rate(d.get(key), d.get(den))

    def down_share(d: dict):
        # The catalogue's thumbs_down_rate: down / (up + down), a request voted both ways
        # counting once on each side (as in the daily report).
        return _rate(d.get("thumbs_down"), (d.get("thumbs_up") or 0) + (d.get("thumbs_down") or 0))

    rows = [
        row("requests", "count", w.get("requests"), b.get("requests"), True),
        row("requests per minute", "rate", (w.get("requests") or 0) / minutes, (b.get("requests") or 0) / base_minutes),
        row("errors", "count", w.get("errors"), b.get("errors"), True),
        row("error rate", "share", per(w, "errors", "requests"), per(b, "errors", "requests")),
        row(_label(P50_ALL), "ms", w.get("p50_ms"), b.get("p50_ms")),
        row(_label(P95_ALL), "ms", w.get("p95_ms"), b.get("p95_ms")),
        row(_label(P99_ALL), "ms", w.get("p99_ms"), b.get("p99_ms")),
        row("cost", "usd", w.get("cost_usd"), b.get("cost_usd"), True),
        row("cost per priced request", "usd", per(w, "cost_usd", "priced"), per(b, "cost_usd", "priced")),
        row(_label(metric("thumbs_down_rate")), "share", down_share(w), down_share(b)),
        row("users affected (of active)", "count", w.get("users_affected"), w.get("users")),
        row("sessions affected (of active)", "count", w.get("sessions_affected"), w.get("sessions")),
        row("endpoints affected (of active)", "count", w.get("endpoints_affected"), w.get("endpoints")),
    ]
    # The last three compare affected with active in the window, not with the baseline.
    for r in rows[-3:]:
        r["ratio"] = _rate(r["window"], r["baseline"])
        r["ratio_basis"] = "of active"
    return pl.DataFrame(rows, schema={"metric": pl.String, "unit": pl.String, "window": pl.Float64,
                                      "baseline": pl.Float64, "ratio": pl.Float64, "ratio_basis": pl.String})


def _timeline(con, params: dict) -> tuple[pl.DataFrame, int]:
    start, end = params["start"], params["end"]
    margin = timedelta(minutes=15)
    from_ts, to_ts = start - margin, end + margin
    span = (to_ts - from_ts) / MINUTE
    bucket = max(1, math.ceil(span / 180))
    frame = _frame(con, TIMELINE_SQL, {**params, "until": to_ts, "from_ts": from_ts,
                                       "bucket_us": bucket * MINUTE_US})
    grid = pl.DataFrame({"minute": pl.datetime_range(from_ts, to_ts - timedelta(microseconds=1),
                                                     interval=f"{bucket}m", time_zone="UTC", eager=True)})
    frame = grid.join(frame.with_columns(pl.col("minute").dt.convert_time_zone("UTC")), on="minute", how="left")
    frame = frame.with_columns(pl.col("requests", "errors", "bad").fill_null(0))
    frame = frame.with_columns(
        pl.when(pl.col("requests") > 0).then(pl.col("errors") / pl.col("requests")).alias("error_rate"),
        pl.when(pl.col("minute") < start).then(pl.lit("before"))
          .when(pl.col("minute") >= end).then(pl.lit("after"))
          .otherwise(pl.lit("incident")).alias("phase"),
    )
    return frame.select("minute", "phase", "requests", "errors", "error_rate", "bad", "p95_ms"), bucket


def _similar(con, start: datetime, end: datetime, history: timedelta,
             settings: DetectSettings) -> pl.DataFrame:
    schema = {"id": pl.String, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
              "severity": pl.String, "error_rate": pl.Float64, "model": pl.String, "endpoint": pl.String,
              "error_type": pl.String, "similarity": pl.Float64}
    past_start = start - history
    first = _one(con, "SELECT min(ts) FROM requests", {})[0]
    if first is None or first >= start:
        return pl.DataFrame(schema=schema)
    past = detect(con, Window(max(past_start, first), start), settings).incidents
    current = _signature(con, start, end)
    rows = []
    for inc in past:
        if inc.end > start:
            continue
        sig = _signature(con, inc.start, inc.end)
        shared = {k for k in current if current[k] is not None and current[k] == sig.get(k)}
        union = {k for k in current if current[k] is not None} | {k for k in sig if sig[k] is not None}
        similarity = len(shared) / len(union) if union else 0.0
        rows.append({"id": inc.id, "start": inc.start, "end": inc.end, "severity": inc.severity,
                     "error_rate": inc.error_rate, **sig, "similarity": similarity})
    frame = pl.DataFrame(rows, schema=schema)
    return frame.filter(pl.col("similarity") > 0).sort(["similarity", "start"], descending=True)


def _signature(con, start: datetime, end: datetime) -> dict:
    model, endpoint, error_type = _one(con, SIGNATURE_SQL, {"start": start, "end": end, "until": end,
                                                            "baseline_start": start - BASELINE})
    return {"model": model, "endpoint": endpoint, "error_type": error_type}
