"""Gateway and proxy envelopes: the app's fields around a vendor request and response body
(issue 14, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import rows
from tests.test_shapes_anthropic import message
from tests.test_shapes_openai import (
    assert_nothing_lost,
    chat_body,
    detected,
    load,
    responses_body,
    row,
    tokens,
)


def envelope(request: dict, response: dict | None, **fields) -> dict:
    rec = {"timestamp": "2026-11-01T10:00:00.000Z", "request_id": "gw-1", "user_id": "u-1", "endpoint": "/chat",
           "latency_ms": 812, "ttft_ms": 240, "status_code": 200, "request": request, "response": response}
    rec.update(fields)
    return rec


OPENAI_REQUEST = {"model": "gpt-4o", "temperature": 0.2, "max_tokens": 300,
                  "messages": [{"role": "system", "content": "Be terse."},
                               {"role": "user", "content": "What is the capital of France?"}]}
ANTHROPIC_REQUEST = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "temperature": 0.5,
                     "system": [{"type": "text", "text": "Answer in one line."}],
                     "messages": [{"role": "user", "content": [{"type": "text", "text": "Why is the sky blue?"}]}]}


@pytest.mark.slow
def test_openai_chat_envelope(con, write_jsonl):
    rec = envelope(OPENAI_REQUEST, chat_body(model="gpt-4o-2024-08-06"))
    assert detected(rec) == "gateway"
    load(con, write_jsonl("gw.jsonl", [rec]))
    r = row(con, "gw-1")
    assert (r["provider"], r["model"], r["model_version"]) == ("openai", "gpt-4o", "gpt-4o-2024-08-06")
    assert (r["user_id"], r["endpoint"], r["latency_ms"], r["ttft_ms"]) == ("u-1", "/chat", 812.0, 240.0)
    assert (r["system_prompt"], r["prompt"], r["response"]) == (
        "Be terse.", "What is the capital of France?", "Paris is the capital.")
    assert tokens(r) == (1149, 353, 1024, None, 64)
    assert (r["status"], r["error_type"], r["temperature"]) == ("ok", None, 0.2)
    assert r["extra"]["request"] == {"max_tokens": 300}
    assert r["extra"]["response"]["id"] == "chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7"


@pytest.mark.slow
def test_anthropic_envelope_sums_cache_tokens(con, write_jsonl):
    load(con, write_jsonl("gw.jsonl", [envelope(ANTHROPIC_REQUEST, message())]))
    r = row(con, "gw-1")
    assert (r["provider"], r["model"], r["model_version"]) == (
        "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929")
    assert tokens(r) == (420, 33, 300, 20, None)
    assert (r["system_prompt"], r["prompt"], r["response"]) == (
        "Answer in one line.", "Why is the sky blue?", "Python is a versatile language.")
    assert r["temperature"] == 0.5


def test_responses_api_envelope(con, write_jsonl):
    req = {"model": "gpt-4.1", "instructions": "Be terse.", "input": "Say hi"}
    load(con, write_jsonl("gw.jsonl", [envelope(req, responses_body())]))
    r = row(con, "gw-1")
    assert (r["model"], r["system_prompt"], r["prompt"]) == ("gpt-4.1", "Be terse.", "Say hi")
    assert r["model_version"] == responses_body()["model"]
    assert r["input_tokens"] == responses_body()["usage"]["input_tokens"]


@pytest.mark.parametrize(("status", "response", "error", "kind", "text"), [
    (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has "
                                                                             "exceeded your per-minute rate limit"}},
     None, "rate_limit", "Number of request tokens has exceeded your per-minute rate limit"),
    (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
     None, "overloaded", "Overloaded"),
    (500, {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}},
     None, "api_error", "The server had an error while processing your request."),
    (400, {"error": {"message": "This model's maximum context length is 128000 tokens.",
                     "type": "invalid_request_error", "code": "context_length_exceeded"}},
     None, "context_length", "This model's maximum context length is 128000 tokens."),
    (None, None, {"type": "timeout", "message": "upstream timed out after 60s"}, "timeout",
     "upstream timed out after 60s"),
    (504, None, None, "timeout", None),
    (503, None, None, "api_error", None),
])
def test_failed_calls_take_their_type_from_the_body_or_the_status(con, write_jsonl, status, response, error,
                                                                   kind, text):
    rec = envelope(ANTHROPIC_REQUEST if response and response.get("type") == "error" else OPENAI_REQUEST,
                   response, status_code=status, error=error, ttft_ms=None)
    load(con, write_jsonl("gw.jsonl", [rec]))
    r = row(con, "gw-1")
    assert (r["status"], r["error_type"], r["error_message"]) == ("error", kind, text)
    assert r["model"] in ("gpt-4o", "claude-sonnet-4-5") and r["model_version"] is None
    assert r["input_tokens"] is None
    assert r["system_prompt"] in ("Be terse.", "Answer in one line.")


@pytest.mark.slow
def test_gateway_fixture_file(con):
    path = Path(__file__).parent / "data" / "gateway_envelopes.jsonl"
    s = load(con, path)
    assert (s.files[0].shape, s.records, s.loaded, s.rejected) == ("gateway", 8, 8, 0)
    got = rows(con, "SELECT request_id, provider, model, model_version, status, error_type, input_tokens, "
                    "cached_input_tokens, user_id FROM requests ORDER BY request_id")
    assert got == [
        ("gw-001", "openai", "gpt-4o", "gpt-4o-2024-08-06", "ok", None, 52, 0, "u-1"),
        ("gw-002", "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "ok", None, 420, 300, "u-77"),
        ("gw-003", "openai", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", "ok", None,
         responses_body()["usage"]["input_tokens"], responses_body()["usage"]["input_tokens_details"]["cached_tokens"],
         "u-1"),
        ("gw-004", "anthropic", "claude-sonnet-4-5", None, "error", "rate_limit", None, None, "u-1"),
        ("gw-005", "openai", "gpt-4o", None, "error", "api_error", None, None, "u-1"),
        ("gw-006", "openai", "gpt-4o", None, "error", "timeout", None, None, "u-1"),
        ("gw-007", "openai", "gpt-4o", None, "error", "context_length", None, None, "u-1"),
        ("gw-008", "anthropic", "claude-sonnet-4-5", None, "error", "timeout", None, None, "u-1"),
    ]
    # The Anthropic request's system blocks and the user's content blocks become text.
    r = row(con, "gw-002")
    assert (r["system_prompt"], r["prompt"]) == ("You summarise tickets.", "Summarise ticket 4411.")
    assert r["extra"]["status_code"] == 200 and r["extra"]["request"]["max_tokens"] == 1024
    # A failed call's body keeps the vendor's own error code and type beside the category.
    assert row(con, "gw-007")["extra"]["response"] == {"error": {
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}
    # Message roles and the bodies' type markers are what the mapping reads them by.
    roles = {(("request", "messages", "role"), r) for r in ("system", "user")}
    constants = roles | {(("request", "messages", "content", "type"), "text"),
                         (("request", "system", "type"), "text"),
                         (("response", "object"), "chat.completion"), (("response", "object"), "response"),
                         (("response", "type"), "message"), (("response", "type"), "error"),
                         (("response", "content", "type"), "text")}
    assert assert_nothing_lost(con, path, constants=constants, derived={("timestamp",),
                                                                      # Anthropic's part of the input, summed
                                                                      ("response", "usage", "input_tokens")}) == 8


@pytest.mark.slow
def test_a_conversation_with_more_than_text_stays_whole_in_extra(con, write_jsonl):
    messages = [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]
    load(con, write_jsonl("gw.jsonl", [envelope({**OPENAI_REQUEST, "messages": messages}, chat_body())]))
    r = row(con, "gw-1")
    assert r["prompt"] == "Weather in Paris?\n\n18C"
    # The tool call is in no column: the whole conversation stays, text and all.
    assert r["extra"]["request"]["messages"] == messages


@pytest.mark.slow
def test_an_envelope_read_from_parquet_is_a_duplicate_of_its_json_line(con, write_jsonl, tmp_path):
    # The merge patch that cuts the consumed body fields out moves the patched top keys
    # to the end of ``extra``; read from Parquet, nothing sorted them back, so the same
    # record loaded as JSON and as Parquet was a conflicting duplicate (a reject).
    import duckdb

    path = write_jsonl("gw.jsonl", [envelope(OPENAI_REQUEST, chat_body(model="gpt-4o-2024-08-06"))])
    parquet = tmp_path / "gw.parquet"
    duckdb.execute(f"COPY (SELECT * FROM read_json('{path}')) TO '{parquet}'")
    load(con, path)
    s = load(con, parquet)
    assert (s.loaded, s.duplicates, s.rejected) == (0, 1, 0)
    (extra,) = rows(con, "SELECT extra FROM requests")[0]
    keys = list(json.loads(extra))
    assert keys == sorted(keys)
