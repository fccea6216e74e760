"""The cost forecast by simulation (issue 17): the 80% interval of the 28-day total
covers the truth in 70-90% of runs, and the central forecast is never worse than the
naive method by more than 2 points of MAPE, on trend + weekly + noise, flat, and
level-shift histories (tests/forecast_sim.py). Figures: docs/cost.md."""

from __future__ import annotations

import forecast_sim
import numpy as np
import pytest

from aimon.analysis.forecast.model import fit


def test_a_level_shift_is_found_where_it_is_and_not_in_a_flat_series():
    found = []
    for seed in range(10):
        days, cost, _ = forecast_sim.series("shift", seed)
        found.append((fit(days, cost).shift - days[0]).days)
        flat_days, flat_cost, _ = forecast_sim.series("flat", seed)
        assert fit(flat_days, flat_cost).shift is None
        trend_days, trend_cost, _ = forecast_sim.series("trend", seed)
        assert fit(trend_days, trend_cost).shift is None
    assert all(abs(k - 2 * forecast_sim.HISTORY // 3) <= 2 for k in found), found


@pytest.mark.slow
def test_after_a_level_shift_quick():
    res = forecast_sim.run("shift", 20, seed0=100)
    assert 0.6 <= res["coverage80"] <= 0.95  # the straight line through the shift covered 30%
    assert res["mape"] <= res["naive_mape"] + 0.02


@pytest.mark.slow
@pytest.mark.parametrize("family", ["trend", "flat", "shift"])
def test_interval_coverage_and_mape_against_naive(family):
    res = forecast_sim.run(family, 100, seed0=1000)
    assert 0.70 <= res["coverage80"] <= 0.90, res
    assert res["mape"] <= res["naive_mape"] + 0.02, res
    assert np.isfinite(res["mape"])
