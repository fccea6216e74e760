"""`aimon audit compliance`: PII by field, flags, models, jurisdictions and consent,
retention, deletions; configurable in aimon.toml; never a raw value."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.pii_eval import fixtures as fx


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return fx.build_database(tmp_path_factory.mktemp("compliance-db"))


@pytest.fixture
def loaded(template, db_path):
    shutil.copy(template, db_path)


def report(cli, *args) -> dict:
    result = cli("audit", "compliance", "-f", "json", "--as-of", "2026-11-27", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_the_figures_the_issue_lists(cli, loaded):
    data = report(cli)
    assert data["total_requests"] == 5
    assert data["requests_with_pii"] == 3             # r1, r2, r3 (r3: an IP address and a secret)
    assert data["requests_with_pii_in_prompt"] == 3   # r1, r2, r3's IPv4 address
    assert data["requests_with_pii_in_response"] == 1
    assert data["requests_with_secrets"] == 1
    assert data["content_flags"] == 1
    assert data["content_flags_by_category"] == [{"category": "user report: harmful", "flags": 1}]
    assert {m["model"]: m["requests"] for m in data["models"]} == {"gpt-4o": 3, "gpt-4o-mini": 2}
    jur = {j["jurisdiction"]: j for j in data["jurisdictions"]}
    assert jur["EU"]["consent_required"] is True and jur["US"]["consent_required"] is False
    assert jur["EU"]["without_consent"] == 1 and jur["UK"]["consent_unknown"] == 1
    assert data["requests_without_consent"] == 1       # r1: EU, consent false
    assert data["requests_consent_unknown"] == 1       # r4: UK, consent not logged
    assert data["retention"]["days"] == 90
    assert data["retention"]["rows_past_retention"]["requests"] == 0
    assert data["deletions"] == [] and data["rows_deleted"] == 0


@pytest.mark.slow
def test_pii_counts_follow_findings_by_field(cli, loaded):
    data = report(cli)
    by_entity = {r["entity_type"]: r for r in data["pii_by_entity"]}
    assert by_entity["email"] == {"entity_type": "email", "requests": 1, "in_prompt": 1, "in_response": 1,
                                  "in_system_prompt": 0}


@pytest.mark.slow
def test_consent_and_retention_come_from_aimon_toml_or_options(cli, loaded, tmp_path):
    (tmp_path / "aimon.toml").write_text('[compliance]\nretention_days = 25\nconsent_required = ["US"]\n')
    data = report(cli)
    assert data["config"] == {"source": "aimon.toml", "retention_days": 25, "consent_required": ["US"]}
    assert data["requests_without_consent"] == 0 and data["requests_consent_unknown"] == 0
    # 2026-11-27 minus 25 days = 2026-11-02: r1 and r2 are past retention, and their feedback.
    assert data["retention"]["rows_past_retention"]["requests"] == 2
    assert data["retention"]["rows_past_retention"]["feedback"] == 1
    data = report(cli, "--retention-days", "365", "--consent-required", "EU,UK")
    assert data["retention"]["rows_past_retention"]["requests"] == 0
    assert data["requests_without_consent"] == 1 and data["requests_consent_unknown"] == 1
    # EU includes its member states.
    data = report(cli, "--consent-required", "eu")
    assert {j["jurisdiction"] for j in data["jurisdictions"] if j["consent_required"]} == {"EU"}


def test_a_broken_config_is_a_usage_error(cli, loaded, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[compliance]\nretention_days = 'soon'\n")
    result = cli("audit", "compliance", "--config", bad)
    assert result.exit_code == 2 and "retention_days" in result.stderr
    result = cli("audit", "compliance", "--config", tmp_path / "missing.toml")
    assert result.exit_code == 2


@pytest.mark.slow
def test_deletions_are_listed_after_forget_and_purge(cli, loaded):
    assert cli("forget", "--user", "u3").exit_code == 0
    assert cli("purge", "--older-than", "2026-11-01T09:30:00Z").exit_code == 0
    data = report(cli)
    assert [d["action"] for d in data["deletions"]] == ["forget", "purge"]
    assert data["deletions"][0]["tables"]["requests"] == 1
    assert data["rows_deleted"] == sum(d["rows_deleted"] for d in data["deletions"])
    assert "u3" not in json.dumps(data["deletions"])


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_no_format_prints_a_planted_value(cli, loaded, fmt):
    result = cli("audit", "compliance", "-f", fmt)
    assert result.exit_code == 0, result.output
    for value in fx.PLANTED:
        assert value not in result.stdout


@pytest.mark.slow
def test_moderation_flags_logged_in_extra_count_as_content_flags(cli, write_jsonl):
    from tests.conftest import request

    recs = [request(request_id="m1", flagged=True), request(request_id="m2", moderation={"flagged": "true"}),
            request(request_id="m3", flagged=False)]
    assert cli("ingest", write_jsonl("m.jsonl", recs)).exit_code == 0
    data = report(cli)
    assert data["content_flags"] == 2
    assert data["content_flags_by_category"] == [{"category": "moderation flag (logged)", "flags": 2}]
