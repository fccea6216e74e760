"""aimon.analysis.abtest: every figure checked against scipy/statsmodels on the same data,
and the verdict on planted experiments (A/A, a real effect, a sample ratio mismatch)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from planted_logs import T0, experiment, insert
from scipy import stats as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from aimon.analysis.abtest.analyze import analyze
from aimon.analysis.abtest.experiments import list_experiments
from aimon.analysis.abtest.metrics import Metric, parse_metrics
from aimon.analysis.toolkit.window import resolve
from aimon.errors import InputError, UsageError

TOL = 1e-6


def _analyze(con, name="exp", **kw):
    return analyze(con, resolve(con, None, None), name, **kw)


def _values(con, variant, expr, name="exp"):
    return np.array([r[0] for r in con.execute(
        f"SELECT {expr} FROM requests WHERE experiment = $e AND variant = $v AND {expr} IS NOT NULL",
        {"e": name, "v": variant}).fetchall()], dtype=float)


@pytest.fixture
def effect(con):
    """A real effect: success 30% -> 36%, latency +10%."""
    insert(con, experiment(users={"control": 400, "treatment": 400}, success={"control": 0.30, "treatment": 0.36},
                           latency_ms={"control": 1000.0, "treatment": 1100.0}, seed=3))
    return con


@pytest.mark.slow
def test_planted_effect_is_found_with_figures_matching_statsmodels(effect):
    res = _analyze(effect, metrics=(Metric.success, Metric.latency_ms), seed=5, n_resamples=500, by_user=False)
    assert res.verdict.kind == "winner" and res.verdict.winner == "treatment"
    succ = next(c for c in res.comparisons if c.metric == "success")
    x, y = _values(effect, "treatment", "success::INT"), _values(effect, "control", "success::INT")
    k1, n1, k2, n2 = int(x.sum()), len(x), int(y.sum()), len(y)
    assert (succ.n_variant, succ.n_control) == (n1, n2)
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert (succ.ci_low, succ.ci_high) == (pytest.approx(low, abs=TOL), pytest.approx(high, abs=TOL))
    assert succ.ci_low > 0 and succ.ci_low < 0.06 < succ.ci_high
    _, p = proportions_ztest([k1, k2], [n1, n2])
    assert succ.p_value == pytest.approx(p, abs=TOL)
    rr_low, rr_high = confint_proportions_2indep(k1, n1, k2, n2, method="log", compare="ratio")
    assert succ.lift == pytest.approx((k1 / n1) / (k2 / n2) - 1, abs=TOL)
    assert (succ.lift_low, succ.lift_high) == (pytest.approx(rr_low - 1, abs=TOL), pytest.approx(rr_high - 1, abs=TOL))
    # Power: MDE at the control rate's null standard error (NormalIndPower, sigma = sqrt(p(1-p))).
    sigma = math.sqrt(k2 / n2 * (1 - k2 / n2))
    d = NormalIndPower().solve_power(effect_size=None, nobs1=n2, alpha=0.05, power=0.8, ratio=n1 / n2)
    assert succ.mde == pytest.approx(d * sigma, abs=TOL)
    need = NormalIndPower().solve_power(effect_size=abs(succ.diff) / sigma, nobs1=None, alpha=0.05,
                                        power=0.8, ratio=n1 / n2)
    assert succ.n_needed_control == math.ceil(need - 1e-9)
    assert succ.prob_beat_control > 0.99

    lat = next(c for c in res.comparisons if c.metric == "latency_ms")
    x, y = _values(effect, "treatment", "latency_ms"), _values(effect, "control", "latency_ms")
    welch = st.ttest_ind(x, y, equal_var=False)
    assert lat.p_value == pytest.approx(welch.pvalue, abs=TOL)
    ci = welch.confidence_interval()
    assert (lat.ci_low, lat.ci_high) == (pytest.approx(ci.low, abs=TOL), pytest.approx(ci.high, abs=TOL))
    assert lat.mann_whitney_p == pytest.approx(st.mannwhitneyu(x, y, alternative="two-sided").pvalue, abs=TOL)
    assert lat.direction == "worse"  # slower is worse

    def p95(a, b, axis=-1):
        return np.quantile(a, 0.95, axis=axis) - np.quantile(b, 0.95, axis=axis)

    # aimon sorts each sample before resampling (the seed alone fixes the interval).
    boot = st.bootstrap((np.sort(x), np.sort(y)), p95, n_resamples=500, vectorized=True, paired=False, method="percentile",
                        rng=np.random.default_rng(5))
    assert lat.p95_diff == pytest.approx(np.quantile(x, 0.95) - np.quantile(y, 0.95), abs=TOL)
    assert lat.p95_ci_low == pytest.approx(boot.confidence_interval.low, abs=TOL)
    assert lat.p95_ci_high == pytest.approx(boot.confidence_interval.high, abs=TOL)

    # The guardrail is its own family: one comparison in each, so Holm leaves both p as they are.
    assert (succ.p_adjusted, lat.p_adjusted) == (pytest.approx(succ.p_value), pytest.approx(lat.p_value))
    # Guardrail: the winner is slower, and the verdict says so.
    assert res.verdict.guardrails == ("treatment:latency_ms",)


def test_variant_figures(effect):
    res = _analyze(effect, by_user=False)
    row = effect.execute("""SELECT count(*), count(DISTINCT user_id), sum(success::INT), count(success),
                                   avg(latency_ms), median(latency_ms), quantile_cont(latency_ms, 0.95), avg(cost_usd)
                            FROM requests WHERE variant = 'control'""").fetchall()[0]
    v = next(v for v in res.variants if v.variant == "control")
    assert (v.requests, v.users, v.successes, v.outcomes) == row[:4]
    assert v.n == v.requests and v.success_rate == pytest.approx(row[2] / row[3])
    assert (v.latency_mean_ms, v.latency_median_ms, v.latency_p95_ms) == pytest.approx(row[4:7])
    assert v.cost_mean_usd == pytest.approx(row[7])
    low, high = proportion_confint(row[2], row[3], alpha=0.05, method="wilson")
    assert (v.success_rate_low, v.success_rate_high) == (pytest.approx(low, abs=TOL), pytest.approx(high, abs=TOL))
    assert res.success_source == "logged"
    assert any("logged `success`" in n for n in res.notes)


@pytest.mark.slow
def test_by_user_uses_cr1_t_equal_to_statsmodels_and_a_permutation_p(effect):
    res = _analyze(effect, by_user=True, metrics=(Metric.success, Metric.latency_ms), n_resamples=200)
    assert res.unit == "user"
    rows = effect.execute("SELECT variant = 'treatment', user_id, success::INT, latency_ms FROM requests "
                          "ORDER BY user_id").fetchall()
    t = np.array([r[0] for r in rows], dtype=float)
    groups = np.unique([r[1] for r in rows], return_inverse=True)[1]
    for metric, column in (("success", 2), ("latency_ms", 3)):
        y = np.array([r[column] for r in rows], dtype=float)
        # statsmodels' default cluster correction (CR1) with a t reference on G - 1 df.
        fit = sm.OLS(y, sm.add_constant(t)).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        c = next(c for c in res.comparisons if c.metric == metric)
        assert c.test == "studentized permutation (users)" and c.ci_method == "cr1-t"
        assert c.diff == pytest.approx(fit.params[1], abs=TOL)
        low, high = fit.conf_int()[1]
        assert (c.ci_low, c.ci_high) == (pytest.approx(low, abs=TOL), pytest.approx(high, abs=TOL))
        # The permutation p agrees with the t reference here (400 users per arm, light tails)
        # to within its Monte Carlo error.
        assert c.p_value == pytest.approx(fit.pvalues[1], abs=0.03 + 0.1 * fit.pvalues[1])
    assert {v.n for v in res.variants} == {400}
    # Mann-Whitney on user means (one value per user), as scipy computes it.
    lat = next(c for c in res.comparisons if c.metric == "latency_ms")
    means = effect.execute("SELECT variant, avg(latency_ms) FROM requests GROUP BY variant, user_id").fetchall()
    xm = np.array([m for v, m in means if v == "treatment"])
    ym = np.array([m for v, m in means if v == "control"])
    assert lat.mann_whitney_p == pytest.approx(st.mannwhitneyu(xm, ym, alternative="two-sided").pvalue, abs=TOL)
    # Each variant's success rate interval: the cluster-robust mean of its requests.
    ctrl = [(r[1], r[2]) for r in rows if not r[0]]
    y = np.array([r[1] for r in ctrl], dtype=float)
    g = np.unique([r[0] for r in ctrl], return_inverse=True)[1]
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": g, "use_correction": False})
    v = next(v for v in res.variants if v.variant == "control")
    low, high = fit.conf_int()[0]
    assert (v.success_rate_low, v.success_rate_high) == (pytest.approx(low, abs=TOL), pytest.approx(high, abs=TOL))
    assert res.verdict.winner == "treatment"


@pytest.mark.slow
def test_by_user_widens_intervals_when_users_differ(con):
    # Strong per-user differences: a request-level analysis pretends to know more than it does.
    insert(con, experiment(users={"control": 60, "treatment": 60}, requests_per_user=40, user_sd=1.5, seed=8))
    per_request = next(c for c in _analyze(con, by_user=False).comparisons)
    default = _analyze(con)
    per_user = default.comparisons[0]
    assert default.unit == "user"  # every user saw one variant: the user is the unit by default
    assert (per_user.ci_high - per_user.ci_low) > 1.5 * (per_request.ci_high - per_request.ci_low)
    notes = " ".join(_analyze(con, by_user=False).notes)
    assert "not independent" in notes  # the forced request-level run warns about pseudo-replication
    assert "Effective users" in " ".join(default.notes)


def test_pseudo_replication_warning_only_where_users_repeat(con):
    insert(con, experiment(users={"control": 200, "treatment": 200}, requests_per_user=1, seed=8))
    res = _analyze(con, by_user=False)
    assert res.assignment == "user" and res.unit == "request"
    assert not any("not independent" in n for n in res.notes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_a_experiment_is_not_called_significant(con, seed):
    insert(con, experiment(users={"A": 400, "B": 400}, success={"A": 0.3, "B": 0.3}, seed=seed))
    for by_user in (False, True):
        res = _analyze(con, by_user=by_user)
        assert res.control == "A"
        assert res.verdict.kind in ("no_difference", "inconclusive")
        assert res.verdict.winner is None
        assert res.comparisons[0].p_value > 0.05
        assert not res.srm.mismatch


@pytest.mark.slow
def test_planted_sample_ratio_mismatch_is_flagged(con):
    insert(con, experiment(users={"control": 1000, "treatment": 850}, requests_per_user=2, seed=4))
    res = _analyze(con)
    ref = st.chisquare([1000, 850], [925, 925])
    assert res.srm.unit == "user"  # every user saw one variant: users are the unit of assignment
    assert res.srm.observed == (1000, 850)
    assert res.srm.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert res.srm.p_value < 0.001 and res.srm.mismatch
    assert res.verdict.kind == "invalid"
    # The intended split was 100:85 after all: no mismatch.
    assert not _analyze(con, split="control=100,treatment=85").srm.mismatch
    assert not _analyze(con, split="100,85").srm.mismatch


@pytest.mark.slow
def test_three_variants_holm_and_no_winner_by_raw_maximum(con):
    # C has the highest raw success rate but no variant really differs.
    insert(con, experiment(users={"A": 300, "B": 300, "C": 300}, success={"A": 0.3, "B": 0.3, "C": 0.3}, seed=21))
    res = _analyze(con, metrics=(Metric.success, Metric.latency_ms), n_resamples=200)
    rates = {v.variant: v.success_rate for v in res.variants}
    assert max(rates, key=rates.get) != "A"
    assert res.verdict.kind != "winner"
    assert len(res.comparisons) == 4
    # Holm within each family: the primary metric's comparisons, then the guardrail's.
    for metric in ("success", "latency_ms"):
        family = [c for c in res.comparisons if c.metric == metric]
        adj = multipletests([c.p_value for c in family], method="holm")[1]
        assert [c.p_adjusted for c in family] == pytest.approx(list(adj), abs=TOL)


def test_success_from_thumbs_when_success_is_not_logged(con):
    frame = experiment(users={"control": 200, "treatment": 200}, log_success=False, seed=2)
    insert(con, frame)
    ids = frame["request_id"].to_list()
    # Thumbs on some requests: up on every 3rd, down on every 5th (both -> not a success).
    votes = [(f"f{i}", rid, "thumbs_up") for i, rid in enumerate(ids) if i % 3 == 0]
    votes += [(f"g{i}", rid, "thumbs_down") for i, rid in enumerate(ids) if i % 5 == 0]
    insert(con, pl.DataFrame(votes, schema=["feedback_id", "request_id", "feedback_type"], orient="row")
           .with_columns(pl.lit(T0).alias("ts")), table="feedback")
    res = _analyze(con)
    assert res.success_source == "thumbs"
    assert any("thumbs feedback" in n for n in res.notes)
    control_ids = [i for i, v in enumerate(frame["variant"].to_list()) if v == "control"]
    rated = [i for i in control_ids if i % 3 == 0 or i % 5 == 0]
    good = [i for i in rated if i % 3 == 0 and i % 5 != 0]
    v = next(v for v in res.variants if v.variant == "control")
    assert (v.outcomes, v.successes) == (len(rated), len(good))
    with pytest.raises(InputError, match="no request logs `success`"):
        _analyze(con, success_from="logged")


def test_errors_are_input_errors(con):
    insert(con, experiment(seed=1))
    with pytest.raises(InputError, match="experiments in the window: exp"):
        _analyze(con, "nope")
    with pytest.raises(InputError, match="not a variant"):
        _analyze(con, control="zzz")
    with pytest.raises(UsageError, match="2 variants"):
        _analyze(con, split="50,30,20")
    with pytest.raises(UsageError, match="unknown --metric"):
        parse_metrics(["success,speed"])


def test_list_experiments(con):
    insert(con, experiment("one", seed=1))
    insert(con, experiment("two", users={"x": 10, "y": 12, "z": 3}, seed=2, prefix="b"))
    table = list_experiments(con, resolve(con, None, None)).table
    assert table.select("experiment", "variant").rows() == [("one", "control"), ("one", "treatment"),
                                                            ("two", "x"), ("two", "y"), ("two", "z")]
    assert table.filter(table["variant"] == "z")["users"].item() == 3


@pytest.mark.slow
def test_no_difference_needs_the_interval_inside_the_threshold(con):
    insert(con, experiment(users={"A": 400, "B": 400}, success={"A": 0.3, "B": 0.3}, seed=12))
    c = _analyze(con).comparisons[0]
    assert c.p_value > 0.05
    half_width = max(abs(c.ci_low), abs(c.ci_high))
    # A threshold wider than the interval: the absence of an effect that size is shown.
    wide = _analyze(con, min_effect=half_width + 0.01).verdict
    assert wide.kind == "no_difference" and wide.winner is None
    # A threshold the interval does not rule out: not significant, but not shown either.
    narrow = _analyze(con, min_effect=half_width / 2).verdict
    assert narrow.kind == "inconclusive"
