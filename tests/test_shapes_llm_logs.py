"""simonw/llm log rows (`llm logs --json`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import real_sample
from tests.test_shapes_openai import assert_nothing_lost, by_line, detected, load, row, tokens


def llm_row(**overrides):
    rec = {
        "id": "01jm8ec74wxsdatyn5pq1fp0s5", "model": "gpt-4o-mini", "resolved_model": None,
        "prompt": "Five names for a pet pelican", "system": "Be brief.", "prompt_json": None,
        "options_json": {"temperature": 0.5}, "response": "1. Captain Beaky", "reasoning": None,
        "response_json": {"id": "chatcmpl-1"}, "conversation_id": "01jm8ec74taftdgj2t4zra9z0j",
        "duration_ms": 1560, "datetime_utc": "2025-02-16T22:34:30.374882+00:00",
        "input_tokens": 1100, "output_tokens": 262,
        "token_details": json.dumps({"prompt_tokens_details": {"cached_tokens": 1024},
                                     "completion_tokens_details": {"reasoning_tokens": 200}}),
        "conversation_name": "Five names for a pet pelican", "conversation_model": "gpt-4o-mini",
        "attachments": [],
    }
    rec.update(overrides)
    return rec


def test_llm_logs_maps_every_column(con, write_jsonl):
    rec = llm_row()
    assert detected(rec) == "llm_logs"
    load(con, write_jsonl("llm.jsonl", [rec]))
    r = row(con, "01jm8ec74wxsdatyn5pq1fp0s5")
    assert r["ts"] == datetime(2025, 2, 16, 22, 34, 30, 374882, tzinfo=UTC)
    assert (r["provider"], r["model"], r["session_id"]) == ("openai", "gpt-4o-mini", "01jm8ec74taftdgj2t4zra9z0j")
    assert (r["system_prompt"], r["prompt"], r["response"]) == (
        "Be brief.", "Five names for a pet pelican", "1. Captain Beaky")
    assert (r["latency_ms"], r["temperature"], r["status"]) == (1560.0, 0.5, "ok")
    assert tokens(r) == (1100, 262, 1024, None, 200)  # OpenAI-style details: input already includes cached
    assert r["extra"] == {
        "options_json": {"temperature": 0.5}, "response_json": {"id": "chatcmpl-1"},
        "token_details": rec["token_details"],
        "conversation_name": "Five names for a pet pelican", "conversation_model": "gpt-4o-mini",
        "attachments": [],
    }


def test_llm_logs_anthropic_cache_details_and_resolved_model(con, write_jsonl):
    # llm-anthropic logs Anthropic's own input_tokens (cache excluded) and the cache counts
    # in token_details: 100 + 20 written + 300 read = 420.
    anthropic = llm_row(id="01a", model="anthropic/claude-sonnet-4-5", response="ok",
                        token_details={"cache_creation_input_tokens": 20, "cache_read_input_tokens": 300,
                                       "service_tier": "standard"},
                        input_tokens=100, output_tokens=5, options_json=json.dumps({"temperature": 0.2}))
    resolved = llm_row(id="01b", model="gpt-4o", resolved_model="gpt-4o-2024-08-06", token_details=None)
    broken = llm_row(id="01c", token_details="{not json")
    load(con, write_jsonl("llm.jsonl", [anthropic, resolved, broken]))
    r = row(con, "01a")
    assert (r["provider"], r["model"], r["temperature"]) == ("anthropic", "anthropic/claude-sonnet-4-5", 0.2)
    assert tokens(r) == (420, 5, 300, 20, None)
    assert r["extra"]["token_details"] == anthropic["token_details"]
    r = row(con, "01b")  # the model asked for, and the one that answered
    assert (r["model"], r["model_version"]) == ("gpt-4o", "gpt-4o-2024-08-06")
    r = row(con, "01c")  # unreadable details: the counts llm logged still load
    assert tokens(r) == (1100, 262, None, None, None) and r["extra"]["token_details"] == "{not json"


def test_llm_logs_detector_needs_llm_keys():
    flat = {"id": "x", "model": "gpt-4o", "prompt": "hi", "response": "yo", "datetime_utc": "2025-01-01"}
    assert detected(flat) == "flat"
    assert detected({**flat, "conversation_id": "c1"}) == "llm_logs"


@pytest.mark.slow
def test_real_llm_logs(con):
    path = real_sample("simonw_llm_logs.jsonl")
    s = load(con, path)
    # Lines 2 and 3 are later revisions of the docs example on line 1: same id, other
    # content, so they are conflicting duplicates, never a silent overwrite.
    assert (s.files[0].shape, s.records, s.loaded, s.duplicates, s.rejected) == ("llm_logs", 6, 4, 0, 2)
    assert s.files[0].reject_reasons == {"conflicting duplicate": 2}
    assert [r[0] for r in con.execute("SELECT source_line FROM rejects ORDER BY 1").fetchall()] == [2, 3]
    rows = by_line(con, path)
    assert sorted(rows) == [1, 4, 5, 6]
    r = rows[1]
    assert (r["request_id"], r["provider"], r["model"], r["prompt"], r["response"]) == (
        "01jm8ec74wxsdatyn5pq1fp0s5", "anthropic", "anthropic/claude-3-haiku-20240307", "hi",
        "Hello! How can I assist you today?")
    assert (tokens(r), r["latency_ms"], r["session_id"]) == ((8, 12, None, None, None), 560.0,
                                                            "01jm8ec74taftdgj2t4zra9z0j")
    assert r["ts"] == datetime(2025, 2, 16, 22, 34, 30, 374882, tzinfo=UTC)
    assert rows[4]["ts"] == datetime(2023, 7, 11, 15, 29, 34, 685868, tzinfo=UTC)  # naive text is UTC
    assert (rows[5]["request_id"], rows[5]["session_id"], rows[5]["input_tokens"]) == ("623", None, None)
    assert rows[5]["extra"]["response_json"]["transitions"]["cat"] == ["sat"]
    assert rows[6]["extra"]["options_json"] == {"length": 20, "delay": 0.1}
    assert rows[6]["latency_ms"] == 2063.0 and rows[6]["provider"] is None
    assert assert_nothing_lost(con, path, derived={("datetime_utc",)}) == 4


def test_llm_logs_model_is_what_was_asked_for(con, write_jsonl):
    load(con, write_jsonl("llm.jsonl", [llm_row(id="01b", model="gpt-4o", resolved_model="gpt-4o-2024-08-06")]))
    r = row(con, "01b")
    assert (r["model"], r["model_version"]) == ("gpt-4o", "gpt-4o-2024-08-06")
    assert "model" not in (r["extra"] or {})
