"""Anthropic shapes: Messages API bodies (also Bedrock) and Message Batches results.

Anthropic's usage.input_tokens EXCLUDES cache reads and writes: aimon's input_tokens is
the sum of the three. Bare bodies carry no time: rejected unless --default-time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import real_sample
from tests.test_shapes_openai import (
    DEFAULT_TIME,
    assert_nothing_lost,
    by_line,
    detected,
    load,
    row,
    tokens,
)


def message(**overrides):
    body = {
        "id": "msg_01KPaKTJSqAKoZri7Ujrny58", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Python is a versatile language."}],
        "stop_reason": "end_turn",  # "stop_sequence": null is dropped: it carries nothing
        "usage": {"input_tokens": 100, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 300,
                  "cache_creation": {"ephemeral_5m_input_tokens": 15, "ephemeral_1h_input_tokens": 5},
                  "output_tokens": 33, "service_tier": "standard", "inference_geo": "global"},
    }
    body.update(overrides)
    return body


def test_anthropic_message_token_accounting_and_columns(con, write_jsonl):
    rec = message()
    assert detected(rec) == "anthropic_message"
    path = write_jsonl("msg.jsonl", [rec])
    s = load(con, path)
    assert (s.loaded, s.rejected, s.files[0].reject_reasons) == (0, 1, {"missing timestamp": 1})
    s = load(con, path, default_time=DEFAULT_TIME)
    assert (s.loaded, s.rejected) == (1, 0)
    r = row(con, "msg_01KPaKTJSqAKoZri7Ujrny58")
    assert r["ts"] == DEFAULT_TIME
    assert (r["provider"], r["model"], r["response"], r["status"]) == (
        "anthropic", "claude-sonnet-4-5-20250929", "Python is a versatile language.", "ok")
    # 100 input + 20 cache writes + 300 cache reads = 420 input tokens, 300 cached, 20 written.
    assert tokens(r) == (420, 33, 300, 20, None)
    # Only-text content is consumed whole; the 5m/1h write split (priced differently) stays.
    assert r["extra"] == {
        "stop_reason": "end_turn",  # "stop_sequence": null is dropped: it carries nothing
        "usage": {"cache_creation": {"ephemeral_5m_input_tokens": 15, "ephemeral_1h_input_tokens": 5},
                  "service_tier": "standard", "inference_geo": "global"},
    }


@pytest.mark.slow
def test_anthropic_message_blocks_thinking_tools_and_citations(con, write_jsonl):
    thinking = {"type": "thinking", "thinking": "The user wants the weather.", "signature": "EooC"}
    search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "SF"}}
    cited = {"type": "text", "text": "66°F and clear",
             "citations": [{"type": "web_search_result_location", "url": "https://example.com"}]}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {"tz": "PST"}}
    rec = message(id="msg_blocks", content=[
        thinking, search, {"type": "text", "text": "Today: "}, cited, {"type": "text", "text": "."},
        tool, {"type": "text", "text": "Anything else?"}],
        stop_reason="tool_use",
        usage={"input_tokens": 8984, "output_tokens": 520, "output_tokens_details": {"thinking_tokens": 40},
               "server_tool_use": {"web_search_requests": 1}})
    refused = message(id="msg_refusal", content=[], stop_reason="refusal")
    stamped = message(id="msg_stamped", timestamp="2026-03-01T12:00:00Z")
    bedrock = message(id="msg_bdrk_01FmwvNC1ksCq1T8tjvgUdDB", model="claude-3-5-haiku-20241022",
                      usage={"input_tokens": 4, "output_tokens": 50})
    s = load(con, write_jsonl("msg.jsonl", [rec, refused, stamped, bedrock]))
    assert (s.loaded, s.rejected, s.files[0].reject_reasons) == (1, 3, {"missing timestamp": 3})
    assert row(con, "msg_stamped")["ts"] == datetime(2026, 3, 1, 12, tzinfo=UTC)

    load(con, write_jsonl("msg2.jsonl", [rec, refused, bedrock]), default_time=DEFAULT_TIME)
    r = row(con, "msg_blocks")
    # Adjacent text blocks are one run; a tool block between runs gives a blank line.
    assert r["response"] == "Today: 66°F and clear.\n\nAnything else?"
    assert tokens(r) == (8984, 520, None, None, 40)
    assert r["extra"]["content"] == [thinking, search, {"type": "text"},
                                     {"type": "text", "citations": cited["citations"]},
                                     {"type": "text"}, tool, {"type": "text"}]
    assert r["extra"]["usage"] == {"server_tool_use": {"web_search_requests": 1}}
    assert r["extra"]["stop_reason"] == "tool_use"
    r = row(con, "msg_refusal")
    assert (r["status"], r["error_type"], r["response"], r["extra"]["content"]) == (
        "error", "content_filter", None, [])
    r = row(con, "msg_bdrk_01FmwvNC1ksCq1T8tjvgUdDB")
    assert (r["provider"], tokens(r)) == ("bedrock", (4, 50, None, None, None))


def test_anthropic_impossible_counts_are_rejected(con, write_jsonl):
    bad = message(id="msg_bad", usage={"input_tokens": "lots", "output_tokens": 1})
    neg = message(id="msg_neg", usage={"input_tokens": 5, "cache_read_input_tokens": -3, "output_tokens": 1})
    s = load(con, write_jsonl("msg.jsonl", [bad, neg]), default_time=DEFAULT_TIME)
    assert s.loaded == 0
    reasons = [r[0] for r in con.execute("SELECT reason FROM rejects ORDER BY source_line").fetchall()]
    assert reasons[0] == "input_tokens is not a whole number: lots"
    assert reasons[1].startswith("negative input_tokens")


@pytest.mark.slow
def test_anthropic_batch_results(con, write_jsonl):
    ok = {"custom_id": "my-first-request", "result": {"type": "succeeded", "message": message(id="msg_b1")}}
    errored = {"custom_id": "my-second-request", "result": {"type": "errored", "error": {
        "type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: field required"},
        "request_id": "req_011CS"}}}
    expired = {"custom_id": "my-third-request", "result": {"type": "expired"}}
    for rec in (ok, errored, expired):
        assert detected(rec) == "anthropic_batch"
    path = write_jsonl("results.jsonl", [ok, errored, expired])
    s = load(con, path)
    assert (s.loaded, s.rejected, s.files[0].reject_reasons) == (0, 3, {"missing timestamp": 3})
    s = load(con, path, default_time=DEFAULT_TIME)
    assert (s.records, s.loaded) == (3, 3)
    r = row(con, "msg_b1")
    assert (r["status"], r["response"], tokens(r)) == ("ok", "Python is a versatile language.", (420, 33, 300, 20, None))
    assert r["extra"]["batch"] is True and r["extra"]["custom_id"] == "my-first-request"
    assert r["extra"]["result"]["type"] == "succeeded"
    assert r["extra"]["result"]["message"]["usage"]["cache_creation"] == {
        "ephemeral_5m_input_tokens": 15, "ephemeral_1h_input_tokens": 5}
    r = row(con, "req_011CS")
    assert (r["status"], r["error_type"], r["error_message"]) == (
        "error", "invalid_request_error", "max_tokens: field required")
    assert r["extra"] == {"batch": True, "custom_id": "my-second-request",
                          "result": {"type": "errored", "error": {"type": "error"}}}
    expired_row = con.execute("SELECT status, error_type, extra FROM requests WHERE error_type = 'expired'").fetchall()
    assert [(x[0], x[1]) for x in expired_row] == [("error", "expired")]


@pytest.mark.slow
def test_real_anthropic_messages(con):
    path = real_sample("anthropic_message.jsonl")
    s = load(con, path)  # no line carries a time
    assert (s.files[0].shape, s.records, s.loaded, s.rejected) == ("anthropic_message", 21, 0, 21)
    assert s.files[0].reject_reasons == {"missing timestamp": 21}

    s = load(con, path, default_time=DEFAULT_TIME)
    assert (s.records, s.loaded, s.duplicates, s.rejected) == (21, 21, 0, 0)
    rows = by_line(con, path)
    assert tokens(rows[1]) == (4 + 1163, 187, 0, 1163, None)             # cache write 1163
    assert tokens(rows[2]) == (4 + 1163, 202, 1163, 0, None)             # cache read 1163
    assert tokens(rows[4]) == (3 + 418 + 1111, 33, 1111, 418, None)      # write 418 + read 1111
    assert tokens(rows[7]) == (10 + 4513 + 4332, 211, 4332, 4513, None)
    assert tokens(rows[8]) == (16 + 7049 + 13637, 344, 13637, 7049, 33)  # thinking_tokens 33
    assert tokens(rows[14]) == (3 + 1956 + 9511, 44, 9511, 1956, None)   # Bedrock write + read
    assert tokens(rows[17]) == (514, 152, None, None, None)              # no cache fields at all
    assert rows[4]["extra"]["usage"]["cache_creation"] == {"ephemeral_1h_input_tokens": 0,
                                                           "ephemeral_5m_input_tokens": 418}
    assert [n for n, r in rows.items() if r["provider"] == "bedrock"] == [11, 12, 13, 14, 18]
    assert {r["provider"] for n, r in rows.items() if n not in (11, 12, 13, 14, 18)} == {"anthropic"}
    assert rows[15]["response"] == "The beautiful city of " and rows[15]["extra"]["stop_sequence"] == "Paris"
    assert rows[16]["response"].startswith("I'll help you find out who is the youngest")
    assert [b["type"] for b in rows[16]["extra"]["content"]] == ["text"] + ["tool_use"] * 4
    assert rows[20]["response"] == "Two" and rows[20]["extra"]["content"][0]["type"] == "thinking"
    assert rows[21]["response"].startswith("Based on the search results")
    assert "- Temperature: 66°F with clear skies\n- Wind" in rows[21]["response"]
    assert all(r["status"] == "ok" for r in rows.values())
    checked = assert_nothing_lost(
        con, path, constants={(("type",), "message"), (("role",), "assistant"), (("content", "type"), "text")},
        derived={("usage", "input_tokens")})
    assert checked == 21
