"""Golden files: the daily report of sample_logs in every format.

The time zone is pinned (UTC), the day is fixed (2026-11-10: the planted incident), and
volatile values are normalised before comparing: floats to 9 significant digits (a sum
of doubles may differ in its last bits between thread schedules) and the aimon version.

After an intended change, rewrite them with:

    AIMON_UPDATE_GOLDEN=1 python -m pytest tests/test_report_golden.py
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimon import __version__
from aimon.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
GOLDEN = Path(__file__).parent / "golden"
DAY = "2026-11-10"
FORMATS = {"table": "txt", "markdown": "md", "json": "json", "html": "html"}
REQUEST_FILES = ("requests.jsonl.gz", "batch_output.jsonl", "otel_spans.jsonl")


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    missing = [f for f in (*REQUEST_FILES, "feedback.jsonl") if not (SAMPLE / f).exists()]
    if missing:
        pytest.skip(f"sample_logs not present: {', '.join(missing)}")
    path = tmp_path_factory.mktemp("golden") / "sample.duckdb"
    runner = CliRunner()
    # As the quickstart does it: `aimon ingest` also takes the price snapshot.
    for args in ([*(str(SAMPLE / f) for f in REQUEST_FILES)], ["--feedback", str(SAMPLE / "feedback.jsonl")]):
        result = runner.invoke(app, ["ingest", *args, "--db", str(path)])
        assert result.exit_code == 0, result.output
    return path


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.6g}")  # summation order moves the last digits
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def normalise(fmt: str, text: str) -> str:
    if fmt == "json":
        return json.dumps(_round(json.loads(text)), indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        text = text.replace(f"aimon {__version__}", "aimon VERSION")
        pattern = re.compile(r'(<script id="aimon-data" type="application/json">)(.*?)(</script>)', re.S)
        match = pattern.search(text)
        data = json.dumps(_round(json.loads(match.group(2).replace("<\\/", "</"))), ensure_ascii=False,
                          indent=1).replace("</", "<\\/")
        return text[:match.start(2)] + data + text[match.end(2):]
    if fmt == "markdown":
        # Mermaid chart data: sums in another order can flip a value's 6th digit.
        return re.sub(r"^(\s*(?:line|bar) )\[(.*)\]$",
                      lambda m: m.group(1) + "[" + ", ".join(f"{float(v):.4g}" for v in m.group(2).split(",")) + "]",
                      text, flags=re.M)
    return text


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_daily_report_of_sample_logs(cli, sample_db, tmp_path, fmt):
    out = tmp_path / f"daily.{FORMATS[fmt]}"
    result = cli("report", "daily", "--db", sample_db, "--date", DAY, "--tz", "UTC", "-f", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    got = normalise(fmt, out.read_text(encoding="utf-8"))
    golden = GOLDEN / f"daily-{DAY}.{FORMATS[fmt]}"
    if os.environ.get("AIMON_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with AIMON_UPDATE_GOLDEN=1"
    assert got == golden.read_text(encoding="utf-8")


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


def test_alert_replay_of_sample_logs_pages_for_the_planted_problems(cli, sample_db):
    data = json.loads(cli("alerts", "scan", "--db", sample_db, "--since", "2026-11-01", "-f", "json").stdout)
    pages = [(i["rule"], i["start"][:16]) for i in data["incidents"] if i["severity"] in ("P0", "P1")]
    # The incident (errors from 14:05) and the runaway user (from 02:07:13) page; nothing else does.
    assert [r for r, _ in pages] == ["error_rate_high", "cost_runaway"]
    assert "2026-11-10T14:05" < pages[0][1] <= "2026-11-10T14:30"
    assert "2026-11-12T02:07" < pages[1][1] <= "2026-11-12T02:30"


def test_month_projection_is_the_cost_forecast(cli, sample_db):
    # One projection in one place: the report's month figure is `aimon cost forecast`'s
    # month-end for the history up to the report's day (issue 17: it was 30 x a run
    # rate inflated by the runaway day, $147.50 against the forecast's $107.12).
    report = json.loads(cli("report", "daily", "--db", sample_db, "--date", "2026-11-14", "--tz", "UTC",
                            "-f", "json").stdout)
    forecast = json.loads(cli("cost", "forecast", "--db", sample_db, "--until", "2026-11-15", "--tz", "UTC",
                              "--horizon", "1", "-f", "json").stdout)
    cost = report["cost"]
    assert cost["month"] == forecast["month_end"]["month"] == "2026-11"
    assert cost["projected_month_usd"] == pytest.approx(forecast["month_end"]["projected_total_usd"])
    assert cost["projected_month_low_usd"] == pytest.approx(forecast["month_end"]["lo80_usd"])
    assert cost["projected_month_high_usd"] == pytest.approx(forecast["month_end"]["hi80_usd"])
    # On the golden day there are 10 days of history: no projection, and the reason.
    early = json.loads(cli("report", "daily", "--db", sample_db, "--date", DAY, "--tz", "UTC",
                           "-f", "json").stdout)["cost"]
    assert early["projected_month_usd"] is None and "not enough history" in early["projection_note"]
