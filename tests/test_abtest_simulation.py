"""The A/B verdict's error rates by simulation on production-shaped A/A traffic (issue 17).

Experiments come from tests/abtest_sim.py (per-user assignment, lognormal requests per
user, intra-user correlation 0.05-0.2, 30-1,000 users per arm) and go through
``abtest.analyze`` on an in-memory database, with the defaults a user gets. A "false
winner" is any verdict of kind ``winner`` (a variant, or control when every variant is
worse). The full runs (200 experiments each) are marked slow; the quick loop runs a
smaller version of the clustered case. Figures: docs/abtest.md.
"""

from __future__ import annotations

import json

import abtest_sim
import pytest
from planted_logs import insert

from aimon.analysis.abtest.analyze import analyze
from aimon.analysis.toolkit.window import resolve
from aimon.store.connection import connect


def _false_winners(shape: abtest_sim.Shape, runs: int, seed: int, **kw) -> tuple[int, int]:
    con = connect(":memory:", write=True)
    try:
        insert(con, abtest_sim.experiments(runs, shape, seed=seed))
        window = resolve(con, None, None)
        winners = significant = 0
        for i in range(runs):
            res = analyze(con, window, f"aa-{i}", n_resamples=200, **kw)
            winners += res.verdict.kind == "winner"
            significant += res.comparisons[0].significant
        return winners, significant
    finally:
        con.close()


@pytest.mark.slow
def test_clustered_a_a_quick():
    winners, _ = _false_winners(abtest_sim.Shape(users_high=200), 24, seed=7)
    assert winners <= 3  # 12% of 24; the per-request analysis names 8 winners on these


@pytest.mark.slow
def test_clustered_a_a_false_winner_rate_at_most_7_percent():
    winners, _ = _false_winners(abtest_sim.Shape(), 200, seed=1)
    assert winners / 200 <= 0.07


@pytest.mark.slow
def test_independent_traffic_stays_near_5_percent():
    shape = abtest_sim.Shape(per_request=True, icc_low=0.0, icc_high=0.0)
    _, significant = _false_winners(shape, 200, seed=2)
    assert 0.02 <= significant / 200 <= 0.08


@pytest.mark.slow
def test_by_user_size_at_30_users_per_arm_with_heavy_tails():
    shape = abtest_sim.Shape(users_low=30, users_high=30, requests_sigma=1.5)
    _, significant = _false_winners(shape, 200, seed=3, by_user=True)
    assert significant / 200 <= 0.07


def test_cli_default_on_clustered_a_a_names_no_winner(cli, db_path):
    # The example: 60 users, 30 per arm, 60 requests each, propensity ~ Beta(1, 2).
    shape = abtest_sim.Shape(users_low=30, users_high=30, requests_median=60, requests_sigma=0.0,
                             icc_low=0.25, icc_high=0.25)
    con = connect(db_path, write=True)
    insert(con, abtest_sim.experiments(5, shape, seed=11))
    con.close()
    for i in range(5):
        res = cli("abtest", "analyze", "-e", f"aa-{i}", "--db", db_path, "--format", "json",
                  "--fail-on", "no-winner,srm")
        assert res.exit_code == 1, res.output  # the gate fails: no winner, and no SRM line
        data = json.loads(res.stdout)
        assert data["unit"] == "user" and data["verdict"]["kind"] != "winner"
        assert "no winning variant" in res.stderr and "sample ratio" not in res.stderr
