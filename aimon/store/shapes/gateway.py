"""Gateway and proxy envelopes: the app's own fields around a vendor request and response.

``gateway``
    One line per call, as API gateways, proxies and in-house middleware write them:
    ``{timestamp, request_id, user_id, endpoint, latency_ms, ttft_ms, status_code,
    request: <vendor request body>, response: <vendor response body, its error body, or
    null>, error: {type, message}}``. The bodies are OpenAI chat completions, OpenAI
    Responses or Anthropic Messages bodies; which one a response is comes from the body
    itself (``object: chat.completion``, ``object: response``, ``type: message``), and
    it is mapped by that vendor's own column templates (``aimon.store.shapes.openai``
    and ``anthropic``): the same token rules (Anthropic's cache reads and writes added
    to ``input_tokens``), the same response text and provider.

    ``model`` is the model the request asked for (``request.model``); ``model_version``
    the one that answered (``response.model``), empty when nothing answered. The envelope
    gives the id, time, user, session, endpoint, latency and time to first token; the
    request gives the prompt and system prompt (OpenAI ``messages`` with their system
    and developer roles, Anthropic ``system`` and ``messages``, Responses
    ``instructions`` and ``input``) and ``temperature``. Everything else of both bodies
    (``max_tokens``, the response's ``id``, ``created``, finish reasons, usage details)
    stays in ``extra`` under ``request`` and ``response``, as does ``status_code``.

    A failed call (``status_code`` >= 400, an ``error`` in the envelope or the response
    body, or an Anthropic ``{"type": "error"}`` body) is an error. Its type, in order:
    the vendor's error code or type (``rate_limit_error`` -> rate_limit,
    ``overloaded_error`` -> overloaded, ``server_error``/``api_error`` -> api_error,
    ``context_length_exceeded`` -> context_length, ``invalid_request_error`` ->
    validation, ``authentication_error``/``permission_error`` -> auth, ``timeout`` ->
    timeout), then the HTTP status (429 rate_limit, 408/504 timeout, 529 overloaded,
    other 5xx api_error, 401/403 auth, 413 context_length, other 4xx validation), then
    the words of the message; ``api_error`` when nothing tells. Its message is the
    body's, else the envelope's.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register
from aimon.store.shapes.anthropic import message_columns
from aimon.store.shapes.openai import OPENAI_MODELS, chat_columns, responses_columns

Q = "$.request."
R = "$.response."
# Which vendor body the response is; NULL for an error body or no body.
BODY = (f"CASE WHEN peek('{R}object') = 'chat.completion' THEN 'chat' "
        f"WHEN peek('{R}object') = 'response' THEN 'responses' "
        f"WHEN peek('{R}type') = 'message' THEN 'anthropic' END")
# Columns that the vendor body decides; the envelope and the request give the rest.
BODY_COLUMNS = ("provider", "response", "input_tokens", "output_tokens", "cached_input_tokens",
                "cache_write_tokens", "reasoning_tokens", "cost_usd", "status", "error_type", "error_message")
STATUS = "TRY_CAST(peek('$.status_code') AS INTEGER)"
FAILED = (f"(coalesce({STATUS} >= 400, false) OR peek('$.error') IS NOT NULL OR peek('{R}error') IS NOT NULL "
          f"OR peek('{R}type') = 'error')")

# Vendors' error codes and types (OpenAI's and Anthropic's) -> aimon's categories.
_KINDS = {
    "rate_limit": ("rate_limit_error", "rate_limit_exceeded", "rate_limit", "too_many_requests",
                   "insufficient_quota", "tokens", "requests"),
    "overloaded": ("overloaded_error", "overloaded", "server_overloaded", "engine_overloaded"),
    "api_error": ("api_error", "server_error", "internal_error", "internal_server_error", "service_unavailable"),
    "timeout": ("timeout", "timeout_error", "request_timeout", "gateway_timeout", "deadline_exceeded",
                "upstream_timeout"),
    "context_length": ("context_length_exceeded", "string_above_max_length", "request_too_large"),
    "auth": ("authentication_error", "permission_error", "invalid_api_key", "unauthorized", "forbidden"),
    "validation": ("invalid_request_error", "not_found_error", "validation_error", "invalid_value"),
    "content_filter": ("content_filter", "content_policy_violation"),
}


def _kind(value: str) -> str:
    """A vendor's error code or type as aimon's category, NULL when unknown."""
    whens = " ".join(f"WHEN lower(trim({value})) IN ({', '.join(repr(n) for n in names)}) THEN '{kind}'"
                     for kind, names in _KINDS.items())
    return f"CASE {whens} END"


STATUS_KIND = f"""CASE
    WHEN {STATUS} = 429 THEN 'rate_limit'
    WHEN {STATUS} IN (408, 504) THEN 'timeout'
    WHEN {STATUS} = 529 THEN 'overloaded'
    WHEN {STATUS} >= 500 THEN 'api_error'
    WHEN {STATUS} IN (401, 403) THEN 'auth'
    WHEN {STATUS} = 413 THEN 'context_length'
    WHEN {STATUS} >= 400 THEN 'validation'
    END"""
ERROR_MESSAGE = f"coalesce(j('{R}error.message'), j('$.error.message'))"


def _error_type() -> str:
    # Read, not consumed: the vendor's own words stay in extra beside aimon's category.
    code, vendor_type, envelope_type = f"peek('{R}error.code')", f"peek('{R}error.type')", "peek('$.error.type')"
    return (f"coalesce({_kind(code)}, {_kind(vendor_type)}, {_kind(envelope_type)}, {STATUS_KIND}, "
            f"aimon_error_type(coalesce({vendor_type}, {envelope_type}), {ERROR_MESSAGE}), 'api_error')")


def _by_body(column: str) -> str:
    """The column as the response body's vendor maps it."""
    branches = []
    for kind, cols in (("chat", chat_columns(R)), ("responses", responses_columns(R)),
                       ("anthropic", message_columns(R))):
        if column in cols:
            expr = cols[column]
            # The body's id stays in extra (the envelope has its own request id), and so
            # do the vendor's own error code and type beside aimon's category.
            for kept in ("id", "error.code", "error.type"):
                expr = expr.replace(f"j('{R}{kept}')", f"peek('{R}{kept}')")
            branches.append(f"WHEN '{kind}' THEN {expr}")
    return f"CASE {BODY} {' '.join(branches)} END" if branches else "NULL"


def _request_provider() -> str:
    model = f"lower(coalesce(peek('{Q}model'), ''))"
    return f"""CASE WHEN peek('{R}type') = 'error' OR regexp_matches({model}, '^claude') THEN 'anthropic'
                    WHEN regexp_matches({model}, '{OPENAI_MODELS}') THEN 'openai' END"""


def _plain_messages(msgs: str) -> str:
    """Whether a request's message list is text only: system, developer and user turns
    of string or plain text-block content, with no other keys. Only then is the list
    consumed by the prompt columns; otherwise (assistant turns, tool calls, images,
    cache_control) it also stays whole in ``extra``."""
    return (f"(json_type({msgs}) = 'ARRAY' AND json_array_length({msgs}) > 0 "
            f"AND len(list_filter(CAST(json_extract({msgs}, '$[*]') AS JSON[]), lambda gw_m: "
            "json_type(gw_m) = 'OBJECT' "
            "AND len(list_filter(json_keys(gw_m), lambda gw_k: gw_k NOT IN ('role', 'content'))) = 0 "
            "AND json_extract_string(gw_m, '$.role') IN ('system', 'developer', 'user') "
            "AND (json_type(gw_m, '$.content') = 'VARCHAR' "
            "     OR aimon_plain_text_blocks(CAST(json_extract(gw_m, '$.content') AS VARCHAR))))) "
            f"= json_array_length({msgs}))")


MESSAGES, SYSTEM = f"peekx('{Q}messages')", f"peekx('{Q}system')"
INSTRUCTIONS, INPUT = f"peekx('{Q}instructions')", f"peekx('{Q}input')"
# The request's prompt fields are consumed where their text is all they hold.
CONSUME_TEXT = {
    f"{Q}messages": _plain_messages(MESSAGES),
    f"{Q}system": f"(json_type({SYSTEM}) = 'VARCHAR' OR aimon_plain_text_blocks(CAST({SYSTEM} AS VARCHAR)))",
    f"{Q}instructions": f"json_type({INSTRUCTIONS}) = 'VARCHAR'",
    f"{Q}input": f"(json_type({INPUT}) = 'VARCHAR' OR {_plain_messages(INPUT)})",
}


def _columns() -> dict[str, str]:
    body = {col: _by_body(col) for col in BODY_COLUMNS}
    return {
        "request_id": f"coalesce(first('$.request_id', '$.id'), peek('{R}id'))",
        "ts": "first('$.timestamp', '$.created_at', '$.ts', '$.time')",
        "user_id": f"coalesce(first('$.user_id', '$.user'), peek('{Q}user'), peek('{Q}metadata.user_id'))",
        "session_id": "first('$.session_id', '$.conversation_id')",
        "endpoint": "first('$.endpoint', '$.route', '$.path')",
        "provider": f"coalesce({body['provider']}, {_request_provider()})",
        "model": f"coalesce(j('{Q}model'), j('{R}model'))",
        "model_version": f"j('{R}model')",
        "system_prompt": f"""coalesce(
            aimon_content_text({SYSTEM}),
            CASE json_type({INSTRUCTIONS}) WHEN 'VARCHAR' THEN json_extract_string({INSTRUCTIONS}, '$')
                 WHEN 'ARRAY' THEN aimon_messages_text({INSTRUCTIONS}, true) END,
            aimon_messages_text({MESSAGES}, true),
            aimon_messages_text({INPUT}, true))""",
        "prompt": f"coalesce(aimon_messages_text({MESSAGES}, false), aimon_messages_text({INPUT}, false))",
        **{col: body[col] for col in ("response", "input_tokens", "output_tokens", "cached_input_tokens",
                                      "cache_write_tokens", "reasoning_tokens", "cost_usd")},
        "latency_ms": "first('$.latency_ms', '$.duration_ms')",
        "ttft_ms": "first('$.ttft_ms', '$.time_to_first_token_ms')",
        "status": f"CASE WHEN {FAILED} THEN 'error' ELSE {body['status']} END",
        "error_type": f"CASE WHEN {FAILED} THEN {_error_type()} ELSE {body['error_type']} END",
        "error_message": f"coalesce({ERROR_MESSAGE}, {body['error_message']})",
        "temperature": f"coalesce(j('{Q}temperature'), {_by_body('temperature')})",
    }


def _is_envelope(rec: Mapping) -> bool:
    request, response = rec.get("request"), rec.get("response", ...)
    return (isinstance(request, Mapping) and ("messages" in request or "input" in request)
            and (response is None or isinstance(response, Mapping)))


register(Shape(
    name="gateway",
    summary="gateway/proxy envelopes {timestamp, request_id, user_id, endpoint, latency_ms, status_code, "
            "request: <OpenAI chat/Responses or Anthropic Messages request>, response: <its body>, error}",
    table="requests",
    detect=_is_envelope,
    columns=_columns(),
    # `error: null` and `response: null` say nothing the status column does not.
    consume_if={"error": "peek('$.error') IS NULL", "response": "peek('$.response') IS NULL", **CONSUME_TEXT},
))
