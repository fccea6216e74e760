"""Anthropic Messages API bodies and Message Batches results.

``anthropic_message``
    A Messages API response body (``type: "message"``), from api.anthropic.com, Amazon
    Bedrock (InvokeModel returns the same body; ids start ``msg_bdrk_``) or Google Vertex
    AI (``msg_vrtx_``): provider ``anthropic``, ``bedrock`` or ``vertex_ai`` (names that
    genai-prices resolves).

    Token accounting: Anthropic's ``usage.input_tokens`` EXCLUDES cache writes and cache
    reads, so ``input_tokens`` = ``input_tokens + cache_creation_input_tokens +
    cache_read_input_tokens``; ``cached_input_tokens`` = ``cache_read_input_tokens``;
    ``cache_write_tokens`` = ``cache_creation_input_tokens``. The ``cache_creation``
    split into ``ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens`` (priced
    differently) stays in ``extra``, as do ``service_tier``, ``inference_geo`` and
    ``server_tool_use``. ``output_tokens`` includes thinking; ``reasoning_tokens`` =
    ``output_tokens_details.thinking_tokens`` when the body gives it.

    ``response`` is the text of the ``text`` blocks: adjacent text blocks (Anthropic
    splits cited text into many) are joined as they are, runs separated by other blocks
    are joined by a blank line. Thinking, tool_use, server tool and result blocks stay
    in ``extra`` (so do citations, beside a ``{"type": "text"}`` stub of their block);
    a content list of plain text blocks only is consumed whole. ``stop_reason`` and
    ``stop_sequence`` stay in ``extra``; ``stop_reason: refusal`` (the safety classifier
    stopped the answer) is an error with ``error_type`` ``content_filter``.

    Time: a bare body carries no time at all (``container.expires_at`` is not one), so it
    is rejected with 'missing timestamp' unless the user passes ``--default-time``. A body
    that a logging layer stamped with a top-level ``timestamp``, ``created_at``, ``ts`` or
    ``time`` uses it.

``anthropic_batch``
    A Message Batches results line ``{custom_id, result: {type, message | error}}``:
    ``succeeded`` maps its message like above; ``errored`` is an error with the inner
    ``error.error.type``/``message``; ``canceled`` and ``expired`` are errors of that type
    (the request never ran). Every row gets ``"batch": true`` in ``extra`` (added through
    ``marks=``, like ``openai_batch``) with ``custom_id`` and ``result.type`` kept
    beside it. Result lines carry no time: rejected unless ``--default-time``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register

# Content blocks whose text is removed from extra one by one (when the content is not
# plain text only): beyond these, text stays in extra too (duplicated, never lost).
_BLOCKS = 32
TIME_KEYS = ("timestamp", "created_at", "ts", "time")


def message_columns(p: str) -> dict[str, str]:
    """Columns of a Messages API body at JSON path prefix ``p`` ('$.' or deeper)."""
    u = f"{p}usage."
    blocks = "[" + ", ".join(f"j('{p}content[{i}].text')" for i in range(_BLOCKS)) + "]"
    return {
        "request_id": f"j('{p}id')",
        "provider": f"""CASE WHEN starts_with(j('{p}id'), 'msg_bdrk_') THEN 'bedrock'
                             WHEN starts_with(j('{p}id'), 'msg_vrtx_') THEN 'vertex_ai'
                             ELSE 'anthropic' END""",
        "model": f"j('{p}model')",  # the answering model: the only one a body names
        "model_version": f"j('{p}model')",
        "response": f"aimon_with_consumed(aimon_blocks_text(peek('{p}content')), {blocks})",
        "input_tokens": f"aimon_token_sum(j('{u}input_tokens'), j('{u}cache_creation_input_tokens'),"
                        f" j('{u}cache_read_input_tokens'))",
        "output_tokens": f"j('{u}output_tokens')",
        "cached_input_tokens": f"j('{u}cache_read_input_tokens')",
        "cache_write_tokens": f"j('{u}cache_creation_input_tokens')",
        "reasoning_tokens": f"j('{u}output_tokens_details.thinking_tokens')",
        "error_type": f"CASE WHEN peek('{p}stop_reason') = 'refusal' THEN 'content_filter' END",
    }


def _is_message(rec: Mapping) -> bool:
    return (rec.get("type") == "message" and isinstance(rec.get("content"), list)
            and isinstance(rec.get("usage"), Mapping) and "model" in rec)


def _is_batch_result(rec: Mapping) -> bool:
    result = rec.get("result")
    return ("custom_id" in rec and isinstance(result, Mapping)
            and result.get("type") in ("succeeded", "errored", "canceled", "expired"))


register(Shape(
    name="anthropic_message",
    summary="Anthropic Messages API response bodies (type: message; also Bedrock/Vertex); "
            "no time of their own: needs --default-time",
    table="requests",
    detect=_is_message,
    columns={
        **message_columns("$."),
        "ts": "first(" + ", ".join(f"'$.{k}'" for k in TIME_KEYS) + ")",
    },
    drop=("type", "role"),
    consume_if={"content": "aimon_plain_text_blocks(peek('$.content'))"},
))


def _batch_columns() -> dict[str, str]:
    cols = message_columns("$.result.message.")
    kind = "peek('$.result.type')"
    err = "$.result.error.error."
    cols["request_id"] = "coalesce(j('$.result.message.id'), j('$.result.error.request_id'))"
    cols["status"] = f"CASE WHEN {kind} <> 'succeeded' THEN 'error' END"
    cols["error_type"] = f"""CASE
        WHEN {kind} = 'errored' THEN coalesce(aimon_error_type(j('{err}type'), j('{err}message')), 'api_error')
        WHEN {kind} IN ('canceled', 'expired') THEN {kind}
        ELSE {cols['error_type']} END"""
    cols["error_message"] = f"j('{err}message')"
    return cols


register(Shape(
    name="anthropic_batch",
    summary="Anthropic Message Batches results {custom_id, result: {type, message}}; "
            "rows get \"batch\": true in extra; no time: needs --default-time",
    table="requests",
    detect=_is_batch_result,
    columns=_batch_columns(),
    marks={"batch": True},
))
