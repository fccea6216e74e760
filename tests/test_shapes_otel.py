"""OpenTelemetry GenAI spans: flat spans (otel_span) and OTLP/JSON (otlp_json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aimon.store.shapes import TABLE_COLUMNS, detect_shape
from tests.conftest import load, real_sample, request_row, rows

START_NS = 1793527200_000000000  # 2026-11-01T10:00:00Z
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
REQUEST_COLUMNS = list(TABLE_COLUMNS["requests"])


def chat_span(**attributes) -> dict:
    """A current-semconv chat span as a flat JSON export writes it."""
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-AbC123",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.request.temperature": 0.2,
        "gen_ai.conversation.id": "conv-7",
        "user.id": "u-42",
        # Input includes the cache reads and writes (GenAI semantic conventions).
        "gen_ai.usage.input_tokens": 1300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cache_creation.input_tokens": 200,
        "gen_ai.usage.output_tokens": 80,
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are terse."}]),
        "gen_ai.input.messages": json.dumps([
            {"role": "user", "parts": [{"type": "text", "content": "What is the refund policy?"}]}]),
        "gen_ai.output.messages": json.dumps([
            {"role": "assistant", "parts": [{"type": "text", "content": "30 days."}], "finish_reason": "stop"}]),
        "server.address": "api.openai.com",
    }
    attrs.update(attributes)
    return {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "parentSpanId": "a3ce929d0e0e4736",
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str(START_NS),
        "endTimeUnixNano": str(START_NS + 1_250_000_000),
        "status": {"code": 0},
        "attributes": {k: v for k, v in attrs.items() if v is not ...},
    }


def test_flat_span_maps_every_column(con, write_jsonl):
    load(con, write_jsonl("spans.jsonl", [chat_span()]))
    row = request_row(con, "chatcmpl-AbC123")
    assert row["ts"] == T0
    assert (row["user_id"], row["session_id"], row["endpoint"]) == ("u-42", "conv-7", None)
    # The model asked for, and the dated one that answered.
    assert (row["provider"], row["model"], row["model_version"]) == ("openai", "gpt-4o", "gpt-4o-2024-08-06")
    assert (row["system_prompt"], row["prompt"], row["response"]) == (
        "You are terse.", "What is the refund policy?", "30 days.")
    # 1300 input tokens in all, of which 1024 read from and 200 written to the cache.
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (1300, 1024, 200)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (80, None)
    assert row["latency_ms"] == pytest.approx(1250.0)
    assert (row["status"], row["error_type"], row["error_message"]) == ("ok", None, None)
    assert row["temperature"] == 0.2
    assert (row["cost_usd"], row["ttft_ms"], row["cache_hit"]) == (None, None, None)
    assert row["source_format"] == "otel_span"
    # What no column holds stays; both models have their column.
    assert json.loads(row["extra"]) == {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "parentSpanId": "a3ce929d0e0e4736",
        "name": "chat gpt-4o",
        "kind": 3,
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.response.finish_reasons": ["stop"],
            "server.address": "api.openai.com",
        },
    }


def test_detection(con):
    span = chat_span()
    assert detect_shape([span], "requests").name == "otel_span"
    assert detect_shape([otlp_document([span])], "requests").name == "otlp_json"
    openinference = {"context": {"span_id": "s"}, "start_time": "2026-11-01T10:00:00Z",
                     "attributes": {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o"}}
    assert detect_shape([openinference], "requests").name == "openinference"
    flat = {"timestamp": "2026-11-01T10:00:00Z", "model": "gpt-4o", "prompt": "hi", "prompt_tokens": 3}
    assert detect_shape([flat], "requests").name == "flat"


@pytest.mark.slow
def test_older_attribute_names_and_an_error_span(con, write_jsonl):
    old = chat_span(**{
        "gen_ai.provider.name": ..., "gen_ai.system": "openai",
        "gen_ai.usage.input_tokens": ..., "gen_ai.usage.output_tokens": ...,
        "gen_ai.usage.cache_read.input_tokens": ..., "gen_ai.usage.cache_creation.input_tokens": ...,
        "gen_ai.usage.prompt_tokens": 25, "gen_ai.usage.completion_tokens": 7,
        "gen_ai.input.messages": ..., "gen_ai.output.messages": ..., "gen_ai.system_instructions": ...,
        "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "Be brief.",
        "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "Hi there",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Hello!",
        "gen_ai.completion.0.finish_reason": "stop",
    })
    failed = chat_span(**{"gen_ai.response.id": ..., "gen_ai.response.model": ..., "error.type": "RateLimitError",
                          "gen_ai.usage.input_tokens": ..., "gen_ai.usage.output_tokens": ...,
                          "gen_ai.usage.cache_read.input_tokens": ...,
                          "gen_ai.usage.cache_creation.input_tokens": ...})
    failed["spanId"] = "0000000000000bad"
    failed["status"] = {"code": 2, "message": "Error code: 429 - Rate limit reached for gpt-4o"}
    load(con, write_jsonl("spans.jsonl", [old, failed]))
    row = request_row(con, "chatcmpl-AbC123")
    assert (row["provider"], row["input_tokens"], row["output_tokens"]) == ("openai", 25, 7)
    assert (row["system_prompt"], row["prompt"], row["response"]) == ("Be brief.", "Hi there", "Hello!")
    assert json.loads(row["extra"])["attributes"]["gen_ai.completion.0.finish_reason"] == "stop"
    # No response id: the span id names the request.
    err = request_row(con, "0000000000000bad")
    assert (err["status"], err["error_type"]) == ("error", "rate_limit")
    assert err["error_message"] == "Error code: 429 - Rate limit reached for gpt-4o"
    assert err["model"] == "gpt-4o" and err["input_tokens"] is None
    assert json.loads(err["extra"])["attributes"]["error.type"] == "RateLimitError"


# ------------------------------------------------------------------ OTLP/JSON


def any_value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # OTLP/JSON writes int64 as a decimal string
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": value}


def otlp_document(spans: list[dict]) -> dict:
    """The same spans as an OTLP/JSON export: attribute lists, one resource and scope."""
    otlp_spans = []
    for span in spans:
        s = dict(span)
        s["attributes"] = [{"key": k, "value": any_value(v)} for k, v in span["attributes"].items()]
        otlp_spans.append(s)
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support-bot"}}]},
        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"},
                        "spans": otlp_spans}],
    }]}


def agent_trace() -> list[dict]:
    """An agent span around two chat calls; the agent repeats its children's token sums."""
    first = chat_span(**{"gen_ai.response.id": "chatcmpl-1", "gen_ai.usage.input_tokens": 500,
                         "gen_ai.usage.output_tokens": 40, "gen_ai.usage.cache_read.input_tokens": ...,
                         "gen_ai.usage.cache_creation.input_tokens": ...})
    second = chat_span(**{"gen_ai.response.id": "chatcmpl-2", "gen_ai.usage.input_tokens": 700,
                          "gen_ai.usage.output_tokens": 60, "gen_ai.usage.cache_read.input_tokens": 512,
                          "gen_ai.usage.cache_creation.input_tokens": ...})
    first["spanId"], second["spanId"] = "1111111111111111", "2222222222222222"
    second["startTimeUnixNano"] = str(START_NS + 2_000_000_000)
    second["endTimeUnixNano"] = str(START_NS + 3_000_000_000)
    agent = {
        "traceId": first["traceId"], "spanId": "a3ce929d0e0e4736", "name": "invoke_agent support",
        "kind": 1, "startTimeUnixNano": str(START_NS - 1_000_000), "endTimeUnixNano": str(START_NS + 3_100_000_000),
        "status": {"code": 1},
        "attributes": {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
                       "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                       "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 100},
    }
    return [agent, first, second]


WRAPPER_REASON = ("not a model call: span invoke_agent support has gen_ai.operation.name invoke_agent "
                  "(an agent, tool or workflow span: the model calls inside it are spans of their own)")


@pytest.mark.slow
@pytest.mark.parametrize("form", ["flat", "otlp"])
def test_wrapper_span_is_not_counted_twice(con, write_jsonl, form):
    spans = agent_trace()
    records = spans if form == "flat" else [otlp_document(spans)]
    summary = load(con, write_jsonl("trace.jsonl", records))
    assert (summary.records, summary.loaded, summary.rejected) == (3, 2, 1)
    assert rows(con, "SELECT request_id, input_tokens, output_tokens, cached_input_tokens FROM requests "
                     "ORDER BY request_id") == [("chatcmpl-1", 500, 40, None), ("chatcmpl-2", 700, 60, 512)]
    # The children's totals, not doubled by the agent's 1200/100.
    assert rows(con, "SELECT sum(input_tokens), sum(output_tokens) FROM requests") == [(1200, 100)]
    assert rows(con, "SELECT source_line, reason FROM rejects") == [(1, WRAPPER_REASON)]


@pytest.mark.slow
def test_otlp_and_flat_forms_give_the_same_rows(con, write_jsonl):
    spans = agent_trace()[1:]
    load(con, write_jsonl("flat.jsonl", spans))
    flat = rows(con, f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests ORDER BY request_id")
    con.execute("DELETE FROM _aimon_requests")
    load(con, write_jsonl("otlp.jsonl", [otlp_document(spans)]))
    otlp = rows(con, f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests ORDER BY request_id")
    assert otlp == flat and len(otlp) == 2
    extra = json.loads(rows(con, "SELECT extra FROM requests WHERE request_id = 'chatcmpl-1'")[0][0])
    assert extra["resource"] == {"attributes": {"service.name": "support-bot"}}
    assert extra["scope"] == {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"}
    assert extra["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert rows(con, "SELECT DISTINCT source_format, source_line FROM requests") == [("otlp_json", 1)]


def test_otlp_items_that_are_not_spans_keep_their_holders(con):
    # Each span is converted once it is a row, with its resource and scope converted
    # beside it; a list item that is no object still becomes one holding them, as
    # patching them into it made it before.
    from aimon.store import macros
    macros.install(con)
    doc = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
                              "scopeSpans": [{"scope": {"name": "s"}, "spans": [1, None, "x", {"spanId": "ab"}]}]}]}
    got = [json.loads(r) for (r,) in con.execute(
        "SELECT aimon_otlp_record(x) FROM (SELECT unnest(aimon_otlp_spans(?::JSON)) AS x)", [json.dumps(doc)]).fetchall()]
    holders = {"resource": {"attributes": {"service.name": "bot"}}, "scope": {"name": "s"}}
    assert got == [holders, holders, holders, {"spanId": "ab", **holders}]


# ------------------------------------------------------------------ real samples


@pytest.mark.slow
def test_real_vercel_ai_sdk_spans(con):
    summary = load(con, real_sample("otel_genai_spans.jsonl"))
    assert summary.files[0].shape == "otel_span"
    # Lines 1,3,5,7,9 are the model calls (*.doGenerate, *.doStream, *.doEmbed); the even
    # lines are their ai.generateText/... wrappers, which repeat the same token counts.
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (10, 5, 0, 5)
    got = rows(con, "SELECT source_line, request_id, model_version, input_tokens, output_tokens, cached_input_tokens, "
                    "reasoning_tokens FROM requests ORDER BY source_line")
    assert got == [
        (1, "resp_0269f3aed1fd415900698212189ed88190b8bb13919d420b02", "gpt-4o-mini-2024-07-18", 14, 20, None, None),
        (3, "resp_0056c25ba5cb2bd9006982121a510c81a1a31c11ddcf1abc73", "gpt-4o-mini-2024-07-18", 50, 9, None, None),
        (5, "resp_03f2d825c7fc910c006982121d24948190b48cdbf3f4373dfe", "gpt-4o-mini-2024-07-18", 63, 156, None, None),
        (7, "resp_07aff6ffa00269d50069821220f35c819dbbabe49b6cc82791", "gpt-4o-mini-2024-07-18", 15, 112, 0, 0),
        (9, "53e12604843b0399", None, 10, None, None, None),
    ]
    # The embedding span names only the model asked for.
    assert rows(con, "SELECT model FROM requests WHERE source_line = 9") == [("text-embedding-3-small",)]
    # Summing every span would have given 2 x 152 input tokens.
    assert rows(con, "SELECT sum(input_tokens) FROM requests") == [(152,)]
    wrapped = {2: "generateText", 4: "generateText", 6: "generateObject", 8: "streamText", 10: "embed"}
    assert rows(con, "SELECT source_line, reason FROM rejects ORDER BY source_line") == [
        (n, f"not a model call: Vercel AI SDK span ai.{op} wraps its ai.{op}.do* model-call span "
            f"and repeats its token counts") for n, op in wrapped.items()]
    line3 = request_row(con, "resp_0056c25ba5cb2bd9006982121a510c81a1a31c11ddcf1abc73")
    assert line3["system_prompt"] == "You are a helpful assistant."
    assert line3["prompt"] == "What is 2 + 2?\n\n2 + 2 equals 4.\n\nAnd what is 3 + 3?"
    assert line3["response"] == "3 + 3 equals 6."
    assert line3["ts"] == datetime(2026, 2, 3, 15, 19, 54, 23000, tzinfo=UTC)
    assert (line3["provider"], line3["endpoint"]) == ("openai.responses", "test-generate-text-messages")
    stream = request_row(con, "resp_07aff6ffa00269d50069821220f35c819dbbabe49b6cc82791")
    assert stream["ttft_ms"] == pytest.approx(426.8535)
    assert stream["latency_ms"] == pytest.approx(5386.307, abs=0.01)
    embed = request_row(con, "53e12604843b0399")
    assert embed["prompt"] == "The quick brown fox jumps over the lazy dog."
    # The 1536-float vector has no column and stays in extra.
    assert len(json.loads(json.loads(embed["extra"])["attributes"]["ai.embeddings"][0])) == 1536


@pytest.mark.slow
def test_real_otlp_protobufjs_spans(con):
    summary = load(con, real_sample("otel_genai_otlp_protobufjs.jsonl"))
    assert summary.files[0].shape == "otlp_json"
    assert (summary.records, summary.loaded, summary.rejected) == (2, 2, 0)
    openlit = request_row(con, "chatcmpl-AugxBIoQzz2zFMWFoiyS3Vmm1OuQI")
    # startTimeUnixNano {low: 153687506, high: 404677085} = 404677085 * 2^32 + 153687506 ns.
    assert openlit["ts"] == datetime(2025, 1, 28, 14, 34, 5, 669299, tzinfo=UTC)
    assert (openlit["input_tokens"], openlit["output_tokens"], openlit["cost_usd"]) == (14, 96, 0.000151)
    assert (openlit["provider"], openlit["model"], openlit["temperature"]) == ("openai", "gpt-3.5-turbo", 1.0)
    # OpenLIT logs the text as span events.
    assert openlit["prompt"] == "user: What is LLM Observability?"
    assert openlit["response"].startswith("LLM Observability stands for logs, metrics, and traces")
    extra = json.loads(openlit["extra"])
    assert extra["traceId"] == "ea673708441c2984a54a3e3962d3595f" and extra["spanId"] == "b904bffb20be6d7e"
    assert extra["attributes"]["gen_ai.request.max_tokens"] == -1  # {low: -1, high: -1}, signed
    assert extra["events"] == [{"name": "gen_ai.content.prompt", "timeUnixNano": "1738074846843303227"},
                               {"name": "gen_ai.content.completion", "timeUnixNano": "1738074846843349296"}]
    traceloop = request_row(con, "aabf16e416ae4952")  # no response id: the span id
    assert (traceloop["input_tokens"], traceloop["output_tokens"]) == (14, 173)
    assert (traceloop["provider"], traceloop["model"], traceloop["model_version"]) == (
        "OpenAI", "gpt-3.5-turbo", "gpt-3.5-turbo-0125")
    assert traceloop["prompt"] == "What is LLM Observability?"
    # endTimeUnixNano's low half is negative (-1984808674): read as unsigned.
    assert traceloop["latency_ms"] == pytest.approx(1444.194058, abs=0.001)


# ------------------------------------------------------------------ one model rule (issue 14, item 4)


@pytest.mark.slow
def test_model_is_what_was_asked_for_and_model_version_what_answered(con, write_jsonl):
    ok = chat_span()
    failed = chat_span(**{"gen_ai.response.id": ..., "gen_ai.response.model": ..., "error.type": "timeout",
                          "gen_ai.usage.input_tokens": ..., "gen_ai.usage.output_tokens": ...,
                          "gen_ai.usage.cache_read.input_tokens": ..., "gen_ai.usage.cache_creation.input_tokens": ...})
    failed["spanId"] = "0000000000000bad"
    failed["status"] = {"code": 2, "message": "timed out"}
    load(con, write_jsonl("spans.jsonl", [ok, failed]))
    # Successes and errors of one model group together; the dated answering model is kept.
    assert rows(con, "SELECT request_id, model, model_version, status FROM requests ORDER BY request_id") == [
        ("0000000000000bad", "gpt-4o", None, "error"),
        ("chatcmpl-AbC123", "gpt-4o", "gpt-4o-2024-08-06", "ok")]
    assert rows(con, "SELECT model, count(*) FROM requests GROUP BY model") == [("gpt-4o", 2)]


def part(text: str) -> dict:
    return {"type": "text", "content": text}


# gen_ai.input.messages in every form a span carries it, and the (system prompt, prompt)
# it gives. Both columns read one parse of the attribute (issue 14): these pin down that
# the shared parse reads every form as each column's own parse did.
MESSAGE_FORMS = [
    (json.dumps([{"role": "system", "parts": [part("Be terse.")]},
                 {"role": "user", "parts": [part("hi"), "a plain part", {"type": "text", "text": "t2"}]},
                 {"role": "assistant", "parts": [part("hello")]}]),
     "Be terse.", "hi\na plain part\nt2\n\nhello"),
    (json.dumps([{"role": "developer", "content": "dev"}, {"role": "system", "content": "sys"},
                 {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image"}]}]),
     "dev\n\nsys", "x"),
    (json.dumps([{"role": "user", "content": ""}, 5, None, "a string item", {"role": {"x": 1}, "content": "odd role"}]),
     None, "odd role"),
    (json.dumps([]), None, None),
    ('  [{"role": "user", "content": "leading blanks"}]', None, "leading blanks"),
    ("  [not JSON", None, "  [not JSON"),
    ("{not JSON either", None, "{not JSON either"),
    ("plain prompt text", None, "plain prompt text"),
    ("", None, ""),
    (json.dumps({"role": "user", "content": "one message"}), None, "one message"),
    (json.dumps({"text": ""}), None, ""),
    ([{"role": "system", "content": "native sys"}, {"role": "user", "content": "native list"}],
     "native sys", "native list"),
    ({"text": "native object"}, None, "native object"),
    (42, None, None),
    (None, None, None),
    # A message with content null and parts: the parts' text (each column's own
    # json_extract read the null as the content, so the message gave no text).
    (json.dumps([{"role": "user", "content": None, "parts": [part("from parts")]}]), None, "from parts"),
]


@pytest.mark.slow
@pytest.mark.parametrize("form", ["flat", "otlp"])
def test_input_messages_in_every_form(con, write_jsonl, form):
    # OTLP attributes cannot nest or be null: a list or object travels as JSON text.
    forms = [(i, m, system, prompt) for i, (m, system, prompt) in enumerate(MESSAGE_FORMS)
             if form == "flat" or isinstance(m, str | list | dict)]
    spans = [chat_span(**{"gen_ai.input.messages": m if form == "flat" or isinstance(m, str) else json.dumps(m),
                          "gen_ai.system_instructions": ..., "gen_ai.response.id": f"resp-{i:02d}"})
             for i, m, _, _ in forms]
    load(con, write_jsonl("spans.jsonl", spans if form == "flat" else [otlp_document(spans)]))
    assert rows(con, "SELECT request_id, system_prompt, prompt FROM requests ORDER BY request_id") == [
        (f"resp-{i:02d}", system, prompt) for i, _, system, prompt in forms]
