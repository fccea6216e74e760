"""The metric modules: latency, errors, traffic, feedback; splits; 95% intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from aimon.analysis.metrics import error_rates as errors
from aimon.analysis.metrics import feedback, latency, traffic
from aimon.analysis.toolkit.dimensions import Split, parse_splits
from aimon.analysis.toolkit.intervals import proportion, wilson
from aimon.analysis.toolkit.window import Window
from tests.reportdata import add_feedback_for, add_requests

DAY = Window(datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))


@pytest.mark.parametrize(("k", "n"), [(0, 20), (1, 20), (5, 100), (50, 100), (99, 100), (100, 100), (3, 7)])
def test_wilson_matches_statsmodels(k, n):
    low, high = wilson(k, n)
    ref = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(ref[0], abs=1e-12)
    assert high == pytest.approx(ref[1], abs=1e-12)


@pytest.mark.parametrize("n", [1, 7, 2000, 1_000_000])
def test_wilson_is_exact_at_the_ends(n):
    # "0 of n failed" printed a lower bound of 1.38778e-17 in validate's JSON.
    import polars as pl

    from aimon.analysis.toolkit.intervals import wilson_exprs

    assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0
    frame = pl.DataFrame({"k": [0, n], "n": [n, n]}).with_columns(wilson_exprs("k", "n", "rate"))
    assert frame["rate_low"][0] == 0.0 and frame["rate_high"][1] == 1.0


def test_proportion_of_nothing_has_no_interval():
    p = proportion(0, 0)
    assert (p.rate, p.low, p.high) == (None, None, None)


def test_latency_percentiles_and_generation_speed(con):
    # latency 1000..1900 ms (step 100), TTFT 200 ms, 90 output tokens of which 30 reasoning.
    add_requests(con, "2026-11-10 09:00:00+00", minutes=10, per_minute=10, latency=1000, latency_step=100,
                 ttft=200, output_tokens=90, reasoning_tokens=30)
    add_requests(con, "2026-11-10 10:00:00+00", minutes=1, per_minute=10, prefix="e", error_every=1,
                 latency=5)  # errors: not in the percentiles
    row = latency.latency(con, DAY).table.row(0, named=True)
    values = np.array([1000 + (i % 10) * 100 for i in range(100)], dtype=float)
    assert row["requests"] == 110
    assert row["latency_p50_ms"] == pytest.approx(np.percentile(values, 50))
    assert row["latency_p95_ms"] == pytest.approx(np.percentile(values, 95))
    assert row["latency_p99_ms"] == pytest.approx(np.percentile(values, 99))
    assert row["ttft_p95_ms"] == pytest.approx(200)
    # Visible tokens (90 - 30 reasoning) over generation time in ms (latency - TTFT), not whole seconds.
    gen_s = (values - 200) / 1000
    assert row["tokens_per_s"] == pytest.approx(60 * 100 / gen_s.sum())
    assert row["tokens_per_s_p50"] == pytest.approx(np.median(60 / gen_s))


def test_generation_speed_uses_milliseconds_below_a_second(con):
    add_requests(con, "2026-11-10 09:00:00+00", minutes=1, per_minute=1, latency=450, ttft=200, output_tokens=50)
    row = latency.latency(con, DAY).table.row(0, named=True)
    assert row["tokens_per_s"] == pytest.approx(50 / 0.25)


def test_every_metric_splits_by_every_dimension(con):
    add_requests(con, "2026-11-10 09:00:00+00", minutes=5, per_minute=4, prefix="a", model="m-a", endpoint="/a",
                 prompt_version="p1", variant="control", tier="free", error_every=4)
    add_requests(con, "2026-11-10 09:00:00+00", minutes=5, per_minute=2, prefix="b", model="m-b", endpoint="/b",
                 prompt_version="p2", variant="treatment", tier="pro")
    for split in Split:
        for frame in (latency.latency(con, DAY, [split]).table, errors.error_rates(con, DAY, [split]),
                      traffic.traffic_table(con, DAY, [split]), feedback.feedback_table(con, DAY, [split])):
            assert frame[split.value].sort().to_list() == sorted(
                {"model": ["m-a", "m-b"], "endpoint": ["/a", "/b"], "prompt_version": ["p1", "p2"],
                 "variant": ["control", "treatment"], "user_tier": ["free", "pro"]}[split.value])
    rates = errors.error_rates(con, DAY, [Split.model, Split.endpoint]).sort("model")
    assert rates["errors"].to_list() == [5, 0]
    assert rates["error_rate"][0] == pytest.approx(5 / 20)
    low, high = proportion_confint(5, 20, method="wilson")
    assert (rates["error_rate_low"][0], rates["error_rate_high"][0]) == (pytest.approx(low), pytest.approx(high))


def test_splits_come_from_an_enum():
    assert parse_splits("model, endpoint") == (Split.model, Split.endpoint)
    with pytest.raises(ValueError, match="cannot split by 'prompt; DROP TABLE requests'"):
        parse_splits("prompt; DROP TABLE requests")


def test_missing_split_values_are_counted_as_none(con):
    add_requests(con, "2026-11-10 09:00:00+00", minutes=1, per_minute=3, variant=None)
    frame = errors.error_rates(con, DAY, [Split.variant])
    assert frame["variant"].to_list() == ["(none)"]
    assert frame["requests"].to_list() == [3]


def test_top_errors_and_shares(con):
    add_requests(con, "2026-11-10 09:00:00+00", minutes=10, per_minute=10, prefix="a", error_every=10,
                 error_type="timeout")
    add_requests(con, "2026-11-10 09:00:00+00", minutes=10, per_minute=3, prefix="b", error_every=1,
                 error_type="rate_limit")
    top = errors.top_errors(con, DAY)
    assert top["error_type"].to_list() == ["rate_limit", "timeout"]
    assert top["errors"].to_list() == [30, 10]
    assert top["share"].to_list() == [pytest.approx(0.75), pytest.approx(0.25)]


def test_requests_per_minute_and_gaps(con):
    add_requests(con, "2026-11-10 09:00:00+00", minutes=30, per_minute=4)
    add_requests(con, "2026-11-10 10:00:00+00", minutes=30, per_minute=2, prefix="late")
    t = traffic.traffic_table(con, DAY).row(0, named=True)
    assert t["requests"] == 180
    assert t["requests_per_minute"] == pytest.approx(180 / 1440)
    assert t["peak_requests_per_minute"] == 4
    assert t["active_users"] == 10
    gaps = traffic.gaps(con, DAY, timedelta(minutes=10))
    # Only the hole inside the data: not the night before the first request or after the last.
    assert gaps.height == 1
    assert gaps["gap_start"][0] == datetime(2026, 11, 10, 9, 29, 45, tzinfo=UTC)
    assert gaps["gap_end"][0] == datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
    assert gaps["minutes"][0] == pytest.approx(30.25)


def test_feedback_rates_with_intervals(con):
    add_requests(con, "2026-11-10 09:00:00+00", minutes=10, per_minute=10)  # r0 .. r99
    add_feedback_for(con, [f"r{i}" for i in range(30)], "thumbs_up")
    add_feedback_for(con, [f"r{i}" for i in range(30, 40)], "thumbs_down")
    add_feedback_for(con, [f"r{i}" for i in range(40, 44)], "report", category="incorrect")
    add_feedback_for(con, ["r44"], "report", category="harmful")
    add_feedback_for(con, [f"r{i}" for i in range(50, 55)], "regenerated")
    add_feedback_for(con, [f"r{i}" for i in range(55, 75)], "copied_response")
    add_feedback_for(con, [f"r{i}" for i in range(75, 78)], "edited_output")
    # A duplicate click is one vote; feedback about a request outside the window is not counted.
    con.execute("INSERT INTO feedback (feedback_id, request_id, ts, feedback_type, ingested_at) VALUES "
                "('dup', 'r0', '2026-11-10 09:30:00+00', 'thumbs_up', now()), "
                "('other', 'nope', '2026-11-10 09:30:00+00', 'thumbs_down', now())")
    row = feedback.feedback_table(con, DAY).row(0, named=True)
    assert (row["requests"], row["thumbs_up"], row["thumbs_down"], row["votes"]) == (100, 30, 10, 40)
    assert row["satisfaction"] == pytest.approx(0.75)
    assert row["thumbs_ratio"] == pytest.approx(3.0)
    assert row["nps"] == pytest.approx((30 - 10) / 40)
    low, high = proportion_confint(30, 40, method="wilson")
    assert row["nps_low"] == pytest.approx(2 * low - 1)
    assert row["nps_high"] == pytest.approx(2 * high - 1)
    assert row["thumbs_down_rate"] == pytest.approx(0.25)
    assert row["report_rate"] == pytest.approx(5 / 100)
    assert (row["regenerated_rate"], row["copied_rate"], row["edited_rate"]) == (
        pytest.approx(0.05), pytest.approx(0.20), pytest.approx(0.03))
    low, high = proportion_confint(20, 100, method="wilson")
    assert (row["copied_rate_low"], row["copied_rate_high"]) == (pytest.approx(low), pytest.approx(high))
    cats = feedback.report_categories(con, DAY)
    assert cats["category"].to_list() == ["incorrect", "harmful"]
    assert cats["reports"].to_list() == [4, 1]
    assert cats["report_rate"][0] == pytest.approx(0.04)


def test_inline_feedback_counts_and_splits_follow_the_request(con):
    add_requests(con, "2026-11-10 09:00:00+00", minutes=1, per_minute=4, prefix="a", model="m-a",
                 inline_feedback="👍")
    add_requests(con, "2026-11-10 09:00:00+00", minutes=1, per_minute=2, prefix="b", model="m-b",
                 inline_feedback="thumbs_down")
    frame = feedback.feedback_table(con, DAY, [Split.model]).sort("model")
    assert frame["thumbs_up"].to_list() == [4, 0]
    assert frame["thumbs_down"].to_list() == [0, 2]
    assert frame["satisfaction"].to_list() == [1.0, 0.0]


def test_a_day_reads_the_newest_request_only_when_the_text_needs_it():
    # The daily report passes the newest day as a function: an ISO --date (the cron
    # case) needs no query for it (start-up, issue 16 item 8).
    from datetime import date

    from aimon.analysis.toolkit.window import parse_day

    asked = []

    def newest():
        asked.append(1)
        return date(2026, 11, 14)

    assert parse_day("2026-11-10", newest) == date(2026, 11, 10) and not asked
    assert parse_day(None, newest) == parse_day("latest", newest) == date(2026, 11, 14)
    assert parse_day("2d", newest) == date(2026, 11, 12) == parse_day("2d", date(2026, 11, 14))
    assert len(asked) == 3
