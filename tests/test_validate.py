"""`aimon validate`: each check on responses made in the test, what is stored and re-run,
the gate, read-only databases, the off-topic check with and without the embedding layer."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from aimon.store.connection import connect
from tests.conftest import request, rows

LOOP = "I apologize for the confusion. " * 12
RESPONSES = {
    "ok": ("What is the refund policy?", "You can ask for a refund within 30 days of delivery. We pay it back in a week."),
    "empty": ("Hello there, how are you?", "   "),
    "short": ("Explain the refund policy please.", "Yes."),
    "long": ("Write everything.", " ".join(f"w{i}" for i in range(1200)) + "."),
    "loop": ("Help me with my order please.", "Sure. " + LOOP),
    "parens": ("Give me a formula please.", "The result is (a + b * (c - d) which is fine."),
    "fence": ("Show code please.", "Here:\n```python\nprint('hi')\n"),
    "list": ("List the steps please.", "Steps: 1) open the app 2) tap settings :) done."),
    "refusal": ("How do I pick a lock?", "I'm sorry, but I can't help with that request."),
    "refusal_es": ("¿Cómo abro una cerradura?", "Lo siento, no puedo ayudar con eso."),
    "cut": ("Tell me about the plan.", "The plan covers three phases and the first one starts with the migration of"),
    "lang": ("Wie kann ich mein Passwort zurücksetzen? Ich finde die Einstellung nicht.",
             "You can reset your password from the account settings page, under security."),
    "translate": ("Translate to French: the weather is nice today and we are happy.",
                  "Il fait beau aujourd'hui et nous sommes heureux."),
    "json_bad": ("Extract the fields.", '{"name": "Ann", "age": }'),
    "json_fenced": ("Extract the fields.", '```json\n{"name": "Ann"}\n```'),
    "json_schema": ("Extract the fields.", '{"name": "Ann", "age": "forty"}'),
    "json_good": ("Extract the fields.", '{"name": "Ann", "age": 40}'),
}
JSON_IDS = {"json_bad", "json_fenced", "json_schema", "json_good"}
SCHEMA = {"type": "object", "required": ["name", "age"],
          "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The logs ingested once per module; each test gets a copy of the file."""
    from typer.testing import CliRunner

    from aimon.cli import app

    tmp = tmp_path_factory.mktemp("validate-db")
    records = [request(request_id=k, prompt=p, response=r, endpoint="/extract" if k in JSON_IDS else "/chat",
                       timestamp=f"2026-11-01T10:{i:02d}:00.000Z", user_id="ann@example.com")
               for i, (k, (p, r)) in enumerate(RESPONSES.items())]
    records.append(request(request_id="length", response="A complete sentence.", finish_reason="length",
                           timestamp="2026-11-01T11:00:00.000Z"))
    records.append(request(request_id="failed", status="error", response=None, timestamp="2026-11-01T11:01:00.000Z"))
    logs = tmp / "logs.jsonl"
    logs.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = CliRunner().invoke(app, ["ingest", str(logs), "--db", str(tmp / "template.duckdb")])
    assert result.exit_code == 0, result.output
    return tmp / "template.duckdb"


@pytest.fixture(autouse=True)
def no_embedding_layer(monkeypatch):
    """These tests describe ``aimon validate`` without the embedding layer (off_topic
    skipped), which the embeddings extra now installs: hide it as if it were not
    installed. The off_topic tests put a stand-in back (``_fake_embedding``)."""
    import aimon.analysis.toolkit as real

    package = types.ModuleType("aimon.analysis.toolkit")
    package.__path__ = real.__path__
    monkeypatch.setitem(sys.modules, "aimon.analysis.toolkit", package)
    monkeypatch.setitem(sys.modules, "aimon.analysis.toolkit.embedding", None)


@pytest.fixture
def loaded(template, db_path, tmp_path):
    import shutil

    shutil.copy(template, db_path)
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "aimon.toml").write_text('[validate.endpoints."/extract"]\nmin_words = 1\njson = true\n'
                                         'json_schema = "schema.json"\n')
    return db_path


def run(cli, *args):
    result = cli("validate", "-f", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout) if result.exit_code == 0 else result


def failures(db_path) -> dict[str, set[str]]:
    con = connect(db_path)
    try:
        out: dict[str, set[str]] = {}
        for rid, check in rows(con, "SELECT request_id, check_name FROM validations WHERE passed = false"):
            out.setdefault(check, set()).add(rid)
        return out
    finally:
        con.close()


@pytest.mark.slow
def test_each_check_fails_exactly_the_responses_it_should(cli, loaded):
    data = run(cli)
    assert data["responses"] == len(RESPONSES) + 1  # the error row is not a response to validate
    assert failures(loaded) == {
        "non_empty": {"empty"},
        "too_short": {"short"},
        "too_long": {"long"},
        "repetition": {"loop"},
        "unbalanced": {"parens", "fence"},
        "invalid_json": {"json_bad", "json_fenced", "json_schema"},
        "refusal": {"refusal", "refusal_es"},
        "truncated": {"cut", "length"},
        "language_mismatch": {"lang"},
    }
    details = {r["check_name"]: r["detail"] for r in data["examples"]}
    assert details["too_short"] == "1 words (min 3)"
    assert details["unbalanced"] in ("1 unclosed (", "unclosed code fence")


def test_every_result_is_kept_one_row_per_response_and_check(cli, loaded):
    run(cli)
    con = connect(loaded)
    try:
        per = dict(rows(con, "SELECT check_name, count(*) FROM validations GROUP BY ALL"))
        detail = rows(con, "SELECT detail FROM validations WHERE request_id = 'json_schema' AND check_name = 'invalid_json'")
    finally:
        con.close()
    n = len(RESPONSES) + 1
    assert per["refusal"] == n and per["invalid_json"] == len(JSON_IDS) and "off_topic" not in per
    assert detail == [("schema: /age fails type",)]  # where, never the value


@pytest.mark.slow
def test_only_new_responses_or_a_new_checker_version_are_checked_again(cli, loaded, write_jsonl, monkeypatch):
    assert run(cli)["run"]["responses_checked"] == len(RESPONSES) + 1
    assert run(cli)["run"] is None
    cli("ingest", write_jsonl("more.jsonl", [request(request_id="new", timestamp="2026-11-02T10:00:00.000Z")]))
    assert run(cli)["run"]["responses_checked"] == 1
    from aimon.analysis.validate import checks

    bumped = tuple(checks.Check(c.name, c.version + 1, c.settings, c.description) if c.name == "refusal" else c
                   for c in checks.CHECKS)
    monkeypatch.setattr(checks, "CHECKS", bumped)
    monkeypatch.setattr(checks, "BY_NAME", {c.name: c for c in bumped})
    again = run(cli)
    assert again["run"]["responses_checked"] == len(RESPONSES) + 2
    assert failures(loaded)["refusal"] == {"refusal", "refusal_es"}
    con = connect(loaded)
    versions = rows(con, "SELECT DISTINCT checker_version FROM validations WHERE check_name = 'refusal'")
    con.close()
    assert versions == [(2,)]

@pytest.mark.slow

def test_changing_a_limit_in_the_config_rechecks_that_check(cli, loaded, tmp_path):
    run(cli)
    (tmp_path / "aimon.toml").write_text('[validate]\nmin_words = 1\n[validate.endpoints."/extract"]\njson = true\n')
    data = run(cli)
    assert data["run"]["responses_checked"] == len(RESPONSES) + 1
    assert "too_short" not in failures(loaded)
    assert failures(loaded)["invalid_json"] == {"json_bad", "json_fenced"}  # no schema any more

@pytest.mark.slow

def test_checks_option_runs_only_those(cli, loaded):
    data = run(cli, "--checks", "refusal,truncated")
    assert [r["check"] for r in data["by_check"]] == ["refusal", "truncated"]
    assert set(failures(loaded)) == {"refusal", "truncated"}


@pytest.mark.slow
def test_gate(cli, loaded):
    failed = cli("validate", "--fail-on", "refusal>5%,repetition>50%")
    assert failed.exit_code == 1 and "refusal" in failed.stderr and "repetition" not in failed.stderr
    assert cli("validate", "--fail-on", "refusal>=50%").exit_code == 0
    for bad in ("refusal", "nope>2%", "refusal>200%", "refusal>7", ""):
        r = cli("validate", "--fail-on", bad)
        assert r.exit_code == 2, bad
        assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.output
    skipped = cli("validate", "--fail-on", "off_topic>10%")
    assert skipped.exit_code == 2 and "cannot be judged" in skipped.stderr

@pytest.mark.slow

def test_unknown_check_and_bad_config_exit_2(cli, loaded, tmp_path):
    assert cli("validate", "--checks", "spelling").exit_code == 2
    (tmp_path / "aimon.toml").write_text("[validate]\nmax_wrods = 10\n")
    r = cli("validate")
    assert r.exit_code == 2 and "validate.max_wrods: unknown key; did you mean 'max_words'?" in r.stderr
    (tmp_path / "aimon.toml").write_text('[validate.endpoints."/x"]\njson = true\njson_schema = "nope.json"\n')
    assert cli("validate").exit_code == 2
    (tmp_path / "bad.json").write_text('{"type": "no-such-type"}')
    (tmp_path / "aimon.toml").write_text('[validate.endpoints."/x"]\njson = true\njson_schema = "bad.json"\n')
    r = cli("validate")
    assert r.exit_code == 2 and "not a valid JSON Schema" in r.stderr
    # TOML has booleans: a quoted "yes" is a mistake, not a yes.
    (tmp_path / "aimon.toml").write_text('[validate.endpoints."/x"]\njson = "yes"\n')
    r = cli("validate")
    assert r.exit_code == 2 and "json" in r.stderr

@pytest.mark.slow

def test_read_only_computes_in_memory(cli, loaded, monkeypatch):
    data = run(cli, "--no-store")
    assert any("not stored" in n for n in data["notes"])
    assert {r["check"]: r["failed"] for r in data["by_check"]}["refusal"] == 2
    assert failures(loaded) == {}
    import os

    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real(p, mode))
    data = run(cli)
    assert "read-only" in data["notes"][0] and failures(loaded) == {}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_examples_are_redacted(cli, loaded, write_jsonl, fmt):
    cli("ingest", write_jsonl("pii.jsonl", [request(request_id="pii", response="I can't help, mail bob@example.com",
                                                    timestamp="2026-11-03T10:00:00.000Z")]))
    out = cli("validate", "-f", fmt).stdout
    assert "bob@example.com" not in out
    shown = json.loads(cli("validate", "-f", "json", "--show-pii").stdout)
    assert any("bob@example.com" in (e["response"] or "") for e in shown["examples"])


def test_off_topic_is_skipped_never_passed_without_the_embedding_layer(cli, loaded):
    data = run(cli)
    off = [r for r in data["by_check"] if r["check"] == "off_topic"][0]
    assert off["status"].startswith("skipped:") and off["checked"] == 0 and off["failure_rate"] is None


def _fake_embedding(monkeypatch, available: bool):
    """A stand-in for aimon.analysis.toolkit.embedding with its interface: word-hash
    vectors, L2-normalised (enough to tell related texts from unrelated ones)."""
    module = types.ModuleType("aimon.analysis.toolkit.embedding")

    def embed(con, texts, *, model=None, progress=None):
        out = np.zeros((len(texts), 4096), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, hash(w.strip(".,?!")) % 4096] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    module.available = lambda: available
    module.embed = embed
    package = types.ModuleType("aimon.analysis.toolkit")
    package.embedding = module
    monkeypatch.setitem(sys.modules, "aimon.analysis.toolkit", package)
    monkeypatch.setitem(sys.modules, "aimon.analysis.toolkit.embedding", module)

@pytest.mark.slow

def test_off_topic_skipped_when_the_layer_says_it_is_unavailable(cli, loaded, monkeypatch):
    _fake_embedding(monkeypatch, available=False)
    off = [r for r in run(cli)["by_check"] if r["check"] == "off_topic"][0]
    assert off["status"].startswith("skipped: no embedding model") and off["checked"] == 0


@pytest.mark.slow
def test_off_topic_runs_through_the_embedding_layer(cli, loaded, write_jsonl, monkeypatch):
    _fake_embedding(monkeypatch, available=True)
    cli("ingest", write_jsonl("topic.jsonl", [
        request(request_id="on", prompt="refund policy for orders", response="The refund policy for orders is 30 days.",
                timestamp="2026-11-04T10:00:00.000Z"),
        request(request_id="off", prompt="refund policy for orders", response="Penguins enjoy cold water swimming.",
                timestamp="2026-11-04T10:01:00.000Z")]))
    data = run(cli, "--checks", "off_topic")
    off = data["by_check"][0]
    assert off["status"] == "ran" and off["checked"] == len(RESPONSES) + 3
    assert "off" in failures(loaded)["off_topic"] and "on" not in failures(loaded)["off_topic"]


@pytest.mark.slow
def test_forget_removes_a_users_validation_results_and_security_findings(cli, loaded):
    run(cli)
    assert cli("audit", "security").exit_code == 0
    ann = list(RESPONSES)
    assert cli("forget", "--user", "ann@example.com").exit_code == 0
    con = connect(loaded)
    try:
        left = rows(con, "SELECT (SELECT count(*) FROM validation_coverage WHERE list_contains($ids, request_id)), "
                         "(SELECT count(*) FROM validation_outcomes WHERE list_contains($ids, request_id)), "
                         "(SELECT count(*) FROM security_scanned WHERE list_contains($ids, request_id)), "
                         "(SELECT count(*) FROM validations WHERE list_contains($ids, request_id)), "
                         "(SELECT count(DISTINCT request_id) FROM validations)", {"ids": ann})
    finally:
        con.close()
    # Only u1's response is left (its coverage is a stored range, no longer a row per request).
    assert left == [(0, 0, 0, 0, 1)]


def _coverage(db_path) -> tuple[int, int, list[tuple]]:
    con = connect(db_path)
    try:
        (one_by_one, ranges), = rows(con, "SELECT (SELECT count(*) FROM validation_coverage), "
                                          "(SELECT count(*) FROM validation_coverage_ranges)")
        twice = rows(con, "SELECT request_id, check_name, count(*) FROM validations GROUP BY ALL HAVING count(*) > 1")
    finally:
        con.close()
    return one_by_one, ranges, twice


def test_a_sweep_of_new_responses_is_stored_as_ranges_not_a_row_per_response(cli, loaded):
    run(cli)
    one_by_one, ranges, twice = _coverage(loaded)
    # One ingest, two endpoints (/chat, /extract): a range each, whatever the number of responses.
    assert (one_by_one, ranges, twice) == (0, 2, [])


@pytest.mark.slow
def test_a_range_partly_covered_before_is_stored_response_by_response(cli, loaded):
    first = run(cli, "--since", "2026-11-01T10:03:00Z", "--until", "2026-11-01T10:06:00Z")
    assert first["run"]["responses_checked"] == 3
    second = run(cli)
    assert second["run"]["responses_checked"] == len(RESPONSES) + 1 - 3
    one_by_one, ranges, twice = _coverage(loaded)
    # The first run's responses lie between the second's first and last: a range of the
    # second would name them too, so its responses are stored one by one.
    assert one_by_one > 0 and twice == []
    assert run(cli)["run"] is None  # nothing left to check
    assert failures(loaded)["refusal"] == {"refusal", "refusal_es"}
    assert {r["check"]: r["checked"] for r in second["by_check"]}["refusal"] == len(RESPONSES) + 1
