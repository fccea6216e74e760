"""OpenInference (Arize Phoenix) spans."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aimon.store.shapes import detect_shape
from tests.conftest import load, real_sample, request_row, rows


def llm_span(span_id: str = "5c6f1e0b-llm", **attributes) -> dict:
    """An LLM span as Phoenix exports it, attributes flattened as OTel carries them."""
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.provider": "azure",
        "llm.system": "openai",
        "llm.model_name": "gpt-4o-2024-08-06",
        "llm.invocation_parameters": json.dumps({"temperature": 0.3, "max_tokens": 512}),
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Answer from the policy only.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": "Can I return shoes?",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Yes, within 30 days.",
        "input.value": "Can I return shoes?",
        "input.mime_type": "text/plain",
        "output.value": "Yes, within 30 days.",
        "output.mime_type": "text/plain",
        # The prompt count includes the cache reads and writes.
        "llm.token_count.prompt": 1500,
        "llm.token_count.prompt_details.cache_read": 1200,
        "llm.token_count.prompt_details.cache_write": 100,
        "llm.token_count.completion": 200,
        "llm.token_count.completion_details.reasoning": 50,
        "llm.token_count.total": 1700,
        "llm.cost.total": 0.00245,
        "session.id": "sess-9",
        "user.id": "user-3",
    }
    attrs.update(attributes)
    return {
        "name": "ChatCompletion",
        "context": {"trace_id": "0f3d1c8e-trace", "span_id": span_id},
        "span_kind": "LLM",
        "parent_id": "7a1b-chain",
        "start_time": "2026-11-01T10:00:00.000000+00:00",
        "end_time": "2026-11-01T10:00:02.500000+00:00",
        "status_code": "OK",
        "status_message": "",
        "attributes": {k: v for k, v in attrs.items() if v is not ...},
        "events": [],
    }


def test_llm_span_maps_every_column(con, write_jsonl):
    load(con, write_jsonl("spans.jsonl", [llm_span()]))
    row = request_row(con, "5c6f1e0b-llm")
    assert row["ts"] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert (row["user_id"], row["session_id"], row["provider"], row["model"]) == (
        "user-3", "sess-9", "azure", "gpt-4o-2024-08-06")
    assert row["system_prompt"] == "Answer from the policy only."
    # input.value/output.value are the span's payload as logged.
    assert (row["prompt"], row["response"]) == ("Can I return shoes?", "Yes, within 30 days.")
    # 1500 prompt tokens in all: 1200 read from the cache, 100 written to it.
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (1500, 1200, 100)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (200, 50)
    assert row["cost_usd"] == pytest.approx(0.00245)
    assert row["latency_ms"] == pytest.approx(2500.0)
    assert (row["status"], row["error_type"], row["error_message"]) == ("ok", None, None)
    assert row["temperature"] == 0.3
    assert (row["endpoint"], row["ttft_ms"], row["cache_hit"]) == (None, None, None)
    assert row["source_format"] == "openinference"
    assert json.loads(row["extra"]) == {
        "name": "ChatCompletion",
        "context": {"trace_id": "0f3d1c8e-trace"},
        "span_kind": "LLM",
        "parent_id": "7a1b-chain",
        "status_message": "",
        "attributes": {
            "openinference.span.kind": "LLM",
            "llm.system": "openai",
            "llm.invocation_parameters": '{"temperature": 0.3, "max_tokens": 512}',
            "input.mime_type": "text/plain",
            "output.mime_type": "text/plain",
            "llm.token_count.total": 1700,
        },
        "events": [],
    }


def test_nested_messages_without_payload(con, write_jsonl):
    span = llm_span(**{
        "input.value": ..., "output.value": ..., "input.mime_type": ..., "output.mime_type": ...,
        "llm.input_messages.0.message.role": ..., "llm.input_messages.0.message.content": ...,
        "llm.input_messages.1.message.role": ..., "llm.input_messages.1.message.content": ...,
        "llm.output_messages.0.message.role": ..., "llm.output_messages.0.message.content": ...,
        "llm.input_messages": [
            {"message.role": "system", "message.content": "Be kind."},
            {"message.role": "user", "message.contents": [
                {"message_content.type": "text", "message_content.text": "Look at this"},
                {"message_content.type": "image", "message_content.image": {"image.url": "https://x/y.png"}}]}],
        "llm.output_messages": [{"message.role": "assistant", "message.content": "A cat."}],
    })
    load(con, write_jsonl("spans.jsonl", [span]))
    row = request_row(con, "5c6f1e0b-llm")
    assert (row["system_prompt"], row["prompt"], row["response"]) == ("Be kind.", "Look at this", "A cat.")
    assert "llm.input_messages" not in json.loads(row["extra"])["attributes"]


@pytest.mark.slow
def test_only_llm_and_embedding_spans_are_model_calls(con, write_jsonl):
    chain = llm_span("chain-1", **{"openinference.span.kind": "CHAIN"})
    chain["name"] = "RetrievalQA"
    agent = llm_span("agent-1", **{"openinference.span.kind": "AGENT"})
    agent["name"] = "support-agent"
    embedding = {
        "name": "CreateEmbeddings", "context": {"trace_id": "t", "span_id": "emb-1"},
        "start_time": "2026-11-01T10:00:00Z", "end_time": "2026-11-01T10:00:00.200Z", "status_code": "OK",
        "attributes": {"openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embedding-3-small",
                       "llm.token_count.prompt": 8, "llm.token_count.total": 8},
    }
    summary = load(con, write_jsonl("spans.jsonl", [llm_span(), chain, agent, embedding]))
    assert (summary.records, summary.loaded, summary.rejected) == (4, 2, 2)
    assert rows(con, "SELECT request_id, model, input_tokens, output_tokens FROM requests ORDER BY 1") == [
        ("5c6f1e0b-llm", "gpt-4o-2024-08-06", 1500, 200), ("emb-1", "text-embedding-3-small", 8, None)]
    why = "(only LLM and EMBEDDING spans are model calls; chain and agent spans repeat their LLM spans' tokens)"
    assert rows(con, "SELECT source_line, reason FROM rejects ORDER BY 1") == [
        (2, f"not a model call: span RetrievalQA has openinference.span.kind CHAIN {why}"),
        (3, f"not a model call: span support-agent has openinference.span.kind AGENT {why}")]


def test_error_span(con, write_jsonl):
    span = llm_span(**{"output.value": ..., "llm.output_messages.0.message.content": ...,
                       "llm.output_messages.0.message.role": ..., "llm.token_count.completion": ...,
                       "llm.token_count.completion_details.reasoning": ...})
    span["status_code"] = "ERROR"
    span["status_message"] = "openai.APITimeoutError: Request timed out."
    load(con, write_jsonl("spans.jsonl", [span]))
    row = request_row(con, "5c6f1e0b-llm")
    assert (row["status"], row["error_type"]) == ("error", "timeout")
    assert row["error_message"] == "openai.APITimeoutError: Request timed out."


def test_detection():
    span = llm_span()
    assert detect_shape([span], "requests").name == "openinference"
    otel = {"traceId": "t", "spanId": "s", "startTimeUnixNano": "1", "attributes": {"gen_ai.operation.name": "chat"}}
    assert detect_shape([otel], "requests").name == "otel_span"


def test_real_openinference_spans(con):
    summary = load(con, real_sample("openinference_spans.jsonl"))
    assert summary.files[0].shape == "openinference"
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (3, 3, 0, 0)
    assert rows(con, "SELECT source_line, request_id, model, input_tokens, output_tokens, ts, temperature "
                     "FROM requests ORDER BY source_line") == [
        (1, "01fa9612-01b8-4358-85d6-e3e067305ec3", "gpt-3.5-turbo-0613", 229, 21,
         datetime(2024, 1, 11, 23, 45, 17, 982858, tzinfo=UTC), 0.1),
        (2, "f26d1f26-9671-435d-9716-14a87a3f228b", "gpt-3.5-turbo-0613", 259, 14,
         datetime(2024, 1, 11, 23, 45, 18, 519427, tzinfo=UTC), 0.1),
        (3, "87654321-4321-8765-4321-876543218765", "babbage-002", 31, 25,
         datetime(2025, 9, 29, 3, 42, 49, tzinfo=UTC), 0.4),
    ]
    # Asked for babbage-002 (the invocation parameters); the dated snapshot answered.
    assert rows(con, "SELECT model_version FROM requests WHERE source_line = 3") == [("babbage:2023-07-21-v2",)]
    second = request_row(con, "f26d1f26-9671-435d-9716-14a87a3f228b")
    assert second["system_prompt"].startswith("You are a Shakespearean writing assistant")
    assert second["prompt"] == "what is 23 times 87\n\n2001"
    assert second["response"] == "The product of 23 times 87 is 2001."
    assert second["latency_ms"] == pytest.approx(639.718)
    assert json.loads(second["extra"])["attributes"]["llm.token_count.total"] == 273
    # The first span answered with a tool call: its output payload is the response.
    first = request_row(con, "01fa9612-01b8-4358-85d6-e3e067305ec3")
    assert json.loads(first["response"])["tool_calls"][0]["function"]["name"] == "multiply"
    # The completion span logs its raw request and response JSON as the payload.
    third = request_row(con, "87654321-4321-8765-4321-876543218765")
    assert json.loads(third["prompt"])["model"] == "babbage-002"
    assert json.loads(third["response"])["choices"][0]["finish_reason"] == "length"
