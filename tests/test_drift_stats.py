"""The drift statistics: arithmetic against scipy/statsmodels, decisions by simulation.

The A/A simulation draws traffic shaped like production (heavy-tailed users, sessions
that keep one topic, users with their own topic mix, latency and error habits), splits
one stable period in two halves and runs the tests many times: the share of runs that
flag drift must stay near the nominal level. It also shows why the permutation unit is
the user: shuffling single requests flags stable traffic far too often.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st
from scipy.special import rel_entr

from aimon.analysis.drift import permutation as perm
from aimon.analysis.drift import semantic, signals
from aimon.analysis.toolkit.stats import holm


def _units(n_rows, current, permutations=499, seed=0, unit_ids=None):
    ids = np.arange(n_rows) if unit_ids is None else unit_ids
    return perm.units(np.asarray(ids), np.asarray(current), permutations=permutations, seed=seed)


def test_ks_statistic_matches_scipy_with_ties():
    rng = np.random.default_rng(1)
    base = np.round(rng.lognormal(6, 0.5, 400), -1)  # ties, as latencies rounded to 10 ms
    cur = np.round(rng.lognormal(6.1, 0.5, 300), -1)
    values = np.r_[base, cur]
    current = np.r_[np.zeros(400, bool), np.ones(300, bool)]
    d, permuted = perm.ks_statistics(_units(700, current), values, np.ones(700, bool))
    assert d == pytest.approx(st.ks_2samp(base, cur).statistic, abs=1e-12)
    assert permuted.shape == (499,)


def test_request_level_permutation_p_value_agrees_with_scipy_for_independent_requests():
    rng = np.random.default_rng(7)
    base, cur = rng.normal(0, 1, 500), rng.normal(0.17, 1, 500)
    current = np.r_[np.zeros(500, bool), np.ones(500, bool)]
    test = signals.test_signal(signals.SIGNALS[2], np.r_[base, cur], current, _units(1000, current, 1999))
    assert test.p_value_iid == pytest.approx(st.ks_2samp(base, cur).pvalue)
    assert 0.4 * test.p_value_iid <= test.p_value <= 2.5 * test.p_value_iid + 0.005
    assert test.wasserstein == pytest.approx(st.wasserstein_distance(base, cur))


def test_psi_is_the_symmetrised_kullback_leibler_divergence():
    b, c = np.array([30.0, 50, 20]), np.array([20.0, 40, 40])
    expected = (rel_entr(c / c.sum(), b / b.sum()) + rel_entr(b / b.sum(), c / c.sum())).sum()
    assert signals.psi(b, c) == pytest.approx(expected)
    assert signals.psi(b, b) == 0
    assert np.isfinite(signals.psi(np.array([10.0, 0]), np.array([0.0, 10])))  # empty bins


def test_two_proportion_z_matches_statsmodels():
    from statsmodels.stats.proportion import proportions_ztest

    hits = np.r_[np.zeros(900), np.ones(100), np.zeros(820), np.ones(180)]
    current = np.r_[np.zeros(1000, bool), np.ones(1000, bool)]
    test = signals.test_signal(signals.Signal("error", "rate", "error rate"), hits, current, _units(2000, current))
    z, p = proportions_ztest([180, 100], [1000, 1000])
    assert test.statistic == pytest.approx(abs(z))
    assert test.p_value_iid == pytest.approx(p)
    assert test.effect_size == pytest.approx(signals.cohen_h(0.18, 0.10))


def test_chi_square_matches_scipy_and_folds_rare_categories():
    rng = np.random.default_rng(3)
    base = rng.choice(["gpt-4o", "gpt-4o-mini", "claude"], 600, p=[0.5, 0.3, 0.2])
    cur = rng.choice(["gpt-4o", "gpt-4o-mini", "claude"], 500, p=[0.4, 0.35, 0.25])
    values = np.r_[base, cur].astype(object)
    values[5] = None  # a request without a model is left out
    current = np.r_[np.zeros(600, bool), np.ones(500, bool)]
    test = signals.test_signal(signals.Signal("model", "mix", "model mix"), values, current, _units(1100, current))
    keep = np.array([v is not None for v in values])
    labels, codes = np.unique(values[keep].astype(str), return_inverse=True)
    table = np.zeros((2, labels.size))
    np.add.at(table, (current[keep].astype(int), codes), 1)
    expected = st.chi2_contingency(table, correction=False)
    assert test.statistic == pytest.approx(expected.statistic)
    assert test.p_value_iid == pytest.approx(expected.pvalue)


# --------------------------------------------------------------------------- simulation

def production_traffic(rng, *, dim=32, topics=6, users=60, shift=0.0):
    """Two consecutive periods of requests from users with many correlated requests.

    Heavy-tailed users (a few send most requests), sessions that keep one topic, each user
    with their own topic preferences, latency level and error habit. ``shift``: that share
    of the second period's sessions are about the last topic instead."""
    centers = rng.standard_normal((topics, dim))
    weights = rng.pareto(1.2, users) + 0.2
    sessions_per_user = rng.poisson(weights / weights.mean() * 6) + 1
    rows = {k: [] for k in ("unit", "current", "vec", "latency", "error", "chars")}
    for u in range(users):
        pref = rng.dirichlet(np.full(topics, 0.6))
        lat_level = rng.normal(7, 0.4)
        err_p = rng.beta(0.5, 20)
        style = rng.standard_normal(dim) * 0.5
        for _ in range(sessions_per_user[u]):
            current = rng.random() < 0.5
            topic = rng.choice(topics, p=pref)
            if current and rng.random() < shift:
                topic = topics - 1
            for _ in range(rng.geometric(0.3)):
                v = centers[topic] + style + rng.standard_normal(dim) * 0.8
                rows["unit"].append(u)
                rows["current"].append(current)
                rows["vec"].append(v / np.linalg.norm(v))
                rows["latency"].append(np.exp(lat_level + rng.normal(0, 0.3)))
                rows["error"].append(float(rng.random() < err_p))
                rows["chars"].append(float(rng.poisson(200 + 40 * topic)))
    return {k: np.asarray(v) for k, v in rows.items()}


def run_tests(t, *, unit_ids, permutations, seed):
    """p-values and effect sizes of the semantic test and three signals, as drift runs them."""
    n = len(t["current"])
    u = perm.units(unit_ids, t["current"], permutations=permutations, seed=seed)
    everything = np.ones(n, bool)
    sem = semantic.mmd_test(t["vec"], everything, t["current"], u, seed)
    tests = [signals.test_signal(sig, t[name], t["current"], u) for sig, name in (
        (signals.SIGNALS[2], "latency"), (signals.SIGNALS[0], "chars"), (signals.SIGNALS[7], "error"))]
    return sem, tests


def gate_fires(sem, tests, alpha=0.05):
    """Holm over the family, then the effect floors (the semantic test on its p-value alone,
    which is stricter than drift's, where topics must also have moved)."""
    adjusted = holm([sem.p_value] + [t.p_value for t in tests])
    if adjusted[0] < alpha:
        return True
    return any(p is not None and p < alpha and abs(t.effect_size) >= signals.effect_floor(t.effect)
               for t, p in zip(tests, adjusted[1:], strict=True))


@pytest.mark.slow  # ~25 s of CPU: 130 runs of the tests on fresh traffic
def test_aa_false_alarm_rate_stays_near_nominal_with_user_permutations():
    rng = np.random.default_rng(2026)
    reps, naive_reps, semantic_hits, naive_hits, gate_hits = 100, 30, 0, 0, 0
    for rep in range(reps):
        t = production_traffic(rng)
        sem, tests = run_tests(t, unit_ids=t["unit"], permutations=199, seed=rep)
        semantic_hits += sem.p_value < 0.05
        gate_hits += gate_fires(sem, tests)
        if rep < naive_reps:
            naive, _ = run_tests(t, unit_ids=np.arange(len(t["unit"])), permutations=199, seed=rep)
            naive_hits += naive.p_value < 0.05
    # Nominal 5%: allow three standard errors of a binomial over the repetitions.
    bound = 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    assert semantic_hits / reps <= bound, semantic_hits
    assert gate_hits / reps <= bound, gate_hits
    # Shuffling single requests ignores that a session keeps its topic: it cries wolf.
    assert naive_hits / naive_reps >= 0.3, naive_hits


@pytest.mark.slow
def test_a_planted_topic_shift_is_found():
    rng = np.random.default_rng(11)
    found = 0
    for rep in range(10):
        t = production_traffic(rng, users=250, shift=0.4)
        sem, _ = run_tests(t, unit_ids=t["unit"], permutations=199, seed=rep)
        found += sem.p_value < 0.05
    assert found >= 8, found


def test_languages_are_identified_once_per_distinct_prompt(monkeypatch):
    # Prompts repeat (templates, popular questions); classifying each request was a
    # third of a warm 5,000 v 5,000 drift's CPU time.
    import py3langid

    from aimon.analysis.drift import report

    real, calls = py3langid.classify, []
    monkeypatch.setattr(py3langid, "classify", lambda text: calls.append(text) or real(text))
    prompts = ["Where is my parcel? It should have arrived on Monday."] * 40 \
        + ["Où est mon colis ? Il devait arriver lundi."] * 25 + [None, "   "]
    languages = report._languages(prompts)
    assert len(calls) == 2
    assert set(languages[:40]) == {"en"} and set(languages[40:65]) == {"fr"}
    assert languages[65] is None and languages[66] is None


def test_the_tests_run_on_one_thread_of_every_native_pool():
    # Threading k-means and BLAS products this small cost 6 CPU-seconds of spinning for
    # 0.3 of work on 5,000 v 5,000 (benchmarks/README.md), and made topics depend on the
    # machine's core count.
    from threadpoolctl import threadpool_info

    from aimon.analysis.drift import report

    with report._one_thread():
        pools = [p for p in threadpool_info() if p["user_api"] in ("openmp", "blas")]
        assert any(p["user_api"] == "openmp" for p in pools)  # scikit-learn's, loaded before the limit
        assert all(p["num_threads"] == 1 for p in pools)
