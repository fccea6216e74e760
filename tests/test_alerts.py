"""Alert rules: a planted incident fires inside and stays quiet outside; low volume never
pages; the cooldown holds across cron runs; adaptive baselines computed by hand."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats as st

from aimon.analysis.alerts.check import check
from aimon.analysis.alerts.evaluate import interval_z
from aimon.analysis.alerts.rules import DEFAULT_RULES, Baseline, Metric, Rule, rules_from_document
from aimon.analysis.alerts.scan import scan
from aimon.analysis.toolkit.dimensions import Split
from aimon.analysis.toolkit.robust import MAD_SCALE
from aimon.errors import InputError
from aimon.store.connection import connect
from tests.conftest import copy_db
from tests.reportdata import add_requests

INCIDENT = (datetime(2026, 11, 10, 12, 0, tzinfo=UTC), datetime(2026, 11, 10, 12, 30, tzinfo=UTC))
SECOND = (datetime(2026, 11, 10, 15, 0, tzinfo=UTC), datetime(2026, 11, 10, 15, 10, tzinfo=UTC))
GAP = (datetime(2026, 11, 10, 14, 0, tzinfo=UTC), datetime(2026, 11, 10, 14, 10, tzinfo=UTC))
LOW_VOLUME_MINUTE = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


def plant(con) -> None:
    """Eight quiet days of 10:00-16:00 traffic (10 a minute, 1% errors, 25% cache hits), then
    Nov 10 with an incident 12:00-12:30 (half the requests fail, 5x latency, the cache stops
    hitting), no traffic 14:00-14:10, a short error burst 15:00-15:10, and one night minute
    at 02:00 with three requests that all fail."""
    normal = {"per_minute": 10, "error_every": 100, "cache_every": 4, "latency": 800, "latency_step": 20}
    for day in range(2, 10):
        add_requests(con, f"2026-11-{day:02d} 10:00:00+00", minutes=360, prefix=f"h{day}-", **normal)
    segments = [("a", "10:00", 120, normal),
                ("inc", "12:00", 30, {**normal, "error_every": 2, "latency": 4000, "cache_every": 1000}),
                ("b", "12:30", 90, normal),
                ("c", "14:10", 50, normal),
                ("burst", "15:00", 10, {**normal, "error_every": 2}),
                ("d", "15:10", 50, normal)]
    for prefix, at, minutes, kw in segments:
        add_requests(con, f"2026-11-10 {at}:00+00", minutes=minutes, prefix=f"t{prefix}-", **kw)
    add_requests(con, "2026-11-10 02:00:00+00", minutes=1, per_minute=3, prefix="night-", error_every=1)


@pytest.fixture(scope="module")
def planted():
    con = connect(":memory:", write=True)
    plant(con)
    yield con
    con.close()


@pytest.fixture(scope="module")
def planted_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("alerts") / "alerts.duckdb"
    con = connect(path, write=True)
    plant(con)
    con.close()
    return path


@pytest.fixture
def db_file(planted_file, tmp_path):
    """The planted traffic in this test's own file (a copy: checks write alert state)."""
    return copy_db(planted_file, tmp_path / "alerts.duckdb")


def firing(result) -> set[str]:
    return {e.rule for e in result.firing}


@pytest.mark.slow
def test_the_planted_incident_fires_inside(planted):
    result = check(planted, DEFAULT_RULES, datetime(2026, 11, 10, 12, 25, tzinfo=UTC))
    assert firing(result) == {"error_rate_high", "latency_p95_high", "cache_hit_drop"}
    err = next(e for e in result.firing if e.rule == "error_rate_high")
    assert err.severity == "P1" and err.value == pytest.approx(0.5) and err.bound == 0.05


@pytest.mark.slow
def test_quiet_outside_the_incident(planted):
    for at in ("2026-11-10T11:30", "2026-11-10T13:40", "2026-11-10T15:55"):
        when = datetime.fromisoformat(at).replace(tzinfo=UTC)
        result = check(planted, DEFAULT_RULES, when)
        assert firing(result) == set(), (at, [(e.rule, e.value, e.bound) for e in result.firing])


def test_replay_fires_only_inside_the_planted_incidents(planted):
    result = scan(planted, DEFAULT_RULES, datetime(2026, 11, 10, 0, 0, tzinfo=UTC),
                  datetime(2026, 11, 10, 16, 0, tzinfo=UTC))
    inc = result.incidents
    by_rule = {r: inc.filter(pl.col("rule") == r) for r in inc["rule"].unique()}
    assert set(by_rule) == {"error_rate_high", "latency_p95_high", "cache_hit_drop", "no_responses"}
    # Every firing minute lies in a window that overlaps a planted incident.
    for rule, frame in by_rule.items():
        window = next(r.window for r in DEFAULT_RULES if r.name == rule)
        for start, end in zip(frame["start"], frame["end"], strict=True):
            assert any(a < start and end <= b + window for a, b in (INCIDENT, SECOND, GAP)), (rule, start, end)
    errors = by_rule["error_rate_high"].sort("start")
    assert errors.height == 2  # the incident and the burst: two pages
    assert INCIDENT[0] < errors["start"][0] <= INCIDENT[0] + timedelta(minutes=5)
    assert errors["end"][0] >= INCIDENT[1]
    gap = by_rule["no_responses"].row(0, named=True)
    assert (gap["start"], gap["end"]) == (GAP[0] + timedelta(minutes=5), GAP[1])
    assert gap["severity"] == "P0"


def test_windows_before_the_first_request_read_as_no_data(con):
    add_requests(con, "2026-11-01 12:00:00+00", minutes=3, per_minute=7)
    rule = next(r for r in DEFAULT_RULES if r.name == "no_responses")
    e = check(con, [rule], datetime(2026, 11, 1, 12, 3, tzinfo=UTC)).evaluations[0]
    assert e.state == "no_data"  # the export starts at 12:00; the service did not stop before


def test_a_low_volume_minute_does_not_fire(planted):
    result = check(planted, DEFAULT_RULES, LOW_VOLUME_MINUTE + timedelta(minutes=1))
    err = next(e for e in result.evaluations if e.rule == "error_rate_high")
    assert err.value == 1.0  # three requests, three errors...
    assert err.state == "low_volume"  # ...is not an incident
    assert not result.firing
    replay = scan(planted, DEFAULT_RULES, LOW_VOLUME_MINUTE - timedelta(minutes=10),
                  LOW_VOLUME_MINUTE + timedelta(minutes=10))
    assert replay.incidents.height == 0
    summary = replay.summary.filter(pl.col("rule") == "error_rate_high").row(0, named=True)
    assert summary["minutes_low_volume"] == 5


@pytest.mark.slow
def test_cooldown_holds_across_cron_runs(cli, db_file):
    def run(at: str, *extra: str):
        result = cli("alerts", "check", "--db", db_file, "--at", at, "--fail-on", "P1", "-f", "json", *extra)
        return result.exit_code, json.loads(result.stdout)

    code, data = run("2026-11-10T12:10")
    assert code == 1 and data["failed"]
    err = next(a for a in data["alerts"] if a["rule"] == "error_rate_high")
    assert err["status"] == "new"
    for at in ("2026-11-10T12:15", "2026-11-10T12:25"):
        code, data = run(at)
        assert code == 0, at  # the same incident: no second page
        assert next(a for a in data["alerts"] if a["rule"] == "error_rate_high")["status"] == "ongoing"
    code, data = run("2026-11-10T13:30")
    assert code == 0 and not data["alerts"]
    assert {r["rule"] for r in data["resolved"]} >= {"error_rate_high"}
    code, data = run("2026-11-10T15:08")
    assert code == 1  # a new incident after the cooldown pages again
    assert next(a for a in data["alerts"] if a["rule"] == "error_rate_high")["status"] == "new"
    con = connect(db_file, write=False)
    rows = con.execute("SELECT rule, opened_at, last_fired_at, resolved_at, checks FROM alert_state "
                       "WHERE rule = 'error_rate_high' ORDER BY opened_at").fetchall()
    con.close()
    assert [(r[1].astimezone(UTC).strftime("%H:%M"), r[4]) for r in rows] == [("12:10", 3), ("15:08", 1)]
    assert rows[0][3] is not None and rows[1][3] is None


@pytest.mark.slow
def test_no_state_counts_every_alert_as_new(cli, db_file):
    for _ in range(2):
        result = cli("alerts", "check", "--db", db_file, "--at", "2026-11-10T12:10", "--fail-on", "P1",
                     "--no-state")
        assert result.exit_code == 1
        assert "P1 error_rate_high: error_rate 50.0% (bound 5.0%)" in result.stderr


@pytest.mark.slow
def test_fail_on_is_a_severity_gate(cli, db_file):
    at = ["--at", "2026-11-10T12:10", "--no-state"]
    assert cli("alerts", "check", "--db", db_file, *at, "--fail-on", "P0").exit_code == 0  # P1/P2 only
    assert cli("alerts", "check", "--db", db_file, *at).exit_code == 0  # no gate asked for
    assert cli("alerts", "check", "--db", db_file, "--at", "2026-11-10T14:07", "--no-state",
               "--fail-on", "P0").exit_code == 1  # no responses at all: P0


def test_check_defaults_to_the_newest_data(cli, db_file):
    data = json.loads(cli("alerts", "check", "--db", db_file, "--no-state", "-f", "json").stdout)
    assert data["at"].startswith("2026-11-10T15:59:54")
    assert len(data["checks"]) == len(DEFAULT_RULES)


@pytest.mark.slow
def test_scan_cli(cli, db_file):
    result = cli("alerts", "scan", "--db", db_file, "--since", "2026-11-10T11:00", "--until", "2026-11-10T13:00",
                 "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["minutes"] == 121
    assert {i["rule"] for i in data["incidents"]} == {"error_rate_high", "latency_p95_high", "cache_hit_drop"}
    table = cli("alerts", "scan", "--db", db_file, "--since", "6h").stdout
    assert "When each rule would have paged" in table
    # Whole minutes (the newest request is at 15:59:54), values in their units.
    assert "Alert replay 2026-11-10 10:00 to 2026-11-10 16:00 (UTC)" in table
    assert "15:02" in table and "50.0%" in table and "5.0%" in table  # the burst at 15:00
    assert "e+0" not in table and "0.5000" not in table


def test_check_table_reads_in_units(cli, db_file):
    out = cli("alerts", "check", "--db", db_file, "--at", "2026-11-10T12:10", "--no-state").stdout
    assert "Alerts at 2026-11-10 12:10:00+00:00" in out
    # The "Every check" row: rule, severity, state, value, bound, volume.
    row = next(line for line in out.splitlines() if "error_rate_high" in line and "firing" in line)
    assert "50.0%" in row and "5.0%" in row
    assert " ms" in next(line for line in out.splitlines() if "latency_p95_high" in line and "firing" in line)
    csv = cli("alerts", "check", "--db", db_file, "--at", "2026-11-10T12:10", "--no-state", "-f", "csv").stdout
    assert csv.splitlines()[0].startswith("rule,severity,metric,key,state,status,value,bound")
    assert len(csv.splitlines()) == 1 + len(DEFAULT_RULES)


# --------------------------------------------------------------------------- baselines by hand

def day_windows(con, rates_every: list[int], today_every: int) -> None:
    """The same 10 minutes (12:00-12:10, 10 requests a minute) on consecutive days."""
    for i, every in enumerate(rates_every):
        add_requests(con, f"2026-11-{1 + i:02d} 12:00:00+00", minutes=10, per_minute=10, prefix=f"p{i}-",
                     error_every=every)
    add_requests(con, f"2026-11-{1 + len(rates_every):02d} 12:00:00+00", minutes=10, per_minute=10, prefix="now-",
                 error_every=today_every)


def test_same_hour_baseline_is_median_and_mad(con):
    day_windows(con, [10, 5, 4, 3, 2], today_every=2)
    rule = Rule("robust", Metric.error_rate, "P2", timedelta(minutes=10), ">", baseline=Baseline.same_hour,
                days=5, sensitivity=1.5, interval=False, min_volume=10)
    e = check(con, [rule], datetime(2026, 11, 6, 12, 10, tzinfo=UTC)).evaluations[0]
    rates = [0.1, 0.2, 0.25, 0.34, 0.5]  # 1 in 3 of 100 requests: i = 0, 3, ..., 99 -> 34
    median = 0.25
    mad = sorted(abs(r - median) for r in rates)[2]
    assert e.baseline == pytest.approx(median)
    assert e.spread == pytest.approx(MAD_SCALE * mad)
    assert e.bound == pytest.approx(median + 1.5 * MAD_SCALE * mad)
    assert e.value == pytest.approx(0.5) and e.state == "firing"
    calmer = check(con, [Rule(**{**rule.__dict__, "sensitivity": 2.0})],
                   datetime(2026, 11, 6, 12, 10, tzinfo=UTC)).evaluations[0]
    assert calmer.state == "ok"  # 0.5 < 0.25 + 2 * 1.4826 * 0.09


def test_hour_of_day_baseline_pools_windows_around_the_time_of_day(con):
    # Day 1: one $0.01 request a minute from 11:40 to 12:40, so every 10-minute window
    # ending 11:50 .. 12:40 spends $0.60/h. Days 2-5: only 12:00-12:10, at $0.01 x d a
    # request ($0.60 x d an hour). The pool for 12:10 is every window ending within 30
    # minutes of 12:10 on each day, every 10 minutes (empty windows are left out).
    add_requests(con, "2026-11-01 11:40:00+00", minutes=60, per_minute=1, prefix="d1-", cost=0.01)
    for d in range(2, 6):
        add_requests(con, f"2026-11-{d:02d} 12:00:00+00", minutes=10, per_minute=1, prefix=f"d{d}-", cost=0.01 * d)
    add_requests(con, "2026-11-06 12:00:00+00", minutes=10, per_minute=1, prefix="now-", cost=0.05)
    rule = Rule("cost", Metric.cost_per_hour_usd, "P2", timedelta(minutes=10), ">", baseline=Baseline.hour_of_day,
                days=5, sensitivity=1.0, min_volume=2)
    at = datetime(2026, 11, 6, 12, 10, tzinfo=UTC)
    e = check(con, [rule], at).evaluations[0]
    values = np.array([0.6] * 6 + [0.6 * d for d in range(2, 6)])
    median = float(np.median(values))
    assert e.baseline == pytest.approx(median) == 0.6
    assert float(np.median(np.abs(values - median))) == 0  # so the spread is its floor, 10% of the median
    assert e.spread == pytest.approx(0.1 * median)
    assert e.value == pytest.approx(3.0) and e.state == "firing"
    # The same minute alone: one window a day, median $1.80/h.
    same_minute = check(con, [Rule(**{**rule.__dict__, "baseline": Baseline.same_hour})], at).evaluations[0]
    assert same_minute.baseline == pytest.approx(1.8)


def test_ewma_baseline_by_hand(con):
    # Three 10-minute windows before 12:30 with 10%, 20%, 50% errors, then 12:30-12:40 at 50%.
    for i, every in enumerate([10, 5, 2, 2]):
        add_requests(con, f"2026-11-01 12:{i * 10:02d}:00+00", minutes=10, per_minute=10, prefix=f"w{i}-",
                     error_every=every)
    rule = Rule("ewma", Metric.error_rate, "P3", timedelta(minutes=10), ">", baseline=Baseline.ewma, periods=3,
                alpha=0.5, sensitivity=0.5, min_baseline=3, interval=False, min_spread=0.0)
    e = check(con, [rule], datetime(2026, 11, 1, 12, 40, tzinfo=UTC)).evaluations[0]
    newest_first = [0.5, 0.2, 0.1]
    weights = [0.5, 0.25, 0.125]
    mean = sum(w * x for w, x in zip(weights, newest_first, strict=True)) / sum(weights)
    var = sum(w * (x - mean) ** 2 for w, x in zip(weights, newest_first, strict=True)) / sum(weights)
    assert e.baseline == pytest.approx(mean)
    assert e.spread == pytest.approx(var ** 0.5)
    assert e.bound == pytest.approx(mean + 0.5 * var ** 0.5)
    assert e.state == "firing"


def test_trailing_baseline_cost_per_hour(con):
    # 24 hours at $0.001 a request, 1 a minute ($0.06/h), then an hour at 9 a minute ($0.54/h).
    add_requests(con, "2026-11-01 00:00:00+00", minutes=1440, per_minute=1, prefix="base-")
    add_requests(con, "2026-11-02 00:00:00+00", minutes=60, per_minute=9, prefix="spike-")
    rule = next(r for r in DEFAULT_RULES if r.name == "cost_runaway")
    e = check(con, [rule], datetime(2026, 11, 2, 1, 0, tzinfo=UTC)).evaluations[0]
    assert e.baseline == pytest.approx(0.06)
    assert e.value == pytest.approx(0.54)
    assert e.bound == pytest.approx(0.6)
    assert e.state == "ok"  # 9x the last 24 hours is not a runaway
    literal = Rule("cost_vs_day", Metric.cost_per_hour_usd, "P2", timedelta(hours=1), ">",
                   baseline=Baseline.trailing, factor=1.5, min_volume=20)
    assert check(con, [literal], datetime(2026, 11, 2, 1, 0, tzinfo=UTC)).evaluations[0].state == "firing"


def test_the_interval_keeps_small_samples_quiet(con):
    # 2 errors of 21 requests is 9.5%, but its 95% interval reaches down to 2.6%.
    add_requests(con, "2026-11-01 12:00:00+00", minutes=3, per_minute=7, error_every=11)
    rule = next(r for r in DEFAULT_RULES if r.name == "error_rate_high")
    at = datetime(2026, 11, 1, 12, 5, tzinfo=UTC)
    e = check(con, [rule], at).evaluations[0]
    assert e.value == pytest.approx(2 / 21) and e.state == "ok"
    raw = Rule(**{**rule.__dict__, "interval": False})
    assert check(con, [raw], at).evaluations[0].state == "firing"


def test_split_rules_fire_per_key(con):
    add_requests(con, "2026-11-01 12:00:00+00", minutes=10, per_minute=10, prefix="a-", model="good")
    add_requests(con, "2026-11-01 12:00:00+00", minutes=10, per_minute=10, prefix="b-", model="bad", error_every=2)
    rule = Rule("by_model", Metric.error_rate, "P1", timedelta(minutes=5), ">", threshold=0.05, min_volume=20,
                by=(Split.model,))
    result = check(con, [rule], datetime(2026, 11, 1, 12, 10, tzinfo=UTC))
    assert {(e.key, e.state) for e in result.evaluations} == {("bad", "firing"), ("good", "ok")}


# --------------------------------------------------------------------------- rule files

def test_rules_file_overrides_defaults(tmp_path, cli, db_file):
    path = tmp_path / "alerts.toml"
    path.write_text('include_defaults = true\n\n[[rules]]\nname = "error_rate_high"\nthreshold = 0.6\n\n'
                    '[[rules]]\nname = "cache_hit_drop"\ndisabled = true\n')
    rules = rules_from_document(tomllib.loads(path.read_text()), str(path))
    names = [r.name for r in rules]
    assert "cache_hit_drop" not in names and len(rules) == len(DEFAULT_RULES) - 1
    assert next(r for r in rules if r.name == "error_rate_high").threshold == 0.6
    result = cli("alerts", "check", "--db", db_file, "--at", "2026-11-10T12:10", "--no-state", "--rules", path,
                 "--fail-on", "P1")
    assert result.exit_code == 0  # 50% errors no longer cross 60%


@pytest.mark.parametrize(("text", "message"), [
    ('[[rules]]\nname = "x"\nmetric = "vibes"\nseverity = "P1"\nwindow = "5m"\nthreshold = 1\n', "unknown metric 'vibes'"),
    ('[[rules]]\nname = "x"\nmetric = "error_rate"\nseverity = "P9"\nwindow = "5m"\nthreshold = 1\n', "severity must be one of"),
    ('[[rules]]\nname = "x"\nmetric = "error_rate"\nseverity = "P1"\nwindow = "soon"\nthreshold = 1\n', "expected a duration"),
    ('[[rules]]\nname = "x"\nmetric = "error_rate"\nseverity = "P1"\nwindow = "5m"\n', "give a threshold, a factor"),
    ('[[rules]]\nname = "x"\nmetric = "error_rate"\nseverity = "P1"\nwindow = "5m"\nfactor = 2\n', "need a baseline"),
    ('[[rules]]\nname = "x"\nmetric = "error_rate"\nseverity = "P1"\nwindow = "90s"\nthreshold = 1\n', "whole minutes"),
    ('[[rules]]\nname = "x"\nmetric = "error_rate"\nseverity = "P1"\nwindow = "5m"\nthreshold = 1\nby = "prompt"\n', "cannot split by 'prompt'"),
    ("rules = 3\n", "array of tables"),
    ("[[rules\n", "not valid TOML"),
])
def test_bad_rules_files_exit_2(tmp_path, cli, db_file, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = cli("alerts", "check", "--db", db_file, "--rules", path, "--no-state")
    assert result.exit_code == 2
    assert message in result.output


def test_rules_command_prints_an_editable_file(cli, tmp_path):
    result = cli("alerts", "rules", "--format", "toml")
    assert result.exit_code == 0
    path = tmp_path / "alerts.toml"
    path.write_text(result.stdout)
    rules = rules_from_document(tomllib.loads(result.stdout), str(path))
    assert [r for r in rules] == list(DEFAULT_RULES)


def test_rules_from_mapping_reports_unknown_keys():
    with pytest.raises(InputError, match="unknown key"):
        rules_from_document({"rules": [{"name": "x", "metric": "error_rate", "severity": "P1", "window": "5m",
                                        "threshold": 0.1, "thresold": 0.2}]}, "f.toml")


def test_the_interval_level_covers_a_days_windows(con):
    # Issue 17: 3 errors in 20 night requests (15%) cleared a one-window 95% interval
    # (down to 5.2%) and paged; at the family level of a day's 288 windows it does not.
    add_requests(con, "2026-11-01 03:00:00+00", minutes=4, per_minute=5, error_every=7)
    rule = next(r for r in DEFAULT_RULES if r.name == "error_rate_high")
    at = datetime(2026, 11, 1, 3, 5, tzinfo=UTC)
    e = check(con, [rule], at).evaluations[0]
    assert e.volume == 20 and e.value == pytest.approx(3 / 20)
    assert e.state == "ok"
    assert interval_z(rule) == pytest.approx(st.norm.isf(0.05 / 288))
    # A real outage at the same volume still pages: 12 of 20 failed.
    add_requests(con, "2026-11-02 03:00:00+00", minutes=4, per_minute=5, error_every=1, prefix="out-")
    assert check(con, [rule], datetime(2026, 11, 2, 3, 5, tzinfo=UTC)).evaluations[0].state == "firing"


# --------------------------------------------------------------------------- scan machinery

@pytest.mark.slow
def test_every_window_percentile_equals_each_window_computed_alone(con):
    """A scan computes every window's P95 at once; a check computes its few windows alone.
    Both must be DuckDB's quantile_cont over exactly the requests in [end - k, end), per
    key, with gaps (windows ending in, after and across minutes without traffic)."""
    from aimon.analysis.alerts.evaluate import _grid_for, evaluate

    add_requests(con, "2026-11-01 12:00:00+00", minutes=40, per_minute=7, prefix="a-", model="m1",
                 latency=300, latency_step=37.5)
    add_requests(con, "2026-11-01 12:50:00+00", minutes=20, per_minute=3, prefix="b-", model="m1",
                 latency=900, latency_step=-11, error_every=4)
    add_requests(con, "2026-11-01 12:20:00+00", minutes=5, per_minute=11, prefix="c-", model="m2",
                 latency=50, latency_step=3.25)
    rule = Rule("p95", Metric.latency_p95_ms, "P2", timedelta(minutes=15), ">", threshold=1000.0,
                by=(Split.model,))
    until = datetime(2026, 11, 1, 13, 30, tzinfo=UTC)
    since = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    grid, last = _grid_for(con, [rule], since, until)
    ends = list(range(last - 75, last + 1))  # windows from 12:00-12:15 (the first request) on
    every = evaluate(grid, rule, ends)
    assert every.filter(pl.col("value").is_not_null()).height > 80
    sql = """SELECT model, quantile_cont(latency_ms, 0.95), count(*) FROM requests
             WHERE status = 'ok' AND ts >= $end - INTERVAL 15 MINUTE AND ts < $end GROUP BY model"""
    for e in ends:
        at = grid.origin + timedelta(minutes=e)
        alone = pl.DataFrame(schema={"key": pl.Utf8})
        if e % 5 == 0:  # as a check computes it: this one window (and its grid) alone
            single_grid, index = _grid_for(con, [rule], at, at)
            alone = evaluate(single_grid, rule, [index])
        want = {m: (q, n) for m, q, n in con.execute(sql, {"end": at}).fetchall()}
        got = every.filter(pl.col("e") == e)
        for key, value, volume in got.select("key", "value", "volume").iter_rows():
            assert (value, volume) == (want.get(key, (None, 0))[0], want.get(key, (None, 0))[1]), (at, key)
            single = alone.filter(pl.col("key") == key)
            assert single.height == 0 or single.row(0, named=True)["value"] == value, (at, key)


@pytest.mark.parametrize("null_share", [0.0, 0.3, 0.9, 1.0])
def test_baseline_median_and_scale_by_group_by_equal_the_list_form(null_share):
    """The scan's baselines take the median and MAD of each row's windows through a long
    frame (with_median_scale) for speed: the figures must be list_median_scale's exactly,
    nulls, even and odd counts, single values and empty rows included, in row order."""
    from aimon.analysis.toolkit.robust import list_median_scale, with_median_scale

    rng = np.random.default_rng(7)
    n, width = 2_000, 49
    frame = pl.DataFrame({f"b{i}": np.where(rng.random(n) < null_share, np.nan, rng.lognormal(size=n))
                          for i in range(width)}).fill_nan(None).with_columns(pl.int_range(n).alias("id"))
    for values in ([pl.col(f"b{i}") for i in range(width)],
                   [pl.when(pl.col(f"b{i}") > 1).then(pl.col(f"b{i}").log()) for i in range(width)]):
        med, scale, count = list_median_scale(values)
        want = frame.select("id", med.alias("m"), scale.alias("s"), count.alias("n"))
        got = with_median_scale(frame, values, ("m", "s", "n")).select("id", "m", "s", "n")
        assert got.equals(want)
