"""`aimon redact`: a Parquet copy without raw PII, with markers or stable keyed pseudonyms."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from aimon.analysis.pii.export import pseudonym, token
from tests.conftest import request
from tests.pii_eval import fixtures as fx


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return fx.build_database(tmp_path_factory.mktemp("redact-db"))


@pytest.fixture
def loaded(template, db_path):
    shutil.copy(template, db_path)


def read(path) -> list[dict]:
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    cols = rel.columns
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def all_text(rows: list[dict]) -> str:
    return json.dumps(rows, default=str)


@pytest.mark.slow
def test_marker_copy_has_no_planted_value_and_keeps_everything_else(cli, loaded, tmp_path):
    result = cli("redact", "--out", tmp_path / "share", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "markers" and data["key_id"] is None
    requests = read(tmp_path / "share" / "requests.parquet")
    feedback = read(tmp_path / "share" / "feedback.parquet")
    assert len(requests) == 5 and len(feedback) == 2
    text = all_text(requests) + all_text(feedback)
    for value in fx.PLANTED:
        assert value not in text, value
    by_id = {r["request_id"]: r for r in requests}
    assert by_id["r1"]["prompt"] == "Hi, I'm Maria, write to [REDACTED_EMAIL] or call [REDACTED_PHONE]."
    assert by_id["r3"]["prompt"] == "OPENAI_API_KEY=[REDACTED_OPENAI_API_KEY] fails from [REDACTED_IPV4]"
    assert by_id["r4"]["prompt"] == fx.records()[3]["prompt"]  # look-alikes stay
    assert by_id["r5"]["user_id"] == "[REDACTED_EMAIL]"        # an id that is an e-mail
    assert by_id["r1"]["user_id"] == "u1" and by_id["r1"]["model"] == "gpt-4o"
    assert feedback[0]["feedback_text"] == "it leaked [REDACTED_EMAIL]!"
    manifest = json.loads((tmp_path / "share" / "manifest.json").read_text())
    assert manifest["by_entity"]["email"] == 4  # 2 prompt/response, 1 feedback text, 1 user id
    assert not list((tmp_path / "share").glob("*.tmp"))


def test_pseudonyms_are_stable_keyed_and_joinable(cli, loaded, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("k" * 32 + "\n")
    result = cli("redact", "--out", tmp_path / "p", "--pseudonymize-key-file", key_file, "-f", "json")
    assert result.exit_code == 0, result.output
    requests = {r["request_id"]: r for r in read(tmp_path / "p" / "requests.parquet")}
    feedback = read(tmp_path / "p" / "feedback.parquet")
    text = all_text(list(requests.values())) + all_text(feedback)
    for value in fx.PLANTED:
        assert value not in text, value
    key = b"k" * 32
    email_token = pseudonym(key, "email", fx.EMAIL)
    assert re.fullmatch(r"\[EMAIL_[0-9a-f]{16}\]", email_token)
    # The same person gets the same token in prompt, response and feedback text ...
    assert email_token in requests["r1"]["prompt"] and email_token in requests["r1"]["response"]
    assert email_token in feedback[0]["feedback_text"]
    # ... and normalisation makes the spelling irrelevant.
    assert pseudonym(key, "email", fx.EMAIL.upper()) == email_token
    # Ids are tokens that still join requests to feedback.
    assert requests["r1"]["user_id"] == "u_" + token(key, "user_id", "u1") == feedback[0]["user_id"]
    assert requests["r1"]["session_id"].startswith("s_")
    # Another key, other tokens.
    assert pseudonym(b"x" * 32, "email", fx.EMAIL) != email_token
    assert json.loads(result.stdout)["key_id"] == json.loads((tmp_path / "p" / "manifest.json").read_text())["key_id"]


def test_a_short_or_missing_key_file_is_a_usage_error(cli, loaded, tmp_path):
    short = tmp_path / "short"
    short.write_text("abc")
    for path in (short, tmp_path / "missing"):
        result = cli("redact", "--out", tmp_path / "x", "--pseudonymize-key-file", path)
        assert result.exit_code == 2
        assert "key file" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("pseudonyms", [False, True], ids=["markers", "pseudonyms"])
def test_ids_and_names_are_scrubbed_and_still_join(cli, write_jsonl, db_path, tmp_path, pseudonyms):
    mail, phone = "ana.souza@example.org", "+44 20 7946 0958"
    log = write_jsonl("r.jsonl", [request(request_id=f"ticket-{mail}", endpoint=f"/inbox/{mail}",
                                          experiment=f"exp {phone}", variant=mail, prompt_version=mail,
                                          status="error", error_type=f"bounce:{mail}", model_version=mail)])
    fb = write_jsonl("f.jsonl", [{"request_id": f"ticket-{mail}", "feedback_id": f"fb-{mail}",
                                  "timestamp": "2026-11-01T10:05:00Z", "feedback_type": "thumbs_down",
                                  "category": f"call {phone}"}])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert cli("ingest", "--feedback", fb, "--db", db_path).exit_code == 0
    args = ["redact", "--db", db_path, "--out", tmp_path / "share"]
    if pseudonyms:
        (tmp_path / "key").write_text("k" * 32)
        args += ["--pseudonymize-key-file", tmp_path / "key"]
    assert cli(*args).exit_code == 0
    requests, feedback = read(tmp_path / "share" / "requests.parquet"), read(tmp_path / "share" / "feedback.parquet")
    text = all_text(requests) + all_text(feedback)
    assert mail not in text and phone not in text and "7946" not in text
    assert requests[0]["request_id"] == feedback[0]["request_id"]
    assert ("EMAIL_" if pseudonyms else "[REDACTED_EMAIL]") in requests[0]["request_id"]


@pytest.mark.slow
def test_a_national_phone_gets_the_token_of_its_international_form(cli, write_jsonl, db_path, tmp_path):
    # A UK request's 020 7946 0958 is +44 20 7946 0958: read as a US number, it got
    # another token, and an analyst counting per person saw two people.
    log = write_jsonl("r.jsonl", [
        request(request_id="a", jurisdiction="GB", prompt="ring me on 020 7946 0958 please"),
        request(request_id="b", jurisdiction="GB", prompt="my number is +44 20 7946 0958")])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    (tmp_path / "key").write_text("k" * 32)
    assert cli("redact", "--db", db_path, "--out", tmp_path / "p", "--pseudonymize-key-file",
               tmp_path / "key").exit_code == 0
    by_id = {r["request_id"]: r["prompt"] for r in read(tmp_path / "p" / "requests.parquet")}
    tokens = {re.search(r"\[PHONE_[0-9a-f]{16}\]", text).group(0) for text in by_id.values()}
    assert tokens == {pseudonym(b"k" * 32, "phone", "+44 20 7946 0958")}
