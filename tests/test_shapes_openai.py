"""OpenAI shapes: chat completions (and OpenAI-compatible providers), Batch output lines,
Responses API bodies. Built records copy the structure of the real samples; the real
samples themselves (tests/data/real-samples) are ingested at the end.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aimon.store.shapes import detect_shape
from aimon.store.shapes.openai import BATCH_IMPUTED
from tests.conftest import load, real_sample, rows

DEFAULT_TIME = datetime(2026, 1, 1, tzinfo=UTC)
MAPPED_SHAPES = ("openai_chat", "openai_batch", "openai_responses", "anthropic_message",
                 "anthropic_batch", "llm_logs")


# --------------------------------------------------------------------------- helpers

def row(con, request_id: str) -> dict:
    cur = con.execute("SELECT * FROM requests WHERE request_id = ?", [request_id])
    names = [d[0] for d in cur.description]
    got = cur.fetchall()
    assert len(got) == 1, f"{request_id}: {len(got)} rows"
    out = dict(zip(names, got[0], strict=True))
    out["extra"] = json.loads(out["extra"]) if out["extra"] is not None else None
    return out


def by_line(con, path) -> dict[int, dict]:
    cur = con.execute("SELECT * FROM requests WHERE source_file = ? ORDER BY source_line", [str(path)])
    names = [d[0] for d in cur.description]
    out = {}
    for values in cur.fetchall():
        r = dict(zip(names, values, strict=True))
        r["extra"] = json.loads(r["extra"]) if r["extra"] is not None else None
        out[r["source_line"]] = r
    return out


def tokens(r: dict) -> tuple:
    return (r["input_tokens"], r["output_tokens"], r["cached_input_tokens"], r["cache_write_tokens"],
            r["reasoning_tokens"])


def detected(rec: dict) -> str | None:
    shape = detect_shape([rec], "requests")
    return shape.name if shape else None


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    elif value is not None:
        yield path, value


def _norm(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    try:  # 623 and "623" (an integer id read as text) are the same value
        return repr(float(v))
    except (TypeError, ValueError):
        return str(v)


def assert_nothing_lost(con, path, constants=(), derived=()) -> int:
    """Every non-null leaf of every loaded source record is in ``extra`` at the same place,
    or is the value of a column (or part of the response text), or is a shape constant
    (``(path, value)`` in ``constants``, matched on the path's keys, list indexes ignored),
    or is one of the ``derived`` paths (a column computed from it). Returns the number of
    records checked."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = by_line(con, path)
    for n, r in rows.items():
        source = json.loads(lines[n - 1])
        kept = {p: v for p, v in _leaves(r["extra"] or {})}
        values = {_norm(v) for k, v in r.items() if k not in ("extra", "ts") and v is not None}
        values.add(_norm(r["ts"].timestamp()))
        texts = " ".join(str(r[k]) for k in ("system_prompt", "prompt", "response") if r[k] is not None)
        for p, v in _leaves(source):
            keys = tuple(k for k in p if isinstance(k, str))
            if kept.get(p) == v or _norm(v) in values or (isinstance(v, str) and v in texts):
                continue
            assert (keys, v) in constants or keys in derived, f"line {n}: {p} = {v!r} was lost"
    return len(rows)


# --------------------------------------------------------------------------- chat completions

def chat_body(**overrides):
    body = {
        "id": "chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7", "object": "chat.completion", "created": 1744990626,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris is the capital.",
                                             "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1149, "completion_tokens": 353, "total_tokens": 1502,
                  "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 64, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_0392822090",
    }
    body.update(overrides)
    return body


def test_openai_chat_maps_every_column_and_keeps_the_rest(con, write_jsonl):
    rec = chat_body()
    assert detected(rec) == "openai_chat"
    load(con, write_jsonl("chat.jsonl", [rec]))
    r = row(con, "chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7")
    assert r["ts"] == datetime(2025, 4, 18, 15, 37, 6, tzinfo=UTC)
    assert (r["provider"], r["model"], r["response"]) == ("openai", "gpt-4o-mini-2024-07-18", "Paris is the capital.")
    # prompt_tokens INCLUDES the cached ones and completion_tokens the reasoning ones: as they are.
    assert tokens(r) == (1149, 353, 1024, None, 64)
    assert (r["status"], r["error_type"], r["cost_usd"], r["latency_ms"]) == ("ok", None, None, None)
    assert r["source_format"] == "openai_chat"
    assert r["extra"] == {
        "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"total_tokens": 1502, "prompt_tokens_details": {"audio_tokens": 0},
                  "completion_tokens_details": {"audio_tokens": 0, "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_0392822090",
    }


def test_texts_are_joined_without_the_empty_ones(con, write_jsonl):
    # An empty content beside a refusal gave "\n\nI can't ...", a list of empty parts a
    # lone blank line: empty texts are left out of every join, and none left is no text.
    refusal = chat_body(id="c-empty", choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "", "refusal": "I can't help with that."}}])
    blank = chat_body(id="c-blank", choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": [{"type": "text", "text": ""}, {"type": "text", "text": ""}]}}])
    spaced = chat_body(id="c-spaced", choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "one"},
                                         {"type": "text", "text": "two"}]}}])
    load(con, write_jsonl("chat.jsonl", [refusal, blank, spaced]))
    assert row(con, "c-empty")["response"] == "I can't help with that."
    assert row(con, "c-blank")["response"] is None
    assert row(con, "c-spaced")["response"] == "onetwo"


def test_openai_chat_tool_calls_refusal_choices_and_content_filter(con, write_jsonl):
    calls = [{"id": "call_1", "type": "function",
              "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]
    tool = chat_body(id="c-tool", choices=[{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": calls}}])
    refusal = chat_body(id="c-refusal", choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": None, "refusal": "I can't help with that."}}])
    two = chat_body(id="c-two", choices=[
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "A"}},
        {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": "B"}}])
    parts = chat_body(id="c-parts", choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": [{"type": "text", "text": "one "}, {"type": "text", "text": "two"}]}}])
    thinking = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}, {"type": "text", "text": "4"}]
    mixed = chat_body(id="c-mixed", choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": thinking}}])
    azure = chat_body(id="c-azure", model="gpt-35-turbo", choices=[{
        "content_filter_results": {"hate": {"filtered": True, "severity": "high"}},
        "finish_reason": "content_filter", "index": 0, "logprobs": None}],
        prompt_filter_results=[{"prompt_index": 0, "content_filter_results": {}}])
    load(con, write_jsonl("chat.jsonl", [tool, refusal, two, parts, mixed, azure]))

    r = row(con, "c-tool")
    assert (r["response"], r["status"]) == (None, "ok")
    assert r["extra"]["choices"] == [{"index": 0, "finish_reason": "tool_calls",
                                      "message": {"role": "assistant", "tool_calls": calls}}]
    r = row(con, "c-refusal")
    assert r["response"] == "I can't help with that."
    assert r["extra"]["choices"] == [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant"}}]
    r = row(con, "c-two")  # the first choice is the response; the others stay whole in extra
    assert r["response"] == "A"
    assert r["extra"]["choices"][1] == two["choices"][1]
    assert row(con, "c-parts")["response"] == "one two"
    # Parts that are not plain text: kept whole (as JSON) rather than losing the thinking part.
    assert json.loads(row(con, "c-mixed")["response"]) == thinking
    r = row(con, "c-azure")
    assert (r["provider"], r["status"], r["error_type"], r["response"]) == ("azure", "error", "content_filter", None)
    assert r["extra"]["prompt_filter_results"] == azure["prompt_filter_results"]
    assert r["extra"]["choices"][0]["finish_reason"] == "content_filter"


def test_openai_compatible_providers(con, write_jsonl):
    openrouter = chat_body(id="gen-1773011158-Ce1hHC4Gr81WIraIsgAJ", model="anthropic/claude-4.6-sonnet-20260217",
                           provider="Anthropic", usage={
                               "completion_tokens": 53, "prompt_tokens": 3329, "total_tokens": 3382,
                               "cost": 0.00219855, "is_byok": False,
                               "prompt_tokens_details": {"cache_write_tokens": 115, "cached_tokens": 3211}})
    groq = chat_body(id="chatcmpl-8b82", model="openai/gpt-oss-120b", x_groq={"id": "req_01"}, usage={
        "completion_tokens": 105, "prompt_tokens": 84, "total_tokens": 189, "queue_time": 0.08,
        "completion_tokens_details": {"reasoning_tokens": 95}})
    deepseek = chat_body(id="7f1f7abf", model="deepseek-chat", usage={
        "completion_tokens": 61, "prompt_tokens": 976, "total_tokens": 1037,
        "prompt_cache_hit_tokens": 896, "prompt_cache_miss_tokens": 80})
    vllm = chat_body(id="chatcmpl-x1", model="meta-llama/Llama-3.1-8B-Instruct")
    for rec in (openrouter, groq, deepseek, vllm):
        assert detected(rec) == "openai_chat"
    load(con, write_jsonl("compat.jsonl", [openrouter, groq, deepseek, vllm]))

    r = row(con, "gen-1773011158-Ce1hHC4Gr81WIraIsgAJ")
    assert (r["provider"], r["cost_usd"]) == ("openrouter", 0.00219855)
    assert tokens(r) == (3329, 53, 3211, 115, None)
    assert r["extra"]["provider"] == "Anthropic" and r["extra"]["usage"] == {"total_tokens": 3382, "is_byok": False}
    r = row(con, "chatcmpl-8b82")
    assert (r["provider"], tokens(r)) == ("groq", (84, 105, None, None, 95))
    assert r["extra"]["usage"]["queue_time"] == 0.08
    r = row(con, "7f1f7abf")  # no prompt_tokens_details: the hit count is read and kept
    assert (r["provider"], tokens(r)) == ("deepseek", (976, 61, 896, None, None))
    assert r["extra"]["usage"]["prompt_cache_hit_tokens"] == 896
    assert row(con, "chatcmpl-x1")["provider"] is None  # an OpenAI-compatible server we cannot name


# --------------------------------------------------------------------------- batch

def batch_line(**overrides):
    line = {"id": "batch_req_6769ca596b38819093d7ae9f522de924", "custom_id": "request-1",
            "response": {"status_code": 200, "request_id": "07bc45ab4e7e26ac23a0c949973327e7",
                         "body": chat_body(id="chatcmpl-AhjSMl7oZ79yIPHLRYgmgXSixTJr7", created=1734986202)},
            "error": None}
    line.update(overrides)
    return line


@pytest.mark.slow
def test_openai_batch_line_maps_the_body_and_marks_the_batch(con, write_jsonl):
    rec = batch_line()
    assert detected(rec) == "openai_batch"
    load(con, write_jsonl("batch.jsonl", [rec]))
    r = row(con, "chatcmpl-AhjSMl7oZ79yIPHLRYgmgXSixTJr7")
    assert r["ts"] == datetime(2024, 12, 23, 20, 36, 42, tzinfo=UTC)
    assert (r["provider"], r["model"], r["response"], r["status"]) == (
        "openai", "gpt-4o-mini-2024-07-18", "Paris is the capital.", "ok")
    assert tokens(r) == (1149, 353, 1024, None, 64)
    extra = r["extra"]
    assert extra["batch"] is True
    assert (extra["id"], extra["custom_id"]) == ("batch_req_6769ca596b38819093d7ae9f522de924", "request-1")
    assert extra["response"]["status_code"] == 200
    assert extra["response"]["request_id"] == "07bc45ab4e7e26ac23a0c949973327e7"
    assert extra["response"]["body"]["object"] == "chat.completion"
    assert extra["response"]["body"]["service_tier"] == "default"
    assert "error" not in extra  # error: null says nothing the status does not


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_openai_batch_errors_alone_have_no_time(con, write_jsonl):
    expired = {"id": "batch_req_exp1", "custom_id": "request-7", "response": None,
               "error": {"code": "batch_expired", "message": "This request could not be executed before "
                                                             "the completion window expired."}}
    http_error = batch_line(id="batch_req_400", custom_id="request-8", response={
        "status_code": 400, "request_id": "req_abc",
        "body": {"error": {"message": "Invalid 'messages': empty array.", "type": "invalid_request_error",
                           "param": "messages", "code": "empty_array"}}})
    assert detected(expired) == "openai_batch"
    # An error file: no line has a time to lend the others.
    path = write_jsonl("batch.jsonl", [expired, http_error])
    s = load(con, path)
    assert (s.loaded, s.rejected, s.files[0].reject_reasons) == (0, 2, {"missing timestamp": 2})

    s = load(con, path, default_time=DEFAULT_TIME)  # the user vouches for a time
    assert (s.loaded, s.duplicates, s.rejected) == (2, 0, 0)
    r = row(con, "batch_req_exp1")
    assert (r["ts"], r["status"], r["error_type"]) == (DEFAULT_TIME, "error", "batch_expired")
    assert r["error_message"].startswith("This request could not be executed")
    assert r["extra"] == {"batch": True, "id": "batch_req_exp1", "custom_id": "request-7"}
    r = row(con, "batch_req_400")
    assert (r["status"], r["error_type"], r["error_message"]) == (
        "error", "invalid_request_error", "Invalid 'messages': empty array.")
    assert r["extra"]["response"] == {"status_code": 400, "request_id": "req_abc",
                                      "body": {"error": {"param": "messages", "code": "empty_array"}}}


# --------------------------------------------------------------------------- responses API

def responses_body(**overrides):
    body = {
        "id": "resp_68cdba511c7081a389e67b16621029c6", "object": "response", "created_at": 1758313041,
        "completed_at": 1758313044, "status": "completed", "error": None, "incomplete_details": None,
        "instructions": "You are terse.", "model": "gpt-5-2025-08-07",
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "**Thinking**"}],
             "encrypted_content": "gAAAA"},
            {"id": "ci_1", "type": "code_interpreter_call", "code": "1+1", "status": "completed"},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "It is 2."}]},
        ],
        "service_tier": "default", "store": True, "temperature": 1.0, "top_p": 1.0,
        "usage": {"input_tokens": 1493, "input_tokens_details": {"cached_tokens": 1280},
                  "output_tokens": 125, "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 1618},
        "user": None, "metadata": {"team": "search"},
    }
    body.update(overrides)
    return body


@pytest.mark.slow
def test_openai_responses_maps_every_column(con, write_jsonl):
    rec = responses_body()
    assert detected(rec) == "openai_responses"
    load(con, write_jsonl("resp.jsonl", [rec]))
    r = row(con, "resp_68cdba511c7081a389e67b16621029c6")
    assert r["ts"] == datetime(2025, 9, 19, 20, 17, 21, tzinfo=UTC)
    assert (r["provider"], r["model"], r["system_prompt"], r["response"]) == (
        "openai", "gpt-5-2025-08-07", "You are terse.", "It is 2.")
    assert tokens(r) == (1493, 125, 1280, None, 64)
    assert (r["latency_ms"], r["temperature"], r["status"], r["user_id"]) == (3000.0, 1.0, "ok", None)
    out = rec["output"]
    assert r["extra"] == {
        "status": "completed",
        "output": [out[0], out[1], {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                                    "content": [{"type": "output_text", "annotations": [], "logprobs": []}]}],
        "service_tier": "default", "store": True, "top_p": 1.0,
        "usage": {"total_tokens": 1618}, "metadata": {"team": "search"},
    }


@pytest.mark.slow
def test_openai_responses_failed_and_filtered(con, write_jsonl):
    failed = responses_body(id="resp_f", status="failed", output=[], usage=None,
                            error={"code": "server_error", "message": "The server had an error."})
    filtered = responses_body(id="resp_c", status="incomplete", incomplete_details={"reason": "content_filter"})
    load(con, write_jsonl("resp.jsonl", [failed, filtered]))
    r = row(con, "resp_f")
    assert (r["status"], r["error_type"], r["error_message"], r["response"]) == (
        "error", "server_error", "The server had an error.", None)
    assert r["extra"]["status"] == "failed"
    r = row(con, "resp_c")
    assert (r["status"], r["error_type"], r["response"]) == ("error", "content_filter", "It is 2.")


def test_openai_detectors_are_specific():
    anthropic = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                 "content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": 1, "output_tokens": 1}}
    anthropic_batch = {"custom_id": "r1", "result": {"type": "succeeded", "message": anthropic}}
    flat = {"timestamp": "2026-01-01T00:00:00Z", "model": "gpt-4o", "prompt": "hi", "response": "yo"}
    assert detected(anthropic) == "anthropic_message"
    assert detected(anthropic_batch) == "anthropic_batch"
    assert detected(flat) == "flat"
    assert detected(chat_body(object="chat.completion.chunk")) != "openai_chat"


# --------------------------------------------------------------------------- real samples

def test_real_openai_chat_completions(con):
    path = real_sample("openai_chat_completion.jsonl")
    s = load(con, path)
    assert (s.files[0].shape, s.records, s.loaded, s.rejected) == ("openai_chat", 23, 23, 0)
    rows = by_line(con, path)
    assert tokens(rows[2]) == (1149, 353, 1024, None, 0)       # cached_tokens=1024
    assert tokens(rows[4])[:3] == (1370, 155, 1280)
    assert tokens(rows[6]) == (4020, 4, 4012, 0, 0)
    assert tokens(rows[7]) == (31, 467, 0, None, 448)          # o3-mini reasoning_tokens=448
    assert tokens(rows[18]) == (82, 16, None, None, None)      # old body without *_details
    assert {rows[n]["provider"] for n in range(1, 22)} == {"openai"}
    assert rows[10]["extra"]["service_tier"] == "priority"
    assert rows[12]["response"] is None and len(rows[12]["extra"]["choices"][0]["message"]["tool_calls"]) == 2
    assert rows[18]["extra"]["choices"][0]["message"]["function_call"]["name"] == "get_current_weather"
    assert [rows[13]["response"], rows[13]["extra"]["choices"][1]["message"]["content"]] == [
        "This is a test. How can I assist you further?"] * 2
    assert rows[19]["extra"]["choices"][0]["finish_reason"] == "length"
    assert (rows[22]["provider"], rows[22]["status"], rows[22]["error_type"]) == ("azure", "error", "content_filter")
    assert (rows[23]["provider"], rows[23]["status"], rows[23]["response"], tokens(rows[23])) == (
        "azure", "ok", "3", (11, 203, 0, None, 192))
    assert rows[1]["ts"] == datetime(2025, 4, 18, 15, 37, 1, tzinfo=UTC)
    assert assert_nothing_lost(con, path, constants={(("object",), "chat.completion")}) == 23


def test_real_openai_compatible_chat_completions(con):
    path = real_sample("openai_compatible_chat_completion.jsonl")
    s = load(con, path)
    assert (s.files[0].shape, s.records, s.loaded, s.rejected) == ("openai_chat", 4, 4, 0)
    rows = by_line(con, path)
    assert [rows[n]["provider"] for n in (1, 2, 3, 4)] == ["openrouter", "groq", "deepseek", "mistral"]
    assert tokens(rows[1]) == (3329, 53, 3211, 115, 0) and rows[1]["cost_usd"] == 0.00219855
    assert tokens(rows[2]) == (84, 105, None, None, 95)
    assert tokens(rows[3]) == (976, 61, 896, None, 25)
    assert tokens(rows[4]) == (268, 5, 224, None, None)
    assert rows[3]["extra"]["choices"][0]["message"]["reasoning_content"].startswith("The player's name is Anne")
    assert assert_nothing_lost(con, path, constants={(("object",), "chat.completion")}) == 4


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_real_openai_batch_output(con):
    path = real_sample("openai_batch_output.jsonl")
    s = load(con, path)
    assert (s.files[0].shape, s.records, s.loaded, s.rejected) == ("openai_batch", 5, 5, 0)
    rows = by_line(con, path)
    assert all(r["extra"]["batch"] is True and r["status"] == "ok" for r in rows.values())
    assert [rows[n]["extra"]["custom_id"] for n in (1, 2, 3, 4, 5)] == [
        "request-1", "request-2", "task-0", "request-1", "request-2"]
    assert rows[1]["request_id"] == "chatcmpl-AhjSMl7oZ79yIPHLRYgmgXSixTJr7"
    assert rows[1]["extra"]["id"] == "batch_req_6769ca596b38819093d7ae9f522de924"
    assert tokens(rows[1]) == (20, 10, 0, None, 0)
    assert tokens(rows[3]) == (27, 24, None, None, None) and rows[3]["provider"] == "azure"
    assert tokens(rows[5]) == (24, 15, None, None, None)
    assert rows[4]["response"] == "2 + 2 equals 4."
    assert assert_nothing_lost(con, path) == 5


def test_real_openai_responses(con):
    path = real_sample("openai_responses.jsonl")
    s = load(con, path)
    assert (s.files[0].shape, s.records, s.loaded, s.rejected) == ("openai_responses", 6, 6, 0)
    rows = by_line(con, path)
    assert tokens(rows[1]) == (11, 5, 0, None, 0) and rows[1]["response"] == "pong"
    assert rows[1]["latency_ms"] == 1000.0
    assert tokens(rows[2]) == (1493, 125, 1280, None, 64)      # cached_tokens=1280, reasoning_tokens=64
    assert rows[2]["response"].startswith("Using standard order of operations")
    assert [o["type"] for o in rows[2]["extra"]["output"]] == ["reasoning", "code_interpreter_call",
                                                               "reasoning", "message"]
    assert tokens(rows[3])[4] == 9
    assert tokens(rows[4]) == (4020, 5, 4012, 0, 0)
    assert tokens(rows[5]) == (9299, 577, 8448, None, 512)
    assert rows[5]["system_prompt"] == "You are a helpful assistant."
    assert tokens(rows[6]) == (1349, 10, 1024, None, 0)        # cached_tokens=1024
    assert {r["provider"] for r in rows.values()} == {"openai"}
    assert assert_nothing_lost(con, path, constants={(("object",), "response")},
                               derived={("completed_at",)}) == 6


# --------------------------------------------------------------------------- issue 14, items 4 and 5

def test_a_body_names_the_model_that_answered_as_model_and_model_version(con, write_jsonl):
    load(con, write_jsonl("chat.jsonl", [chat_body()]))
    r = row(con, "chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7")
    assert (r["model"], r["model_version"]) == ("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18")


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_failed_batch_lines_take_the_time_of_their_batch(con, write_jsonl):
    first = batch_line()
    later = batch_line(id="batch_req_2", custom_id="request-2", response={
        "status_code": 200, "request_id": "r2",
        "body": chat_body(id="chatcmpl-later", created=1734986802)})
    expired = {"id": "batch_req_exp1", "custom_id": "request-7", "response": None,
               "error": {"code": "batch_expired", "message": "expired"}}
    path = write_jsonl("batch.jsonl", [first, expired, later])
    s = load(con, path)
    assert (s.loaded, s.rejected) == (3, 0)
    r = row(con, "batch_req_exp1")
    # The time of the nearest earlier line of the batch file, and said so.
    assert r["ts"] == datetime(2024, 12, 23, 20, 36, 42, tzinfo=UTC)
    assert (r["status"], r["error_type"]) == ("error", "batch_expired")
    assert r["extra"]["ts_imputed"] == BATCH_IMPUTED
    # A batch runs one model: the failure counts against it, though no model answered.
    assert (r["provider"], r["model"], r["model_version"]) == ("openai", "gpt-4o-mini-2024-07-18", None)
    assert r["extra"]["model_imputed"] == BATCH_IMPUTED
    assert "ts_imputed" not in row(con, "chatcmpl-later")["extra"]


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_failed_batch_lines_of_later_nights_take_their_own_night(con, write_jsonl):
    # One file holding two nightly batches: the earliest time of the file would pile the
    # second night's failures onto the first night (a false incident at one minute).
    def failed(n):
        return {"id": f"batch_req_f{n}", "custom_id": f"request-f{n}", "response": None,
                "error": {"code": "request_timeout", "message": "timed out"}}

    night2 = batch_line(id="batch_req_n2", custom_id="request-n2", response={
        "status_code": 200, "request_id": "r2", "body": chat_body(id="chatcmpl-n2", created=1735073102)})
    path = write_jsonl("batch.jsonl", [failed(0), batch_line(), failed(1), night2, failed(2)])
    s = load(con, path)
    assert (s.loaded, s.rejected) == (5, 0)
    night1_ts, night2_ts = datetime(2024, 12, 23, 20, 36, 42, tzinfo=UTC), datetime(2024, 12, 24, 20, 45, 2, tzinfo=UTC)
    got = dict(rows(con, "SELECT request_id, ts FROM requests WHERE status = 'error'"))
    assert got == {"batch_req_f0": night1_ts, "batch_req_f1": night1_ts, "batch_req_f2": night2_ts}


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_default_time_wins_over_a_batch_neighbour(con, write_jsonl):
    expired = {"id": "batch_req_exp1", "custom_id": "request-7", "response": None,
               "error": {"code": "batch_expired", "message": "expired"}}
    load(con, write_jsonl("batch.jsonl", [batch_line(), expired]), default_time=DEFAULT_TIME)
    r = row(con, "batch_req_exp1")
    assert r["ts"] == DEFAULT_TIME and "ts_imputed" not in r["extra"]


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_a_batch_reject_keeps_the_line_as_read(con, write_jsonl):
    bad = batch_line(id="batch_req_neg", response={
        "status_code": 200, "request_id": "r9",
        "body": chat_body(id="chatcmpl-neg", usage={"prompt_tokens": -1, "completion_tokens": 2})})
    text = json.dumps(bad)
    s = load(con, write_jsonl("batch.jsonl", [text]))
    assert s.rejected == 1
    assert con.execute("SELECT raw FROM rejects").fetchone()[0] == text
