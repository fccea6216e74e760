"""aimon.analysis.toolkit.stats against scipy and statsmodels on the same data, to 1e-6."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from aimon.analysis.toolkit import stats

TOL = 1e-6

COUNTS = [
    (40, 200, 25, 210),
    (1, 30, 0, 35),
    (700, 1000, 690, 1000),
    (3381, 4000, 2600, 3600),
    (0, 50, 0, 60),
    (50, 50, 49, 50),
]


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), COUNTS)
def test_newcombe_matches_statsmodels(k1, n1, k2, n2):
    got = stats.newcombe_diff(k1, n1, k2, n2)
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert got.estimate == pytest.approx(k1 / n1 - k2 / n2, abs=TOL)
    assert got.low == pytest.approx(low, abs=TOL)
    assert got.high == pytest.approx(high, abs=TOL)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), COUNTS[:4] + [COUNTS[5]])
def test_ztest_matches_statsmodels(k1, n1, k2, n2):
    z, p = stats.two_proportion_z(k1, n1, k2, n2)
    z_ref, p_ref = proportions_ztest([k1, k2], [n1, n2])
    assert z == pytest.approx(z_ref, abs=TOL)
    assert p == pytest.approx(p_ref, abs=TOL)


def test_ztest_degenerate_is_no_evidence():
    assert stats.two_proportion_z(0, 50, 0, 60) == (0.0, 1.0)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(40, 200, 25, 210), (700, 1000, 690, 1000), (35, 94, 2, 110)])
def test_risk_ratio_matches_statsmodels_log(k1, n1, k2, n2):
    got = stats.risk_ratio(k1, n1, k2, n2)
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="log", compare="ratio")
    assert got.estimate == pytest.approx((k1 / n1) / (k2 / n2), rel=TOL)
    assert got.low == pytest.approx(low, abs=TOL)
    assert got.high == pytest.approx(high, abs=TOL)


def test_risk_ratio_with_a_zero_count_matches_log_adjusted():
    got = stats.risk_ratio(12, 40, 0, 300)
    low, high = confint_proportions_2indep(12, 40, 0, 300, method="log-adjusted", compare="ratio")
    assert got.low == pytest.approx(low, abs=TOL)
    assert got.high == pytest.approx(high, abs=TOL)
    assert stats.risk_ratio(0, 10, 0, 10).estimate is None


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(12, 40, 8, 40), (300, 1000, 270, 1000), (1, 5, 3, 6)])
def test_prob_beat_matches_numerical_integration(k1, n1, k2, n2):
    a1, b1, a2, b2 = k1 + 1, n1 - k1 + 1, k2 + 1, n2 - k2 + 1
    # P(X1 > X2) = integral of f1(x) * F2(x)
    ref, _ = integrate.quad(lambda x: st.beta.pdf(x, a1, b1) * st.beta.cdf(x, a2, b2), 0, 1,
                            points=[k1 / n1, k2 / n2], limit=200, epsabs=1e-12)
    assert stats.prob_beat_beta(k1, n1, k2, n2) == pytest.approx(ref, abs=TOL)
    # Both orders of the sum agree and are complementary.
    assert stats.prob_beat_beta(k2, n2, k1, n1) == pytest.approx(1 - ref, abs=TOL)


def test_prob_beat_of_equal_data_is_a_half():
    assert stats.prob_beat_beta(50, 100, 50, 100) == pytest.approx(0.5, abs=TOL)


def test_prob_beat_large_counts_use_normal_approximation_consistently():
    big = stats.prob_beat_beta(2_600_000, 5_000_000, 2_598_000, 5_000_000)
    a1, b1, a2, b2 = 2_600_001, 2_400_001, 2_598_001, 2_402_001
    m1, m2 = a1 / (a1 + b1), a2 / (a2 + b2)
    v = (a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1))) + (a2 * b2 / ((a2 + b2) ** 2 * (a2 + b2 + 1)))
    assert big == pytest.approx(st.norm.cdf((m1 - m2) / math.sqrt(v)), abs=TOL)


def _samples(seed=1, n1=300, n2=350):
    rng = np.random.default_rng(seed)
    return rng.lognormal(7, 0.6, n1), rng.lognormal(7.1, 0.6, n2)


def test_welch_matches_scipy():
    x, y = _samples()
    got = stats.welch(x, y)
    ref = st.ttest_ind(x, y, equal_var=False)
    ci = ref.confidence_interval()
    assert got.diff == pytest.approx(x.mean() - y.mean(), abs=TOL)
    assert got.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert got.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert (got.low, got.high) == (pytest.approx(ci.low, abs=TOL), pytest.approx(ci.high, abs=TOL))


def test_mann_whitney_matches_scipy():
    x, y = _samples(2, 40, 35)
    u, p, prob = stats.mann_whitney(x, y)
    ref = st.mannwhitneyu(x, y, alternative="two-sided")
    assert u == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)
    assert prob == pytest.approx(ref.statistic / (40 * 35), abs=TOL)


@pytest.mark.slow
def test_holm_matches_statsmodels():
    ps = [0.01, 0.04, 0.03, 0.005, 0.2, 0.9]
    got = stats.holm(ps)
    ref = multipletests(ps, method="holm")[1]
    assert got == pytest.approx(list(ref), abs=TOL)
    with_gap = stats.holm([0.01, None, 0.04])
    assert with_gap[1] is None
    assert [with_gap[0], with_gap[2]] == pytest.approx(list(multipletests([0.01, 0.04], method="holm")[1]))


def test_sample_ratio_matches_scipy_chisquare():
    got = stats.sample_ratio([5200, 4800], [50, 50])
    ref = st.chisquare([5200, 4800], [5000, 5000])
    assert got.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert got.chi2 == pytest.approx(ref.statistic, abs=TOL)
    uneven = stats.sample_ratio([910, 90, 0], [90, 10, 0.0001])
    ref = st.chisquare([910, 90, 0], np.array([90, 10, 0.0001]) / 100.0001 * 1000)
    assert uneven.p_value == pytest.approx(ref.pvalue, abs=TOL)


def test_power_matches_statsmodels_normal_ind_power():
    # A two-sample z-test with common sd sigma: se = sigma * sqrt(1/n1 + 1/n2).
    sigma, n_control, n_variant = 0.46, 3000, 2600
    se = sigma * math.sqrt(1 / n_control + 1 / n_variant)
    power = stats.power_figures(se, n_variant, n_control, observed=0.02)
    analysis = NormalIndPower()
    d_mde = analysis.solve_power(effect_size=None, nobs1=n_control, alpha=0.05, power=0.8,
                                 ratio=n_variant / n_control)
    assert power.mde == pytest.approx(d_mde * sigma, abs=TOL)
    need = analysis.solve_power(effect_size=0.02 / sigma, nobs1=None, alpha=0.05, power=0.8,
                                ratio=n_variant / n_control)
    assert power.n_needed_control == math.ceil(need - 1e-9)
    assert power.power_observed == pytest.approx(
        analysis.power(0.02 / sigma, n_control, 0.05, ratio=n_variant / n_control), abs=TOL)
    assert stats.power_at(power.mde, se) == pytest.approx(0.8, abs=TOL)


def test_delta_ratio_equals_cluster_robust_ols():
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    users_a, users_b = 60, 70
    rows_y, rows_t, rows_g = [], [], []
    for g in range(users_a + users_b):
        treated = g >= users_a
        k = int(rng.integers(1, 15))
        base = rng.normal(1000 + (80 if treated else 0), 200)
        vals = base + rng.normal(0, 150, k)
        rows_y += list(vals)
        rows_t += [int(treated)] * k
        rows_g += [g] * k
    y, t, g = np.array(rows_y), np.array(rows_t), np.array(rows_g)
    s = np.bincount(g, weights=y)
    n = np.bincount(g).astype(float)
    a = stats.delta_ratio(s[:users_a], n[:users_a])
    b = stats.delta_ratio(s[users_a:], n[users_a:])
    got = stats.normal_diff(b.ratio, b.var, a.ratio, a.var)
    fit = sm.OLS(y, sm.add_constant(t)).fit(cov_type="cluster",
                                             cov_kwds={"groups": g, "use_correction": False})
    assert got.diff == pytest.approx(fit.params[1], abs=TOL)
    assert got.se == pytest.approx(fit.bse[1], abs=TOL)
    assert got.p_value == pytest.approx(fit.pvalues[1], abs=TOL)
    low, high = fit.conf_int()[1]
    assert (got.low, got.high) == (pytest.approx(low, abs=TOL), pytest.approx(high, abs=TOL))


def test_ratio_of_means_by_hand():
    got = stats.ratio_of_means(1.1, 0.0004, 1.0, 0.0009)
    se = math.sqrt(0.0004 / 1.21 + 0.0009 / 1.0)
    z = st.norm.isf(0.025)
    assert got.estimate == pytest.approx(0.1, abs=TOL)
    assert got.low == pytest.approx(1.1 * math.exp(-z * se) - 1, abs=TOL)
    assert got.high == pytest.approx(1.1 * math.exp(z * se) - 1, abs=TOL)


def test_bootstrap_p95_matches_scipy_with_the_same_seed():
    x, y = _samples(3, 400, 380)
    got = stats.bootstrap_quantile_diff(x, y, 0.95, n_resamples=999, seed=7, method="scipy")

    def stat(a, b, axis=-1):
        return np.quantile(a, 0.95, axis=axis) - np.quantile(b, 0.95, axis=axis)

    # aimon sorts the samples first (see the next test), the same resampling otherwise.
    ref = st.bootstrap((np.sort(x), np.sort(y)), stat, n_resamples=999, vectorized=True, paired=False,
                       method="percentile", rng=np.random.default_rng(7))
    assert got.estimate == pytest.approx(np.quantile(x, 0.95) - np.quantile(y, 0.95), abs=TOL)
    assert got.low == pytest.approx(ref.confidence_interval.low, abs=TOL)
    assert got.high == pytest.approx(ref.confidence_interval.high, abs=TOL)
    again = stats.bootstrap_quantile_diff(x, y, 0.95, n_resamples=999, seed=7, method="scipy")
    assert again == got  # seeded: the same every run


def test_bootstrap_p95_repeats_whatever_order_the_rows_came_in():
    # DuckDB returns a variant's rows in any order: the seed alone must fix the interval.
    x, y = _samples(3, 400, 380)
    got = stats.bootstrap_quantile_diff(x, y, 0.95, n_resamples=999, seed=7, method="scipy")
    rng = np.random.default_rng(1)
    shuffled = stats.bootstrap_quantile_diff(rng.permutation(x), rng.permutation(y), 0.95,
                                             n_resamples=999, seed=7, method="scipy")
    assert shuffled == got


@pytest.mark.slow
def test_order_statistic_bootstrap_agrees_with_resampling():
    x, y = _samples(4, 3000, 3000)
    a = stats.bootstrap_quantile_diff(x, y, 0.95, n_resamples=4000, seed=1, method="scipy")
    b = stats.bootstrap_quantile_diff(x, y, 0.95, n_resamples=4000, seed=1, method="order")
    width = a.high - a.low
    assert a.estimate == b.estimate
    assert b.low == pytest.approx(a.low, abs=0.1 * width)
    assert b.high == pytest.approx(a.high, abs=0.1 * width)


def test_weighted_quantile_equals_repeat():
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(size=50))
    weights = rng.integers(0, 4, 50)
    weights[0] = 1
    for q in (0.0, 0.5, 0.95, 1.0):
        assert stats.weighted_quantile_sorted(values, weights, q) == pytest.approx(
            np.quantile(np.repeat(values, weights), q), abs=1e-12)


def test_cluster_bootstrap_with_one_value_per_unit_is_an_ordinary_bootstrap():
    x, y = _samples(6, 300, 300)
    a = stats.bootstrap_quantile_diff(x, y, 0.95, n_resamples=2000, seed=3, method="scipy")
    b = stats.cluster_bootstrap_quantile_diff(x, np.arange(300), y, np.arange(300), 0.95,
                                              n_resamples=2000, seed=3)
    width = a.high - a.low
    assert b.low == pytest.approx(a.low, abs=0.15 * width)
    assert b.high == pytest.approx(a.high, abs=0.15 * width)
