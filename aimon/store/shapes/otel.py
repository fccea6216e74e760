"""OpenTelemetry GenAI spans: one flat span per line (``otel_span``) and OTLP/JSON
documents (``otlp_json``).

Two shapes, one set of column templates. A flat span line is mapped as it is, which
keeps the fast parallel read; an OTLP/JSON line (``{resourceSpans: [...]}`` or one bare
ResourceSpans as protobufjs decodes it) is first unpacked by the ``aimon_otlp_spans``
macro into flat span records: attribute lists become objects, protobufjs Buffers become
hex ids and {low, high} longs become decimal text, and each span carries its resource
and scope along. Both forms of the same span therefore give the same row.

Flat spans come in several exporter dialects, all read here: OTLP-like (``traceId``,
``spanId``, ``startTimeUnixNano``), the JS ReadableSpan (``spanContext``, ``startTime``
as HrTime ``[s, ns]``) and the Python SDK's ``to_json`` (``context.span_id``,
``start_time`` ISO, ``status.status_code``).

The trap: agent, chain and workflow spans (and the Vercel AI SDK's ``ai.generateText``
around ``ai.generateText.doGenerate``) repeat the token counts of the model-call spans
inside them. Only model calls load: a span whose ``gen_ai.operation.name`` is a model
operation (chat, text_completion, generate_content, embeddings, ...), a Vercel
``*.doGenerate``/``*.doStream``/``*.doEmbed`` span, a Traceloop ``llm.request.type``
span, or (no operation named at all) a span that names the model it called. Every other
span goes to rejects as 'not a model call: <why>'.

Token accounting follows the GenAI semantic conventions: ``gen_ai.usage.input_tokens``
includes cache reads and writes, which are also reported as subsets.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register

# Operation names (current and older, and OpenLIT's) that are one call to a model.
MODEL_OPERATIONS = ("chat", "text_completion", "completion", "generate_content", "embeddings",
                    "embedding", "responses", "image", "image_generation", "audio", "speech",
                    "transcription", "rerank")
PROMPT_SLOTS = 16  # gen_ai.prompt.N.* attributes read; later ones stay in extra
COMPLETION_SLOTS = 4
EVENT_SLOTS = 4  # span events searched for the deprecated gen_ai.prompt / gen_ai.completion


def attr(key: str) -> str:
    """The JSON path of a span attribute."""
    return f"""'$.attributes."{key}"'"""


def a(key: str) -> str:
    """An attribute as text, consumed."""
    return f"j({attr(key)})"


def ax(key: str) -> str:
    """An attribute as JSON, consumed."""
    return f"jx({attr(key)})"


def ap(key: str) -> str:
    """An attribute as text, not consumed."""
    return f"peek({attr(key)})"


def coalesce(*exprs: str) -> str:
    """SQL coalesce of template expressions."""
    return f"coalesce({', '.join(exprs)})"


def let(name: str, value: str, body: str) -> str:
    """``body`` with ``value`` bound to ``name``. DuckDB macros inline their arguments
    at every use, so a value read by a macro that reads its argument many times is bound
    once here instead (nested macros otherwise take DuckDB a noticeable time to bind)."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def messages_text(value: str, want_system: bool, fn: str = "aimon_messages_text") -> str:
    """Text of a message list given as JSON or as JSON text."""
    return let("msgs_v", f"aimon_json_value({value})", f"{fn}(msgs_v, {str(want_system).lower()})")


def chat_text(key: str, want_system: bool) -> str:
    """Text of the chat messages in an attribute (a list, or JSON text of one): the
    system messages', or (want_system false) the others', or a plain string or one
    message object as the prompt. Every column reading the attribute shares one parse
    of it (msgs())."""
    msgs = f"msgs({attr(key)})"
    if want_system:
        return f"aimon_msgs_text({msgs}, true)"
    return f"aimon_msgs_prompt({msgs}, {ax(key)}, {a(key)})"


def between_ms(start: str, end: str) -> str:
    """Milliseconds between two OTel times (any form aimon_otel_int reads)."""
    return let("se_ns", f"[aimon_otel_int({start}), aimon_otel_int({end})]", "aimon_ms_between(se_ns[1], se_ns[2])")


def _indexed(prefix: str, slots: int, want_system: bool) -> str:
    roles = ", ".join(a(f"{prefix}.{i}.role") for i in range(slots))
    contents = ", ".join(a(f"{prefix}.{i}.content") for i in range(slots))
    return f"aimon_indexed_text([{roles}], [{contents}], {str(want_system).lower()})"


def _events(key: str) -> str:
    refs = ", ".join(f"""j('$.events[{i}].attributes."{key}"')""" for i in range(EVENT_SLOTS))
    return f"aimon_join_texts([{refs}], chr(10))"


def _json_string_values(ref: str) -> str:
    """Text of a list whose items are JSON-encoded strings (Vercel ai.values)."""
    return (f"aimon_join_texts(list_transform(coalesce(CAST(json_extract(aimon_json_value({ref}), '$[*]') "
            f"AS JSON[]), []::JSON[]), lambda vv: CASE WHEN json_type(TRY_CAST(json_extract_string(vv, '$') AS JSON)) "
            f"= 'VARCHAR' THEN json_extract_string(TRY_CAST(json_extract_string(vv, '$') AS JSON), '$') "
            f"ELSE json_extract_string(vv, '$') END), chr(10))")


def _content(ref: str) -> str:
    """Text of a value that may be plain text or a JSON list of content parts."""
    return let("ct_v", ref, "CASE WHEN left(ltrim(ct_v), 1) = '[' AND TRY_CAST(ct_v AS JSON) IS NOT NULL "
                            "THEN coalesce(aimon_content_text(TRY_CAST(ct_v AS JSON)), ct_v) ELSE ct_v END")


INPUT_MESSAGES = "gen_ai.input.messages"
VERCEL_MESSAGES = "ai.prompt.messages"
START = "coalesce(jx('$.startTimeUnixNano'), jx('$.startTime'), jx('$.start_time'))"
END = "coalesce(jx('$.endTimeUnixNano'), jx('$.endTime'), jx('$.end_time'))"
STATUS_CODE = "upper(coalesce(j('$.status.code'), j('$.status.status_code'), j('$.status_code'), ''))"
# error.type is an exception class, an HTTP status or _OTHER: it stays in extra as logged
# and, with the status message, decides aimon's error category.
ERROR_KIND = f"nullif(trim({ap('error.type')}), '')"
IS_ERROR = f"({STATUS_CODE} IN ('2', 'ERROR', 'STATUS_CODE_ERROR') OR {ERROR_KIND} IS NOT NULL)"
STATUS_MESSAGE = "nullif(coalesce(peek('$.status.message'), peek('$.status.description'), peek('$.status_message')), '')"

OTEL_COLUMNS = {
    "request_id": coalesce(a("gen_ai.response.id"), a("ai.response.id"), "peek('$.spanId')",
                           "peek('$.spanContext.spanId')", "peek('$.context.span_id')", "peek('$.span_id')"),
    "ts": f"aimon_otel_int({START})",
    "user_id": coalesce(f"nullif({a('user.id')}, '')", f"nullif({a('enduser.id')}, '')",
                        f"nullif({a('gen_ai.request.user')}, '')", a("ai.telemetry.metadata.userId")),
    "session_id": coalesce(a("gen_ai.conversation.id"), a("session.id"), a("ai.telemetry.metadata.sessionId")),
    "endpoint": a("ai.telemetry.functionId"),
    "provider": coalesce(a("gen_ai.provider.name"), a("gen_ai.system"), a("ai.model.provider")),
    # What was asked for (the answering model when the span names no request), and what
    # answered: successes and failures of one model then group together.
    "model": coalesce(a("gen_ai.request.model"), a("ai.model.id"), a("gen_ai.response.model"),
                      a("ai.response.model")),
    "model_version": coalesce(a("gen_ai.response.model"), a("ai.response.model")),
    "system_prompt": coalesce(
        let("si_v", f"aimon_json_value({ax('gen_ai.system_instructions')})", "aimon_content_text(si_v)"),
        chat_text(INPUT_MESSAGES, True),
        _indexed("gen_ai.prompt", PROMPT_SLOTS, True),
        chat_text(VERCEL_MESSAGES, True)),
    "prompt": coalesce(
        chat_text(INPUT_MESSAGES, False),
        _indexed("gen_ai.prompt", PROMPT_SLOTS, False),
        chat_text(VERCEL_MESSAGES, False),
        _content(a("gen_ai.prompt")),
        _events("gen_ai.prompt"),
        _json_string_values(ax("ai.values"))),
    "response": coalesce(
        chat_text("gen_ai.output.messages", False),
        _indexed("gen_ai.completion", COMPLETION_SLOTS, False),
        a("ai.response.text"),
        a("ai.response.object"),
        _content(a("gen_ai.completion")),
        _events("gen_ai.completion")),
    "input_tokens": coalesce(a("gen_ai.usage.input_tokens"), a("gen_ai.usage.prompt_tokens"),
                             a("ai.usage.inputTokens"), a("ai.usage.promptTokens"), a("ai.usage.tokens")),
    "output_tokens": coalesce(a("gen_ai.usage.output_tokens"), a("gen_ai.usage.completion_tokens"),
                              a("ai.usage.outputTokens"), a("ai.usage.completionTokens")),
    "cached_input_tokens": coalesce(a("gen_ai.usage.cache_read.input_tokens"),
                                    a("gen_ai.usage.cache_read_input_tokens"), a("ai.usage.cachedInputTokens")),
    "cache_write_tokens": coalesce(a("gen_ai.usage.cache_creation.input_tokens"),
                                   a("gen_ai.usage.cache_creation_input_tokens")),
    "reasoning_tokens": coalesce(a("gen_ai.usage.reasoning.output_tokens"), a("gen_ai.usage.reasoning_tokens"),
                                 a("ai.usage.reasoningTokens")),
    "cost_usd": a("gen_ai.usage.cost"),
    "latency_ms": between_ms(START, END),
    "ttft_ms": coalesce(a("ai.response.msToFirstChunk"),
                        f"aimon_s_to_ms({a('gen_ai.response.time_to_first_chunk')})"),
    "status": f"CASE WHEN {IS_ERROR} THEN 'error' ELSE 'ok' END",
    "error_type": f"CASE WHEN {IS_ERROR} THEN coalesce(aimon_error_type(NULL, "
                  f"nullif(concat_ws(' ', {ERROR_KIND}, {STATUS_MESSAGE}), '')), 'api_error') END",
    "error_message": f"CASE WHEN {IS_ERROR} THEN {STATUS_MESSAGE} END",
    "temperature": coalesce(a("gen_ai.request.temperature"), a("ai.settings.temperature")),
}

_OP = ap("gen_ai.operation.name")
_VERCEL_OP = ap("ai.operationId")
_NAME = "coalesce(peek('$.name'), '?')"
_MODEL_OPS = ", ".join(f"'{op}'" for op in MODEL_OPERATIONS)
# Why a span is not a model call, or NULL when it is one.
OTEL_SKIP = rf"""CASE
    WHEN peek('$.resourceSpans') IS NOT NULL OR peek('$.scopeSpans') IS NOT NULL
        THEN 'OTLP document without spans'
    WHEN {_OP} IS NOT NULL THEN CASE WHEN lower({_OP}) IN ({_MODEL_OPS}) THEN NULL
        ELSE 'span ' || {_NAME} || ' has gen_ai.operation.name ' || {_OP}
             || ' (an agent, tool or workflow span: the model calls inside it are spans of their own)' END
    WHEN {_VERCEL_OP} IS NOT NULL THEN CASE
        WHEN regexp_matches({_VERCEL_OP}, '\.do(Generate|Stream|Embed)$') THEN NULL
        WHEN {_VERCEL_OP} LIKE 'ai.toolCall%' THEN 'Vercel AI SDK tool call span ' || {_VERCEL_OP}
        ELSE 'Vercel AI SDK span ' || {_VERCEL_OP} || ' wraps its ' || {_VERCEL_OP}
             || '.do* model-call span and repeats its token counts' END
    WHEN {ap('llm.request.type')} IS NOT NULL THEN NULL
    WHEN {ap('traceloop.span.kind')} IS NOT NULL
        THEN 'span ' || {_NAME} || ' has traceloop.span.kind ' || {ap('traceloop.span.kind')}
             || ' (a workflow, task, agent or tool span)'
    WHEN coalesce({ap('gen_ai.request.model')}, {ap('gen_ai.response.model')}) IS NOT NULL THEN NULL
    ELSE 'span ' || {_NAME} || ' names no model operation (gen_ai.operation.name) and no model'
END"""


def _is_model_attr(key: str) -> bool:
    return key.startswith(("gen_ai.", "ai.")) or key in ("llm.request.type", "traceloop.span.kind")


def _flat_attrs(rec: Mapping) -> Mapping | None:
    attrs = rec.get("attributes")
    return attrs if isinstance(attrs, Mapping) else None


def _is_flat_span(rec: Mapping) -> bool:
    attrs = _flat_attrs(rec)
    if attrs is None or "openinference.span.kind" in attrs:
        return False
    span_keys = ("traceId", "spanId", "spanContext", "context", "span_id", "startTimeUnixNano")
    return any(k in rec for k in span_keys) and any(_is_model_attr(k) for k in attrs)


def otlp_spans(rec: Mapping) -> list[Mapping]:
    """The spans of an OTLP/JSON record (for detectors): resourceSpans or one bare
    ResourceSpans."""
    if isinstance(rec.get("resourceSpans"), list):
        resource_spans = rec["resourceSpans"]
    elif isinstance(rec.get("scopeSpans"), list):
        resource_spans = [rec]
    else:
        return []
    return [span for rs in resource_spans if isinstance(rs, Mapping)
            for ss in rs.get("scopeSpans") or [] if isinstance(ss, Mapping)
            for span in ss.get("spans") or [] if isinstance(span, Mapping)]


def otlp_attribute_keys(span: Mapping) -> set[str]:
    attrs = span.get("attributes") or []
    if isinstance(attrs, Mapping):
        return set(attrs)
    return {kv.get("key") for kv in attrs if isinstance(kv, Mapping)}


def _is_otlp(rec: Mapping) -> bool:
    keys = [otlp_attribute_keys(s) for s in otlp_spans(rec)]
    return (bool(keys) and not any("openinference.span.kind" in k for k in keys)
            and any(_is_model_attr(key) for k in keys for key in k))


register(Shape(
    name="otel_span",
    summary="OpenTelemetry GenAI span, one flat span per line (traceId/spanContext, startTimeUnixNano "
            "or startTime, attributes gen_ai.*); only model-call spans load",
    table="requests",
    detect=_is_flat_span,
    columns=OTEL_COLUMNS,
    skip=OTEL_SKIP,
))

register(Shape(
    name="otlp_json",
    summary="OTLP/JSON traces (resourceSpans[].scopeSpans[].spans[], attributes as key/value lists; "
            "protobufjs-decoded ids and longs too); only model-call spans load",
    table="requests",
    detect=_is_otlp,
    columns=OTEL_COLUMNS,
    records="aimon_otlp_spans(doc)",
    record_each="aimon_otlp_record",
    skip=OTEL_SKIP,
))
