"""The daily report and the alert replay on sample_logs find what its generator planted
(the golden files of every command are in test_golden.py)."""

from __future__ import annotations

import json

import pytest

DAY = "2026-11-10"


def test_sample_report_finds_the_planted_incident(cli, sample_db):
    data = json.loads(cli("report", "daily", "--db", sample_db, "--date", DAY, "-f", "json").stdout)
    hours = {row["start"][11:13]: row for row in data["series"]["rows"]}
    # 2026-11-10 14:05-14:47: claude-sonnet-4-5 on /chat fails 40% of the time, 4x slower.
    assert max(data["series"]["rows"], key=lambda r: r["error_rate"] or 0)["start"].startswith(f"{DAY}T14")
    assert hours["14"]["latency_p95_ms"] == max(r["latency_p95_ms"] or 0 for r in data["series"]["rows"])
    sonnet = next(m for m in data["by_model"] if m["model"] == "claude-sonnet-4-5")
    assert sonnet["error_rate"] > 0.05
    # The self-hosted model has no price: its spend is counted apart, never as $0.
    llama = next(m for m in data["by_model"] if m["model"] == "acme-llama-70b-ft")
    assert llama["unpriced_requests"] > 0 and not llama["cost_usd"]  # only its free cache hits are priced
    assert data["cost"]["unpriced_requests"] >= llama["unpriced_requests"]
    md = cli("report", "daily", "--db", sample_db, "--date", DAY, "-f", "markdown").stdout
    assert f"| acme-llama-70b-ft | {llama['requests']:,} |" in md
    assert f"$0.00 + {llama['unpriced_requests']:,} unpriced |" in md


@pytest.mark.slow
def test_alert_replay_of_sample_logs_pages_for_the_planted_problems(cli, sample_db):
    data = json.loads(cli("alerts", "scan", "--db", sample_db, "--since", "2026-11-01", "-f", "json").stdout)
    pages = [(i["rule"], i["start"][:16]) for i in data["incidents"] if i["severity"] in ("P0", "P1")]
    # The incident (errors from 14:05) and the runaway user (from 02:07:13) page; nothing else does.
    assert [r for r, _ in pages] == ["error_rate_high", "cost_runaway"]
    assert "2026-11-10T14:05" < pages[0][1] <= "2026-11-10T14:30"
    assert "2026-11-12T02:07" < pages[1][1] <= "2026-11-12T02:30"


def test_cost_per_hour_high_is_silent_on_ordinary_days_and_fires_on_the_runaway(cli, sample_db):
    # Issue 17: with the same-minute median of 7 days this rule opened 32 incidents in 14
    # ordinary days (an hour's spend here is a handful of expensive requests). The time-of-
    # day baseline (49 windows, log scale, 6 deviations) leaves one: the runaway loop
    # (ground_truth.json: 2026-11-12, first request 02:07:13, $16.73 in the hour).
    data = json.loads(cli("alerts", "scan", "--db", sample_db, "--since", "2026-11-01", "-f", "json").stdout)
    cost = [i for i in data["incidents"] if i["rule"] == "cost_per_hour_high"]
    assert [(i["start"][:16], i["end"][:13]) for i in cost] == [("2026-11-12T02:08", "2026-11-12T03")]
    assert cost[0]["worst_value"] > 16
    summary = next(s for s in data["summary"] if s["rule"] == "cost_per_hour_high")
    # Every day from the fourth on has a baseline: the silence is a verdict, not a gap.
    assert summary["minutes_no_baseline"] <= 3 * 1440 + 180
