"""`aimon audit pii` through the CLI: counts, cache, gate exit codes, and no raw PII in any
report format unless --show-pii."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import rows
from tests.pii_eval import fixtures as fx


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The fixture logs ingested once per module; each test gets a copy of the file."""
    return fx.build_database(tmp_path_factory.mktemp("pii-db"))


@pytest.fixture
def loaded(template, db_path):
    shutil.copy(template, db_path)


# The text columns these counts were written for; the default scans every field (below).
TEXTS = ("--fields", "prompt,response,system_prompt")


def audit(cli, *args):
    result = cli("audit", "pii", *args)
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.mark.slow
def test_counts_by_entity_field_model_endpoint_user_and_day(cli, loaded):
    data = json.loads(audit(cli, "-f", "json", *TEXTS).stdout)
    assert data["requests"] == 5
    assert data["requests_with_pii"] == 3  # r1, r2, r3; r4 holds look-alikes only
    assert data["share_with_pii"] == pytest.approx(0.6)
    by_entity = {r["entity_type"]: r for r in data["by_entity"]}
    assert {k: v["findings"] for k, v in by_entity.items()} == {
        "email": 2, "phone": 1, "us_ssn": 1, "credit_card": 1, "iban": 1, "ipv4": 1, "openai_api_key": 1}
    assert by_entity["openai_api_key"]["category"] == "secret"
    assert by_entity["email"]["first_seen"].startswith("2026-11-01T09:00:00")
    assert {(r["entity_type"], r["field"]) for r in data["by_field"] if r["entity_type"] == "email"} == {
        ("email", "prompt"), ("email", "response")}
    assert {r["model"] for r in data["by_model"]} == {"gpt-4o", "gpt-4o-mini"}
    assert {r["endpoint"] for r in data["by_endpoint"]} == {"/chat", "/support", "/code"}
    assert data["top_users"][0] == {"user_id": "u1", "requests_with_pii": 2, "findings": 6,
                                    "entity_types": ["credit_card", "email", "iban", "phone", "us_ssn"],
                                    "last_seen": data["top_users"][0]["last_seen"]}
    assert [d["requests_with_pii"] for d in data["by_day"]] == [2, 1, 0]
    assert {(r["entity_type"], r["reason"]) for r in data["rejected"]} >= {
        ("credit_card", "luhn"), ("us_ssn", "ssn_area"), ("iban", "mod97"), ("ipv4", "version_string")}
    assert data["scan"]["fields_scanned"] == 15  # prompt, response, system_prompt of 5 requests


@pytest.mark.slow
def test_findings_table_holds_positions_never_values(cli, loaded, db_path):
    audit(cli)
    from aimon.store.connection import connect

    con = connect(db_path)
    cols = [r[0] for r in rows(con, "DESCRIBE pii_findings")]
    assert cols[:7] == ["request_id", "field", "entity_type", "start", "end", "validated", "ts"]
    start, end, prompt = rows(con, """SELECT f.start, f."end", r.prompt FROM pii_findings f JOIN requests r
                                      USING (request_id) WHERE entity_type = 'iban'""")[0]
    assert prompt[start:end] == fx.IBAN
    dump = json.dumps([list(map(str, r)) for r in rows(con, "SELECT * FROM pii_findings")])
    assert not any(value in dump for value in fx.PLANTED)
    con.close()


@pytest.mark.slow
def test_second_run_uses_the_cache_and_rescan_scans_again(cli, loaded):
    first = json.loads(audit(cli, "-f", "json", *TEXTS).stdout)
    second = json.loads(audit(cli, "-f", "json", *TEXTS).stdout)
    assert first["scan"] is not None and second["scan"] is None
    assert second["by_entity"] == first["by_entity"]
    third = json.loads(audit(cli, "-f", "json", "--rescan", *TEXTS).stdout)
    assert third["scan"]["fields_scanned"] == 15 and third["findings"] == first["findings"]


@pytest.mark.slow
def test_fields_and_window_options(cli, loaded):
    data = json.loads(audit(cli, "-f", "json", "--fields", "response").stdout)
    assert [(r["entity_type"], r["findings"]) for r in data["by_entity"]] == [("email", 1)]
    data = json.loads(audit(cli, "-f", "json", "--since", "2026-11-02", *TEXTS).stdout)
    assert {r["entity_type"] for r in data["by_entity"]} == {"openai_api_key", "ipv4"}
    assert cli("audit", "pii", "--fields", "body").exit_code == 2


@pytest.mark.slow
def test_fail_on_gates_exit_1_with_one_line_per_type(cli, loaded):
    result = cli("audit", "pii", *TEXTS, "--fail-on", "email,credit_card,jwt")
    assert result.exit_code == 1
    assert "email: 2 finding(s) in 1 request(s)" in result.stderr
    assert "credit_card: 1 finding(s)" in result.stderr and "jwt" not in result.stderr
    assert cli("audit", "pii", *TEXTS, "--fail-on", "jwt,anthropic_api_key").exit_code == 0
    assert cli("audit", "pii", *TEXTS, "--fail-on", "any").exit_code == 1
    assert cli("audit", "pii", *TEXTS, "--fail-on", "secret").exit_code == 1
    bad = cli("audit", "pii", *TEXTS, "--fail-on", "emails")
    assert bad.exit_code == 2 and "unknown entity type" in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_no_report_format_prints_a_planted_value(cli, loaded, tmp_path, fmt):
    result = audit(cli, "-f", fmt, "--samples", "50")
    out = tmp_path / f"report.{fmt}"
    assert cli("audit", "pii", "-f", fmt, "--samples", "50", "-o", out).exit_code == 0
    for text in (result.stdout, result.stderr, out.read_text()):
        for value in fx.PLANTED:
            assert value not in text, (fmt, value)
    if fmt in ("markdown", "json"):
        marker = "\\[REDACTED_EMAIL\\]" if fmt == "markdown" else "[REDACTED_EMAIL]"  # brackets escaped in Markdown
        assert marker in result.stdout  # samples are there, redacted


@pytest.mark.slow
def test_show_pii_prints_raw_values_in_samples(cli, loaded):
    shown = audit(cli, "-f", "json", "--show-pii", "--samples", "50").stdout
    assert fx.EMAIL in shown and fx.CARD in shown
    assert json.loads(shown)["pii_shown"] is True


@pytest.mark.slow
def test_a_user_id_that_is_an_email_is_masked_in_top_users(cli, write_jsonl):
    rec = fx.records()[4] | {"prompt": f"mail me at {fx.EMAIL}"}
    assert cli("ingest", write_jsonl("r.jsonl", [rec])).exit_code == 0
    masked = json.loads(audit(cli, "-f", "json").stdout)["top_users"]
    assert masked[0]["user_id"] == "[REDACTED_EMAIL]"
    shown = json.loads(audit(cli, "-f", "json", "--show-pii").stdout)["top_users"]
    assert shown[0]["user_id"] == fx.USER_EMAIL_ID


def test_empty_database_reports_nothing(cli, write_jsonl):
    assert cli("ingest", write_jsonl("e.jsonl", [])).exit_code == 0
    result = cli("audit", "pii", "-f", "json", "--fail-on", "any")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["requests"] == 0 and data["by_entity"] == []


def test_markdown_shows_one_row_per_model_with_its_entity_breakdown(cli, loaded):
    md = audit(cli, "-f", "markdown", *TEXTS).stdout
    assert ("| gpt-4o | 6 | credit_card 1, email 1, email (response) 1, iban 1, phone 1, us_ssn 1 |" in md), md
    assert "| gpt-4o-mini | 2 | ipv4 1, openai_api_key 1 |" in md
    assert "| email | pii | 2 | 0 | 1 | 2026-11-01 09:00 | 2026-11-01 09:00 |" in md  # minutes, no offset


@pytest.mark.slow
def test_the_default_scans_ids_extra_and_feedback_too(cli, loaded):
    """Everything redact scrubs: a user id that is an e-mail, an e-mail in feedback text."""
    data = json.loads(audit(cli, "-f", "json").stdout)
    fields = {(r["entity_type"], r["field"]) for r in data["by_field"]}
    assert {("email", "user_id"), ("email", "feedback_text")} <= fields
    assert fx.USER_EMAIL_ID not in json.dumps(data) and fx.EMAIL not in json.dumps(data)


@pytest.mark.slow
def test_feedback_loaded_after_a_scan_is_scanned_by_the_next_audit(cli, loaded, tmp_path):
    first = json.loads(audit(cli, "-f", "json", "--fields", "feedback_text").stdout)
    assert [(r["entity_type"], r["findings"]) for r in first["by_entity"]] == [("email", 1)]
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps({"timestamp": "2026-11-02T10:30:00Z", "request_id": "r3", "user_id": "u2",
                                "feedback_type": "report", "feedback_text": "mail me: late.one@example.org"}) + "\n")
    assert cli("ingest", "--feedback", str(late)).exit_code == 0
    second = json.loads(audit(cli, "-f", "json", "--fields", "feedback_text").stdout)
    assert second["scan"] is not None
    assert [(r["entity_type"], r["findings"], r["requests"]) for r in second["by_entity"]] == [("email", 2, 2)]


@pytest.mark.slow
def test_feedback_without_a_request_is_scanned_and_never_printed(cli, loaded, tmp_path):
    planted = {"orphan.person@example.org": "email", "DE89370400440532013000": "iban",
               "+44 20 7946 0958": "phone", "sk-proj-CR5190L5c5tutmZzkdxTbCbwQhR5GdUl0JFb4KaA": "openai_api_key"}
    email, iban, phone, key = planted
    fb = [{"timestamp": "2026-11-02T10:00:00Z", "user_id": email, "feedback_type": "thumbs_down",
           "feedback_text": f"my account {iban} was charged twice"},
          {"timestamp": "2026-11-02T11:00:00Z", "user_id": "u9", "feedback_type": "thumbs_down",
           "feedback_text": "Bad answer.", "device": {"owner": phone, "token": key}}]
    path = tmp_path / "orphans.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in fb))
    result = cli("ingest", "--feedback", str(path))
    assert result.exit_code == 0, result.output
    for fmt in ("json", "table", "markdown", "csv"):
        out = audit(cli, "-f", fmt).stdout
        assert not [v for v in planted if v in out or v.lower() in out], fmt
    data = json.loads(audit(cli, "-f", "json").stdout)
    found = {(r["entity_type"], r["field"]): r["findings"] for r in data["feedback_without_request"]}
    assert found == {("email", "feedback_user_id"): 1, ("iban", "feedback_text"): 1,
                     ("phone", "feedback_extra"): 1, ("openai_api_key", "feedback_extra"): 1}
    assert data["findings"] >= sum(found.values())
    gated = cli("audit", "pii", "--fail-on", "iban", "--fields", "feedback_text")
    assert gated.exit_code == 1 and "iban" in gated.stderr and iban not in gated.stderr
