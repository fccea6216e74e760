"""OpenAI response bodies: chat completions, Batch API output lines, Responses API.

``openai_chat``
    A ``chat.completion`` body (``object: "chat.completion"``), from OpenAI, Azure OpenAI
    or an OpenAI-compatible provider (OpenRouter, Groq, DeepSeek, Mistral, ...).
    ``usage.prompt_tokens`` already includes ``prompt_tokens_details.cached_tokens`` (and
    OpenRouter's ``cache_write_tokens``) and ``completion_tokens`` includes
    ``completion_tokens_details.reasoning_tokens``, which is aimon's convention: they are
    taken as they are. The response is ``choices[0].message``: its text content and its
    ``refusal``; tool calls, ``finish_reason``, further choices (``n > 1``),
    ``service_tier``, ``system_fingerprint`` and every usage detail without a column
    stay in ``extra``. Content given as a list of parts that are not all plain text parts
    is kept whole, as JSON text, in ``response`` (nothing of it is lost).
    ``finish_reason: content_filter`` (no answer: the provider's filter withheld it) is an
    error with ``error_type`` ``content_filter``.

    provider: ``azure`` when Azure content-filter markers are present
    (``prompt_filter_results``, ``choices[].content_filter_results``); ``groq``
    (``x_groq``); ``deepseek`` (``usage.prompt_cache_hit_tokens`` or a deepseek model);
    ``openrouter`` (``gen-`` ids; ``usage.cost`` is OpenRouter's logged cost and becomes
    ``cost_usd``; the upstream ``provider`` key stays in ``extra``); ``mistral``
    (Mistral model names); ``openai`` for OpenAI model names (gpt-*, o1/o3/o4*,
    chatgpt-*, ft:gpt*, ...); otherwise NULL: an OpenAI-compatible server whose vendor
    the body does not tell (vLLM, Ollama, ...). The names are genai-prices provider ids.

``openai_batch``
    A Batch API output line ``{id, custom_id, response: {status_code, request_id, body},
    error}``. The body (a chat completion, or a Responses API object for /v1/responses
    batches) is mapped as above; ``request_id`` is the body's id, else the line's
    ``id`` (which always stays in ``extra``); ``custom_id`` is never taken as the id
    because it is only unique within one batch. **Batch marker:** every row gets
    ``"batch": true`` in ``extra`` (added after the mapping, through ``marks=``: a
    reject's raw text is the line as read), with ``custom_id`` kept beside it, so cost
    can apply the batch discount. An errored line (``response: null`` with ``error:
    {code, message}``, or ``status_code >= 400`` with ``body.error``) is a request with
    status ``error``; such a line carries no time and no model at all, so it takes the
    time, model and provider of the nearest earlier line of its file that has them (of
    the nearest later one when the file starts with such lines): a batch runs one model,
    and a file may hold several nightly batches one after the other, where the earliest
    time of the whole file would pile every failure of every night into one minute (a
    false incident). ``extra.ts_imputed`` (``model_imputed``, ``provider_imputed``) says
    so; ``model_version`` stays empty (no model answered). ``--default-time``, when
    given, wins for the time; a file whose lines all lack a time is rejected with
    'missing timestamp' without it.

``openai_responses``
    A Responses API body (``object: "response"``): ``created_at``; ``completed_at``
    gives ``latency_ms`` (whole seconds: the API logs no finer time); ``instructions``
    -> ``system_prompt``; the text of the ``output_text`` (and ``refusal``) parts of its
    message items -> ``response`` (reasoning, tool-call and search items stay in
    ``extra``); ``usage.input_tokens`` includes ``input_tokens_details.cached_tokens`` and
    ``output_tokens`` includes ``output_tokens_details.reasoning_tokens``; ``status`` stays
    in ``extra`` (``failed`` makes the row an error, ``error.code``/``error.message`` give
    its type and message; ``incomplete`` for ``content_filter`` is a content_filter error);
    ``temperature`` and ``user`` (else ``safety_identifier``, which also stays) map.
    The text of at most 16 output items x 2 parts is removed from ``extra``; beyond that
    it stays there as well (duplicated, never lost), as does the text of refusal parts.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register

OPENAI_MODELS = r"^(gpt-|o[1-9]([-.]|$)|chatgpt-|ft:gpt|codex-|computer-use-)"
MISTRAL_MODELS = r"^(mistral|codestral|magistral|ministral|pixtral|devstral|open-mistral|open-mixtral)"

# A batch runs one model (OpenAI requires it of a batch's input file), and its lines
# follow each other in time; a file may hold several batches one after the other.
BATCH_IMPUTED = "from the nearest earlier line of this batch file (the nearest later one at its start)"

# Output items x parts of a Responses body whose text is consumed (see the docstring).
_OUTPUT_ITEMS = 16
_OUTPUT_PARTS = 2


def _provider(p: str) -> str:
    """Which vendor served an OpenAI-format body at JSON path prefix ``p``."""
    model = f"coalesce(j('{p}model'), '')"
    return f"""CASE
        WHEN peek('{p}prompt_filter_results') IS NOT NULL
          OR peek('{p}choices[0].content_filter_results') IS NOT NULL THEN 'azure'
        WHEN peek('{p}x_groq') IS NOT NULL THEN 'groq'
        WHEN peek('{p}usage.prompt_cache_hit_tokens') IS NOT NULL
          OR regexp_matches(lower({model}), '^deepseek') THEN 'deepseek'
        WHEN starts_with(coalesce(j('{p}id'), ''), 'gen-') THEN 'openrouter'
        WHEN regexp_matches(lower({model}), '{MISTRAL_MODELS}') THEN 'mistral'
        WHEN regexp_matches(lower({model}), '{OPENAI_MODELS}') THEN 'openai'
    END"""


def chat_columns(p: str) -> dict[str, str]:
    """Columns of a chat.completion body at JSON path prefix ``p`` ('$.' or deeper)."""
    m = f"{p}choices[0].message"
    return {
        "request_id": f"j('{p}id')",
        "ts": f"j('{p}created')",
        "provider": _provider(p),
        # A body names only the model that answered: it is both what was asked for, as
        # far as the log tells, and the version that answered.
        "model": f"j('{p}model')",
        "model_version": f"j('{p}model')",
        "response": f"aimon_chat_text(jx('{m}.content'), j('{m}.refusal'))",
        "input_tokens": f"j('{p}usage.prompt_tokens')",
        "output_tokens": f"j('{p}usage.completion_tokens')",
        # DeepSeek also logs prompt_cache_hit_tokens (the same number): read, not consumed.
        "cached_input_tokens": f"coalesce(j('{p}usage.prompt_tokens_details.cached_tokens'),"
                               f" peek('{p}usage.prompt_cache_hit_tokens'))",
        "cache_write_tokens": f"j('{p}usage.prompt_tokens_details.cache_write_tokens')",
        "reasoning_tokens": f"j('{p}usage.completion_tokens_details.reasoning_tokens')",
        "cost_usd": f"j('{p}usage.cost')",
        "error_type": f"CASE WHEN peek('{p}choices[0].finish_reason') = 'content_filter' THEN 'content_filter' END",
    }


def _output_text_paths(p: str) -> str:
    return "[" + ", ".join(f"j('{p}output[{i}].content[{k}].text')"
                           for i in range(_OUTPUT_ITEMS) for k in range(_OUTPUT_PARTS)) + "]"


def responses_columns(p: str) -> dict[str, str]:
    """Columns of a Responses API body at JSON path prefix ``p``."""
    instructions = f"jx('{p}instructions')"
    error_set = f"peek('{p}error') IS NOT NULL"
    return {
        "request_id": f"j('{p}id')",
        "ts": f"j('{p}created_at')",
        "user_id": f"coalesce(j('{p}user'), peek('{p}safety_identifier'))",
        "provider": _provider(p),
        "model": f"j('{p}model')",
        "model_version": f"j('{p}model')",
        "system_prompt": f"""CASE json_type({instructions})
            WHEN 'VARCHAR' THEN json_extract_string({instructions}, '$')
            WHEN 'ARRAY' THEN aimon_join_texts([aimon_messages_text({instructions}, true),
                                                aimon_messages_text({instructions}, false)], chr(10) || chr(10))
            END""",
        "response": f"aimon_with_consumed(aimon_output_text(peek('{p}output')), {_output_text_paths(p)})",
        "input_tokens": f"j('{p}usage.input_tokens')",
        "output_tokens": f"j('{p}usage.output_tokens')",
        "cached_input_tokens": f"j('{p}usage.input_tokens_details.cached_tokens')",
        "cache_write_tokens": f"j('{p}usage.input_tokens_details.cache_write_tokens')",
        "reasoning_tokens": f"j('{p}usage.output_tokens_details.reasoning_tokens')",
        "latency_ms": f"aimon_ms_between(j('{p}created_at'), j('{p}completed_at'))",
        "status": f"CASE WHEN peek('{p}status') = 'failed' OR {error_set} THEN 'error' END",
        "error_type": f"""CASE
            WHEN {error_set} THEN coalesce(aimon_error_type(j('{p}error.code'), j('{p}error.message')), 'api_error')
            WHEN peek('{p}incomplete_details.reason') = 'content_filter' THEN 'content_filter'
            END""",
        "error_message": f"j('{p}error.message')",
        "temperature": f"j('{p}temperature')",
    }


def _is_chat(rec: Mapping) -> bool:
    return rec.get("object") == "chat.completion" and isinstance(rec.get("choices"), list)


def _is_response(rec: Mapping) -> bool:
    return rec.get("object") == "response" and isinstance(rec.get("output"), list)


def _is_batch_line(rec: Mapping) -> bool:
    if "custom_id" not in rec or "response" not in rec or "result" in rec:
        return False
    response = rec["response"]
    if response is None:
        return isinstance(rec.get("error"), dict)
    return isinstance(response, Mapping) and ("body" in response or "status_code" in response)


register(Shape(
    name="openai_chat",
    summary="OpenAI chat.completion response bodies (also Azure OpenAI and OpenAI-compatible "
            "providers: OpenRouter, Groq, DeepSeek, Mistral, ...)",
    table="requests",
    detect=_is_chat,
    columns=chat_columns("$."),
    drop=("object",),
))


def _batch_columns() -> dict[str, str]:
    b = "$.response.body."
    chat, resp = chat_columns(b), responses_columns(b)
    cols: dict[str, str] = {}
    for col in dict.fromkeys([*chat, *resp]):
        exprs = [e for e in (chat.get(col), resp.get(col)) if e is not None]
        cols[col] = exprs[0] if len(exprs) == 1 else f"coalesce({exprs[0]}, {exprs[1]})"
    # The line's own id when there is no body (an error-file line); it stays in extra.
    cols["request_id"] = f"coalesce(j('{b}id'), peek('$.id'))"
    failed = (f"(peek('$.response') IS NULL OR TRY_CAST(peek('$.response.status_code') AS INTEGER) >= 400"
              f" OR peek('$.error') IS NOT NULL OR peek('{b}error') IS NOT NULL)")
    cols["status"] = f"CASE WHEN {failed} OR peek('{b}status') = 'failed' THEN 'error' END"
    cols["error_type"] = f"""CASE
        WHEN {failed} THEN aimon_error_type(
            coalesce(j('$.error.code'), j('{b}error.type'), peek('{b}error.code')),
            coalesce(j('$.error.message'), j('{b}error.message')))
        WHEN peek('{b}choices[0].finish_reason') = 'content_filter'
          OR peek('{b}incomplete_details.reason') = 'content_filter' THEN 'content_filter'
        END"""
    cols["error_message"] = f"coalesce(j('$.error.message'), j('{b}error.message'))"
    return cols


register(Shape(
    name="openai_batch",
    summary="OpenAI Batch API output lines {id, custom_id, response: {status_code, request_id, body}, "
            "error}; rows get \"batch\": true in extra",
    table="requests",
    detect=_is_batch_line,
    columns=_batch_columns(),
    # The batch marker: the line's own keys win, so nothing of the source is overwritten.
    marks={"batch": True},
    impute={"ts": BATCH_IMPUTED, "model": BATCH_IMPUTED, "provider": BATCH_IMPUTED},
    # `error: null` and `response: null` say nothing the status column does not.
    consume_if={"error": "peek('$.error') IS NULL", "response": "peek('$.response') IS NULL"},
))

register(Shape(
    name="openai_responses",
    summary="OpenAI Responses API bodies (object: response)",
    table="requests",
    detect=_is_response,
    columns=responses_columns("$."),
    drop=("object",),
    consume_if={"error": "peek('$.error') IS NULL"},
))
