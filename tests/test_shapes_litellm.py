"""LiteLLM StandardLoggingPayload and SpendLogs rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aimon.store.shapes import detect_shape
from tests.conftest import load, real_sample, request_row, rows

START = 1793527200.25  # 2026-11-01T10:00:00.250Z


def payload(**overrides) -> dict:
    """A StandardLoggingPayload for an Anthropic call through the proxy (structure of a
    captured one): LiteLLM's prompt_tokens already include the cache reads and writes."""
    rec = {
        "id": "chatcmpl-7f1c", "trace_id": "4c97150b", "call_type": "acompletion", "cache_hit": None,
        "stream": True, "status": "success", "custom_llm_provider": "anthropic", "saved_cache_cost": 0.0,
        "startTime": START, "endTime": START + 2.0, "completionStartTime": START + 0.4,
        "response_time": 2.0, "model": "claude-sonnet-4-5-20250929",
        "metadata": {
            "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "user_api_key_alias": "support-bot", "user_api_key_team_id": "team-a",
            "user_api_key_user_id": "internal-7", "user_api_key_end_user_id": None,
            "applied_guardrails": [],
            "usage_object": {
                "completion_tokens": 120, "prompt_tokens": 1802, "total_tokens": 1922,
                "completion_tokens_details": {"reasoning_tokens": 40},
                "prompt_tokens_details": {"cached_tokens": 1500},
                "cache_creation_input_tokens": 300, "cache_read_input_tokens": 1500,
            },
        },
        "cache_key": None, "response_cost": 0.00231, "total_tokens": 1922, "prompt_tokens": 1802,
        "completion_tokens": 120, "request_tags": ["prod"], "end_user": "cust-9", "api_base": "https://api.anthropic.com",
        "model_group": "claude-sonnet", "model_id": "d1e2", "requester_ip_address": "",
        "messages": [{"role": "system", "content": "You are the returns assistant."},
                     {"role": "user", "content": "Can I return shoes?"}],
        "response": {"id": "chatcmpl-7f1c", "created": 1793527202, "model": "claude-sonnet-4-5-20250929",
                     "object": "chat.completion",
                     "choices": [{"finish_reason": "stop", "index": 0,
                                  "message": {"content": "Yes, within 30 days.", "role": "assistant"}}]},
        "model_parameters": {"temperature": 0.2, "max_tokens": 1024},
        "hidden_params": {"response_cost": 0.00231, "litellm_overhead_time_ms": 12.5},
        "error_str": None,
        "error_information": {"error_code": "", "error_class": "", "llm_provider": "", "traceback": "",
                              "error_message": ""},
    }
    rec.update(overrides)
    return rec


def test_payload_maps_every_column(con, write_jsonl):
    load(con, write_jsonl("payloads.jsonl", [payload()]))
    row = request_row(con, "chatcmpl-7f1c")
    assert row["ts"] == datetime(2026, 11, 1, 10, 0, 0, 250000, tzinfo=UTC)
    # The end customer, not the owner of the API key (who stays in extra).
    assert (row["user_id"], row["session_id"], row["endpoint"]) == ("cust-9", None, None)
    assert (row["provider"], row["model"]) == ("anthropic", "claude-sonnet-4-5-20250929")
    assert row["model_version"] == "claude-sonnet-4-5-20250929"  # the ModelResponse's model
    assert (row["system_prompt"], row["prompt"], row["response"]) == (
        "You are the returns assistant.", "Can I return shoes?", "Yes, within 30 days.")
    # 1802 = 2 uncached + 1500 cache reads + 300 cache writes.
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (1802, 1500, 300)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (120, 40)
    assert row["cost_usd"] == pytest.approx(0.00231)
    assert (row["latency_ms"], row["ttft_ms"]) == (pytest.approx(2000.0), pytest.approx(400.0))
    assert (row["status"], row["error_type"], row["error_message"]) == ("ok", None, None)
    assert (row["cache_hit"], row["temperature"]) == (None, 0.2)
    assert row["source_format"] == "litellm_payload"
    extra = json.loads(row["extra"])
    assert extra["metadata"]["user_api_key_user_id"] == "internal-7"
    assert extra["metadata"]["usage_object"] == {"completion_tokens": 120, "prompt_tokens": 1802,
                                                 "total_tokens": 1922}
    # The response object keeps everything but the answer's text.
    assert extra["response"]["choices"] == [{"finish_reason": "stop", "index": 0,
                                             "message": {"role": "assistant"}}]
    assert extra["model_parameters"] == {"max_tokens": 1024}
    assert extra["model_group"] == "claude-sonnet" and extra["response_time"] == 2.0
    for consumed in ("id", "startTime", "endTime", "completionStartTime", "messages", "prompt_tokens",
                     "completion_tokens", "response_cost", "custom_llm_provider", "status", "end_user"):
        assert consumed not in extra


def test_failed_call(con, write_jsonl):
    failed = payload(
        id="chatcmpl-fail", status="failure", response=None, response_cost=0.0, prompt_tokens=0,
        completion_tokens=0, completionStartTime=None,
        error_str="litellm.RateLimitError: AnthropicException - rate_limit_error",
        error_information={"error_code": "429", "error_class": "RateLimitError", "llm_provider": "anthropic",
                           "traceback": "Traceback ...", "error_message": "rate_limit_error"},
    )
    failed["metadata"] = {"user_api_key_user_id": "internal-7"}
    failed["end_user"] = ""
    load(con, write_jsonl("payloads.jsonl", [failed]))
    row = request_row(con, "chatcmpl-fail")
    assert (row["status"], row["error_type"]) == ("error", "rate_limit")
    assert row["error_message"] == "litellm.RateLimitError: AnthropicException - rate_limit_error"
    # No end user: the key owner is who made the call.
    assert row["user_id"] == "internal-7"
    assert (row["input_tokens"], row["output_tokens"], row["response"], row["ttft_ms"]) == (0, 0, None, None)
    assert json.loads(row["extra"])["error_information"]["error_class"] == "RateLimitError"


def spend_row(**overrides) -> dict:
    """A SpendLogs row with stored prompts: metadata, messages and response are JSON text."""
    rec = {
        "request_id": "chatcmpl-5b2e", "session_id": "sess-4", "call_type": "acompletion", "api_key": "88dc28d0",
        "cache_hit": "False", "startTime": "2026-11-01 10:00:00.000000", "endTime": "2026-11-01 10:00:01.500000",
        "completionStartTime": "2026-11-01 10:00:00.300000", "model": "gpt-4o", "user": "internal-7",
        "team_id": "team-a", "organization_id": "",
        "metadata": json.dumps({"user_api_key_alias": "support-bot", "usage_object": {
            "completion_tokens": 50, "prompt_tokens": 2048, "total_tokens": 2098,
            "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 0}}}),
        "cache_key": "Cache OFF", "spend": 0.00431, "total_tokens": 2098, "prompt_tokens": 2048,
        "completion_tokens": 50, "request_tags": '["prod"]', "end_user": "cust-1", "api_base": "",
        "model_group": "gpt-4o", "model_id": "", "requester_ip_address": None, "custom_llm_provider": "openai",
        "messages": json.dumps([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Refunds?"}]),
        "response": json.dumps({"id": "chatcmpl-5b2e", "object": "chat.completion", "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "30 days."}}]}),
        "proxy_server_request": "{}", "status": "success",
    }
    rec.update(overrides)
    return rec


def test_spend_logs_row_maps_every_column(con, write_jsonl):
    empty = spend_row(request_id="chatcmpl-empty", messages="{}", response="{}", cache_hit="None")
    load(con, write_jsonl("spend.jsonl", [spend_row(), empty]))
    row = request_row(con, "chatcmpl-5b2e")
    assert row["ts"] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert (row["user_id"], row["session_id"], row["provider"], row["model"]) == ("cust-1", "sess-4", "openai", "gpt-4o")
    assert (row["system_prompt"], row["prompt"], row["response"]) == ("Be brief.", "Refunds?", "30 days.")
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (
        2048, 1024, 50, 0)
    assert row["cost_usd"] == pytest.approx(0.00431)
    assert (row["latency_ms"], row["ttft_ms"]) == (pytest.approx(1500.0), pytest.approx(300.0))
    assert (row["status"], row["cache_hit"]) == ("ok", False)
    extra = json.loads(row["extra"])
    # A JSON string cannot be kept in part: the stored response stays whole; the message
    # list became prompt and system prompt.
    assert "messages" not in extra and json.loads(extra["response"])["choices"][0]["finish_reason"] == "stop"
    assert json.loads(extra["metadata"])["user_api_key_alias"] == "support-bot"
    # Who owns the key stays, next to the end user in user_id.
    assert extra["user"] == "internal-7"
    blank = request_row(con, "chatcmpl-empty")
    assert (blank["prompt"], blank["response"], blank["cache_hit"]) == (None, None, None)
    blank_extra = json.loads(blank["extra"])
    assert "messages" not in blank_extra and "response" not in blank_extra and "cache_hit" not in blank_extra


def test_detection():
    assert detect_shape([payload()], "requests").name == "litellm_payload"
    assert detect_shape([spend_row()], "requests").name == "litellm_spend_logs"
    flat = {"timestamp": "2026-11-01T10:00:00Z", "model": "gpt-4o", "prompt": "hi", "prompt_tokens": 3}
    assert detect_shape([flat], "requests").name == "flat"


@pytest.mark.slow
def test_real_standard_logging_payloads(con):
    summary = load(con, real_sample("litellm_standard_logging_payload.jsonl"))
    assert summary.files[0].shape == "litellm_payload"
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (2, 2, 0, 0)
    assert rows(con, "SELECT source_line, request_id, provider, input_tokens, output_tokens, cached_input_tokens, "
                     "cache_write_tokens, cost_usd, prompt, response FROM requests ORDER BY source_line") == [
        (1, "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f", "openai", 10, 20, None, None,
         0.00022500000000000002, "Hello, world!", "hi"),
        (2, "chatcmpl-fa9be5b7-9487-46ab-86de-6462d578fea1", "bedrock", 14, 67, 0, 0, 0.001047,
         "What is the capital of France?",
         "The capital of France is Paris. Paris has been the capital city of France since 987 CE when "
         "Hugh Capet, the first king of the Capetian dynasty, made the city his seat of government. Today, "
         "Paris is not only the political capital but also the cultural and economic center of France."),
    ]
    bedrock = request_row(con, "chatcmpl-fa9be5b7-9487-46ab-86de-6462d578fea1")
    # Epoch-float times: 1750615148.162725 -> .399523.
    assert bedrock["ts"] == datetime(2025, 6, 22, 17, 59, 8, 162725, tzinfo=UTC)
    assert bedrock["latency_ms"] == pytest.approx(236.798, abs=0.01)
    assert bedrock["model"].endswith("us.anthropic.claude-3-7-sonnet-20250219-v1:0")
    mocked = request_row(con, "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f")
    assert mocked["ts"] == datetime(2025, 1, 24, 9, 20, 46, 847371, tzinfo=UTC)  # naive text, read as UTC


@pytest.mark.slow
def test_real_spend_logs(con):
    summary = load(con, real_sample("litellm_spend_logs.jsonl"))
    assert summary.files[0].shape == "litellm_spend_logs"
    # Two versions of one row (same request_id, metadata grown from 8 to 36 keys): the
    # second differs, so it is a conflicting duplicate, not a silent overwrite.
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (2, 1, 0, 1)
    assert rows(con, "SELECT request_id, session_id, model, input_tokens, output_tokens, cost_usd, cache_hit, "
                     "prompt, response, status FROM requests") == [
        ("chatcmpl-2283081b-dc89-41f6-93e6-d4f914774027", "1234567890", "gpt-4o", 10, 20,
         0.00022500000000000002, None, None, None, "ok")]
    assert rows(con, "SELECT source_line, reason FROM rejects") == [
        (2, "conflicting duplicate: request_id chatcmpl-2283081b-dc89-41f6-93e6-d4f914774027 was already "
            "loaded from line 1 of this file with different content")]
