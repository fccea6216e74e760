"""LiteLLM logs: the StandardLoggingPayload (``litellm_payload``) its callbacks emit, and
rows of the proxy's SpendLogs table (``litellm_spend_logs``).

LiteLLM normalises usage to the OpenAI convention whatever the provider:
``prompt_tokens`` includes cache reads and cache writes (for Anthropic it adds
``cache_read_input_tokens`` and ``cache_creation_input_tokens`` in), and the
``usage_object`` in the metadata carries the subsets. Times are epoch seconds (floats)
or naive UTC text.

``model`` is the payload's ``model``: the model LiteLLM asked the provider for (the
client's alias, ``model_group``, stays in extra); ``model_version`` is the model the
response names (``response.model``), when the payload carries the response object.

SpendLogs rows keep ``metadata``, ``messages``, ``response`` and ``request_tags`` as JSON
*strings*; ``messages``/``response`` hold "{}" unless the proxy stores prompts. A string
cannot be consumed in part, so a stored response JSON stays in extra whole (its text is
also in ``response``); empty ones are dropped. ``cache_hit`` is the string "None" when
unknown.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register


def _blank(expr: str) -> str:
    """NULL for the ways LiteLLM writes 'nothing': '', 'None', 'null'."""
    return f"CASE WHEN lower(trim({expr})) IN ('', 'none', 'null') THEN NULL ELSE {expr} END"


def _usage(path: str) -> str:
    return f"j('$.metadata.usage_object.{path}')"


PAYLOAD_ERROR = "coalesce(nullif(j('$.error_str'), ''), nullif(peek('$.error_information.error_message'), ''))"
# The exception class and HTTP code stay in extra as logged; with the message they decide
# aimon's error category (a class name like RateLimitError is not one).
PAYLOAD_ERROR_KIND = ("concat_ws(' ', nullif(peek('$.error_information.error_class'), ''), "
                      "nullif(peek('$.error_information.error_code'), ''))")
PAYLOAD_FAILED = "lower(coalesce(peek('$.status'), '')) IN ('failure', 'error', 'failed')"
RESPONSE = "peek('$.response')"
# A response logged as plain text (text completions) rather than a ModelResponse object.
RESPONSE_IS_TEXT = f"NOT (left(ltrim({RESPONSE}), 1) IN ('{{', '[') AND TRY_CAST({RESPONSE} AS JSON) IS NOT NULL)"

PAYLOAD_COLUMNS = {
    "request_id": "j('$.id')",
    "ts": "j('$.startTime')",
    # The end customer first; the key owner's internal user when no end user is sent.
    "user_id": "coalesce(nullif(j('$.end_user'), ''), nullif(peek('$.metadata.user_api_key_end_user_id'), ''), "
               "nullif(peek('$.metadata.user_api_key_user_id'), ''))",
    "session_id": "j('$.session_id')",
    "provider": "nullif(j('$.custom_llm_provider'), '')",
    "model": "coalesce(nullif(j('$.model'), ''), nullif(peek('$.model_group'), ''))",
    # What answered: the ModelResponse's model (it stays in extra with the response).
    "model_version": "nullif(peek('$.response.model'), '')",
    "system_prompt": "aimon_messages_text(jx('$.messages'), true)",
    "prompt": "aimon_messages_text(jx('$.messages'), false)",
    # The ModelResponse keeps everything but the answer's text (id, usage, finish_reason).
    "response": f"""coalesce(j('$.response.choices[0].message.content'), j('$.response.choices[0].text'),
        CASE WHEN {RESPONSE_IS_TEXT} THEN {RESPONSE} END)""",
    "input_tokens": "j('$.prompt_tokens')",
    "output_tokens": "j('$.completion_tokens')",
    "cached_input_tokens": f"coalesce({_usage('prompt_tokens_details.cached_tokens')}, "
                           f"{_usage('cache_read_input_tokens')})",
    "cache_write_tokens": f"coalesce({_usage('cache_creation_input_tokens')}, "
                          f"{_usage('prompt_tokens_details.cache_creation_tokens')})",
    "reasoning_tokens": _usage("completion_tokens_details.reasoning_tokens"),
    "cost_usd": "j('$.response_cost')",
    "latency_ms": "aimon_ms_between(peek('$.startTime'), j('$.endTime'))",
    "ttft_ms": "aimon_ms_between(peek('$.startTime'), j('$.completionStartTime'))",
    "status": f"CASE WHEN {PAYLOAD_FAILED} OR {PAYLOAD_ERROR} IS NOT NULL THEN 'error' ELSE 'ok' END",
    "error_type": f"CASE WHEN {PAYLOAD_FAILED} OR {PAYLOAD_ERROR} IS NOT NULL "
                  f"THEN coalesce(aimon_error_type(NULL, nullif(concat_ws(' ', {PAYLOAD_ERROR_KIND}, "
                  f"{PAYLOAD_ERROR}), '')), 'api_error') END",
    "error_message": PAYLOAD_ERROR,
    "cache_hit": _blank("j('$.cache_hit')"),
    "temperature": "j('$.model_parameters.temperature')",
}


def _is_payload(rec: Mapping) -> bool:
    return ("call_type" in rec and "startTime" in rec and "spend" not in rec
            and any(k in rec for k in ("response_cost", "hidden_params", "model_map_information",
                                       "standard_built_in_tools_params")))


register(Shape(
    name="litellm_payload",
    summary="LiteLLM StandardLoggingPayload (id, call_type, model, prompt_tokens, completion_tokens, "
            "response_cost, startTime/endTime/completionStartTime, messages, response, metadata)",
    table="requests",
    detect=_is_payload,
    columns=PAYLOAD_COLUMNS,
    # 'status' is read into the status column; 'success'/'failure' is all it says.
    drop=("status",),
    consume_if={"response": RESPONSE_IS_TEXT},
))


META = "TRY_CAST(peek('$.metadata') AS JSON)"
SPEND_MESSAGES = "peek('$.messages')"
SPEND_RESPONSE = "peek('$.response')"
EMPTY = "('', '{}', '[]', 'null', 'none')"
# TRY_CAST, not a validity guard: DuckDB may evaluate a CASE branch before its guard.
MESSAGES_JSON = f"TRY_CAST({SPEND_MESSAGES} AS JSON)"
RESPONSE_JSON = f"TRY_CAST({SPEND_RESPONSE} AS JSON)"
SPEND_ERROR = (f"nullif(coalesce(json_extract_string({META}, '$.error_information.error_message'), "
               f"json_extract_string({META}, '$.error_information.error_class')), '')")
SPEND_FAILED = "lower(coalesce(peek('$.status'), '')) IN ('failure', 'error', 'failed')"

SPEND_COLUMNS = {
    "request_id": "j('$.request_id')",
    "ts": "j('$.startTime')",
    # The end customer; 'user' (the proxy user who owns the key) stays in extra.
    "user_id": "coalesce(nullif(j('$.end_user'), ''), nullif(peek('$.user'), ''))",
    "session_id": "nullif(j('$.session_id'), '')",
    "provider": "nullif(j('$.custom_llm_provider'), '')",
    "model": "coalesce(nullif(j('$.model'), ''), nullif(peek('$.model_group'), ''))",
    "system_prompt": f"aimon_messages_text({MESSAGES_JSON}, true)",
    "prompt": f"""CASE WHEN lower(trim({SPEND_MESSAGES})) IN {EMPTY} THEN NULL
        WHEN {MESSAGES_JSON} IS NOT NULL THEN aimon_messages_text({MESSAGES_JSON}, false)
        ELSE {SPEND_MESSAGES} END""",
    "response": f"""CASE WHEN lower(trim({SPEND_RESPONSE})) IN {EMPTY} THEN NULL
        WHEN {RESPONSE_JSON} IS NOT NULL THEN coalesce(
            json_extract_string({RESPONSE_JSON}, '$.choices[0].message.content'),
            json_extract_string({RESPONSE_JSON}, '$.choices[0].text'))
        ELSE {SPEND_RESPONSE} END""",
    "input_tokens": "j('$.prompt_tokens')",
    "output_tokens": "j('$.completion_tokens')",
    "cached_input_tokens": f"""coalesce(json_extract_string({META}, '$.usage_object.prompt_tokens_details.cached_tokens'),
        json_extract_string({META}, '$.usage_object.cache_read_input_tokens'))""",
    "cache_write_tokens": f"""coalesce(json_extract_string({META}, '$.usage_object.cache_creation_input_tokens'),
        json_extract_string({META}, '$.usage_object.prompt_tokens_details.cache_creation_tokens'))""",
    "reasoning_tokens": f"json_extract_string({META}, '$.usage_object.completion_tokens_details.reasoning_tokens')",
    "cost_usd": "j('$.spend')",
    "latency_ms": "aimon_ms_between(peek('$.startTime'), j('$.endTime'))",
    "ttft_ms": "aimon_ms_between(peek('$.startTime'), j('$.completionStartTime'))",
    "status": f"CASE WHEN {SPEND_FAILED} OR {SPEND_ERROR} IS NOT NULL THEN 'error' ELSE 'ok' END",
    "error_type": f"CASE WHEN {SPEND_FAILED} OR {SPEND_ERROR} IS NOT NULL THEN coalesce(aimon_error_type("
                  f"NULL, nullif(concat_ws(' ', json_extract_string({META}, '$.error_information.error_class'), "
                  f"json_extract_string({META}, '$.error_information.error_code'), {SPEND_ERROR}), '')), "
                  f"'api_error') END",
    "error_message": SPEND_ERROR,
    "cache_hit": _blank("j('$.cache_hit')"),
}


def _is_spend_log(rec: Mapping) -> bool:
    return "request_id" in rec and "spend" in rec and ("startTime" in rec or "call_type" in rec)


register(Shape(
    name="litellm_spend_logs",
    summary="LiteLLM proxy SpendLogs rows (request_id, spend, startTime/endTime, model, user, end_user, "
            "session_id, status, cache_hit, messages/response/metadata as JSON strings)",
    table="requests",
    detect=_is_spend_log,
    columns=SPEND_COLUMNS,
    drop=("status",),
    # Empty message and response placeholders ('{}') carry nothing; a stored list or
    # response is consumed when its text is all it holds.
    consume_if={
        "messages": f"lower(trim({SPEND_MESSAGES})) IN {EMPTY} OR {MESSAGES_JSON} IS NULL"
                    f" OR json_type({MESSAGES_JSON}) = 'ARRAY'",
        "response": f"lower(trim({SPEND_RESPONSE})) IN {EMPTY} OR {RESPONSE_JSON} IS NULL",
    },
))
