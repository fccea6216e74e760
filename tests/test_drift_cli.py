"""`aimon drift` end to end: the planted support-bot shift, stable halves, redaction,
exit codes and formats. Tests marked slow embed with the real offline model."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re

import pytest

from tests.conftest import SAMPLE_LOGS

ACROSS = ["--endpoint", "/support-bot", "--baseline", "2026-11-01..2026-11-08", "--current", "2026-11-08.."]
# Two halves of a stable stretch: support-v1 with the A/B experiment running throughout.
STABLE = ["--endpoint", "/support-bot", "--baseline", "2026-11-03..2026-11-05T12:00",
          "--current", "2026-11-05T12:00..2026-11-08"]
BILLING = {"billing", "charge", "charged", "invoice", "payment", "receipt", "card"}
LOGIN = {"login", "log", "password", "reset", "account", "sign", "authenticator", "locked"}


def drift_json(cli, db, *args):
    result = cli("drift", "--db", db, "--format", "json", "--sample", "1500", *args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout), result


@pytest.fixture(scope="module")
def planted(sample_db_copy):
    from typer.testing import CliRunner

    from aimon.cli import app

    result = CliRunner().invoke(app, ["drift", "--db", str(sample_db_copy), "--format", "json",
                                      "--sample", "1500", "--fail-on-drift", *ACROSS])
    return result


@pytest.mark.slow
def test_the_planted_support_bot_topic_shift_is_flagged_and_named(planted):
    assert planted.exit_code == 1, planted.output  # --fail-on-drift
    report = json.loads(planted.stdout)
    truth = json.loads((SAMPLE_LOGS / "ground_truth.json").read_text())["drift"]
    assert truth["change_at"].startswith(report["current"]["start"][:10])
    (group,) = report["groups"]
    assert group["semantic"]["drifted"] and group["semantic"]["p_adjusted"] < 0.05
    grew = [t["name"] for t in group["topics"] if t["direction"] == "grew"]
    shrank = [t["name"] for t in group["topics"] if t["direction"] == "shrank"]
    words = lambda names: {w for n in names for w in n.split(" · ")}  # noqa: E731
    assert any(w.startswith("refund") for w in words(grew)), grew
    assert any(w.startswith("cancel") for w in words(grew)), grew
    assert words(shrank) & BILLING and words(shrank) & LOGIN, shrank
    for topic in group["topics"]:
        assert len(topic["examples"]) <= 3 and topic["share_baseline"] is not None
    drifted = {s["signal"] for s in group["signals"] if s["drifted"]}
    assert {"response_chars", "output_tokens", "prompt_version"} <= drifted
    assert {"error", "model"}.isdisjoint(drifted)
    assert report["sampling"]["per_window"] == 1500 and report["sampling"]["seed"] == 0
    assert report["sampling"]["sampled"] and any("sampled 1,500 of" in n for n in report["notes"])
    assert "Holm" in report["multiplicity"]
    assert report["embeddings"]["model"].startswith("all-MiniLM-L6-v2@")


@pytest.mark.slow
def test_two_halves_of_a_stable_window_are_not_flagged(cli, sample_db_copy, planted):
    result = cli("drift", "--db", sample_db_copy, "--sample", "1500", "--fail-on-drift", *STABLE)
    assert result.exit_code == 0, result.output
    report, _ = drift_json(cli, sample_db_copy, *STABLE)
    assert not report["drifted"] and report["breaches"] == []
    assert report["groups"][0]["semantic"]["p_adjusted"] >= 0.05


@pytest.mark.slow
def test_default_windows_are_the_newest_seven_days_against_the_seven_before(cli, sample_db_copy, planted):
    report, _ = drift_json(cli, sample_db_copy, "--endpoint", "/support-bot")
    assert report["current"]["start"].startswith("2026-11-08T00:00:00")
    assert report["baseline"]["start"].startswith("2026-11-01T00:00:00")
    assert report["embeddings"]["computed"] == 0  # the first run cached every prompt


@pytest.mark.slow
def test_table_markdown_and_csv_say_how_they_sampled(cli, sample_db_copy, planted):
    for fmt in ("table", "markdown"):
        result = cli("drift", "--db", sample_db_copy, "--format", fmt, "--sample", "1500", *ACROSS)
        assert result.exit_code == 0, result.output
        assert "seed 0" in result.stdout and "sampled 1,500 of" in result.stdout.replace("\n", " ")
        assert "refund" in result.stdout
    result = cli("drift", "--db", sample_db_copy, "--format", "csv", "--sample", "1500", *ACROSS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["signal"] == "semantic" and rows[0]["drifted"].lower() == "true"
    assert {r["signal"] for r in rows} >= {"response_chars", "latency_ms", "error", "model"}


def _pii_logs(write_jsonl):
    records = []
    for i in range(160):
        day = "2026-11-02" if i < 80 else "2026-11-09"
        topic = ("refund" if i % 2 else "password") if i < 80 else "refund"
        records.append({
            "timestamp": f"{day}T{10 + i % 8:02d}:{i % 60:02d}:00Z", "request_id": f"r{i}",
            "user_id": f"jane.doe{i % 40}@example.com", "session_id": f"s{i}", "endpoint": "/support",
            "model": "gpt-4o-mini", "prompt": f"Please help with my {topic}, write to jane.doe{i % 40}@example.com "
                                              f"or call +1 415 555 01{i % 90:02d}. Case {i}.",
            "response": "We are on it.", "prompt_tokens": 30, "completion_tokens": 5, "latency_ms": 500 + i,
            "status": "ok"})
    return write_jsonl("pii.jsonl", records)


@pytest.mark.slow
def test_examples_and_topic_names_never_show_raw_pii_unless_asked(cli, write_jsonl, db_path):
    assert cli("ingest", _pii_logs(write_jsonl), "--db", db_path).exit_code == 0
    args = ["--baseline", "2026-11-01..2026-11-08", "--current", "2026-11-08..2026-11-15", "--format", "json",
            "--db", db_path]
    result = cli("drift", *args)
    assert result.exit_code == 0, result.output
    assert "@example.com" not in result.stdout and "415 555" not in result.stdout
    assert "jane" not in result.stdout.lower()
    report = json.loads(result.stdout)
    examples = [e for g in report["groups"] for t in g["topics"] for e in t["examples"]]
    assert examples and all("[REDACTED_EMAIL]" in e for e in examples)
    shown = cli("drift", *args, "--show-pii")
    assert "@example.com" in shown.stdout and json.loads(shown.stdout)["pii_shown"] is True


@pytest.mark.slow
def test_when_the_cache_cannot_be_written_the_answer_comes_with_a_note(cli, write_jsonl, db_path, monkeypatch):
    from aimon.errors import DatabaseInUse

    assert cli("ingest", _pii_logs(write_jsonl), "--db", db_path).exit_code == 0
    import aimon.store.connection as command

    real = command.opened

    def no_writer(path, **kw):
        if kw.get("write"):
            raise DatabaseInUse(f"database is in use by another process: {path}")
        return real(path, **kw)

    monkeypatch.setattr(command, "opened", no_writer)
    before = db_path.read_bytes()
    result = cli("drift", "--db", db_path, "--format", "json", "--baseline", "2026-11-01..2026-11-08",
                 "--current", "2026-11-08..2026-11-15")
    assert result.exit_code == 0, result.output
    assert any("not cached" in n and "in use" in n for n in json.loads(result.stdout)["notes"])
    assert db_path.read_bytes() == before


def test_without_the_extra_one_line_and_exit_2(cli, monkeypatch, db_path, write_jsonl):
    from tests.conftest import request

    assert cli("ingest", write_jsonl("r.jsonl", [request()]), "--db", db_path).exit_code == 0
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sentence_transformers" else real(name, *a))
    result = cli("drift", "--db", db_path)
    assert result.exit_code == 2
    assert "pip install 'aimon[embeddings]'" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3


@pytest.fixture(scope="module")
def one_request(tmp_path_factory):
    from tests.conftest import ingested_template, request

    return ingested_template(tmp_path_factory, [request()])


@pytest.mark.parametrize(("args", "message"), [
    (["--field", "title"], "--field 'title'"),
    (["--by", "user_id"], "--by 'user_id'"),
    (["--baseline", "last week"], "START..END"),
    (["--baseline", "2026-11-01..2026-11-05", "--current", "2026-11-03..2026-11-09"], "overlap"),
    (["--current", "2026-11-05..2026-11-01"], "empty"),
])
def test_bad_options_are_one_line_and_exit_2(cli, db_path, one_request, args, message):
    from tests.conftest import copy_db

    copy_db(one_request, db_path)
    result = cli("drift", "--db", db_path, *args)
    assert result.exit_code == 2, result.output
    assert re.search(re.escape(message), result.output.replace("\n", " ")), result.output


@pytest.mark.slow
def test_the_daily_report_shows_quality_drift_only_from_cached_embeddings(cli, write_jsonl, db_path):
    records = [{"timestamp": f"2026-11-{day:02d}T{8 + i % 10:02d}:{i:02d}:00Z", "request_id": f"d{day}-{i}",
                "user_id": f"u{i % 25}", "endpoint": "/support", "model": "gpt-4o-mini",
                "prompt": "Where is my order?", "response": f"Your parcel number {i} is with the carrier "
                f"and should arrive {'tomorrow' if i % 2 else 'this week'}.", "status": "ok",
                "prompt_tokens": 10, "completion_tokens": 20, "latency_ms": 300 + i}
               for day in range(3, 11) for i in range(60)]
    assert cli("ingest", write_jsonl("r.jsonl", records), "--db", db_path).exit_code == 0
    before = json.loads(cli("report", "daily", "--date", "2026-11-10", "--db", db_path, "-f", "json").stdout)
    assert before["quality_drift"] is None  # never embeds on its own
    assert cli("drift", "--db", db_path, "--field", "response", "--baseline", "2026-11-03..2026-11-10",
               "--current", "2026-11-10..2026-11-11").exit_code == 0
    after = json.loads(cli("report", "daily", "--date", "2026-11-10", "--db", db_path, "-f", "json").stdout)
    q = after["quality_drift"]
    assert q is not None and q["n_current"] == 60 and q["n_baseline"] == 420 and not q["drifted"]
    table = cli("report", "daily", "--date", "2026-11-10", "--db", db_path).stdout
    assert "Quality drift" in table
