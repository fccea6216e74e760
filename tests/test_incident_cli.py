"""aimon incident detect / postmortem through the CLI: formats, sections, redaction, exit codes."""

from __future__ import annotations

import csv as csvlib
import io
import json
from datetime import UTC, datetime

import pytest
from planted_logs import insert, traffic

from aimon.store.connection import connect

START = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
END = datetime(2026, 11, 3, 14, 47, tzinfo=UTC)
SECTIONS = ["## Summary", "## Impact", "## Timeline", "## Root-cause candidates", "## Contributing factors",
            "## Follow-ups"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("incident") / "inc.duckdb"
    con = connect(path, write=True)
    insert(con, traffic(incident=(START, END)))
    con.close()
    return path


@pytest.fixture(scope="module")
def quiet_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("quiet") / "quiet.duckdb"
    con = connect(path, write=True)
    insert(con, traffic(seed=11))
    con.close()
    return path


def test_detect_json(cli, db):
    res = cli("incident", "detect", "--since", "2d", "--db", db, "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["incidents"]) == 1
    inc = data["incidents"][0]
    assert {"id", "severity", "start", "end", "minutes", "signals", "requests", "errors", "error_rate",
            "baseline_error_rate", "p95_ms", "baseline_p95_ms", "peak_at", "peak_error_rate", "peak_p95_ms",
            "peak_z", "where", "where_requests", "where_errors", "traffic_ratio", "cost_usd",
            "cost_ratio"} <= set(inc)
    start = datetime.fromisoformat(inc["start"])
    assert abs((start - START).total_seconds()) <= 300
    assert abs((datetime.fromisoformat(inc["end"]) - END).total_seconds()) <= 300
    assert inc["severity"] == "P1"
    assert {"window", "settings", "baseline_error_rate"} <= set(data)


@pytest.mark.slow
def test_detect_table_and_gate(cli, db, quiet_db):
    res = cli("incident", "detect", "--since", "2d", "--db", db)
    assert res.exit_code == 0 and "P1" in res.stdout and "postmortem --start 2026-11-03T14:0" in res.stdout
    md = cli("incident", "detect", "--since", "2d", "--db", db, "-f", "markdown")
    assert "| P1 | 2026-11-03 14:0" in md.stdout and "| claude-sonnet-4-5 on /chat: " in md.stdout
    csv = cli("incident", "detect", "--since", "2d", "--db", db, "-f", "csv")
    assert csv.stdout.startswith("id,start,end,minutes,severity,") and "INC-20261103-140" in csv.stdout
    # CSV is read by programs: numbers and ISO instants, as in the JSON, not "18.7%" or "14,668 ms".
    row = next(csvlib.DictReader(io.StringIO(csv.stdout)))
    incident = json.loads(cli("incident", "detect", "--since", "2d", "--db", db, "-f", "json").stdout)["incidents"][0]
    assert float(row["error_rate"]) == pytest.approx(incident["error_rate"])
    assert float(row["p95_ms"]) == pytest.approx(incident["p95_ms"])
    assert datetime.fromisoformat(row["start"]) == datetime.fromisoformat(incident["start"])
    gate = cli("incident", "detect", "--since", "2d", "--db", db, "--fail-on", "P1")
    assert gate.exit_code == 1 and "P1 incident" in gate.stderr
    assert cli("incident", "detect", "--since", "2d", "--db", db, "--fail-on", "P0").exit_code == 0
    quiet = cli("incident", "detect", "--since", "2d", "--db", quiet_db, "--fail-on", "P3")
    assert quiet.exit_code == 0 and "No incident found" in quiet.stdout
    assert cli("incident", "detect", "--db", db, "--fail-on", "P9").exit_code == 2


@pytest.mark.slow
def test_postmortem_markdown_has_the_runbook_sections(cli, db, tmp_path):
    out = tmp_path / "pm.md"
    res = cli("incident", "postmortem", "--start", "2026-11-03T14:05", "--end", "2026-11-03T14:47",
              "--db", db, "-o", out)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "Likely root cause: model claude-sonnet-4-5 on endpoint /chat" in text
    assert "```mermaid" in text and "xychart-beta" in text
    assert "first bad request" in text and "| 14:05 | incident |" in text
    assert "jane.roe@example.com" not in text and "555-123-4567" not in text
    assert "\\[REDACTED_EMAIL\\]" in text  # Markdown escapes the brackets of a value
    assert "- [ ] " in text


@pytest.mark.slow
def test_postmortem_reads_in_the_zone_of_tz(cli, db):
    # --tz parsed the window in the zone but the post-mortem printed UTC beside request
    # times in the zone: one window read "14:05 to 14:47 UTC" with its first bad request "at 15:05".
    res = cli("incident", "postmortem", "--start", "2026-11-03T15:05", "--end", "2026-11-03T15:47",
              "--tz", "Europe/Berlin", "--db", db, "--format", "markdown")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert "Incident window 2026-11-03 15:05 to 2026-11-03 15:47 Europe/Berlin (end exclusive)" in text
    assert "from 15:05 to 15:47 Europe/Berlin" in text
    assert "| time (Europe/Berlin) |" in text and "| 15:05 | incident |" in text
    assert "2026-11-03 15:05 Europe/Berlin: the incident window opens" in text
    summary = json.loads(cli("incident", "postmortem", "--start", "2026-11-03T15:05", "--end",
                             "2026-11-03T15:47", "--tz", "Europe/Berlin", "--db", db, "--format",
                             "json").stdout)["summary"]
    assert "from 15:05 to 15:47 Europe/Berlin" in summary


@pytest.mark.slow
def test_postmortem_latest_json(cli, db):
    res = cli("incident", "postmortem", "--latest", "--since", "2d", "--db", db, "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"incident", "baseline", "summary", "figures", "impact", "error_types", "root_cause",
            "attribution", "timeline", "first_bad", "last_bad", "samples", "similar_incidents",
            "contributing_factors", "follow_ups", "pii_shown"} <= set(data)
    segment = {s["dimension"]: s["value"] for s in data["root_cause"]["segment"]}
    assert segment == {"model": "claude-sonnet-4-5", "endpoint": "/chat"}
    assert data["pii_shown"] is False
    assert all("@example.com" not in (s["prompt"] or "") for s in data["samples"])


def test_postmortem_show_pii(cli, db):
    res = cli("incident", "postmortem", "--start", "2026-11-03T14:05", "--end", "2026-11-03T14:47",
              "--db", db, "--show-pii", "--format", "json")
    assert res.exit_code == 0
    assert any("jane.roe@example.com" in s["prompt"] for s in json.loads(res.stdout)["samples"])


@pytest.mark.parametrize(("args", "message"), [
    ([], "--start and --end"),
    (["--start", "2026-11-03T14:05"], "--start and --end"),
    (["--latest", "--start", "2026-11-03T14:05"], "not both"),
    (["--start", "2026-11-03T15:00", "--end", "2026-11-03T14:00"], "is not before"),
    (["--start", "yesterday", "--end", "2026-11-03T14:00"], "--start"),
    (["--latest", "--format", "csv"], "a post-mortem cannot be written as csv"),
    (["--start", "2026-12-01T00:00", "--end", "2026-12-01T01:00"], "no requests between"),
])
def test_postmortem_usage_errors(cli, db, args, message):
    res = cli("incident", "postmortem", "--db", db, *args)
    assert res.exit_code == 2
    assert message in res.stderr


def test_postmortem_latest_without_incident(cli, quiet_db):
    res = cli("incident", "postmortem", "--latest", "--db", quiet_db)
    assert res.exit_code == 2
    assert "no incident found" in res.stderr
