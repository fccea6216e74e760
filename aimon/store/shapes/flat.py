"""The flat app log and flat feedback log: the shapes most teams write themselves.

One JSON object (or Parquet row) per request with top-level fields. Common aliases are
accepted; the first alias present wins and any other stays in ``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register


def _aliases(*keys: str) -> str:
    return "first(" + ", ".join(f"'$.{k}'" if k.isidentifier() else f"""'$."{k}"'""" for k in keys) + ")"


TIME_KEYS = ("timestamp", "ts", "time", "created_at", "createdAt", "start_time", "startTime",
             "datetime", "datetime_utc", "@timestamp", "date", "request_time", "logged_at")
REQUEST_ID_KEYS = ("request_id", "requestId", "id", "call_id")
USER_KEYS = ("user_id", "userId", "user", "end_user", "customer_id")
MODEL_KEYS = ("model", "model_name", "model_id", "llm_model", "deployment")
PROMPT_KEYS = ("prompt", "input", "messages", "query", "question", "user_prompt")
RESPONSE_KEYS = ("response", "output", "completion", "answer", "response_text", "output_text")
INPUT_TOKEN_KEYS = ("input_tokens", "prompt_tokens", "tokens_in", "input_token_count")
OUTPUT_TOKEN_KEYS = ("output_tokens", "completion_tokens", "tokens_out", "output_token_count")

ERROR = "peek('$.error')"
# `error` may be a string, an object {type|code, message, ...}, false or null.
ERROR_IS_SET = f"({ERROR} IS NOT NULL AND lower({ERROR}) NOT IN ('', 'false', 'null', '{{}}'))"
ERROR_IS_OBJECT = f"(left(ltrim({ERROR}), 1) = '{{' AND json_valid({ERROR}))"

FLAT_COLUMNS = {
    "request_id": _aliases(*REQUEST_ID_KEYS),
    "ts": _aliases(*TIME_KEYS),
    "user_id": _aliases(*USER_KEYS),
    "session_id": _aliases("session_id", "sessionId", "conversation_id", "thread_id"),
    "endpoint": _aliases("endpoint", "feature", "route", "use_case"),
    "provider": _aliases("provider", "vendor", "llm_provider"),
    "model": _aliases(*MODEL_KEYS),
    "model_version": _aliases("model_version", "version"),
    "prompt_version": _aliases("prompt_version", "prompt_template_version", "template_version"),
    "system_prompt": f"coalesce({_aliases('system_prompt', 'system', 'system_message', 'instructions')},"
                     f" aimon_prompt_text(peek('$.messages'), true))",
    "prompt": f"aimon_prompt_text({_aliases(*PROMPT_KEYS)}, false)",
    "response": _aliases(*RESPONSE_KEYS),
    "input_tokens": f"coalesce({_aliases(*INPUT_TOKEN_KEYS)}, j('$.usage.prompt_tokens'), j('$.usage.input_tokens'))",
    "output_tokens": f"coalesce({_aliases(*OUTPUT_TOKEN_KEYS)}, j('$.usage.completion_tokens'), j('$.usage.output_tokens'))",
    "cached_input_tokens": _aliases("cached_input_tokens", "cached_tokens", "cache_read_tokens",
                                    "cache_read_input_tokens"),
    "cache_write_tokens": _aliases("cache_write_tokens", "cache_creation_tokens",
                                   "cache_creation_input_tokens"),
    "reasoning_tokens": _aliases("reasoning_tokens"),
    "cost_usd": _aliases("cost_usd", "cost", "total_cost", "price_usd", "response_cost"),
    "latency_ms": f"coalesce({_aliases('latency_ms', 'duration_ms', 'elapsed_ms', 'response_time_ms')},"
                  f" aimon_s_to_ms({_aliases('latency_s', 'duration_s', 'latency_seconds', 'duration_seconds')}))",
    "ttft_ms": f"coalesce({_aliases('ttft_ms', 'time_to_first_token_ms', 'first_token_ms')},"
               f" aimon_s_to_ms({_aliases('ttft_s', 'time_to_first_token_s')}))",
    "status": f"""CASE
        WHEN lower({_aliases('status', 'state', 'outcome')}) IN ('error', 'failed', 'failure', 'fail', 'errored', 'exception')
          OR TRY_CAST({_aliases('status_code', 'http_status')} AS INTEGER) >= 400
          OR {ERROR_IS_SET}
          OR nullif(trim({_aliases('error_type', 'error_code')}), '') IS NOT NULL
          OR nullif(trim({_aliases('error_message')}), '') IS NOT NULL
        THEN 'error' ELSE 'ok' END""",
    "error_type": f"""aimon_error_type(
        coalesce({_aliases('error_type', 'error_code')}, j('$.error.type'), j('$.error.code')),
        coalesce({_aliases('error_message')}, j('$.error.message'),
                 CASE WHEN {ERROR_IS_SET} AND NOT {ERROR_IS_OBJECT} THEN {ERROR} END))""",
    "error_message": f"""coalesce({_aliases('error_message')}, j('$.error.message'),
        CASE WHEN {ERROR_IS_SET} AND NOT {ERROR_IS_OBJECT} THEN {ERROR} END)""",
    "cache_hit": _aliases("cache_hit", "cached", "from_cache"),
    "experiment": _aliases("experiment", "experiment_name", "ab_test"),
    "variant": _aliases("variant", "ab_variant", "experiment_variant", "arm"),
    "success": _aliases("success", "task_success", "succeeded"),
    "temperature": _aliases("temperature"),
    "user_tier": _aliases("user_tier", "tier", "plan"),
    "jurisdiction": _aliases("jurisdiction", "country", "country_code"),
    "consent": _aliases("consent", "data_consent", "user_consent"),
    "feedback": _aliases("user_feedback", "feedback"),
}


def _first_key(rec: Mapping, keys: tuple[str, ...]) -> bool:
    return any(rec.get(k) is not None for k in keys)


def _is_flat_request(rec: Mapping) -> bool:
    has_call = _first_key(rec, MODEL_KEYS + PROMPT_KEYS + RESPONSE_KEYS + INPUT_TOKEN_KEYS)
    return has_call and "feedback_type" not in rec


register(Shape(
    name="flat",
    summary="flat app log: one object per request with top-level fields "
            "(timestamp, request_id, model, prompt, response, prompt_tokens, ...)",
    table="requests",
    detect=_is_flat_request,
    columns=FLAT_COLUMNS,
    # A string (or null/false) error is fully held by error_type/error_message; an
    # object keeps whatever keys the columns did not read.
    consume_if={"error": f"NOT coalesce({ERROR_IS_OBJECT}, false)"},
))


FEEDBACK_TYPE_KEYS = ("feedback_type", "type", "signal", "action", "rating", "value")

register(Shape(
    name="flat_feedback",
    summary="flat feedback log: request_id, timestamp, feedback_type "
            "(thumbs_up, thumbs_down, report, copied_response, regenerated, edited_output), "
            "feedback_category, feedback_text, user_id",
    table="feedback",
    detect=lambda rec: _first_key(rec, FEEDBACK_TYPE_KEYS) and _first_key(rec, TIME_KEYS),
    columns={
        "feedback_id": _aliases("feedback_id", "id"),
        "request_id": _aliases("request_id", "requestId", "trace_id", "observation_id"),
        "ts": _aliases(*TIME_KEYS),
        "user_id": _aliases(*USER_KEYS),
        "feedback_type": f"aimon_feedback_type({_aliases(*FEEDBACK_TYPE_KEYS)})",
        "feedback_category": _aliases("feedback_category", "category", "reason"),
        "feedback_text": _aliases("feedback_text", "text", "comment", "note"),
    },
))
