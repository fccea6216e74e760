"""aimon cost commands through the CLI: output formats, JSON keys, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import copy_db, ingested_template, request

START = datetime(2026, 10, 12, tzinfo=UTC)  # a Monday; 28 days, 2026-10-12 to 2026-11-08


def traffic() -> list[dict]:
    recs = []
    for d in range(28):
        for h in range(0, 24, 2):
            ts = START + timedelta(days=d, hours=h, minutes=5)
            n = len(recs)
            recs.append(request(
                request_id=f"r{n}", timestamp=ts.isoformat().replace("+00:00", "Z"),
                user_id=f"u{n % 5}", endpoint="/chat" if h % 4 else "/search",
                model="gpt-4o" if h % 3 else "gpt-4o-mini",
                prompt_tokens=1000 + 10 * d, completion_tokens=200, cached_tokens=100,
                cost_usd=... if n % 2 else (1000 + 10 * d - 100) * 2.5e-6 + 100 * 1.25e-6 + 200 * 10e-6
                if h % 3 else 0.5,
                prompt="analyze this contract step by step" if h % 6 == 2 else "what is the refund policy"))
    recs.append(request(request_id="x1", timestamp="2026-11-05T10:00:00Z", model="acme-llama",
                        provider="self-hosted", cost_usd=...))
    return recs


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return ingested_template(tmp_path_factory, traffic())


@pytest.fixture
def db(template, db_path):
    return copy_db(template, db_path)


def run_json(cli, *args):
    result = cli("cost", *args, "--format", "json")
    assert result.exit_code == 0, (args, result.output, result.stderr)
    return json.loads(result.stdout)


def test_every_cost_command_has_teaching_help(cli):
    for command in ("prices", "breakdown", "reconcile", "forecast", "anomalies", "check", "routing"):
        result = cli("cost", command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output


@pytest.mark.slow
def test_prices_lists_priced_and_unpriced_models(cli, db):
    data = run_json(cli, "prices", "--db", db)
    assert set(data) == {"snapshot", "prices", "unpriced", "missing_from_snapshot"}
    assert {p["model"] for p in data["prices"]} == {"gpt-4o", "gpt-4o-mini"}
    assert data["unpriced"][0]["model"] == "acme-llama" and data["unpriced"][0]["requests"] == 1
    assert data["snapshot"]["sources"].startswith("genai-prices")
    assert data["snapshot"]["version"].startswith("p-") and data["prices"][0]["version"] == data["snapshot"]["version"]
    # open-ended periods are NULL, so the snapshot reads back through aimon sql
    sql = cli("sql", "--db", db, "SELECT model, valid_from, valid_to FROM prices", "--format", "json")
    assert sql.exit_code == 0, sql.stderr
    periods = [(r["valid_from"], r["valid_to"]) for r in json.loads(sql.stdout) if r["model"] == "gpt-4o"]
    assert any(f is None for f, _ in periods)
    assert any(t is None for _, t in periods)
    md = cli("cost", "prices", "--db", db, "--format", "markdown").stdout
    assert "| provider | model |" in md and "acme-llama" in md


def test_prices_file_option_reprices_and_is_checked(cli, db, tmp_path):
    prices = tmp_path / "p.toml"
    prices.write_text('[models."acme-llama"]\ninput_mtok = 1.0\noutput_mtok = 2.0\n')
    data = run_json(cli, "breakdown", "--by", "model", "--prices", prices, "--db", db)
    assert data["totals"]["unpriced_requests"] == 0
    acme = next(g for g in data["groups"] if g["model"] == "acme-llama")
    assert acme["cost_usd"] == pytest.approx((120 * 1.0 + 40 * 2.0) / 1e6)
    # the snapshot was refreshed in the database: later reads see it
    assert run_json(cli, "prices", "--db", db)["unpriced"] == []
    bad = tmp_path / "bad.toml"
    bad.write_text('[models."x"]\ninput_mtok = -1\noutput_mtok = 1\n')
    result = cli("cost", "breakdown", "--prices", bad, "--db", db)
    assert result.exit_code == 2 and "models.x.input_mtok: Input should be greater than or equal to 0" in result.stderr and "Traceback" not in result.output


BREAKDOWN_KEYS = {"requests", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
                  "reasoning_tokens", "cost_usd", "cost_source", "logged_cost_usd", "computed_cost_usd",
                  "logged_requests", "computed_requests", "unpriced_requests", "unpriced_input_tokens",
                  "unpriced_output_tokens", "mean_cost_usd", "p95_cost_usd", "cost_per_user_day_usd",
                  "token_efficiency", "cache_hit_rate", "cached_input_share", "cache_read_saving_usd",
                  "cache_hit_saving_usd", "cache_hits_estimated", "share_of_cost"}


@pytest.mark.slow
def test_breakdown_json_keys_and_formats(cli, db):
    data = run_json(cli, "breakdown", "--by", "model,day", "--db", db)
    assert set(data) == {"window", "by", "prices_version", "totals", "groups", "unpriced", "notes"}
    assert data["prices_version"] == run_json(cli, "prices", "--db", db)["snapshot"]["version"]
    assert data["by"] == ["model", "day"]
    assert set(data["groups"][0]) == {"model", "day"} | BREAKDOWN_KEYS
    assert set(data["totals"]) == BREAKDOWN_KEYS | {"cache_saving_usd"}
    assert sum(g["share_of_cost"] or 0 for g in data["groups"]) == pytest.approx(1.0)
    md = cli("cost", "breakdown", "--by", "endpoint", "--db", db, "--format", "markdown").stdout
    assert md.startswith("# Cost by endpoint") and "| endpoint | requests |" in md
    csv = cli("cost", "breakdown", "--by", "user", "--db", db, "--format", "csv").stdout
    assert csv.splitlines()[0].startswith("user_id,requests,")
    table = cli("cost", "breakdown", "--db", db, "--since", "7d")
    assert table.exit_code == 0 and "Unpriced requests" in table.stdout
    # a group with no known cost reads 'unpriced', never $0
    md_model = cli("cost", "breakdown", "--db", db, "--since", "7d", "--format", "markdown").stdout
    acme = next(ln for ln in md_model.splitlines() if ln.startswith("| acme-llama |"))
    assert "| unpriced |" in acme and "$0" not in acme
    empty = run_json(cli, "breakdown", "--since", "2020-01-01", "--until", "2020-01-02", "--db", db)
    assert set(empty["totals"]) == BREAKDOWN_KEYS | {"cache_saving_usd"} and empty["groups"] == []


def test_reconcile_flags_the_wrong_logged_costs(cli, db):
    data = run_json(cli, "reconcile", "--db", db)
    assert set(data) == {"window", "tolerance", "summary", "by_model", "rows"}
    # gpt-4o-mini rows logged a flat $0.50 — far off their tokens' price
    assert {r["model"] for r in data["rows"]} == {"gpt-4o-mini"}
    gpt4o = next(m for m in data["by_model"] if m["model"] == "gpt-4o")
    assert gpt4o["mismatched"] == 0 and gpt4o["median_ratio"] == pytest.approx(1.0)


def test_forecast_json_and_markdown(cli, db):
    data = run_json(cli, "forecast", "--horizon", "14d", "--budget", "50", "--by", "model", "--db", db)
    assert set(data) == {"scope", "method", "scale", "horizon_days", "history", "daily", "horizon_total",
                         "month_end", "budget", "backtest", "outlier_days", "unpriced_requests", "notes",
                         "by_model"}
    assert len(data["daily"]) == 14 and data["daily"][0]["day"] == "2026-11-09"
    assert set(data["daily"][0]) == {"day", "forecast_usd", "lo80_usd", "hi80_usd", "lo95_usd", "hi95_usd"}
    assert set(data["backtest"]) == {"available", "reason", "horizon_days", "origins", "mape", "naive_mape",
                                     "beats_naive", "daily_mape", "naive_daily_mape", "coverage80", "coverage95"}
    assert data["budget"]["monthly_budget_usd"] == 50
    md = cli("cost", "forecast", "--db", db, "--format", "markdown").stdout
    assert "| day | forecast | 80% low | 80% high | 95% low | 95% high |" in md
    assert "backtest MAPE" in md and "naive" in md


def test_forecast_refuses_too_little_history(cli, db):
    result = cli("cost", "forecast", "--since", "5d", "--db", db)
    assert result.exit_code == 2
    assert "not enough history" in result.stderr


@pytest.mark.parametrize("args", [["forecast", "--horizon", "soon"], ["forecast", "--by", "user"],
                                  ["forecast", "--budget", "-5"], ["breakdown", "--by", "colour"],
                                  ["reconcile", "--tolerance", "3"], ["check"],
                                  ["check", "--daily-budget", "0"], ["anomalies", "--by", "planet"],
                                  ["breakdown", "--since", "yesterday-ish"]])
def test_bad_input_exits_2_with_one_line(cli, db, args):
    result = cli("cost", *args, "--db", db)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_missing_database_exits_2(cli, tmp_path):
    result = cli("cost", "breakdown", "--db", tmp_path / "none.duckdb")
    assert result.exit_code == 2 and "no database" in result.stderr


def test_check_gates_exit_1_with_one_line_per_breach(cli, db):
    ok = cli("cost", "check", "--daily-budget", "1000", "--monthly-budget", "100000", "--db", db)
    assert ok.exit_code == 0, ok.stderr
    assert "PASSED" in ok.stdout
    failed = cli("cost", "check", "--daily-budget", "0.01", "--fail-on-unpriced", "--db", db, "--format", "json")
    assert failed.exit_code == 1
    data = json.loads(failed.stdout)
    assert data["passed"] is False and set(data) == {"window", "passed", "checks", "breaches", "notes"}
    lines = [ln for ln in failed.stderr.splitlines() if ln.strip()]
    assert lines[0].endswith("cost check failed:")
    assert len(lines) == 1 + len(data["breaches"])
    assert any(ln.startswith("daily budget $0.01 exceeded on 2026-11-0") for ln in lines)
    assert any("unpriced request(s)" in ln for ln in lines)
    unpriced_only = cli("cost", "check", "--fail-on-unpriced", "--db", db)
    assert unpriced_only.exit_code == 1


def test_anomalies_and_routing_run(cli, db):
    data = run_json(cli, "anomalies", "--db", db)
    assert set(data) == {"window", "settings", "hours", "jumps"} and set(data["jumps"]) == {"user", "endpoint"}
    routing = run_json(cli, "routing", "--db", db, "--expensive-ratio", "2")
    assert set(routing) == {"window", "settings", "summary", "by_model", "model_rates", "assumption"}
    assert routing["summary"]["cheapest_model"] == "gpt-4o-mini"
    assert routing["summary"]["expensive_models"] == ["gpt-4o"]
    assert 0 < routing["summary"]["simple_share"] < 1
    md = cli("cost", "routing", "--db", db, "--format", "markdown").stdout
    assert "Assumption:" in md
    none = run_json(cli, "routing", "--db", db, "--expensive-ratio", "1000")
    assert set(none["summary"]) == set(routing["summary"]) and none["summary"]["monthly_saving_usd"] is None


def test_routing_reads_cost_routing_from_aimon_toml(cli, db, tmp_path):
    (tmp_path / "aimon.toml").write_text("[cost.routing]\nmax_words = 1\n")
    routing = run_json(cli, "routing", "--db", db, "--expensive-ratio", "2")
    assert routing["settings"]["max_words"] == 1 and routing["summary"]["simple_requests"] == 0
    (tmp_path / "aimon.toml").write_text("[cost.routing]\nmax_wordz = 1\n")
    result = cli("cost", "routing", "--db", db)
    assert result.exit_code == 2 and "cost.routing.max_wordz: unknown key; did you mean 'max_words'?" in result.stderr
