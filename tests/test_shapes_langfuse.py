"""Langfuse observations, traces and scores."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aimon.store.shapes import detect_shape
from tests.conftest import load, real_sample, request_row, rows


def generation(**overrides) -> dict:
    """A GENERATION as the Langfuse public API / UI download writes it."""
    rec = {
        "id": "gen-1", "traceId": "trace-1", "type": "GENERATION", "name": "chat gpt-4o",
        "startTime": "2026-11-01T10:00:00.000Z", "endTime": "2026-11-01T10:00:03.000Z",
        "completionStartTime": "2026-11-01T10:00:00.800Z", "projectId": "proj-1",
        "parentObservationId": "span-0", "environment": "production", "level": "DEFAULT",
        "version": "app-1.4",
        "input": [{"role": "system", "content": "Answer from the policy only."},
                  {"role": "user", "content": "Can I return shoes?"}],
        "output": {"role": "assistant", "content": "Yes, within 30 days."},
        "model": "gpt-4o-2024-08-06", "internalModelId": "b9854a5c92dc496b997d99d20",
        "modelParameters": {"temperature": 0.3, "max_tokens": 512},
        "promptId": "prompt-7", "promptName": "returns-policy", "promptVersion": 3,
        "latency": 3.0, "timeToFirstToken": 0.8,
        # Langfuse usage types are disjoint: 'input' is the uncached part only.
        "usageDetails": {"input": 200, "input_cached_tokens": 1000, "input_cache_creation": 50,
                         "output": 80, "output_reasoning_tokens": 20, "total": 1350},
        "costDetails": {"input": 0.0005, "input_cached_tokens": 0.00125, "output": 0.001, "total": 0.00275},
        "totalCost": 0.00275, "inputUsage": 1250, "outputUsage": 100, "totalUsage": 1350,
        "metadata": '{"resourceAttributes":{"service.name":"support-bot"}}',
    }
    rec.update(overrides)
    return {k: v for k, v in rec.items() if v is not ...}


@pytest.mark.slow
def test_generation_maps_every_column(con, write_jsonl):
    load(con, write_jsonl("observations.jsonl", [generation()]))
    row = request_row(con, "gen-1")
    assert row["ts"] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert (row["user_id"], row["session_id"], row["provider"], row["model"]) == (None, None, None, "gpt-4o-2024-08-06")
    assert row["prompt_version"] == "3"
    assert (row["system_prompt"], row["prompt"]) == ("Answer from the policy only.", "Can I return shoes?")
    # An output that is not a message list is kept as logged.
    assert json.loads(row["response"]) == {"role": "assistant", "content": "Yes, within 30 days."}
    # All input: 200 uncached + 1000 cache reads + 50 cache writes; output 80 + 20 reasoning.
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (1250, 1000, 50)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (100, 20)
    assert row["cost_usd"] == pytest.approx(0.00275)
    assert (row["latency_ms"], row["ttft_ms"]) == (3000.0, 800.0)
    assert (row["status"], row["error_type"], row["error_message"], row["temperature"]) == ("ok", None, None, 0.3)
    assert row["source_format"] == "langfuse_observation"
    extra = json.loads(row["extra"])
    assert extra == {
        "traceId": "trace-1", "type": "GENERATION", "name": "chat gpt-4o", "projectId": "proj-1",
        "parentObservationId": "span-0", "environment": "production", "level": "DEFAULT",
        "version": "app-1.4", "internalModelId": "b9854a5c92dc496b997d99d20",
        "modelParameters": {"max_tokens": 512}, "promptId": "prompt-7", "promptName": "returns-policy",
        "usageDetails": {"input": 200, "input_cached_tokens": 1000, "input_cache_creation": 50,
                         "output": 80, "output_reasoning_tokens": 20, "total": 1350},
        "costDetails": {"input": 0.0005, "input_cached_tokens": 0.00125, "output": 0.001},
        "inputUsage": 1250, "outputUsage": 100, "totalUsage": 1350,
        "metadata": '{"resourceAttributes":{"service.name":"support-bot"}}',
    }


@pytest.mark.slow
def test_snake_case_export_and_subset_usage_types(con, write_jsonl):
    rec = {
        "id": "gen-2", "trace_id": "trace-2", "type": "GENERATION", "name": "llm",
        "start_time": "2026-11-01 10:00:00", "end_time": "2026-11-01 10:00:01.5",
        "completion_start_time": None, "user_id": "user-5", "session_id": "sess-5", "level": "ERROR",
        "status_message": "Error code: 429 - rate limit exceeded", "input": "Summarise this.", "output": None,
        "provided_model_name": "gpt-4o-mini", "prompt_name": None, "prompt_version": None,
        # OpenInference-derived types are subsets of input and output: not added.
        "usage_details": {"input": 300, "prompt_details.cache_read": 256, "output": 0, "total": 300},
        "cost_details": {"total": 0.0001}, "total_cost": 0.0001,
    }
    load(con, write_jsonl("observations.jsonl", [rec]))
    row = request_row(con, "gen-2")
    assert row["ts"] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert (row["user_id"], row["session_id"], row["model"], row["prompt"]) == (
        "user-5", "sess-5", "gpt-4o-mini", "Summarise this.")
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (300, 256, 0)
    assert (row["status"], row["error_type"]) == ("error", "rate_limit")
    assert row["error_message"] == "Error code: 429 - rate limit exceeded"
    assert (row["latency_ms"], row["ttft_ms"], row["cost_usd"]) == (1500.0, None, 0.0001)


@pytest.mark.slow
def test_only_generations_are_model_calls(con, write_jsonl):
    tool = generation(id="tool-1", type="TOOL", name="get_weather", model=None, usageDetails={}, costDetails={},
                      totalCost=0)
    wrapper = generation(id="wrap-1", name="ai.generateText")
    summary = load(con, write_jsonl("observations.jsonl", [generation(), tool, wrapper]))
    assert (summary.records, summary.loaded, summary.rejected) == (3, 1, 2)
    assert rows(con, "SELECT source_line, reason FROM rejects ORDER BY 1") == [
        (2, "not a model call: Langfuse TOOL observation get_weather (only GENERATION and EMBEDDING "
            "observations are model calls)"),
        (3, "not a model call: Langfuse GENERATION ai.generateText is a Vercel AI SDK wrapper: it repeats "
            "the tokens of its ai.generateText.do* child generation")]


@pytest.mark.slow
def test_trace_export_loads_its_generations_with_the_trace_user(con, write_jsonl):
    trace = {
        "id": "trace-1", "name": "support-chat", "timestamp": "2026-11-01T10:00:00Z", "userId": "user-9",
        "sessionId": "sess-9", "tags": ["prod"], "public": False, "bookmarked": False,
        "input": "Can I return shoes?", "output": "Yes.", "scores": [], "latency": 3.2,
        "observations": [generation(), generation(id="span-0", type="SPAN", name="agent run", usageDetails={})],
    }
    summary = load(con, write_jsonl("traces.jsonl", [trace]))
    assert summary.files[0].shape == "langfuse_trace"
    assert (summary.records, summary.loaded, summary.rejected) == (3, 1, 2)
    row = request_row(con, "gen-1")
    assert (row["user_id"], row["session_id"], row["input_tokens"]) == ("user-9", "sess-9", 1250)
    assert "__trace" not in json.loads(row["extra"])
    got = rows(con, "SELECT source_line, reason, raw FROM rejects ORDER BY reason")
    assert [(n, reason) for n, reason, _ in got] == [
        (1, "not a model call: Langfuse SPAN observation agent run (only GENERATION and EMBEDDING "
            "observations are model calls)"),
        (1, "not a model call: Langfuse trace support-chat is a container of observations; its generations "
            "are loaded as rows of their own")]
    # The trace itself is kept, without the observations that are records of their own.
    kept = json.loads(got[1][2])
    assert kept["userId"] == "user-9" and "observations" not in kept


def score(**overrides) -> dict:
    rec = {"id": "score-1", "projectId": "proj-1", "name": "user-feedback", "value": 1, "stringValue": None,
           "dataType": "NUMERIC", "source": "API", "traceId": "trace-1", "observationId": "gen-1",
           "timestamp": "2026-11-01T10:05:00Z", "createdAt": "2026-11-01T10:05:01Z", "comment": "Spot on",
           "authorUserId": None, "configId": None}
    rec.update(overrides)
    return rec


def test_scores_become_feedback(con, write_jsonl):
    records = [
        score(),
        score(id="score-2", value=0, comment=None),
        score(id="score-3", name="thumbs", dataType="BOOLEAN", value=0, stringValue="False", observationId=None),
        score(id="score-4", name="accuracy", value=0.8, source="EVAL", comment="Mostly right"),
        score(id="score-5", name="Quality", dataType="CATEGORICAL", value=0, stringValue="incorrect"),
        score(id="score-6", name="output", dataType="CORRECTION", value=0, comment=None,
              longStringValue="You can return shoes within 30 days with a receipt."),
    ]
    summary = load(con, write_jsonl("scores.jsonl", records), table="feedback")
    assert summary.files[0].shape == "langfuse_score"
    assert (summary.records, summary.loaded, summary.rejected) == (6, 6, 0)
    got = rows(con, "SELECT feedback_id, request_id, ts, feedback_type, feedback_text FROM feedback ORDER BY 1")
    t = datetime(2026, 11, 1, 10, 5, tzinfo=UTC)
    assert got == [
        ("score-1", "gen-1", t, "thumbs_up", "Spot on"),
        ("score-2", "gen-1", t, "thumbs_down", None),
        ("score-3", "trace-1", t, "thumbs_down", "Spot on"),  # a trace-level score names the trace
        ("score-4", "gen-1", t, "accuracy", "Mostly right"),
        ("score-5", "gen-1", t, "quality", "Spot on"),
        ("score-6", "gen-1", t, "correction", "You can return shoes within 30 days with a receipt."),
    ]
    extra = dict(rows(con, "SELECT feedback_id, extra FROM feedback"))
    # Scores that are not thumbs keep their value (and everything else unmapped) in extra.
    assert json.loads(extra["score-4"]) | {} == {
        "projectId": "proj-1", "name": "accuracy", "value": 0.8, "dataType": "NUMERIC",
        "source": "EVAL", "traceId": "trace-1", "createdAt": "2026-11-01T10:05:01Z"}
    assert json.loads(extra["score-5"])["stringValue"] == "incorrect"
    assert "longStringValue" not in json.loads(extra["score-6"])


def test_detection():
    assert detect_shape([generation()], "requests").name == "langfuse_observation"
    trace = {"id": "t", "timestamp": "2026-11-01T10:00:00Z", "name": "x", "observations": [generation()],
             "scores": [score()]}
    assert detect_shape([trace], "requests").name == "langfuse_trace"
    assert detect_shape([trace], "feedback").name == "langfuse_score"
    assert detect_shape([score()], "feedback").name == "langfuse_score"
    flat = {"timestamp": "2026-11-01T10:00:00Z", "request_id": "r", "feedback_type": "thumbs_up"}
    assert detect_shape([flat], "feedback").name == "flat_feedback"


# ------------------------------------------------------------------ real samples


@pytest.mark.slow
def test_real_langfuse_observations(con):
    summary = load(con, real_sample("langfuse_observation.jsonl"))
    assert summary.files[0].shape == "langfuse_observation"
    # 23 GENERATIONs load; line 8 is a TOOL, 12 an AGENT, 22 a SPAN.
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (26, 23, 0, 3)
    assert rows(con, "SELECT source_line, reason FROM rejects ORDER BY 1") == [
        (8, "not a model call: Langfuse TOOL observation mcp__weather__get_weather (only GENERATION and "
            "EMBEDDING observations are model calls)"),
        (12, "not a model call: Langfuse AGENT observation agent_run [hello_agent] (only GENERATION and "
             "EMBEDDING observations are model calls)"),
        (22, "not a model call: Langfuse SPAN observation qa_agent run (only GENERATION and EMBEDDING "
             "observations are model calls)"),
    ]
    tokens = {line: rest for line, *rest in rows(
        con, "SELECT source_line, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd "
             "FROM requests")}
    assert tokens[1] == [663, 225, None, None, 0.000234449999]
    # Nothing logged: no token counts (Langfuse shows 0); its cost is the 0 it recorded.
    assert tokens[4] == [None, None, None, None, 0.0]
    assert tokens[5] == [1195, None, None, None, 0.00017925]
    # prompt_details.cache_read is a subset of input; completion_details.reasoning of output.
    assert tokens[9] == [190, 164, 0, 0, 0.0001269]
    assert tokens[13] == [6, 2055, None, 1104, 0.005139299999]
    # output_reasoning is its own usage type: output = 35 + 64 (Langfuse's outputUsage is 99).
    assert tokens[15] == [179, 99, 0, 64, 0.00024275]
    assert tokens[26] == [5, 845, None, None, 0.00085]
    # The same totals as Langfuse's own inputUsage/outputUsage over the 23 generations.
    assert rows(con, "SELECT sum(input_tokens), sum(output_tokens) FROM requests") == [(6145, 4423)]
    line23 = rows(con, "SELECT system_prompt, prompt, latency_ms, temperature, model FROM requests "
                       "WHERE source_line = 23")[0]
    assert line23[0].startswith("You are a creative joke writer.")
    assert line23[1] == "Select and call THREE of the available tools to get joke suggestions about 'programming'."
    # latency is 1707 (ms, an older export) on this line; start/end give the same 1707 ms.
    assert line23[2:] == (1707.0, 0.7, "gpt-4o-mini-2024-07-18")


@pytest.mark.slow
def test_real_langfuse_traces(con):
    summary = load(con, real_sample("langfuse_trace.jsonl"))
    assert summary.files[0].shape == "langfuse_trace"
    # 4 traces holding 10 observations: each trace and each non-generation is rejected,
    # and so is the ai.generateText GENERATION wrapping ai.generateText.doGenerate.
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (14, 4, 0, 10)
    assert rows(con, "SELECT source_line, request_id, user_id, session_id, input_tokens, output_tokens "
                     "FROM requests ORDER BY source_line") == [
        (1, "83517f9062f5ada4", "user_123", "session_abc", 41, 3),
        (2, "7ca8b22f6628d0c7", "user_123", "session_abc", 13, 81),
        (3, "5cb389a3bdd21a6e", "user_123", "session_abc", 31, 96),
        (4, "91a17a2274bfd23f", None, None, 62, 85),
    ]
    reasons = rows(con, "SELECT source_line, reason FROM rejects ORDER BY source_line, reason")
    container = "is a container of observations; its generations are loaded as rows of their own"
    only = "(only GENERATION and EMBEDDING observations are model calls)"
    assert reasons == [
        (1, f"not a model call: Langfuse SPAN observation autogen-chat-trace {only}"),
        (1, f"not a model call: Langfuse trace autogen-chat-trace {container}"),
        (2, f"not a model call: Langfuse SPAN observation llama-index-trace {only}"),
        (2, f"not a model call: Langfuse trace llama-index-trace {container}"),
        (3, f"not a model call: Langfuse SPAN observation pydantic-ai-qa-trace {only}"),
        (3, f"not a model call: Langfuse SPAN observation qa_agent run {only}"),
        (3, f"not a model call: Langfuse trace pydantic-ai-qa-trace {container}"),
        (4, "not a model call: Langfuse GENERATION ai.generateText is a Vercel AI SDK wrapper: it repeats "
            "the tokens of its ai.generateText.do* child generation"),
        (4, f"not a model call: Langfuse TOOL observation getWeather {only}"),
        (4, f"not a model call: Langfuse trace ai.generateText {container}"),
    ]


def test_real_langfuse_trace_scores(con):
    summary = load(con, real_sample("langfuse_trace.jsonl"), table="feedback")
    assert summary.files[0].shape == "langfuse_score"
    # Trace 3 carries one correction, trace 4 two evaluator scores; traces 1 and 2 none.
    assert (summary.records, summary.loaded, summary.rejected) == (5, 3, 2)
    assert rows(con, "SELECT source_line, request_id, feedback_type FROM feedback ORDER BY source_line, 3") == [
        (3, "25f4bdeebaab60e6e1bee7e8469554bc", "correction"),
        (4, "df41e597d0a85e0d7a6ae8ebfaa70aa0", "hallucination"),
        (4, "df41e597d0a85e0d7a6ae8ebfaa70aa0", "toxicity"),
    ]
    assert rows(con, "SELECT source_line, reason FROM rejects ORDER BY 1") == [
        (1, "not a model call: Langfuse trace autogen-chat-trace carries no scores or corrections"),
        (2, "not a model call: Langfuse trace llama-index-trace carries no scores or corrections"),
    ]
