"""The statistics behind experiments and incidents: intervals, tests, power, corrections.

Pure functions over counts and numpy arrays; no database here. Each one is checked in
``tests/test_stats.py`` against scipy or statsmodels on the same data (to 1e-6), or,
where no library has it, against the formula worked by hand. The conventions:

- every difference is ``variant - control`` (first argument minus second);
- intervals are two-sided at ``1 - alpha`` (95% by default);
- the power figures use the normal approximation of the test's own standard error,
  so they agree with ``statsmodels.stats.power.NormalIndPower`` for the same effect.

scipy is imported inside the functions that use it (it costs about a second).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aimon.analysis.toolkit.intervals import wilson

# scipy.stats costs about a second to import: each function imports what it uses, so
# commands that only list or count (``abtest list``) stay fast.

ALPHA = 0.05
POWER = 0.8


def z_crit(alpha: float = ALPHA) -> float:
    """The two-sided critical value of the standard normal (1.96 for alpha 0.05)."""
    from scipy import stats as st

    return float(st.norm.isf(alpha / 2))


# --------------------------------------------------------------------------- proportions

@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval."""

    estimate: float | None
    low: float | None
    high: float | None


def newcombe_diff(k1: int, n1: int, k2: int, n2: int, alpha: float = ALPHA) -> Interval:
    """p1 - p2 with Newcombe's hybrid score interval (method 10: two Wilson intervals).

    Matches statsmodels ``confint_proportions_2indep(..., method='newcomb')``.
    """
    if not n1 or not n2:
        return Interval(None, None, None)
    z = z_crit(alpha)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(diff, low, high)


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> tuple[float | None, float | None]:
    """(z, two-sided p) of the pooled two-proportion z-test (statsmodels ``proportions_ztest``)."""
    from scipy import stats as st

    if not n1 or not n2:
        return None, None
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    diff = k1 / n1 - k2 / n2
    if var <= 0:
        # Both samples all-success or all-failure: no evidence of any difference.
        return 0.0, 1.0
    z = diff / math.sqrt(var)
    return z, float(2 * st.norm.sf(abs(z)))


def risk_ratio(k1: float, n1: float, k2: float, n2: float, alpha: float = ALPHA) -> Interval:
    """(k1/n1) / (k2/n2) with the Katz log interval.

    When a count is zero, 0.5 is added to every count and total (statsmodels'
    'log-adjusted'); otherwise the plain log interval (statsmodels' 'log').
    """
    if not n1 or not n2:
        return Interval(None, None, None)
    if min(k1, k2) == 0:
        if k1 == 0 and k2 == 0:
            return Interval(None, None, None)
        k1, n1, k2, n2 = k1 + 0.5, n1 + 0.5, k2 + 0.5, n2 + 0.5
    ratio = (k1 / n1) / (k2 / n2)
    se = math.sqrt(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)
    half = z_crit(alpha) * se
    return Interval(ratio, ratio * math.exp(-half), ratio * math.exp(half))


def prob_beat_beta(k1: int, n1: int, k2: int, n2: int, prior: tuple[float, float] = (1, 1)) -> float | None:
    """P(rate1 > rate2) under independent Beta posteriors (uniform prior by default).

    Exact (Evan Miller's closed form, summed in log space) when a posterior's first
    parameter is a whole number of at most two million; beyond that the normal
    approximation of the two posteriors, whose error is then far below 1e-6.
    """
    from scipy import special
    from scipy import stats as st

    if not n1 or not n2:
        return None
    a1, b1 = k1 + prior[0], n1 - k1 + prior[1]
    a2, b2 = k2 + prior[0], n2 - k2 + prior[1]

    def exact(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
        # P(X > Y), X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y), a_x a whole number.
        i = np.arange(int(a_x), dtype=float)
        terms = (special.betaln(a_y + i, b_y + b_x) - np.log(b_x + i)
                 - special.betaln(1 + i, b_x) - special.betaln(a_y, b_y))
        return float(np.exp(special.logsumexp(terms)))

    limit = 2_000_000
    if float(a1).is_integer() and a1 <= limit and (a1 <= a2 or not float(a2).is_integer()):
        return min(1.0, max(0.0, exact(a1, b1, a2, b2)))
    if float(a2).is_integer() and a2 <= limit:
        return min(1.0, max(0.0, 1.0 - exact(a2, b2, a1, b1)))
    m1, m2 = a1 / (a1 + b1), a2 / (a2 + b2)
    v1 = a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1))
    v2 = a2 * b2 / ((a2 + b2) ** 2 * (a2 + b2 + 1))
    return float(st.norm.cdf((m1 - m2) / math.sqrt(v1 + v2)))


def prob_positive(diff: float | None, se: float | None) -> float | None:
    """P(true difference > 0) under a normal posterior centred on ``diff`` (flat prior)."""
    from scipy import stats as st

    if diff is None or not se:
        return None
    return float(st.norm.cdf(diff / se))


# --------------------------------------------------------------------------- continuous

@dataclass(frozen=True)
class MeanTest:
    """A difference of means with its interval and test."""

    diff: float | None
    low: float | None
    high: float | None
    statistic: float | None
    p_value: float | None
    se: float | None
    df: float | None = None


def welch(x: np.ndarray, y: np.ndarray, alpha: float = ALPHA) -> MeanTest:
    """mean(x) - mean(y) with Welch's t-test and interval (scipy ``ttest_ind(equal_var=False)``)."""
    from scipy import stats as st

    if len(x) < 2 or len(y) < 2:
        return MeanTest(None, None, None, None, None, None)
    diff = float(np.mean(x) - np.mean(y))
    se = math.sqrt(np.var(x, ddof=1) / len(x) + np.var(y, ddof=1) / len(y))
    if se == 0:
        return MeanTest(diff, diff, diff, None, 1.0 if diff == 0 else 0.0, 0.0)
    res = st.ttest_ind(x, y, equal_var=False)
    ci = res.confidence_interval(confidence_level=1 - alpha)
    return MeanTest(diff, float(ci.low), float(ci.high), float(res.statistic), float(res.pvalue),
                    se, float(res.df))


def mann_whitney(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(U, two-sided p, P(X > Y) + P(X = Y)/2) by scipy ``mannwhitneyu`` (method 'auto')."""
    from scipy import stats as st

    if len(x) == 0 or len(y) == 0:
        return None, None, None
    res = st.mannwhitneyu(x, y, alternative="two-sided")
    u = float(res.statistic)
    return u, float(res.pvalue), u / (len(x) * len(y))


def ratio_of_means(m1: float, v1: float, m2: float, v2: float, alpha: float = ALPHA) -> Interval:
    """m1/m2 - 1 (relative lift) with a delta-method interval on the log scale.

    ``v1``/``v2`` are the variances of the two means (not of the data). The log scale
    keeps the interval of a ratio of positive quantities positive.
    """
    if m1 is None or m2 is None or m1 <= 0 or m2 <= 0:
        return Interval(None if not m2 else (m1 / m2 - 1 if m1 is not None else None), None, None)
    lift = m1 / m2
    se = math.sqrt(v1 / m1**2 + v2 / m2**2)
    half = z_crit(alpha) * se
    return Interval(lift - 1, lift * math.exp(-half) - 1, lift * math.exp(half) - 1)


# --------------------------------------------------------------------------- ratio metrics

@dataclass(frozen=True)
class RatioEstimate:
    """sum(S) / sum(N) over units, with the delta-method variance of that ratio."""

    ratio: float | None
    var: float | None
    units: int
    numerator: float
    denominator: float


def delta_ratio(s: np.ndarray, n: np.ndarray) -> RatioEstimate:
    """A ratio metric per unit (user): R = sum(S)/sum(N) and Var(R) by the delta method.

    Var(R) = sum((S_u - R N_u)^2) / (sum N_u)^2, the first-order Taylor expansion with
    moments over the units (divisor n). It equals the cluster-robust (CR0) variance of
    a request-level mean clustered by user, so requests of one user count as one unit
    of evidence and never as many.
    """
    s = np.asarray(s, dtype=float)
    n = np.asarray(n, dtype=float)
    total_n = float(n.sum())
    total_s = float(s.sum())
    if len(s) == 0 or total_n == 0:
        return RatioEstimate(None, None, len(s), total_s, total_n)
    r = total_s / total_n
    var = float(np.sum((s - r * n) ** 2)) / total_n**2
    return RatioEstimate(r, var, len(s), total_s, total_n)


def normal_diff(est1: float, var1: float, est2: float, var2: float, alpha: float = ALPHA) -> MeanTest:
    """est1 - est2 with a normal (z) interval and two-sided p from the two variances."""
    from scipy import stats as st

    diff = est1 - est2
    se = math.sqrt(var1 + var2)
    if se == 0:
        return MeanTest(diff, diff, diff, None, 1.0 if diff == 0 else 0.0, 0.0)
    z = diff / se
    half = z_crit(alpha) * se
    return MeanTest(diff, diff - half, diff + half, z, float(2 * st.norm.sf(abs(z))), se)


# --------------------------------------------------------------------------- bootstrap

def _percentile_linear(sorted_values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, len(sorted_values) - 1)
    frac = positions - lo
    return sorted_values[lo] + frac * (sorted_values[hi] - sorted_values[lo])


# Above this many values in both samples together, resampling every value B times
# costs more than it is worth: the order-statistic method below gives the same
# bootstrap distribution of a quantile in time independent of the sample size.
SCIPY_BOOTSTRAP_MAX = 200_000


def bootstrap_quantile_diff(
    x: np.ndarray,
    y: np.ndarray,
    q: float = 0.95,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = ALPHA,
    method: str = "auto",
) -> Interval:
    """quantile_q(x) - quantile_q(y) with a seeded percentile-bootstrap interval.

    ``method='scipy'`` runs ``scipy.stats.bootstrap`` (percentile method, ``rng=seed``);
    ``'order'`` draws each resample's two order statistics around the quantile
    directly (U_(k) ~ Beta(k, n-k+1) mapped through the empirical distribution), which
    is the same bootstrap distribution without materialising resamples. ``'auto'``
    uses scipy up to ``SCIPY_BOOTSTRAP_MAX`` values and the order method beyond.
    Quantiles interpolate linearly (numpy's default, DuckDB's ``quantile_cont``).
    """
    from scipy import stats as st

    # Sorted, so that a seed gives the same interval whatever order the rows came in
    # (DuckDB returns them in any order; a quantile does not depend on it).
    x = np.sort(np.asarray(x, dtype=float))
    y = np.sort(np.asarray(y, dtype=float))
    if len(x) < 2 or len(y) < 2:
        return Interval(None, None, None)
    estimate = float(np.quantile(x, q) - np.quantile(y, q))
    if method == "auto":
        method = "scipy" if len(x) + len(y) <= SCIPY_BOOTSTRAP_MAX else "order"
    if method == "scipy":
        def stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            return np.quantile(a, q, axis=axis) - np.quantile(b, q, axis=axis)

        batch = max(1, int(4_000_000 // (len(x) + len(y))))
        res = st.bootstrap((x, y), stat, n_resamples=n_resamples, vectorized=True, paired=False,
                           confidence_level=1 - alpha, method="percentile", batch=batch,
                           rng=np.random.default_rng(seed))
        return Interval(estimate, float(res.confidence_interval.low), float(res.confidence_interval.high))
    if method != "order":
        raise ValueError(f"unknown bootstrap method {method!r}")
    rng = np.random.default_rng(seed)
    draws = []
    for sample in (x, y):
        values = np.sort(sample)
        n = len(values)
        h = (n - 1) * q
        k = int(math.floor(h))  # 0-based rank of the lower order statistic
        frac = h - k
        u_k = rng.beta(k + 1, n - k, size=n_resamples)
        # The next order statistic: U_(k+1) = U_(k) + (1 - U_(k)) * Beta(1, n - k - 1).
        u_next = u_k + (1 - u_k) * rng.beta(1, n - k - 1, size=n_resamples) if k + 1 < n else u_k
        lo = values[np.minimum((u_k * n).astype(np.int64), n - 1)]
        hi = values[np.minimum((u_next * n).astype(np.int64), n - 1)]
        draws.append(lo + frac * (hi - lo))
    diffs = draws[0] - draws[1]
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Interval(estimate, float(low), float(high))


def cluster_bootstrap_quantile_diff(
    x: np.ndarray,
    x_unit: np.ndarray,
    y: np.ndarray,
    y_unit: np.ndarray,
    q: float = 0.95,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
) -> Interval:
    """Like :func:`bootstrap_quantile_diff`, resampling whole units (users) with their values.

    Each resample draws the units of each sample with replacement; the quantile is
    taken over all values of the drawn units (a unit drawn twice counts twice).
    ``x_unit`` gives each value's unit as integer codes 0..U-1.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 2 or len(y) < 2:
        return Interval(None, None, None)
    estimate = float(np.quantile(x, q) - np.quantile(y, q))
    rng = np.random.default_rng(seed)
    draws = []
    for values, units in ((x, np.asarray(x_unit)), (y, np.asarray(y_unit))):
        order = np.argsort(values, kind="stable")
        values, units = values[order], units[order]
        n_units = int(units.max()) + 1
        out = np.empty(n_resamples)
        for b in range(n_resamples):
            weights = np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)[units]
            out[b] = weighted_quantile_sorted(values, weights, q)
        draws.append(out)
    low, high = np.percentile(draws[0] - draws[1], [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Interval(estimate, float(low), float(high))


def weighted_quantile_sorted(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The linear quantile of sorted ``values`` each repeated ``weights`` times.

    Equals ``np.quantile(np.repeat(values, weights), q)`` without building the repeat.
    """
    cum = np.cumsum(weights)
    total = int(cum[-1])
    h = (total - 1) * q
    lo = int(math.floor(h))
    frac = h - lo
    i_lo = int(np.searchsorted(cum, lo, side="right"))
    i_hi = int(np.searchsorted(cum, min(lo + 1, total - 1), side="right"))
    return float(values[i_lo] + frac * (values[i_hi] - values[i_lo]))


# --------------------------------------------------------------------------- families

def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (statsmodels ``multipletests(method='holm')``).

    None entries (no test) are left out of the family and stay None.
    """
    present = [(i, p) for i, p in enumerate(p_values) if p is not None]
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(present, key=lambda t: t[1])):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


@dataclass(frozen=True)
class SampleRatio:
    """Chi-square goodness of fit of the units per variant against the intended split."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float | None
    p_value: float | None


def sample_ratio(observed: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """The sample-ratio-mismatch test (scipy ``chisquare(observed, expected)``)."""
    from scipy import stats as st

    obs = np.asarray(observed, dtype=float)
    w = np.asarray(weights, dtype=float)
    total = obs.sum()
    expected = total * w / w.sum()
    if len(obs) < 2 or total == 0:
        return SampleRatio(tuple(int(o) for o in obs), tuple(float(e) for e in expected), None, None)
    res = st.chisquare(obs, expected)
    return SampleRatio(tuple(int(o) for o in obs), tuple(float(e) for e in expected),
                       float(res.statistic), float(res.pvalue))


# --------------------------------------------------------------------------- power

def power_at(delta: float, se: float, alpha: float = ALPHA) -> float:
    """Power of a two-sided z-test to detect a true difference ``delta`` at standard error ``se``."""
    from scipy import stats as st

    if se <= 0:
        return 1.0
    z = z_crit(alpha)
    ncp = abs(delta) / se
    return float(st.norm.sf(z - ncp) + st.norm.cdf(-z - ncp))


def noncentrality(alpha: float = ALPHA, power: float = POWER) -> float:
    """The |delta|/se at which a two-sided z-test has the given power (2.80 for 0.05/0.8)."""
    from scipy import optimize
    from scipy import stats as st

    z = z_crit(alpha)
    return float(optimize.brentq(
        lambda k: st.norm.sf(z - k) + st.norm.cdf(-z - k) - power, 0.0, 40.0, xtol=1e-14, rtol=1e-15))


@dataclass(frozen=True)
class Power:
    """Minimum detectable effect now, and the units needed for the observed effect."""

    alpha: float
    power: float
    mde: float | None  # absolute, in the metric's units
    n_needed_variant: int | None
    n_needed_control: int | None
    power_observed: float | None  # the power to detect the observed difference now


def power_figures(se: float | None, n_variant: int, n_control: int, observed: float | None,
                  alpha: float = ALPHA, power: float = POWER) -> Power:
    """MDE at the current standard error and the sample size needed for ``observed``.

    The standard error of a difference scales as 1/sqrt(n) at a fixed split, so the
    units needed per arm are the current ones times (MDE / |observed|)^2. For a
    two-sample test with common sd sigma this is statsmodels
    ``NormalIndPower().solve_power(effect_size=|observed|/sigma, ratio=n_v/n_c)``.
    """
    if se is None or not math.isfinite(se) or se <= 0:
        return Power(alpha, power, None, None, None, None)
    k = noncentrality(alpha, power)
    mde = k * se
    if observed is None or observed == 0:
        return Power(alpha, power, mde, None, None, power_at(0.0, se, alpha))
    scale = (mde / abs(observed)) ** 2
    return Power(alpha, power, mde, math.ceil(n_variant * scale), math.ceil(n_control * scale),
                 power_at(observed, se, alpha))
