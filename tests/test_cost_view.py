"""The request_costs view: every request's effective cost, checked by hand and against
genai-prices' own calculation."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from aimon.store.prices import parse_user_prices, refresh_prices
from tests.costing import add, cost_of

NOV = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def priced(con, *rows, user=None):
    add(con, *rows)
    refresh_prices(con, user)


def test_view_has_the_contract_columns(con):
    cols = [(r[0], r[1]) for r in con.execute("DESCRIBE request_costs").fetchall()]
    assert cols[:4] == [("request_id", "VARCHAR"), ("ts", "TIMESTAMP WITH TIME ZONE"),
                        ("cost_usd", "DOUBLE"), ("cost_source", "VARCHAR")]


def test_openai_uncached(con):
    priced(con, {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100})
    cost, source = cost_of(con, "r1")
    assert source == "computed"
    assert cost == pytest.approx((1000 * 2.50 + 100 * 10.00) / 1e6)


def test_openai_cached_tokens_are_a_subset_of_input_billed_at_the_cache_price(con):
    priced(con, {"model": "gpt-4o", "input_tokens": 1000, "cached_input_tokens": 400,
                 "output_tokens": 100})
    # 600 uncached at $2.50, 400 cached at $1.25, 100 out at $10 (never 1000 + 400 input)
    assert cost_of(con, "r1")[0] == pytest.approx((600 * 2.50 + 400 * 1.25 + 100 * 10.00) / 1e6)


def test_reasoning_tokens_are_output_and_not_counted_twice(con):
    priced(con, {"model": "o3-mini", "input_tokens": 500, "output_tokens": 2000,
                 "reasoning_tokens": 1500})
    assert cost_of(con, "r1")[0] == pytest.approx((500 * 1.10 + 2000 * 4.40) / 1e6)


def test_anthropic_cache_reads_and_writes_at_their_own_prices(con):
    # Anthropic logs input 200 + cache_read 500 + cache_creation 300; canonical input is all 1000.
    priced(con, {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 1000,
                 "cached_input_tokens": 500, "cache_write_tokens": 300, "output_tokens": 100})
    expected = (200 * 3.00 + 500 * 0.30 + 300 * 3.75 + 100 * 15.00) / 1e6
    assert cost_of(con, "r1")[0] == pytest.approx(expected)


def test_anthropic_dated_name_resolves_like_genai_prices(con):
    priced(con, {"provider": "anthropic", "model": "claude-3-5-haiku-20241022", "input_tokens": 2000,
                 "cached_input_tokens": 1000, "output_tokens": 300})
    assert cost_of(con, "r1")[0] == pytest.approx((1000 * 0.80 + 1000 * 0.08 + 300 * 4.00) / 1e6)


def test_dated_openai_name_and_provider_prefix_and_missing_provider(con):
    priced(con,
           {"model": "gpt-4o-2024-08-06", "input_tokens": 1000, "output_tokens": 0},
           {"provider": None, "model": "openai/gpt-4o-mini", "input_tokens": 1000, "output_tokens": 0},
           {"provider": None, "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 0})
    assert cost_of(con, "r1")[0] == pytest.approx(1000 * 2.50 / 1e6)
    assert cost_of(con, "r2")[0] == pytest.approx(1000 * 0.15 / 1e6)
    assert cost_of(con, "r3")[0] == pytest.approx(1000 * 0.15 / 1e6)


def test_logged_cost_wins_and_is_labelled(con):
    priced(con, {"cost_usd": 0.5})
    assert cost_of(con, "r1") == (0.5, "logged")
    computed = con.execute("SELECT computed_cost_usd FROM request_costs").fetchone()[0]
    assert computed == pytest.approx((1000 * 2.50 + 100 * 10.00) / 1e6)


def test_unknown_model_is_unpriced_never_zero(con):
    priced(con, {"provider": "self-hosted", "model": "acme-llama-70b-ft"},
           {"model": None})
    assert cost_of(con, "r1") == (None, "unpriced")
    assert cost_of(con, "r2") == (None, "unpriced")


def test_no_token_counts_is_unpriced(con):
    priced(con, {"input_tokens": None, "output_tokens": None})
    assert cost_of(con, "r1") == (None, "unpriced")


def test_response_cache_hit_without_logged_cost_costs_nothing(con):
    priced(con, {"cache_hit": True})
    assert cost_of(con, "r1") == (0.0, "computed")
    token = con.execute("SELECT token_cost_usd FROM request_costs").fetchone()[0]
    assert token == pytest.approx(0.0035)


def test_price_change_mid_window_prices_each_side_at_its_own_price(con):
    user = parse_user_prices({"models": {"acme-large": {
        "input_mtok": 3.0, "output_mtok": 15.0,
        "periods": [{"valid_from": datetime(2025, 6, 1).date(), "input_mtok": 2.0, "output_mtok": 10.0}],
    }}}, "aimon.toml")
    priced(con,
           {"provider": "acme", "model": "acme-large", "ts": datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC)},
           {"provider": "acme", "model": "acme-large", "ts": datetime(2025, 6, 1, 0, 0, 0, tzinfo=UTC)},
           user=user)
    assert cost_of(con, "r1") == (pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6), "computed")
    assert cost_of(con, "r2") == (pytest.approx((1000 * 2.0 + 100 * 10.0) / 1e6), "computed")


def test_genai_prices_history_is_not_repriced_at_todays_price(con):
    # genai-prices' batch discount for gpt-4o-mini starts 2026-10-14: a batch request
    # before that date pays the standard price, one after it half.
    priced(con,
           {"model": "gpt-4o-mini", "source_format": "openai_batch", "ts": datetime(2026, 10, 13, 12, tzinfo=UTC)},
           {"model": "gpt-4o-mini", "source_format": "openai_batch", "ts": NOV},
           {"model": "gpt-4o-mini", "ts": NOV})
    standard = (1000 * 0.15 + 100 * 0.60) / 1e6
    assert cost_of(con, "r1")[0] == pytest.approx(standard)
    assert cost_of(con, "r2")[0] == pytest.approx(standard / 2)
    assert cost_of(con, "r3")[0] == pytest.approx(standard)
    assert [r[0] for r in con.execute("SELECT batch FROM request_costs ORDER BY request_id").fetchall()] == [
        True, True, False]


@pytest.mark.parametrize("extra", ['{"service_tier": "batch"}', '{"batch": true}', '{"processing": "batch"}'])
def test_batch_marked_in_extra(con, extra):
    priced(con, {"model": "gpt-4o-mini", "extra": extra})
    assert cost_of(con, "r1")[0] == pytest.approx((1000 * 0.075 + 100 * 0.30) / 1e6)


def test_long_context_tier_by_total_input_tokens(con):
    priced(con,
           {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 200_000, "output_tokens": 0},
           {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 200_001, "output_tokens": 0})
    assert cost_of(con, "r1")[0] == pytest.approx(200_000 * 3.0 / 1e6)
    assert cost_of(con, "r2")[0] == pytest.approx(200_001 * 6.0 / 1e6)


def test_time_of_day_prices(con):
    priced(con,
           {"provider": "deepseek", "model": "deepseek-chat", "ts": datetime(2026, 11, 2, 10, tzinfo=UTC)},
           {"provider": "deepseek", "model": "deepseek-chat", "ts": datetime(2026, 11, 2, 20, tzinfo=UTC)})
    from genai_prices import Usage, calc_price
    for rid, ts in (("r1", datetime(2026, 11, 2, 10, tzinfo=UTC)), ("r2", datetime(2026, 11, 2, 20, tzinfo=UTC))):
        expected = calc_price(Usage(input_tokens=1000, output_tokens=100), "deepseek-chat",
                              provider_id="deepseek", genai_request_timestamp=ts).total_price
        assert cost_of(con, rid)[0] == pytest.approx(float(expected))
    assert cost_of(con, "r1")[0] != cost_of(con, "r2")[0]


REAL_MODELS = [
    ("openai", "gpt-4o"), ("openai", "gpt-4o-mini-2024-07-18"), ("openai", "o3-mini"),
    ("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-3-5-haiku-20241022"), ("anthropic", "claude-opus-4-1"),
    ("google", "gemini-2.5-pro"), ("google", "gemini-2.0-flash"), ("mistral", "mistral-large-latest"),
]


def test_matches_genai_prices_calc_price_for_real_models(con):
    from genai_prices import Usage, calc_price

    rng = random.Random(7)
    cases = []
    for provider, model in REAL_MODELS:
        for _ in range(6):
            inp = rng.choice([50, 1200, 30_000, 250_000])
            cached = rng.choice([0, inp // 3])
            write = rng.choice([0, inp // 5]) if provider == "anthropic" else 0
            out = rng.randint(0, 4000)
            ts = rng.choice([datetime(2025, 3, 1, 8, tzinfo=UTC), NOV, datetime(2026, 11, 2, 23, tzinfo=UTC)])
            batch = rng.random() < 0.3
            cases.append(dict(provider=provider, model=model, input_tokens=inp, cached_input_tokens=cached,
                              cache_write_tokens=write, output_tokens=out, ts=ts,
                              source_format="openai_batch" if batch else "flat"))
    priced(con, *cases)
    for i, case in enumerate(cases, 1):
        usage = Usage(input_tokens=case["input_tokens"], cache_read_tokens=case["cached_input_tokens"],
                      cache_write_tokens=case["cache_write_tokens"], output_tokens=case["output_tokens"])
        expected = calc_price(usage, case["model"], provider_id=case["provider"],
                              genai_request_timestamp=case["ts"],
                              price_context={"processing": "batch"} if case["source_format"] != "flat" else None)
        got = cost_of(con, f"r{i}")
        assert got[1] == "computed"
        assert got[0] == pytest.approx(float(expected.total_price), rel=1e-9), case


def test_every_call_of_an_unpriced_model_is_unpriced_even_without_tokens(con):
    # Issue 14 item 6: a failed zero-token call of a model no price covers is not a
    # computed $0 (its group would read as free); the group's cost is unknown.
    priced(con,
           {"model": "acme-llama", "provider": "self-hosted", "input_tokens": 0, "output_tokens": 0,
            "status": "error"},
           {"model": "acme-llama", "provider": "self-hosted", "input_tokens": None, "output_tokens": None,
            "status": "error"},
           {"model": "acme-llama", "provider": "self-hosted", "input_tokens": None, "output_tokens": None},
           {"model": "acme-llama", "provider": "self-hosted", "input_tokens": 10, "output_tokens": 0,
            "status": "error"})
    assert cost_of(con, "r1") == (None, "unpriced")
    assert cost_of(con, "r2") == (None, "unpriced")
    assert cost_of(con, "r3") == (None, "unpriced")
    assert cost_of(con, "r4") == (None, "unpriced")
