"""aimon report daily/weekly: figures, deltas, baselines, findings, formats and exit codes."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date

import pytest

from aimon.analysis.report.daily import build_report
from aimon.analysis.report.findings import Thresholds
from aimon.analysis.toolkit.period import hour_grid, period, periods_back
from aimon.store.connection import connect
from tests.conftest import copy_db
from tests.reportdata import add_feedback_for, add_requests

D = date(2026, 11, 10)


def history(con) -> None:
    """Nov 3..9: 60, 120, ..., 420 requests; Nov 10: 600 requests, 10% errors, 100 unpriced."""
    for i in range(7):
        add_requests(con, f"2026-11-{3 + i:02d} 09:00:00+00", minutes=10 + 10 * i, per_minute=6, prefix=f"d{i}-",
                     error_every=50, latency=1000)
    add_requests(con, "2026-11-10 09:00:00+00", minutes=100, per_minute=6, prefix="t-", error_every=10,
                 latency=1500, cache_every=4)
    add_requests(con, "2026-11-10 12:00:00+00", minutes=10, per_minute=10, prefix="u-", model="mystery-llm",
                 cost=None)


@pytest.fixture
def filled(con):
    history(con)
    return con


@pytest.fixture(scope="module")
def history_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.duckdb"
    con = connect(path, write=True)
    history(con)
    con.close()
    return path


@pytest.fixture
def db_file(history_file, tmp_path):
    """The history in this test's own file (a copy: a test may write to it)."""
    return copy_db(history_file, tmp_path / "report.duckdb")


def test_every_headline_figure_has_previous_day_and_baseline(filled):
    r = build_report(filled, D)
    req = r.figures["requests"]
    assert (req.value, req.previous, req.baseline) == (700, 420, 240)  # baseline: median of 60..420
    assert req.change_previous_pct == pytest.approx(280 / 420)
    assert req.change_baseline_pct == pytest.approx(460 / 240)
    assert req.history == (60, 120, 180, 240, 300, 360, 420, 700)
    err = r.figures["error_rate"]
    assert err.value == pytest.approx(60 / 700)
    assert err.low < err.value < err.high
    assert err.previous == pytest.approx(9 / 420)  # every 50th of 420: i = 0, 50, ..., 400
    for name in r.panels["overview"] + r.panels["quality"] + r.panels["cost"] + r.panels["performance"]:
        assert name in r.figures


def test_unpriced_spend_is_its_own_figure_never_zero(filled):
    r = build_report(filled, D)
    assert r.figures["unpriced_requests"].value == 100
    assert r.figures["cost_usd"].value == pytest.approx(0.6)  # the 600 priced requests only
    assert r.cost.unpriced_requests == 100
    assert r.cost.unpriced_input_tokens == 100 * 100
    assert r.unpriced_models == ["mystery-llm"]
    mystery = r.by_model.filter(r.by_model["model"] == "mystery-llm").row(0, named=True)
    assert mystery["cost_usd"] is None  # unknown, not $0
    assert {f.code for f in r.findings.concerns} >= {"unpriced"}
    assert {f.code for f in r.findings.recommendations} >= {"add_prices"}


def test_month_projection_comes_from_the_cost_forecast(filled):
    c = build_report(filled, D).cost
    run_rate = (0.6 + sum(m * 6 * 0.001 for m in (20, 30, 40, 50, 60, 70))) / 7  # the last 7 days
    assert (c.month, c.days_in_month) == ("2026-11", 30)
    assert c.daily_run_rate_usd == pytest.approx(run_rate)
    # Too little history for a forecast: no projection (never 30 x the run rate), and why.
    assert c.projected_month_usd is None and "not enough history" in c.projection_note



def test_findings_follow_the_thresholds(filled):
    default = build_report(filled, D)
    assert "high_error_rate" in {f.code for f in default.findings.concerns}
    relaxed = build_report(filled, D, thresholds=Thresholds(error_rate=0.2))
    assert "high_error_rate" not in {f.code for f in relaxed.findings.concerns}
    assert "consider_caching" in {f.code for f in default.findings.recommendations}


def test_findings_say_where_the_errors_and_the_spend_are(filled):
    r = build_report(filled, D)
    concerns = {f.code: f.text for f in r.findings.concerns}
    # gpt-4o: 60 errors in 600 (10%, 95% CI 7.8% to 12.7%); mystery-llm: none in 100.
    assert concerns["model_error_rate"].startswith("gpt-4o failed 10.0% of its 600 requests (95% CI 7.8% to 12.7%")
    assert "mystery-llm" not in concerns["model_error_rate"]
    # 09:00-09:59 holds 360 requests with 36 errors; 10:00-10:39 holds 240 with 24.
    assert concerns["error_hour"] == "Errors peaked at 09:00: 10.0% of 360 requests (95% CI 7.3% to 13.5%)"
    # 09:00 spends $0.36 of the day's $0.60.
    assert concerns["cost_hour"] == "Spend peaked at 09:00: $0.36 in one hour, 60% of the period's spend"
    assert "traffic_growth" in {f.code for f in r.findings.highlights}
    # An interval that reaches below the threshold, or too few requests, is no verdict.
    quiet = build_report(filled, D, thresholds=Thresholds(error_rate=0.08, hotspot_min_requests=1000,
                                                          hour_cost_share=0.7, traffic_growth=5))
    codes = {f.code for f in quiet.findings.concerns} | {f.code for f in quiet.findings.highlights}
    assert not codes & {"model_error_rate", "error_hour", "cost_hour", "traffic_growth"}


def test_series_has_every_hour_of_the_day(filled):
    r = build_report(filled, D)
    assert r.series.height == 24
    assert r.series["requests"].sum() == 700
    assert r.series.filter(r.series["requests"] == 0).height == 24 - 3  # 09:00-10:40 and 12:00


def test_feedback_figures_in_the_report(filled):
    add_feedback_for(filled, [f"t-{i}" for i in range(30)], "thumbs_up")
    add_feedback_for(filled, [f"t-{i}" for i in range(30, 40)], "thumbs_down")
    r = build_report(filled, D)
    assert r.votes == 40
    assert r.figures["satisfaction"].value == pytest.approx(0.75)
    assert r.figures["nps"].value == pytest.approx(0.5)
    assert r.figures["satisfaction"].previous is None  # no votes yesterday...
    assert r.figures["regenerated_rate"].previous == 0.0  # ...and no signal at all: a rate of 0


def test_a_day_without_data_says_so(filled):
    r = build_report(filled, date(2026, 11, 20))
    assert not r.has_data
    assert r.figures["requests"].value is None


def test_days_follow_the_time_zone(con):
    add_requests(con, "2026-11-10 23:30:00+00", minutes=1, per_minute=1)  # 00:30 on Nov 11 in Berlin
    assert build_report(con, date(2026, 11, 10)).figures["requests"].value == 1
    assert not build_report(con, date(2026, 11, 10), tz="Europe/Berlin").has_data
    assert build_report(con, date(2026, 11, 11), tz="Europe/Berlin").figures["requests"].value == 1


def test_a_daylight_saving_day_has_25_hours():
    p = period(date(2026, 11, 1), 1, "America/New_York")
    assert p.hours == 25
    grid = hour_grid(periods_back(date(2026, 11, 2), 1, 2, "America/New_York"))
    assert grid.period_of.count(1) == 25 and grid.period_of.count(0) == 24


def test_weekly_compares_weeks(con):
    for day in range(1, 15):
        add_requests(con, f"2026-11-{day:02d} 09:00:00+00", minutes=day, per_minute=1, prefix=f"w{day}-")
    r = build_report(con, date(2026, 11, 14), kind="weekly")
    assert r.period.label == "2026-11-08 to 2026-11-14"
    assert r.figures["requests"].value == sum(range(8, 15))
    assert r.figures["requests"].previous == sum(range(1, 8))
    assert r.series.height == 28  # 6-hour buckets


# --------------------------------------------------------------------------- CLI

@pytest.mark.slow
def test_cli_daily_in_every_format(cli, db_file, tmp_path):
    for fmt in ("table", "markdown", "json", "html"):
        out = tmp_path / f"daily.{fmt}"
        result = cli("report", "daily", "--date", "2026-11-10", "--db", db_file, "-f", fmt, "-o", out)
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    md = (tmp_path / "daily.markdown").read_text()
    assert "```mermaid\nxychart-beta" in md
    assert 'title "Per hour (UTC): P95 latency (ms)"' in md
    # Requests, P95 and cost on their own axes; P50/P95/P99 share one chart (all ms).
    assert md.count("```mermaid") == 4
    latency = md.split('title "Latency per hour (ms): P50, P95, P99"')[1].split("```")[0]
    assert latency.count("    line [") == 3
    assert "| Requests | 700 | ▲ +66.7% | ▲ +191.7% |" in md
    table = (tmp_path / "daily.table").read_text()
    assert re.search(r"requests\s+[▁▂▃▄▅▆▇█ ]{24}", table), "sparklines in the terminal"
    data = json.loads((tmp_path / "daily.json").read_text())
    assert data["figures"]["requests"]["value"] == 700
    assert data["cost"]["unpriced_requests"] == 100


def test_html_is_self_contained(cli, db_file, tmp_path):
    out = tmp_path / "daily.html"
    assert cli("report", "daily", "--db", db_file, "-f", "html", "-o", out).exit_code == 0
    page = out.read_text()
    assert "<script src" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert '<script id="aimon-data" type="application/json">' in page


def test_html_cannot_be_broken_by_data(con, tmp_path):
    from aimon.render.html import report_html
    from aimon.render.report import report_data

    add_requests(con, "2026-11-10 09:00:00+00", minutes=2, per_minute=2, model="</script><script>alert(1)</script>")
    page = report_html(report_data(build_report(con, D)))
    assert "</script><script>alert(1)" not in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page


def test_cli_default_date_is_the_newest_day(cli, db_file):
    data = json.loads(cli("report", "daily", "--db", db_file, "-f", "json").stdout)
    assert data["period"]["label"] == "2026-11-10"
    data = json.loads(cli("report", "daily", "--db", db_file, "-f", "json", "--date", "1d").stdout)
    assert data["period"]["label"] == "2026-11-09"


def test_cli_no_data_day_is_plain(cli, db_file):
    result = cli("report", "daily", "--db", db_file, "--date", "2026-11-20", "-f", "markdown")
    assert result.exit_code == 0
    assert "No requests on 2026-11-20 (UTC). The database holds requests from 2026-11-03" in result.stdout
    data = json.loads(cli("report", "daily", "--db", db_file, "--date", "2026-11-20", "-f", "json").stdout)
    assert data["has_data"] is False and data["message"].startswith("No requests on 2026-11-20")


def test_cli_thresholds_from_aimon_toml(cli, db_file, tmp_path):
    data = json.loads(cli("report", "daily", "--db", db_file, "-f", "json").stdout)
    assert "high_error_rate" in [c["code"] for c in data["concerns"]]
    (tmp_path / "aimon.toml").write_text("[report]\nerror_rate = 0.25\n")  # cwd is tmp_path
    data = json.loads(cli("report", "daily", "--db", db_file, "-f", "json").stdout)
    assert "high_error_rate" not in [c["code"] for c in data["concerns"]]
    assert data["thresholds"]["error_rate"] == 0.25


@pytest.mark.parametrize(("args", "message"), [
    (["--date", "tomorrow"], "--date 'tomorrow': expected an ISO date"),
    (["--tz", "Mars/Olympus"], "unknown time zone"),
    (["-f", "pdf"], "Invalid value for '--format'"),
])
def test_cli_usage_errors_exit_2(cli, db_file, args, message):
    result = cli("report", "daily", "--db", db_file, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_cli_bad_config_exits_2(cli, db_file, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[report]\nerror_rate = 'high'\n")
    result = cli("report", "daily", "--db", db_file, "--config", bad)
    assert result.exit_code == 2
    assert "report.error_rate: must be a number, not 'high'" in result.output


def test_cli_empty_database(cli, tmp_path):
    path = tmp_path / "empty.duckdb"
    connect(path, write=True).close()
    result = cli("report", "daily", "--db", path)
    assert result.exit_code == 2
    assert "holds no requests" in result.output


def test_cli_weekly(cli, db_file):
    result = cli("report", "weekly", "--db", db_file, "-f", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["kind"] == "weekly" and data["period"]["days"] == 7
    assert data["figures"]["requests"]["value"] == 700 + sum(60 * (i + 1) for i in range(1, 7))


def test_report_json_keys_are_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "report.md").read_text()
    con = connect(":memory:", write=True)
    add_requests(con, "2026-11-10 09:00:00+00", minutes=5, per_minute=2)
    from aimon.render.report import report_data

    data = report_data(build_report(con, D))
    con.close()
    for key in data:
        assert f"`{key}`" in doc, f"JSON key {key} is not documented in docs/report.md"
    for key in data["figures"]:
        assert f"`{key}`" in doc, f"figure {key} is not documented in docs/report.md"
    for name in (f.name for f in dataclasses.fields(Thresholds)):
        assert f"\n{name} = " in doc, f"threshold {name} is not in the aimon.toml example"


@pytest.mark.slow
def test_month_projection_is_the_cost_forecast(cli, sample_logs_db):
    # One projection in one place: the report's month figure is `aimon cost forecast`'s
    # month-end for the history up to the report's day (issue 17: it was 30 x a run
    # rate inflated by the runaway day, $147.50 against the forecast's $107.12).
    db = sample_logs_db.path
    report = json.loads(cli("report", "daily", "--db", db, "--date", "2026-11-14", "--tz", "UTC",
                            "-f", "json").stdout)
    forecast = json.loads(cli("cost", "forecast", "--db", db, "--until", "2026-11-15", "--tz", "UTC",
                              "--horizon", "1", "-f", "json").stdout)
    cost = report["cost"]
    assert cost["month"] == forecast["month_end"]["month"] == "2026-11"
    assert cost["projected_month_usd"] == pytest.approx(forecast["month_end"]["projected_total_usd"])
    assert cost["projected_month_low_usd"] == pytest.approx(forecast["month_end"]["lo80_usd"])
    assert cost["projected_month_high_usd"] == pytest.approx(forecast["month_end"]["hi80_usd"])
    # On 2026-11-10 there are 10 days of history: no projection, and the reason.
    early = json.loads(cli("report", "daily", "--db", db, "--date", "2026-11-10", "--tz", "UTC",
                           "-f", "json").stdout)["cost"]
    assert early["projected_month_usd"] is None and "not enough history" in early["projection_note"]
