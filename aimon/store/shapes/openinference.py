"""OpenInference spans (Arize Phoenix): ``openinference``.

One span per line as Phoenix and the OpenInference spec write them: ``name``,
``context.{trace_id, span_id}``, ``start_time``/``end_time`` (ISO), ``status_code``,
``status_message`` and ``attributes`` holding ``openinference.span.kind``, ``llm.*``,
``input.value``/``output.value``, ``session.id``, ``user.id``. Message lists may be
nested (the spec's "logical JSON": ``llm.input_messages: [{"message.role", ...}]``) or
flattened (``llm.input_messages.0.message.content``); both are read.

Model calls: spans of kind LLM, and EMBEDDING (a model call that bills input tokens; it
never repeats an LLM span's counts). CHAIN, AGENT, TOOL, RETRIEVER, RERANKER, GUARDRAIL
and EVALUATOR spans are wrappers or non-model work: CHAIN and AGENT spans in particular
often carry the summed token counts of the LLM spans inside them, so they go to rejects
as 'not a model call'.

Text: ``input.value``/``output.value`` are the span's payload as logged (plain text, or
the request/response JSON) and become prompt/response when present; the structured
message attributes are the same content broken down, so they are consumed too and used
when there is no payload (and always for the system prompt).

Tokens follow OpenInference: ``llm.token_count.prompt`` includes cache reads and writes
(``llm.token_count.prompt_details.cache_read``/``cache_write``), ``completion`` includes
``completion_details.reasoning``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register
from aimon.store.shapes.otel import a, ap, ax, between_ms, coalesce, let, messages_text

MESSAGE_SLOTS = 16  # flattened llm.*_messages.N.* attributes read; later ones stay in extra
PROMPT_SLOTS = 4


def _flat_messages(prefix: str, slots: int, want_system: bool) -> str:
    roles = ", ".join(a(f"{prefix}.{i}.message.role") for i in range(slots))
    contents = ", ".join(a(f"{prefix}.{i}.message.content") for i in range(slots))
    return f"aimon_indexed_text([{roles}], [{contents}], {str(want_system).lower()})"


def _joined(refs: list[str]) -> str:
    return f"aimon_join_texts([{', '.join(refs)}], chr(10))"


INPUT_MESSAGES = ax("llm.input_messages")
OUTPUT_MESSAGES = ax("llm.output_messages")
PROMPTS = _joined([a(f"llm.prompts.{i}.prompt.text") for i in range(PROMPT_SLOTS)]
                  + [a(f"llm.prompts.{i}") for i in range(PROMPT_SLOTS)])
CHOICES = _joined([a(f"llm.choices.{i}.completion.text") for i in range(PROMPT_SLOTS)])
START = "coalesce(jx('$.start_time'), jx('$.startTimeUnixNano'), jx('$.startTime'))"
END = "coalesce(jx('$.end_time'), jx('$.endTimeUnixNano'), jx('$.endTime'))"
STATUS_CODE = "upper(coalesce(j('$.status_code'), j('$.status.code'), j('$.status.status_code'), ''))"
IS_ERROR = f"({STATUS_CODE} IN ('2', 'ERROR', 'STATUS_CODE_ERROR'))"
STATUS_MESSAGE = "nullif(coalesce(peek('$.status_message'), peek('$.status.message'), peek('$.status.description')), '')"
PARAMS = ap("llm.invocation_parameters")

OPENINFERENCE_COLUMNS = {
    "request_id": coalesce("j('$.context.span_id')", "j('$.span_id')", "j('$.spanId')", "j('$.spanContext.spanId')"),
    "ts": f"aimon_otel_int({START})",
    "user_id": a("user.id"),
    "session_id": a("session.id"),
    # llm.provider is the host (openai, azure, aws); llm.system the model family, kept in extra.
    "provider": coalesce(a("llm.provider"), ap("llm.system")),
    # What was asked for (the invocation parameters' model) and what answered
    # (llm.model_name, which instrumentors take from the response: often dated).
    "model": coalesce(f"nullif(aimon_json_get({PARAMS}, '$.model'), '')", a("llm.model_name"),
                      a("embedding.model_name")),
    "model_version": a("llm.model_name"),
    "system_prompt": coalesce(messages_text(INPUT_MESSAGES, True, "aimon_oi_messages_text"),
                              _flat_messages("llm.input_messages", MESSAGE_SLOTS, True)),
    "prompt": coalesce(a("input.value"),
                       messages_text(INPUT_MESSAGES, False, "aimon_oi_messages_text"),
                       _flat_messages("llm.input_messages", MESSAGE_SLOTS, False),
                       PROMPTS,
                       let("pr_v", f"aimon_json_value({ax('llm.prompts')})", "aimon_content_text(pr_v)")),
    "response": coalesce(a("output.value"),
                         messages_text(OUTPUT_MESSAGES, False, "aimon_oi_messages_text"),
                         _flat_messages("llm.output_messages", MESSAGE_SLOTS, False),
                         CHOICES),
    "input_tokens": a("llm.token_count.prompt"),
    "output_tokens": a("llm.token_count.completion"),
    "cached_input_tokens": a("llm.token_count.prompt_details.cache_read"),
    "cache_write_tokens": a("llm.token_count.prompt_details.cache_write"),
    "reasoning_tokens": a("llm.token_count.completion_details.reasoning"),
    "cost_usd": a("llm.cost.total"),
    "latency_ms": between_ms(START, END),
    "status": f"CASE WHEN {IS_ERROR} THEN 'error' ELSE 'ok' END",
    "error_type": f"CASE WHEN {IS_ERROR} THEN coalesce(aimon_error_type(NULL, {STATUS_MESSAGE}), 'api_error') END",
    "error_message": f"CASE WHEN {IS_ERROR} THEN {STATUS_MESSAGE} END",
    # Invocation parameters are a JSON string; they stay in extra whole.
    "temperature": f"json_extract_string(TRY_CAST({PARAMS} AS JSON), '$.temperature')",
}

_KIND = ap("openinference.span.kind")
OPENINFERENCE_SKIP = f"""CASE
    WHEN upper(coalesce({_KIND}, '')) IN ('LLM', 'EMBEDDING') THEN NULL
    WHEN {_KIND} IS NULL THEN 'span ' || coalesce(peek('$.name'), '?') || ' has no openinference.span.kind'
    ELSE 'span ' || coalesce(peek('$.name'), '?') || ' has openinference.span.kind ' || {_KIND}
         || ' (only LLM and EMBEDDING spans are model calls; chain and agent spans repeat their LLM spans'' tokens)'
END"""


def _is_openinference(rec: Mapping) -> bool:
    attrs = rec.get("attributes")
    if not isinstance(attrs, Mapping):
        return False
    return "openinference.span.kind" in attrs or "llm.model_name" in attrs or any(
        k.startswith("llm.token_count.") for k in attrs)


register(Shape(
    name="openinference",
    summary="OpenInference (Arize Phoenix) span per line: context.span_id, start_time, attributes "
            "openinference.span.kind, llm.model_name, llm.token_count.*, input.value/output.value; "
            "only LLM and EMBEDDING spans load",
    table="requests",
    detect=_is_openinference,
    columns=OPENINFERENCE_COLUMNS,
    skip=OPENINFERENCE_SKIP,
))
