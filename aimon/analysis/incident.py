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
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import duckdb
import numpy as np
import polars as pl

from aimon.analysis.toolkit import stats
from aimon.analysis.toolkit.robust import robust_scale
from aimon.analysis.toolkit.window import Window
from aimon.errors import InputError

MINUTE = timedelta(minutes=1)
MINUTE_US = 60_000_000
BASELINE = timedelta(hours=24)
Z_CAP = 50.0


# --------------------------------------------------------------------------- redaction

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_KEY = re.compile(
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}"  # OpenAI/Anthropic/Stripe-style secret keys
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"  # JWTs
    r"|\b(?=[A-Za-z0-9_\-+/]*\d)(?=[A-Za-z0-9_\-+/]*[A-Za-z])[A-Za-z0-9_\-+/]{32,}={0,2}"  # long mixed tokens
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}\b"
                   r"|\b(?:[0-9A-Fa-f]{1,4}:)+:(?:[0-9A-Fa-f]{1,4}:?)+\b")
# Phone-like numbers and long digit runs: 6+ digits, optionally with +, brackets,
# spaces, dots or hyphens between them (cards, SSNs, accounts, phone numbers).
_DIGITS = re.compile(r"(?<![\w])\+?\(?\d[\d ().\-]{4,}\d(?![\w])")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}(?::\d{2})?)?$")


def _digits(match: re.Match) -> str:
    text = match.group(0)
    if sum(c.isdigit() for c in text) < 6 or _DATE.match(text):
        return text
    return "[PHONE]" if text.startswith(("+", "(")) else "[NUMBER]"


def redact(text: str | None, limit: int | None = 200) -> str | None:
    """``text`` with e-mails, key-like tokens, IBANs, IP addresses, phone-like numbers and
    long digit runs masked, cut to ``limit`` characters. Errs on the side of masking:
    it is for samples in reports, not for an audit (``aimon audit pii`` is that)."""
    if text is None:
        return None
    out = _EMAIL.sub("[EMAIL]", text)
    out = _KEY.sub("[KEY]", out)
    out = _IBAN.sub("[IBAN]", out)
    out = _IPV6.sub("[IP]", out)
    out = _IPV4.sub("[IP]", out)
    out = _DIGITS.sub(_digits, out)
    out = " ".join(out.split())
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


# --------------------------------------------------------------------------- detection

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
        return pl.DataFrame(schema={"id": pl.String, "severity": pl.String, "start": pl.Datetime("us", "UTC"),
                                    "end": pl.Datetime("us", "UTC"), "minutes": pl.Int64})
    return pl.DataFrame([i.__dict__ for i in incidents])


# "Slow" is judged against the request's own model and endpoint, so a shift in the mix
# (more reasoning-model calls, which are slow by nature) is not a latency incident.
# The threshold is the pair's P95 over the scored range, or the overall P95 for pairs
# with too few requests to have one of their own.
SLOW_CTE = """
slow_at AS (
    SELECT r.model, r.endpoint,
           CASE WHEN count(r.latency_ms) >= 50 THEN quantile_cont(r.latency_ms, $slow_q) END AS slow_ms
    FROM requests r
    WHERE r.ts >= $start AND r.ts < $end
    GROUP BY ALL
), slow_all AS (
    SELECT quantile_cont(r.latency_ms, $slow_q) AS slow_ms
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
MINUTES_SQL = """
WITH {slow}, shifted AS (
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
       quantile_cont(latency_ms, 0.95) AS p95_ms
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

WINDOW_STATS_SQL = """
SELECT count(*) FILTER (WHERE r.ts >= $start) AS requests,
       count(*) FILTER (WHERE r.ts >= $start AND r.status = 'error') AS errors,
       quantile_cont(r.latency_ms, 0.95) FILTER (WHERE r.ts >= $start) AS p95_ms,
       sum(c.cost_usd) FILTER (WHERE r.ts >= $start) AS cost_usd,
       count(*) FILTER (WHERE r.ts < $start) AS baseline_requests,
       count(*) FILTER (WHERE r.ts < $start AND r.status = 'error') AS baseline_errors,
       quantile_cont(r.latency_ms, 0.95) FILTER (WHERE r.ts < $start) AS baseline_p95_ms,
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


def binomial_z(k: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """The normal quantile of P(X >= k), X ~ Binomial(n, p): how surprising k is, as a z."""
    from scipy import stats as st

    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    out = np.full(k.shape, -Z_CAP)
    ok = n > 0
    if p <= 0:
        out[ok & (k > 0)] = Z_CAP
        return out
    tail = st.binom.sf(k[ok] - 1, n[ok], min(p, 1.0))
    with np.errstate(divide="ignore"):
        out[ok] = np.clip(st.norm.isf(tail), -Z_CAP, Z_CAP)
    return out


def robust_z(rate: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """(rate - median) / (1.4826 * MAD) over the usable minutes; +cap when MAD is 0 and rate > median."""
    out = np.full(rate.shape, -Z_CAP)
    if not usable.any():
        return out
    med = float(np.median(rate[usable]))
    scale = robust_scale(rate[usable])
    if scale > 0:
        out[usable] = np.clip((rate[usable] - med) / scale, -Z_CAP, Z_CAP)
    else:
        out[usable] = np.where(rate[usable] > med, Z_CAP, 0.0)
    return out


def _segments(flags: np.ndarray, gap: int) -> list[tuple[int, int]]:
    idx = np.flatnonzero(flags)
    if len(idx) == 0:
        return []
    out = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev > gap:
            out.append((start, prev))
            start = i
        prev = i
    out.append((start, prev))
    return out


def _change_points(bad: np.ndarray, n: np.ndarray, f1: int, f2: int, reach: int, p0: float,
                   half: int = 0) -> tuple[int, int]:
    """The start and end (inclusive) minutes that best split baseline from elevated rate,
    looking up to ``reach`` minutes beyond the flagged minutes f1..f2.

    The elevated rate is measured over f1-half..f2+half: a flagged minute's evidence is
    its whole rolling window, whose bad requests may all sit in neighbouring minutes."""
    lo, hi = max(0, f1 - reach), min(len(n) - 1, f2 + reach)
    c1, c2 = max(0, f1 - half), min(len(n) - 1, f2 + half)
    core_n, core_b = n[c1:c2 + 1].sum(), bad[c1:c2 + 1].sum()
    p1 = core_b / core_n if core_n else 0.0
    p0 = min(max(p0, 1e-6), 1 - 1e-6)
    if p1 <= p0:
        return f1, f2
    p1 = min(p1, 1 - 1e-6)
    score = bad * math.log(p1 / p0) + (n - bad) * math.log((1 - p1) / (1 - p0))
    # Start: maximise the score summed from the start to the core's end.
    starts = range(lo, f2 + 1)
    start = max(starts, key=lambda c: (score[c:f2 + 1].sum(), -c))
    ends = range(max(start, f1), hi + 1)
    end = max(ends, key=lambda e: (score[start:e + 1].sum(), e))
    # Trim quiet edges (a minute with no bad request is no evidence of the incident).
    while start < end and bad[start] == 0:
        start += 1
    while end > start and bad[end] == 0:
        end -= 1
    return start, end


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
    settings: DetectSettings = DetectSettings(),
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
    row = _one(con, WINDOW_STATS_SQL, {"start": start, "end": end, "baseline_start": start - BASELINE})
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


# --------------------------------------------------------------------------- post-mortem

class Dimension(StrEnum):
    """What bad requests are attributed to (fixed column names, never user text)."""

    model = "model"
    endpoint = "endpoint"
    prompt_version = "prompt_version"
    user_tier = "user_tier"


# Every post-mortem query reads ``x``: the requests from the baseline's start to
# ``$until`` (the window's end, or the timeline's), each marked in_window, slow (above
# its model and endpoint's P99 in the baseline, or the overall baseline P99 when the
# pair had fewer than 50 timed requests there) and bad (an error, or slow).
PM_CTE = """
slow_at AS (
    SELECT r.model, r.endpoint,
           CASE WHEN count(r.latency_ms) >= 50 THEN quantile_cont(r.latency_ms, 0.99) END AS slow_ms
    FROM requests r
    WHERE r.ts >= $baseline_start AND r.ts < $start
    GROUP BY ALL
), slow_all AS (
    SELECT quantile_cont(r.latency_ms, 0.99) AS slow_ms
    FROM requests r
    WHERE r.ts >= $baseline_start AND r.ts < $start
), x AS (
    SELECT r.*,
           r.ts >= $start AND r.ts < $end AS in_window,
           coalesce(r.latency_ms > coalesce(t.slow_ms, (SELECT slow_ms FROM slow_all)), false) AS slow,
           r.status = 'error'
             OR coalesce(r.latency_ms > coalesce(t.slow_ms, (SELECT slow_ms FROM slow_all)), false) AS bad
    FROM requests r
    LEFT JOIN slow_at t ON t.model IS NOT DISTINCT FROM r.model AND t.endpoint IS NOT DISTINCT FROM r.endpoint
    WHERE r.ts >= $baseline_start AND r.ts < $until
)
"""

# Window and baseline in one pass: impact figures per period.
IMPACT_SQL = """
WITH {pm}, thumbs AS (
    SELECT DISTINCT f.request_id FROM feedback f SEMI JOIN x USING (request_id)
    WHERE f.feedback_type = 'thumbs_down'
)
SELECT x.in_window,
       count(*) AS requests,
       count(*) FILTER (WHERE x.status = 'error') AS errors,
       count(*) FILTER (WHERE x.bad) AS bad,
       count(*) FILTER (WHERE x.slow) AS slow,
       quantile_cont(x.latency_ms, 0.5) AS p50_ms,
       quantile_cont(x.latency_ms, 0.95) AS p95_ms,
       quantile_cont(x.latency_ms, 0.99) AS p99_ms,
       sum(c.cost_usd) AS cost_usd,
       count(c.cost_usd) AS priced,
       count(DISTINCT x.request_id) FILTER (WHERE t.request_id IS NOT NULL OR lower(trim(x.feedback)) IN
             ('thumbs_down', 'down', 'negative', 'dislike', '-1', '👎')) AS thumbs_down,
       count(DISTINCT x.user_id) AS users,
       count(DISTINCT x.user_id) FILTER (WHERE x.bad) AS users_affected,
       count(DISTINCT x.session_id) AS sessions,
       count(DISTINCT x.session_id) FILTER (WHERE x.bad) AS sessions_affected,
       count(DISTINCT x.endpoint) AS endpoints,
       count(DISTINCT x.endpoint) FILTER (WHERE x.bad) AS endpoints_affected
FROM x
LEFT JOIN request_costs c USING (request_id)
LEFT JOIN thumbs t USING (request_id)
GROUP BY x.in_window
"""

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

ERROR_TYPES_SQL = """
WITH {pm}
SELECT coalesce(r.error_type, 'unknown') AS error_type,
       count(*) FILTER (WHERE r.in_window) AS errors,
       count(*) FILTER (WHERE NOT r.in_window) AS baseline_errors
FROM x AS r
WHERE r.status = 'error'
GROUP BY ALL
ORDER BY errors DESC, error_type
"""

ATTRIBUTION_SQL = """
WITH {pm}
SELECT CASE WHEN grouping(model) = 0 THEN 'model'
            WHEN grouping(endpoint) = 0 THEN 'endpoint'
            WHEN grouping(prompt_version) = 0 THEN 'prompt_version'
            ELSE 'user_tier' END AS dimension,
       coalesce(model, endpoint, prompt_version, user_tier, '(none)') AS value,
       count(*) FILTER (WHERE in_window) AS requests,
       count(*) FILTER (WHERE in_window AND bad) AS bad,
       count(*) FILTER (WHERE in_window AND status = 'error') AS errors,
       count(*) FILTER (WHERE NOT in_window) AS baseline_requests,
       count(*) FILTER (WHERE NOT in_window AND bad) AS baseline_bad
FROM x
GROUP BY GROUPING SETS ((model), (endpoint), (prompt_version), (user_tier))
"""

SEGMENT_SQL = """
WITH {pm}
SELECT count(*) AS requests,
       count(*) FILTER (WHERE r.bad) AS bad,
       count(*) FILTER (WHERE r.status = 'error') AS errors
FROM x AS r
WHERE r.in_window AND r.{d1} IS NOT DISTINCT FROM $v1 AND r.{d2} IS NOT DISTINCT FROM $v2
"""

TIMELINE_SQL = """
WITH {pm}
SELECT $from_ts + to_microseconds(((epoch_us(r.ts) - epoch_us($from_ts)) // $bucket_us) * $bucket_us) AS minute,
       count(*) AS requests,
       count(*) FILTER (WHERE r.status = 'error') AS errors,
       quantile_cont(r.latency_ms, 0.95) AS p95_ms,
       count(*) FILTER (WHERE r.bad) AS bad
FROM x AS r
WHERE r.ts >= $from_ts
GROUP BY ALL
ORDER BY minute
"""

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
class RootCause:
    """The likely root cause: the over-represented value(s) among bad requests."""

    dimension: str
    value: str
    risk_ratio: float
    ci_low: float
    ci_high: float
    bad: int
    requests: int
    # A second dimension when the bad requests of the first concentrate in one of its
    # values (model X *on* endpoint Y).
    segment: tuple[tuple[str, str], ...]
    segment_bad: int
    segment_requests: int
    segment_errors: int
    bad_total: int


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


_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def _used(sql: str, params: dict) -> dict:
    """The parameters ``sql`` names (DuckDB refuses extra ones)."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}


def _pm(sql: str) -> str:
    return sql.replace("{pm}", PM_CTE.strip())


def _frame(con, sql: str, params: dict) -> pl.DataFrame:
    sql = _pm(sql)
    return con.sql(sql, params=_used(sql, params)).pl()


def _one(con, sql: str, params: dict) -> tuple:
    sql = _pm(sql)
    rows = con.execute(sql, _used(sql, params)).fetchall()
    return rows[0] if rows else ()


def _all(con, sql: str, params: dict) -> list[tuple]:
    sql = _pm(sql)
    return con.execute(sql, _used(sql, params)).fetchall()


def postmortem(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    *,
    show_pii: bool = False,
    history: timedelta = timedelta(days=30),
    settings: DetectSettings = DetectSettings(),
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
    from aimon.analysis import pii

    texts = [t for c in columns for t in frame[c].to_list()]
    marked = pii.redact_texts(con, texts) if texts else []
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



def _rate(k, n) -> float | None:
    return k / n if n else None


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

    rows = [
        row("requests", "count", w.get("requests"), b.get("requests"), True),
        row("requests per minute", "rate", (w.get("requests") or 0) / minutes, (b.get("requests") or 0) / base_minutes),
        row("errors", "count", w.get("errors"), b.get("errors"), True),
        row("error rate", "share", per(w, "errors", "requests"), per(b, "errors", "requests")),
        row("latency P50", "ms", w.get("p50_ms"), b.get("p50_ms")),
        row("latency P95", "ms", w.get("p95_ms"), b.get("p95_ms")),
        row("latency P99", "ms", w.get("p99_ms"), b.get("p99_ms")),
        row("cost", "usd", w.get("cost_usd"), b.get("cost_usd"), True),
        row("cost per priced request", "usd", per(w, "cost_usd", "priced"), per(b, "cost_usd", "priced")),
        row("thumbs-down rate", "share", per(w, "thumbs_down", "requests"), per(b, "thumbs_down", "requests")),
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


def _error_types(con, params: dict, w: dict, b: dict) -> pl.DataFrame:
    frame = _frame(con, ERROR_TYPES_SQL, params)
    n_w, n_b = int(w.get("requests") or 0), int(b.get("requests") or 0)
    rows = []
    for r in frame.iter_rows(named=True):
        rr = stats.risk_ratio(r["errors"], n_w, r["baseline_errors"], n_b)
        rows.append({**r, "rate": _rate(r["errors"], n_w), "baseline_rate": _rate(r["baseline_errors"], n_b),
                     "risk_ratio": rr.estimate, "ci_low": rr.low, "ci_high": rr.high})
    return pl.DataFrame(rows, schema={"error_type": pl.String, "errors": pl.Int64, "baseline_errors": pl.Int64,
                                      "rate": pl.Float64, "baseline_rate": pl.Float64,
                                      "risk_ratio": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64})


def _attribution(con, params: dict) -> pl.DataFrame:
    frame = _frame(con, ATTRIBUTION_SQL, params).filter(pl.col("requests") > 0)
    total_n = frame.filter(pl.col("dimension") == "model")["requests"].sum() if frame.height else 0
    total_bad = frame.filter(pl.col("dimension") == "model")["bad"].sum() if frame.height else 0
    rows = []
    for r in frame.iter_rows(named=True):
        rest_n, rest_bad = total_n - r["requests"], total_bad - r["bad"]
        if not r["bad"]:
            rr = stats.Interval(0.0, None, None)  # nothing to attribute to this value
        elif rest_n:
            rr = stats.risk_ratio(r["bad"], r["requests"], rest_bad, rest_n)
        else:
            rr = stats.Interval(None, None, None)
        rows.append({**r, "bad_rate": _rate(r["bad"], r["requests"]), "rest_bad_rate": _rate(rest_bad, rest_n),
                     "baseline_bad_rate": _rate(r["baseline_bad"], r["baseline_requests"]),
                     "share_of_bad": _rate(r["bad"], total_bad),
                     "risk_ratio": rr.estimate, "ci_low": rr.low, "ci_high": rr.high})
    schema = {"dimension": pl.String, "value": pl.String, "requests": pl.Int64, "bad": pl.Int64,
              "errors": pl.Int64, "baseline_requests": pl.Int64, "baseline_bad": pl.Int64,
              "bad_rate": pl.Float64, "rest_bad_rate": pl.Float64, "baseline_bad_rate": pl.Float64,
              "share_of_bad": pl.Float64, "risk_ratio": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64}
    out = pl.DataFrame(rows, schema=schema)
    return out.sort(["ci_low", "bad", "requests"], descending=True, nulls_last=True)


def _root_cause(con, params: dict, attribution: pl.DataFrame) -> RootCause | None:
    candidates = attribution.filter(pl.col("ci_low") > 1).sort("ci_low", descending=True)
    if candidates.height == 0:
        return None
    top = candidates.row(0, named=True)
    total_bad = int(attribution.filter(pl.col("dimension") == top["dimension"])["bad"].sum())
    segment: tuple[tuple[str, str], ...] = ((top["dimension"], top["value"]),)
    seg_bad, seg_n, seg_err = top["bad"], top["requests"], top["errors"]
    for other in candidates.filter(pl.col("dimension") != top["dimension"]).iter_rows(named=True):
        d1, d2 = Dimension(top["dimension"]).value, Dimension(other["dimension"]).value
        v1 = None if top["value"] == "(none)" else top["value"]
        v2 = None if other["value"] == "(none)" else other["value"]
        n, bad, errors = _one(con, SEGMENT_SQL.replace("{d1}", d1).replace("{d2}", d2),
                              {**params, "v1": v1, "v2": v2})
        # The bad requests of the top value sit (almost all) in this value too.
        if bad and bad >= 0.8 * top["bad"]:
            segment = segment + ((other["dimension"], other["value"]),)
            seg_bad, seg_n, seg_err = int(bad), int(n), int(errors)
        break
    return RootCause(top["dimension"], top["value"], top["risk_ratio"], top["ci_low"], top["ci_high"],
                     int(top["bad"]), int(top["requests"]), segment, int(seg_bad), int(seg_n), int(seg_err),
                     total_bad)


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


def _fmt_ms(v) -> str:
    return "n/a" if v is None else f"{v:,.0f} ms"


def _contributing(f: dict, error_types: pl.DataFrame, new_versions: pl.DataFrame, attribution: pl.DataFrame,
                  root: RootCause | None, w: dict, b: dict) -> tuple[str, ...]:
    out: list[str] = []
    rpm, base_rpm, y_rpm = f["requests_per_minute"], f["baseline_requests_per_minute"], \
        f["yesterday_requests_per_minute"]
    reference = max(base_rpm, y_rpm)  # the busier of the two, so daily peaks are not a surge
    if reference and rpm >= 1.5 * reference:
        out.append(f"Traffic: {rpm:,.1f} requests per minute against {base_rpm:,.1f} on average in the "
                   f"baseline and {y_rpm:,.1f} at the same time a day earlier (x{rpm / reference:,.1f}); "
                   "load may have pushed a dependency over its limits, and retries add to it.")
    share = f["top_user_requests"] / f["requests"] if f["requests"] else 0.0
    base_share = f["top_user_baseline_requests"] / f["baseline_requests"] if f["baseline_requests"] else 0.0
    if f["top_user_requests"] >= 20 and share >= 0.3 and share >= 3 * base_share:
        out.append(f"Traffic concentration: one user ({f['top_user']}) sent {f['top_user_requests']:,} of "
                   f"{f['requests']:,} requests in the window ({share:.0%}) from {f['top_user_sessions']:,} "
                   f"session(s), against {base_share:.0%} of the baseline's; a runaway client or agent loop "
                   "looks like this.")
    if f["retries"]:
        out.append(f"Retries: {f['retries']:,} requests followed an error in the same session within two "
                   f"minutes ({f['retries'] / max(f['requests'], 1):.0%} of the window's traffic); retries "
                   "amplify load on a struggling dependency.")
    for r in error_types.head(3).iter_rows(named=True):
        if not r["errors"] or r["ci_low"] is None or r["ci_low"] <= 1:
            continue
        meaning = {
            "rate_limit": "the provider or gateway refused requests: quota or capacity exhausted",
            "timeout": "calls ran out of time: upstream slowness",
            "api_error": "the provider returned server errors: a provider-side failure",
            "validation": "requests were rejected as malformed: a client or prompt change",
            "content_filter": "responses were blocked by a content filter: a prompt or input change",
        }.get(r["error_type"], "more frequent than usual")
        out.append(f"Error type {r['error_type']}: {r['errors']:,} errors, {r['risk_ratio']:,.1f}x its baseline "
                   f"rate (95% CI {r['ci_low']:,.1f} to {r['ci_high']:,.1f}); {meaning}.")
    for r in new_versions.iter_rows(named=True):
        out.append(f"Recent change: {r['kind']} {r['value']} first appeared at {r['first_seen']:%Y-%m-%d %H:%M} UTC "
                   f"and served {r['requests_in_window']:,} requests in the window.")
    p95, base_p95 = w.get("p95_ms"), b.get("p95_ms")
    if p95 and base_p95 and p95 >= 1.5 * base_p95:
        out.append(f"Latency: P95 {_fmt_ms(p95)} against {_fmt_ms(base_p95)} in the baseline "
                   f"(x{p95 / base_p95:,.1f}); slow calls often precede timeouts and errors.")
    if root is not None:
        others = attribution.filter((pl.col("ci_low") > 1) & ~pl.struct("dimension", "value").is_in(
            [{"dimension": d, "value": v} for d, v in root.segment]))
        segment_rows = attribution.filter(pl.struct("dimension", "value").is_in(
            [{"dimension": d, "value": v} for d, v in root.segment]))
        for r in others.head(3).iter_rows(named=True):
            twin = segment_rows.filter((pl.col("requests") == r["requests"]) & (pl.col("bad") == r["bad"]))
            if twin.height:
                t = twin.row(0, named=True)
                out.append(f"Also over-represented: {r['dimension']} = {r['value']}, on exactly the requests "
                           f"of {t['dimension']} {t['value']} in the window: it cannot be told apart from it "
                           "here.")
            else:
                out.append(f"Also over-represented: {r['dimension']} = {r['value']} (risk ratio "
                           f"{r['risk_ratio']:,.1f}, 95% CI {r['ci_low']:,.1f} to {r['ci_high']:,.1f}); "
                           "it may ride along with the root cause.")
    if not out:
        out.append("No contributing factor stood out: traffic, retries, error mix and versions look as in the baseline.")
    return tuple(out)


def _follow_ups(f: dict, error_types: pl.DataFrame, new_versions: pl.DataFrame, root: RootCause | None,
                incident: Incident) -> tuple[str, ...]:
    out: list[str] = []
    if root is not None:
        where = " on ".join(f"{d} {v}" for d, v in root.segment)
        out.append(f"Confirm the root cause: reproduce the failure for {where} in staging and check the "
                   "provider's status page for the window.")
        out.append(f"Add an alert on the error rate of {where} (baseline "
                   f"{(f['baseline_error_rate'] or 0):.1%}, incident {(f['error_rate'] or 0):.1%}), e.g. "
                   "'aimon alerts check' on a 5-minute window.")
        if root.dimension in ("model", "endpoint"):
            out.append(f"Configure a fallback model for {where} so a provider failure degrades instead of failing.")
    types = set(error_types.filter(pl.col("errors") > 0)["error_type"].to_list())
    share = f["top_user_requests"] / f["requests"] if f["requests"] else 0.0
    if f["top_user_requests"] >= 20 and share >= 0.3:
        out.append(f"Limit requests per user and session, and give agent loops a step and spend budget "
                   f"(one user sent {share:.0%} of the window's requests).")
    if incident.cost_ratio is not None and incident.cost_ratio >= 10:
        out.append(f"Add a spend alert: cost per minute ran at x{incident.cost_ratio:,.0f} the baseline's.")
    if "rate_limit" in types:
        out.append("Review rate limits and quotas with the provider; budget requests per client.")
    if f["retries"]:
        out.append("Cap client retries with exponential backoff and jitter; retries multiplied the load.")
    if "timeout" in types:
        out.append("Review timeouts against the P99 latency; fail fast to the fallback.")
    for r in new_versions.iter_rows(named=True):
        out.append(f"Review the change to {r['kind']} {r['value']} (first seen {r['first_seen']:%Y-%m-%d %H:%M} UTC); "
                   "roll back if it is implicated.")
    out.append(f"After the fix, re-run 'aimon incident postmortem --start {incident.start:%Y-%m-%dT%H:%M} "
               f"--end {incident.end:%Y-%m-%dT%H:%M}' and 'aimon incident detect' to confirm recovery.")
    out.append("Update the runbook with what was learned, and add monitoring where this was found late.")
    return tuple(out)
