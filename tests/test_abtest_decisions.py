"""The decision rules of abtest.analyze around the arithmetic (issue 17): the unit of
assignment, SRM in that unit, Holm families, the no-difference margin, the minimum
sample for a winner, variant names, Mann-Whitney on exact per-user means."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from planted_logs import T0, experiment, insert
from scipy import stats as st

from aimon.analysis.abtest.analyze import analyze
from aimon.analysis.abtest.metrics import Metric
from aimon.analysis.toolkit.window import resolve


def _analyze(con, name="exp", **kw):
    return analyze(con, resolve(con, None, None), name, **kw)


def _rows(variants, users, success=None, latency=None, name="exp"):
    """Request rows from parallel lists (one request per entry)."""
    n = len(variants)
    return pl.DataFrame({
        "request_id": [f"{name}-{i}" for i in range(n)],
        "ts": [T0 + timedelta(seconds=i) for i in range(n)],
        "user_id": users,
        "experiment": [name] * n,
        "variant": variants,
        "status": ["ok"] * n,
        "success": success if success is not None else [None] * n,
        "latency_ms": latency if latency is not None else [1000.0] * n,
        "model": ["gpt-4o"] * n,
    }, schema_overrides={"ts": pl.Datetime("us", "UTC"), "success": pl.Boolean})


def _per_request_split(con, requests, users, share, seed):
    """Assignment per request: each request goes to control with probability ``share``."""
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(requests) < share, "control", "treatment").tolist()
    user = [f"u{i}" for i in rng.integers(0, users, requests)]
    insert(con, _rows(arm, user, (rng.random(requests) < 0.3).tolist()))


def test_srm_counts_requests_when_assignment_is_per_request_healthy_90_10(con):
    _per_request_split(con, 2000, 400, 0.9, seed=1)
    res = _analyze(con, by_user=True, split="90,10")
    assert res.assignment == "request" and res.unit == "user"
    assert res.srm.unit == "request" and sum(res.srm.observed) == 2000
    assert not res.srm.mismatch and res.verdict.kind != "invalid"


@pytest.mark.slow
def test_srm_catches_a_52_48_request_imbalance_with_every_user_in_both(con):
    _per_request_split(con, 20_000, 500, 0.52, seed=2)
    res = _analyze(con, by_user=True)
    assert res.srm.unit == "request"
    assert res.srm.p_value == pytest.approx(st.chisquare(res.srm.observed).pvalue, rel=1e-9)
    assert res.srm.mismatch and res.verdict.kind == "invalid"


def test_no_difference_is_never_certified_without_a_margin(con):
    users = [f"u{i}" for i in range(20)]
    insert(con, _rows(["control"] * 10 + ["treatment"] * 10, users, ([True] * 5 + [False] * 5) * 2))
    for by_user in (None, False, True):
        res = _analyze(con, by_user=by_user)
        assert res.verdict.kind == "inconclusive", res.verdict
        assert "--min-effect" in res.verdict.reason
    # With a margin the interval is inside, the absence of that large an effect is shown.
    assert _analyze(con, min_effect=0.95).verdict.kind == "no_difference"


@pytest.mark.slow
def test_no_winner_from_three_requests(con):
    variants = ["treatment"] * 3 + ["control"] * 1000
    success = [True] * 3 + [i < 300 for i in range(1000)]
    insert(con, _rows(variants, [f"u{i}" for i in range(1003)], success))
    for by_user in (None, False):
        res = _analyze(con, by_user=by_user, split="treatment=3,control=1000")
        assert res.verdict.kind == "inconclusive" and res.verdict.winner is None
        assert "too few" in res.verdict.reason
    # The comparison itself is still reported as it is.
    assert _analyze(con, by_user=False, split="3,1000").comparisons[0].significant


@pytest.mark.slow
def test_guardrails_are_their_own_holm_family(con):
    insert(con, experiment(users={"control": 400, "treatment": 400}, success={"control": 0.30, "treatment": 0.36},
                           latency_ms={"control": 1000.0, "treatment": 1000.0}, seed=3))
    alone = _analyze(con, n_resamples=200).comparisons[0]
    with_guardrails = _analyze(con, metrics=(Metric.success, Metric.latency_ms, Metric.cost_usd,
                                             Metric.input_tokens), n_resamples=200)
    primary = with_guardrails.comparisons[0]
    assert primary.metric == "success"
    assert primary.p_adjusted == pytest.approx(alone.p_adjusted) == pytest.approx(primary.p_value)
    assert with_guardrails.verdict.kind == "winner"


def test_variant_names_differing_in_blanks_or_case_are_one_variant(con):
    rng = np.random.default_rng(4)
    spellings = ["control", "control ", "Control", "treatment", " treatment"]
    variants = [spellings[i] for i in rng.integers(0, 5, 600)]
    variants += ["control"] * 100  # the most frequent spelling names the variant
    insert(con, _rows(variants, [f"u{i}" for i in range(700)], (rng.random(700) < 0.3).tolist()))
    res = _analyze(con, by_user=False)
    assert [v.variant for v in res.variants] == ["control", "treatment"]
    assert sum(v.requests for v in res.variants) == 700
    note = next(n for n in res.notes if "blanks or case" in n)
    assert "'Control'" in note and "'control '" in note
    assert _analyze(con, control=" CONTROL", split="Control=1, TREATMENT=1").control == "control"


def test_mann_whitney_on_exact_per_user_means(con):
    # Users whose latencies sum to the same value in a different float order: equal
    # means are a tie (0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1 in floating point).
    rng = np.random.default_rng(5)
    variants, users, latency = [], [], []
    for u in range(60):
        values = [0.1, 0.2, 0.3] if u % 2 else [0.3, 0.2, 0.1]
        if u % 3 == 0:
            values = [float(v) for v in rng.integers(1, 9, 3)]
        variants += ["control" if u < 30 else "treatment"] * 3
        users += [f"u{u}"] * 3
        latency += values
    insert(con, _rows(variants, users, latency=latency))
    res = _analyze(con, metrics=(Metric.latency_ms,), n_resamples=100)
    means = {}
    for v, u, x in zip(variants, users, latency, strict=True):
        means.setdefault((v, u), []).append(x)
    exact = {k: math.fsum(x) / len(x) for k, x in means.items()}
    xm = [m for (v, _), m in exact.items() if v == "treatment"]
    ym = [m for (v, _), m in exact.items() if v == "control"]
    ref = st.mannwhitneyu(xm, ym, alternative="two-sided")
    assert res.comparisons[0].mann_whitney_p == pytest.approx(ref.pvalue, abs=1e-9)
