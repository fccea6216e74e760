"""simonw/llm log rows, as ``llm logs --json`` writes them (its ``responses`` table joined
with the conversation).

``id`` (a ULID, or an integer in early databases) -> request_id; ``datetime_utc`` (naive
ISO text, UTC) -> ts; ``model`` (the model id llm was asked for, e.g.
``anthropic/claude-3-haiku-20240307``) -> model, or ``resolved_model`` when llm logged the
model that actually answered (``model`` then stays in ``extra``); ``prompt``, ``system``,
``response``; ``conversation_id`` -> session_id; ``duration_ms`` -> latency_ms;
``input_tokens``, ``output_tokens``.

``token_details`` (a JSON string in the database, an object in some exports) stays in
``extra`` whole; cached, cache-write and reasoning counts are read from it. llm stores what
each plugin reports: OpenAI-style plugins give ``prompt_tokens_details.cached_tokens``
(already inside ``input_tokens``) and ``completion_tokens_details.reasoning_tokens``;
llm-anthropic stores Anthropic's own ``input_tokens``, which EXCLUDES cache reads and
writes, and puts ``cache_creation_input_tokens``/``cache_read_input_tokens`` in
``token_details``: those are added to input_tokens, as for Anthropic bodies.

provider is the plugin prefix of the model id (``anthropic/...`` -> anthropic,
``openrouter/...`` -> openrouter) or, without one, read from the model name (gpt-*, o1/o3*,
claude-*, gemini-*, mistral-*); NULL otherwise (``markov``). ``options_json.temperature``
-> temperature (options_json stays in ``extra``). ``prompt_json``, ``response_json``,
``options_json``, ``conversation_name``, ``conversation_model``, ``attachments``, tool
fields and the early schema's ``reply_to_id``/``chat_id`` stay in ``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register
from aimon.store.shapes.openai import OPENAI_MODELS

TD = "peek('$.token_details')"


def _td(path: str) -> str:
    return f"aimon_json_get({TD}, '{path}')"


MODEL = "coalesce(peek('$.model'), '')"

LLM_LOGS_COLUMNS = {
    "request_id": "j('$.id')",
    "ts": "j('$.datetime_utc')",
    "session_id": "j('$.conversation_id')",
    "provider": f"""CASE
        WHEN contains({MODEL}, '/') THEN lower(split_part({MODEL}, '/', 1))
        WHEN regexp_matches(lower({MODEL}), '{OPENAI_MODELS}') THEN 'openai'
        WHEN regexp_matches(lower({MODEL}), '^claude') THEN 'anthropic'
        WHEN regexp_matches(lower({MODEL}), '^gemini') THEN 'google'
        WHEN regexp_matches(lower({MODEL}), '^(mistral|codestral|magistral|ministral|pixtral|devstral)') THEN 'mistral'
        END""",
    "model": "coalesce(j('$.model'), j('$.resolved_model'))",
    "model_version": "j('$.resolved_model')",
    "system_prompt": "j('$.system')",
    "prompt": "j('$.prompt')",
    "response": "j('$.response')",
    "input_tokens": f"aimon_token_sum(j('$.input_tokens'), {_td('$.cache_creation_input_tokens')},"
                    f" {_td('$.cache_read_input_tokens')})",
    "output_tokens": "j('$.output_tokens')",
    "cached_input_tokens": f"coalesce({_td('$.prompt_tokens_details.cached_tokens')},"
                           f" {_td('$.input_tokens_details.cached_tokens')},"
                           f" {_td('$.cache_read_input_tokens')})",
    "cache_write_tokens": _td("$.cache_creation_input_tokens"),
    "reasoning_tokens": f"coalesce({_td('$.completion_tokens_details.reasoning_tokens')},"
                        f" {_td('$.output_tokens_details.reasoning_tokens')})",
    "latency_ms": "j('$.duration_ms')",
    "temperature": "aimon_json_get(peek('$.options_json'), '$.temperature')",
}

# Keys that tell an llm log row from a flat app log that happens to share field names.
_LLM_KEYS = ("conversation_id", "prompt_json", "options_json", "response_json", "duration_ms")


def _is_llm_row(rec: Mapping) -> bool:
    return (all(k in rec for k in ("id", "model", "prompt", "response", "datetime_utc"))
            and any(k in rec for k in _LLM_KEYS))


register(Shape(
    name="llm_logs",
    summary="simonw/llm log rows (llm logs --json): id, model, prompt, system, response, "
            "conversation_id, duration_ms, datetime_utc, input_tokens, output_tokens, token_details",
    table="requests",
    detect=_is_llm_row,
    columns=LLM_LOGS_COLUMNS,
))
