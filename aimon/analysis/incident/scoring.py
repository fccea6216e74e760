"""The statistics of incident detection: how surprising a minute is, and where a run of
unusual minutes starts and ends.

A minute's z is the smaller of the exact binomial tail of its count (as a normal
quantile) and the robust z of its rate among all minutes; runs of flagged minutes are
merged across short gaps, and their edges placed at the change points that maximise the
binomial likelihood (or, for a slow ramp, where a fitted linear rise crosses twice the
baseline). :mod:`aimon.analysis.incident.detect` runs them over the scanned minutes.
"""

from __future__ import annotations

import math

import numpy as np

from aimon.analysis.toolkit.robust import robust_scale

# The largest z a minute can score (a binomial tail underflows long before).
Z_CAP = 50.0


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


# A slow ramp is placed by a second model of the rise: the rate sits at its baseline p0
# until a change point tau, then climbs in a straight line. The incident starts where
# that line crosses RAMP_START x p0 (twice the baseline); see _ramp_start.
RAMP_START = 2.0
RAMP_REACH = 120  # minutes before the first flagged minute searched for the ramp's onset
RAMP_SMOOTH = 15  # minutes of the centred rolling rate whose peak ends the rise


def _ramp_start(bad: np.ndarray, n: np.ndarray, f1: int, f2: int, p0: float) -> int | None:
    """Where a gradual rise of the bad rate crosses RAMP_START x p0, or None when a step fits
    the rise at least as well as a ramp.

    Over the minutes from RAMP_REACH before the first flagged minute to the peak of the
    rolling rate, two change-point models of the per-minute counts are fitted by binomial
    likelihood, each with a change point tau and one more parameter: a step (p0 before
    tau, p1 after) and a hinge (p0 before, p0 + beta * (t - tau) after, beta by matching
    the excess count). The step is what _change_points places; the hinge is kept only
    when it explains the rise better, and its crossing of twice the baseline is the
    start. A step's start is sharp; a ramp has none, and "twice the usual rate" is the
    moment a reader would call the incident begun.
    """
    lo = max(0, f1 - RAMP_REACH)
    p0 = min(max(p0, 1e-6), 0.5)
    if f2 <= f1:
        return None
    kernel = np.ones(RAMP_SMOOTH)
    with np.errstate(invalid="ignore", divide="ignore"):
        rolled = np.convolve(bad[f1:f2 + 1], kernel, "same") / np.convolve(n[f1:f2 + 1], kernel, "same")
    hi = f1 + int(np.nanargmax(np.where(np.isfinite(rolled), rolled, -1.0)))
    hi = min(hi, lo + 720)  # the candidates x minutes arrays stay small
    if hi - lo < 10:
        return None
    b, m = bad[lo:hi + 1], n[lo:hi + 1]
    t = np.arange(lo, hi + 1, dtype=float)
    taus = np.arange(lo, hi - 2, dtype=float)[:, None]  # every candidate change point, one per row
    after = t[None, :] >= taus
    ll0 = b * math.log(p0) + (m - b) * math.log1p(-p0)  # each minute at the baseline rate

    def loglik(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-9, 1 - 1e-9)
        return np.where(after, b * np.log(p) + (m - b) * np.log1p(-p), ll0).sum(axis=1)

    # Step: the rate after tau is its own MLE.
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = (after * b).sum(axis=1) / np.maximum((after * m).sum(axis=1), 1)
    step = loglik(np.broadcast_to(p1[:, None], after.shape))
    # Ramp: beta matches the excess count after tau.
    d = np.where(after, t[None, :] - taus, 0.0)
    beta = np.maximum((after * (b - p0 * m)).sum(axis=1) / np.maximum((d * m).sum(axis=1), 1e-9), 1e-12)
    ramp = loglik(p0 + beta[:, None] * d)
    if ramp.max() <= step.max():
        return None
    k = int(np.argmax(ramp))
    return int(round(float(taus[k, 0]) + (RAMP_START - 1) * p0 / float(beta[k])))
