"""Cost analyses: breakdown figures by hand, the unpriced bucket, reconcile, anomalies,
routing and budget gates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from aimon.analysis.cost import breakdown as breakdown_module
from aimon.analysis.cost.anomalies import anomalies
from aimon.analysis.cost.breakdown import breakdown
from aimon.analysis.cost.budget import check_budgets
from aimon.analysis.cost.common import By, parse_by, unpriced
from aimon.analysis.cost.reconcile import reconcile
from aimon.analysis.cost.routing import routing, routing_settings
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError
from aimon.store.prices import parse_user_prices, refresh_prices
from tests.costing import add

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ALL = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
USER = parse_user_prices({"models": {
    "big": {"input_mtok": 10.0, "output_mtok": 20.0, "cache_read_mtok": 1.0},
    "small": {"input_mtok": 1.0, "output_mtok": 2.0},
}}, "test.toml")


def load(con, *rows):
    add(con, *rows)
    refresh_prices(con, USER)


def test_breakdown_by_model_by_hand(con):
    load(con,
         {"model": "big", "provider": "x", "user_id": "u1", "input_tokens": 1000, "cached_input_tokens": 500,
          "output_tokens": 100},                                                     # 5000+500+2000 = 0.0075
         {"model": "big", "provider": "x", "user_id": "u2", "input_tokens": 1000, "output_tokens": 0,
          "cost_usd": 0.02},                                                          # logged
         {"model": "big", "provider": "x", "user_id": "u1", "cache_hit": True, "input_tokens": 0,
          "output_tokens": 0, "ts": T0 + timedelta(days=1)},                          # a response-cache hit
         {"model": "small", "provider": "x", "user_id": "u1", "input_tokens": 1000, "output_tokens": 500},
         {"model": "mystery", "provider": "x", "input_tokens": 70, "output_tokens": 30})
    b = breakdown(con, ALL, [By.model])
    g = {r["model"]: r for r in b.groups.to_dicts()}
    big = g["big"]
    assert big["requests"] == 3
    assert big["cost_usd"] == pytest.approx(0.0075 + 0.02 + 0.0)
    assert (big["logged_cost_usd"], big["computed_cost_usd"]) == (pytest.approx(0.02), pytest.approx(0.0075))
    assert big["cost_source"] == "mixed"
    assert big["mean_cost_usd"] == pytest.approx((0.0075 + 0.02) / 3)
    assert big["p95_cost_usd"] == pytest.approx(float(np.quantile([0.0075, 0.02, 0.0], 0.95)))
    # u1 on 11-02, u2 on 11-02, u1 on 11-03: three user-days
    assert big["cost_per_user_day_usd"] == pytest.approx(0.0275 / 3)
    assert big["token_efficiency"] == pytest.approx(100 / 2000)
    assert big["cache_hit_rate"] == pytest.approx(1 / 3)
    assert big["cache_read_saving_usd"] == pytest.approx(500 * (10.0 - 1.0) / 1e6)
    # the hit logged no tokens: valued at the mean cost of the model and endpoint's other requests
    assert big["cache_hit_saving_usd"] == pytest.approx((0.0075 + 0.02) / 2)
    assert big["cache_hits_estimated"] == 1
    small = g["small"]
    assert small["cost_usd"] == pytest.approx((1000 * 1 + 500 * 2) / 1e6) and small["cost_source"] == "computed"
    mystery = g["mystery"]
    assert mystery["cost_usd"] is None and mystery["cost_source"] == "unpriced"
    assert (mystery["unpriced_requests"], mystery["unpriced_input_tokens"]) == (1, 70)
    total = 0.0275 + 0.002
    assert b.totals["cost_usd"] == pytest.approx(total)
    assert big["share_of_cost"] == pytest.approx(0.0275 / total)
    assert b.totals["unpriced_requests"] == 1
    assert b.unpriced.to_dicts()[0]["model"] == "mystery"
    assert "does not know" in b.unpriced.to_dicts()[0]["reason"]
    assert list(b.groups["model"]) == ["big", "small", "mystery"]  # by cost, unpriced last


def test_breakdown_by_several_keys_and_day_in_the_session_zone(con):
    load(con, {"model": "small", "endpoint": "/a", "ts": datetime(2026, 11, 2, 23, 30, tzinfo=UTC)},
         {"model": "small", "endpoint": "/b", "ts": datetime(2026, 11, 3, 0, 30, tzinfo=UTC)})
    b = breakdown(con, ALL, parse_by("day,endpoint"))
    assert b.by == ("day", "endpoint")
    assert [(str(r["day"]), r["endpoint"]) for r in b.groups.to_dicts()] == [("2026-11-02", "/a"), ("2026-11-03", "/b")]
    con.execute("SET TimeZone = 'America/New_York'")
    b = breakdown(con, ALL, parse_by("day"))
    assert [str(d) for d in b.groups["day"]] == ["2026-11-02"]


def test_breakdown_every_key_and_bad_keys(con):
    load(con, {"model": "small", "prompt_version": "p1", "variant": "B"})
    for by in By:
        assert breakdown(con, ALL, [by]).groups.height == 1
    with pytest.raises(UsageError, match="choose from"):
        parse_by("model,colour")
    with pytest.raises(UsageError):
        breakdown(con, ALL, [])


def test_breakdown_of_an_empty_window(con):
    load(con, {"model": "small"})
    empty = breakdown(con, Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)),
                           [By.model])
    assert empty.groups.is_empty() and empty.totals["requests"] == 0


def test_reconcile_finds_rows_off_by_more_than_one_percent(con):
    exact = (1000 * 10 + 100 * 20) / 1e6
    load(con, {"model": "big", "cost_usd": exact},
         {"model": "big", "cost_usd": exact * 1.005},
         {"model": "big", "cost_usd": exact * 2},
         {"model": "mystery", "cost_usd": 1.0})
    r = reconcile(con, ALL)
    assert r.summary["compared"] == 3 and r.summary["mismatched"] == 1
    assert r.summary["logged_only"] == 1
    assert r.rows.to_dicts()[0]["request_id"] == "r3"
    assert r.rows.to_dicts()[0]["difference_ratio"] == pytest.approx(1.0)
    assert reconcile(con, ALL, tolerance=0.001).summary["mismatched"] == 2
    with pytest.raises(UsageError):
        reconcile(con, ALL, tolerance=5)


def _day_of_traffic(day: datetime, user: str, per_hour: int, model: str = "small") -> list[dict]:
    return [{"model": model, "user_id": user, "endpoint": "/e", "ts": day + timedelta(hours=h, minutes=m)}
            for h in range(24) for m in range(per_hour)]


def test_anomalies_hot_hour_and_user_jump(con):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    for d in range(10):
        rows += _day_of_traffic(start + timedelta(days=d), "steady", 2)
    # day 8: one user's loop burns 300 big requests in one hour
    loop = start + timedelta(days=8, hours=3)
    rows += [{"model": "big", "user_id": "looper", "endpoint": "/e", "ts": loop + timedelta(seconds=10 * i),
              "input_tokens": 20000, "output_tokens": 100} for i in range(300)]
    rows += [{"model": "small", "user_id": "looper", "endpoint": "/e", "ts": start + timedelta(days=d, hours=12)}
             for d in range(8)]
    load(con, *rows)
    a = anomalies(con, ALL, entities=("user", "endpoint"))
    top = a.hours.to_dicts()[0]
    assert top["hour"] == loop
    day_cost = 300 * (20000 * 10 + 100 * 20) / 1e6 + 48 * 2 * (1000 * 1 + 100 * 2) / 1e6 \
        + (1000 * 1 + 100 * 2) / 1e6 * 0
    assert top["ratio_to_day_avg"] > 1.5
    assert top["day_hourly_avg_usd"] == pytest.approx(day_cost / 24, rel=0.01)
    users = a.jumps["user"].to_dicts()
    assert [(u["user_id"], str(u["day"])) for u in users] == [("looper", "2026-11-09")]
    assert users[0]["baseline_usd"] == pytest.approx((1000 * 1 + 100 * 2) / 1e6)
    assert a.jumps["endpoint"].height == 1
    with pytest.raises(UsageError):
        anomalies(con, ALL, entities=("planet",))


def test_routing_saving_with_the_assumption(con):
    rows = [{"model": "small", "prompt": "hi there", "input_tokens": 100, "output_tokens": 10}] * 10
    rows += [{"model": "big", "prompt": "what time is it", "input_tokens": 100, "output_tokens": 10}] * 4
    rows += [{"model": "big", "prompt": "explain why the sky is blue", "input_tokens": 100, "output_tokens": 10}]
    rows += [{"model": "big", "prompt": "```python\nprint(1)\n```", "input_tokens": 100, "output_tokens": 10}]
    load(con, *[{**r, "request_id": f"q{i}"} for i, r in enumerate(rows)])
    window = Window(T0 - timedelta(days=15), T0 + timedelta(days=15))  # 30 days
    r = routing(con, window)
    assert r.cheapest_model == "small" and r.expensive_models == ("big",)
    assert r.summary["simple_requests"] == 4 and r.summary["expensive_requests"] == 6
    saving = 4 * ((100 * 10 + 10 * 20) - (100 * 1 + 10 * 2)) / 1e6
    assert r.summary["saving_usd"] == pytest.approx(saving)
    assert r.summary["monthly_saving_usd"] == pytest.approx(saving)
    assert "cheapest model in use" in r.assumption
    # configurable: no reasoning words makes "explain why ..." simple; 3 words leaves nothing simple
    looser = routing(con, window, routing_settings({"reasoning_words": ["zebra"]}, {}))
    assert looser.summary["simple_requests"] == 5
    stricter = routing(con, window, routing_settings({}, {"max_words": 3}))
    assert stricter.summary["simple_requests"] == 0
    assert routing_settings({}, {"max_words": 3}).max_words == 3
    with pytest.raises(UsageError):
        routing_settings({"colour": 1}, {})


def test_budget_gates(con):
    load(con, *[{"model": "small", "ts": datetime(2026, 11, 1, 12, tzinfo=UTC) + timedelta(days=d),
                 "input_tokens": 1_000_000, "output_tokens": 0} for d in range(5)],
         {"model": "mystery", "ts": datetime(2026, 11, 3, tzinfo=UTC)})
    window = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC))
    ok = check_budgets(con, window, daily_budget=2.0, monthly_budget=10.0)
    assert ok.breaches == ()
    assert "forecast checks skipped" in ok.notes[0]
    bad = check_budgets(con, window, daily_budget=0.5, monthly_budget=3.0, fail_on_unpriced=True)
    assert len(bad.breaches) == 5 + 1 + 1
    assert bad.breaches[0] == "daily budget $0.50 exceeded on 2026-11-01: $1.00 spent"
    assert any(b.startswith("monthly budget $3.00 exceeded in 2026-11") for b in bad.breaches)
    assert bad.breaches[-1].startswith("1 unpriced request(s)")
    with pytest.raises(UsageError, match="nothing to check"):
        check_budgets(con, window)


def test_large_window_path_estimates_close_to_the_exact_figures(con, monkeypatch):
    # Over EXACT_USER_DAYS_ROWS the breakdown counts user-days by HyperLogLog and takes the
    # total's P95 from a sampled t-digest: both must land near the exact figures.
    con.execute("""
        INSERT INTO _aimon_requests (request_id, ts, user_id, provider, model, input_tokens, output_tokens,
                              status, source_format, ingested_at)
        SELECT 'q' || i, TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_microseconds(i * 97_000_003),
               'u' || (i % 300), 'acme', CASE WHEN i % 3 = 0 THEN 'big' ELSE 'small' END,
               100 + (i * 7919) % 5000, 10 + (i * 104729) % 900, 'ok', 'flat', now()
        FROM range(12000) t(i)""")
    refresh_prices(con, USER)
    exact = breakdown(con, ALL, [By.model]).totals
    monkeypatch.setattr(breakdown_module, "EXACT_USER_DAYS_ROWS", 0)
    approx = breakdown(con, ALL, [By.model])
    assert approx.totals["cost_usd"] == pytest.approx(exact["cost_usd"])
    assert approx.totals["p95_cost_usd"] == pytest.approx(exact["p95_cost_usd"], rel=0.05)
    assert approx.totals["cost_per_user_day_usd"] == pytest.approx(exact["cost_per_user_day_usd"], rel=0.05)
    assert any("HyperLogLog" in n for n in approx.notes)


def test_unpriced_bucket_catches_every_kind(con):
    # The bucket skips pairs priced at all times; everything else must still be found:
    # a model with no price, a provider the snapshot has not seen for a priced model, a
    # request before a prices file's first period, and a priced request without tokens.
    user = parse_user_prices({"models": {
        "big": {"input_mtok": 10.0, "output_mtok": 20.0},
        "later": {"periods": [{"valid_from": datetime(2026, 11, 3).date(), "input_mtok": 1.0,
                               "output_mtok": 2.0}]},
    }}, "test.toml")
    add(con, {"provider": "acme", "model": "big"},
        {"provider": "acme", "model": "mystery"},
        {"provider": "acme", "model": "later", "ts": T0},
        {"provider": "acme", "model": "later", "ts": T0 + timedelta(days=2)},
        {"provider": "acme", "model": "big", "input_tokens": None, "output_tokens": None})
    refresh_prices(con, user)
    add(con, {"provider": "other", "model": "big"})  # loaded after the snapshot
    frame = unpriced(con, ALL)
    found = {(r["provider"], r["model"]): (r["requests"], r["reason"]) for r in frame.to_dicts()}
    assert found == {
        ("acme", "mystery"): (1, found[("acme", "mystery")][1]),
        ("acme", "later"): (1, "no price in force at these times"),
        ("acme", "big"): (1, "no token counts logged"),
        ("other", "big"): (1, "not in the price snapshot (run: aimon cost prices --refresh)"),
    }
    assert "no price" in found[("acme", "mystery")][1]
    totals = breakdown(con, ALL, [By.model]).totals
    assert totals["unpriced_requests"] == 4
    assert totals["cost_usd"] == pytest.approx((1000 * 10.0 + 100 * 20.0 + 1000 * 1.0 + 100 * 2.0) / 1e6)


def test_a_zero_token_error_of_an_unpriced_model_is_unpriced_not_free(con):
    # Issue 14 item 6: every request of a model no price covers is unpriced; the group's
    # cost is unknown (null), never a computed $0 from its failed calls.
    load(con,
         {"model": "mystery", "provider": "x", "input_tokens": 70, "output_tokens": 30},
         {"model": "mystery", "provider": "x", "status": "error",
          "input_tokens": 0, "output_tokens": 0},
         {"model": "small", "provider": "x", "status": "error",
          "input_tokens": 0, "output_tokens": 0})
    assert con.execute("SELECT model, computed_cost_usd, cost_source FROM _aimon_requests "
                       "ORDER BY model, computed_cost_usd").fetchall() == [
        ("mystery", None, "unpriced"), ("mystery", None, "unpriced"), ("small", 0.0, "computed")]
    g = {r["model"]: r for r in breakdown(con, ALL, [By.model]).groups.to_dicts()}
    mystery = g["mystery"]
    assert (mystery["cost_usd"], mystery["cost_source"], mystery["mean_cost_usd"], mystery["p95_cost_usd"]) == (
        None, "unpriced", None, None)
    assert mystery["unpriced_requests"] == 2


@pytest.mark.parametrize("max_words", [1, 3, 20, 1001, 1002])
def test_routing_word_count_is_the_split_count(con, max_words):
    """The word test gives up reading early, yet counts exactly what
    len(string_split_regex(trim(prompt), '\\s+')) counts: trim() drops only spaces, runs of
    any whitespace separate words, a leading tab or newline makes an empty first word."""
    from aimon.analysis.cost.routing import RoutingSettings

    texts = ["", " ", "   ", "a", " a ", "a b", "a  b", "a\tb", "a\nb ", "\ta", "\n a", "a \n", " \t ", "a b c",
             "a b c ", " a b c", "a\u00a0b", "héllo wörld", "a\r\nb\r\nc", "a b c d", "\ta b", "a b\t",
             " ".join(["w"] * 1001), " ".join(["w"] * 1002), " ".join(["w"] * 1003), "x " * 1001]
    short, params = RoutingSettings(max_words=max_words).short_test()
    got = con.execute(f"SELECT prompt, {short} FROM (SELECT unnest($texts) AS prompt)",
                      {**params, "texts": texts}).fetchall()
    want = con.execute("SELECT prompt, len(string_split_regex(trim(prompt), '\\s+')) <= $n "
                       "FROM (SELECT unnest($texts) AS prompt)", {"texts": texts, "n": max_words}).fetchall()
    assert got == want
    assert any(ok for _, ok in got) and (max_words > 1000 or not all(ok for _, ok in got))


def test_routing_reasoning_words_match_in_any_case_as_lowercased_text_would(con):
    """The reasoning test matches case-insensitively instead of lower-casing each prompt
    (a copy of it): the verdicts must be those of matching the lower-cased prompt."""
    from aimon.analysis.cost.routing import ROUTING_SQL, RoutingSettings

    assert "regexp_matches(prompt, $reasoning, 'i')" in ROUTING_SQL
    pattern = RoutingSettings(reasoning_words=("explain why", "Évalue", "warum", "step by step")).reasoning_pattern()
    texts = ["EXPLAIN WHY it rains", "Explain   why", "explain whyever", "ÉVALUE ceci", "évalue", "WARUM nicht",
             "Step By Step please", "stepbystep", "Ünïcödé only", "", "why"]
    got = con.execute("SELECT t, regexp_matches(t, $p, 'i') FROM (SELECT unnest($texts) AS t)",
                      {"texts": texts, "p": pattern}).fetchall()
    want = con.execute("SELECT t, regexp_matches(lower(t), $p) FROM (SELECT unnest($texts) AS t)",
                       {"texts": texts, "p": pattern}).fetchall()
    assert got == want and sum(ok for _, ok in got) == 3
