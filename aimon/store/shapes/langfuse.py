"""Langfuse exports: observations (``langfuse_observation``), traces
(``langfuse_trace``) and scores (``langfuse_score``, a feedback shape).

Observations come camelCase from the public API and the UI download (``traceId``,
``startTime``, ``usageDetails``, ``costDetails``, ``totalCost``, ``latency`` in seconds)
or snake_case from the ClickHouse/blob export (``trace_id``, ``start_time``,
``usage_details``, ``cost_details``, ``total_cost``); both are read. Only GENERATION
(and EMBEDDING) observations are model calls. A GENERATION that Langfuse made from a
Vercel AI SDK wrapper span (``ai.generateText`` around ``ai.generateText.doGenerate``)
is a wrapper too: it repeats its child's tokens and is not loaded.

Token accounting: Langfuse usage types are disjoint and priced one by one: ``input``
does NOT include cached tokens, which arrive as their own types (``input_cached_tokens``,
``input_cache_read``, ``input_cache_creation``, ...; Langfuse's OTel ingestion and its
SDKs subtract them from ``input``), and ``output`` excludes ``output_reasoning``.
Langfuse itself counts every usage type whose name holds "input" as input (its
``inputUsage``), and aimon does the same, so ``input_tokens`` is all input tokens.
The older ``prompt_details.*``/``completion_details.*`` types (copied from OpenInference
attributes) are subsets and are not added. ``usageDetails`` stays in extra whole.

Traces are containers, not model calls. A trace export embeds its ``observations``;
each is mapped as an observation of its own (with the trace's user and session), and
the trace itself goes to rejects as 'not a model call'. The same observation loaded
from an observation export and a trace export is one request (same id): the second
copy is a duplicate, or a conflicting duplicate when the exports differ (trace exports
leave out input and output).

Scores are feedback: a boolean or -1/0/1 score whose name says it is a user's thumbs
(thumbs, feedback, vote, like, helpful) becomes thumbs_up/thumbs_down; every other
score keeps its name as the feedback type and its value in extra. CORRECTION scores
are 'correction' with the corrected text as feedback_text. A trace export fed to
``--feedback`` yields its embedded scores and corrections.
"""

from __future__ import annotations

from collections.abc import Mapping

from aimon.store.shapes import Shape, register

OBSERVATION_TYPES = ("GENERATION", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR",
                     "EMBEDDING", "GUARDRAIL")
MODEL_CALL_TYPES = ("GENERATION", "EMBEDDING")
# Vercel AI SDK spans that wrap the model call (*.doGenerate, *.doStream, *.doEmbed).
VERCEL_WRAPPERS = ("ai.generateText", "ai.streamText", "ai.generateObject", "ai.streamObject", "ai.embed",
                   "ai.embedMany")


def first(*keys: str) -> str:
    """The first present of several top-level aliases (camelCase and snake_case)."""
    return "first(" + ", ".join(f"'$.{k}'" for k in keys) + ")"


# TRY_CAST rather than a validity guard: DuckDB may evaluate a CASE branch before its guard.
USAGE = ("coalesce(TRY_CAST(peek('$.usageDetails') AS JSON), TRY_CAST(peek('$.usage_details') AS JSON), "
         "TRY_CAST(peek('$.usage') AS JSON))")
START = first("startTime", "start_time")
LEVEL = "upper(coalesce(peek('$.level'), ''))"
STATUS_MESSAGE = "nullif(coalesce(peek('$.statusMessage'), peek('$.status_message')), '')"
PARAMS = "coalesce(peek('$.modelParameters'), peek('$.model_parameters'))"


def _text(value: str, want_system: bool) -> str:
    """Prompt or response text of a Langfuse input/output value (JSON: a string, a list
    of chat messages, or any other JSON). A message list becomes its text; anything
    else is kept as logged, so a value whose text cannot be extracted is never lost."""
    as_text = (f"CASE json_type({value}) WHEN 'VARCHAR' THEN json_extract_string({value}, '$') "
               f"WHEN 'NULL' THEN NULL ELSE CAST({value} AS VARCHAR) END")
    if want_system:
        return f"aimon_text_messages({as_text}, true)"
    return (f"coalesce(aimon_text_messages({as_text}, false), "
            f"CASE WHEN aimon_text_messages({as_text}, true) IS NULL THEN {as_text} END)")


def _null_text(expr: str) -> str:
    """NULL for the text spellings of nothing some SDKs write into parameters ("null")."""
    return f"CASE WHEN lower(trim({expr})) IN ('', 'null', 'none') THEN NULL ELSE {expr} END"


OBSERVATION_COLUMNS = {
    "request_id": "j('$.id')",
    "ts": START,
    "user_id": f"coalesce({first('userId', 'user_id')}, j('$.__trace.userId'))",
    "session_id": f"coalesce({first('sessionId', 'session_id')}, j('$.__trace.sessionId'))",
    "model": first("model", "providedModelName", "provided_model_name"),
    "prompt_version": first("promptVersion", "prompt_version"),
    "system_prompt": _text("jx('$.input')", True),
    "prompt": _text("jx('$.input')", False),
    "response": _text("jx('$.output')", False),
    "input_tokens": f"aimon_langfuse_usage({USAGE}, 'input')",
    "output_tokens": f"aimon_langfuse_usage({USAGE}, 'output')",
    "cached_input_tokens": f"aimon_langfuse_usage({USAGE}, 'cache_read')",
    "cache_write_tokens": f"aimon_langfuse_usage({USAGE}, 'cache_write')",
    "reasoning_tokens": f"aimon_langfuse_usage({USAGE}, 'reasoning')",
    # The cost Langfuse recorded (ingested, or calculated from its price table).
    "cost_usd": f"coalesce(j('$.costDetails.total'), j('$.cost_details.total'), "
                f"{first('totalCost', 'total_cost', 'calculatedTotalCost', 'calculated_total_cost')})",
    # From the times: 'latency' is seconds in current exports but was milliseconds in some.
    "latency_ms": f"coalesce(aimon_ms_between(peek('$.startTime'), j('$.endTime')), "
                  f"aimon_ms_between(peek('$.start_time'), j('$.end_time')), "
                  f"aimon_s_to_ms({first('latency')}))",
    "ttft_ms": f"coalesce(aimon_ms_between(peek('$.startTime'), j('$.completionStartTime')), "
               f"aimon_ms_between(peek('$.start_time'), j('$.completion_start_time')), "
               f"aimon_s_to_ms({first('timeToFirstToken', 'time_to_first_token')}))",
    "status": f"CASE WHEN {LEVEL} = 'ERROR' THEN 'error' ELSE 'ok' END",
    "error_type": f"CASE WHEN {LEVEL} = 'ERROR' THEN coalesce(aimon_error_type(NULL, {STATUS_MESSAGE}), "
                  f"'api_error') END",
    "error_message": f"CASE WHEN {LEVEL} = 'ERROR' THEN {STATUS_MESSAGE} END",
    "temperature": _null_text(f"coalesce(j('$.modelParameters.temperature'), j('$.model_parameters.temperature'), "
                              f"json_extract_string(TRY_CAST({PARAMS} AS JSON), '$.temperature'))"),
}

_TYPE = "upper(coalesce(peek('$.type'), ''))"
_NAME = "coalesce(peek('$.name'), '?')"
_MODEL_TYPES = ", ".join(f"'{t}'" for t in MODEL_CALL_TYPES)
_WRAPPERS = ", ".join(f"'{n}'" for n in VERCEL_WRAPPERS)
OBSERVATION_SKIP = f"""CASE
    WHEN {_TYPE} = '' THEN 'record has no observation type (a Langfuse trace? use --shape langfuse_trace)'
    WHEN {_TYPE} NOT IN ({_MODEL_TYPES})
        THEN 'Langfuse ' || {_TYPE} || ' observation ' || {_NAME} || ' (only GENERATION and EMBEDDING observations are model calls)'
    WHEN peek('$.name') IN ({_WRAPPERS})
        THEN 'Langfuse GENERATION ' || {_NAME} || ' is a Vercel AI SDK wrapper: it repeats the tokens of its '
             || {_NAME} || '.do* child generation'
END"""

# The trace record itself has no type; its observations are judged like an export's.
TRACE_SKIP = OBSERVATION_SKIP.replace(
    "'record has no observation type (a Langfuse trace? use --shape langfuse_trace)'",
    f"'Langfuse trace ' || {_NAME} || ' is a container of observations; its generations are "
    f"loaded as rows of their own'")


def _json_list(key: str) -> str:
    """A list held as JSON, or as JSON text (some exports stringify nested lists)."""
    value = f"json_extract(doc, '$.{key}')"
    return (f"CASE json_type({value}) WHEN 'ARRAY' THEN CAST(json_extract(doc, '$.{key}[*]') AS JSON[]) "
            f"WHEN 'VARCHAR' THEN CAST(json_extract(TRY_CAST(json_extract_string(doc, '$.{key}') AS JSON), '$[*]') "
            f"AS JSON[]) END")


# The trace (its observations removed) and each observation, carrying the trace's user
# and session under __trace (consumed by the columns, so it never reaches extra).
TRACE_RECORDS = f"""list_concat([CAST(json_remove(doc, '$.observations') AS JSON)],
    list_transform(coalesce({_json_list('observations')}, []::JSON[]),
        lambda lf_o: json_merge_patch(lf_o, json_object('__trace',
            CASE WHEN coalesce(json_extract_string(doc, '$.userId'), json_extract_string(doc, '$.user_id'),
                               json_extract_string(doc, '$.sessionId'), json_extract_string(doc, '$.session_id')) IS NOT NULL
                 THEN json_object('userId', coalesce(json_extract_string(doc, '$.userId'), json_extract_string(doc, '$.user_id')),
                                  'sessionId', coalesce(json_extract_string(doc, '$.sessionId'), json_extract_string(doc, '$.session_id')))
            END))))"""


def _is_observation(rec: Mapping) -> bool:
    kind = rec.get("type")
    return (isinstance(kind, str) and kind.upper() in OBSERVATION_TYPES
            and any(k in rec for k in ("traceId", "trace_id"))
            and any(k in rec for k in ("startTime", "start_time")))


def _is_trace(rec: Mapping) -> bool:
    if "type" in rec or not any(k in rec for k in ("timestamp", "createdAt", "created_at")):
        return False
    if isinstance(rec.get("observations"), list | str):
        return True
    return "id" in rec and any(k in rec for k in ("bookmarked", "public")) and "tags" in rec


register(Shape(
    name="langfuse_observation",
    summary="Langfuse observation export (id, traceId, type, startTime/endTime, model, usageDetails, "
            "costDetails, totalCost, input/output; camelCase or snake_case); only GENERATION observations load",
    table="requests",
    detect=_is_observation,
    columns=OBSERVATION_COLUMNS,
    skip=OBSERVATION_SKIP,
))

register(Shape(
    name="langfuse_trace",
    summary="Langfuse trace export: the trace is a container (not loaded); its embedded observations "
            "are mapped like an observation export, with the trace's user and session",
    table="requests",
    detect=_is_trace,
    columns=OBSERVATION_COLUMNS,
    records=TRACE_RECORDS,
    skip=TRACE_SKIP,
))


# --------------------------------------------------------------------------- scores

# Score names that mean a user's thumbs, when the value is boolean or -1/0/1.
THUMBS_NAME = r"(?i)(^|[^a-z])(thumbs?|feedback|vote|upvote|like|liked|helpful)([^a-z]|$)"
SCORE_VALUE = "coalesce(peek('$.stringValue'), peek('$.string_value'), peek('$.value'))"
SCORE_NUMBER = "TRY_CAST(peek('$.value') AS DOUBLE)"
SCORE_NAME = "peek('$.name')"
DATA_TYPE = "upper(coalesce(peek('$.dataType'), peek('$.data_type'), ''))"
THUMBS = f"""CASE
    WHEN NOT regexp_matches(coalesce({SCORE_NAME}, ''), '{THUMBS_NAME}') THEN NULL
    WHEN lower({SCORE_VALUE}) IN ('thumbs_up', 'thumbsup', 'up', 'true', 'positive', 'good', '👍') THEN 'thumbs_up'
    WHEN lower({SCORE_VALUE}) IN ('thumbs_down', 'thumbsdown', 'down', 'false', 'negative', 'bad', '👎') THEN 'thumbs_down'
    WHEN {DATA_TYPE} IN ('BOOLEAN', 'NUMERIC', '') AND {SCORE_NUMBER} = 1 THEN 'thumbs_up'
    WHEN {DATA_TYPE} IN ('BOOLEAN', 'NUMERIC', '') AND {SCORE_NUMBER} IN (0, -1) THEN 'thumbs_down'
END"""

COMMENT = "nullif(peek('$.comment'), '')"
CORRECTED = (f"CASE WHEN {DATA_TYPE} = 'CORRECTION' THEN nullif(coalesce(peek('$.longStringValue'), "
             f"peek('$.long_string_value')), '') END")

SCORE_COLUMNS = {
    "feedback_id": "j('$.id')",
    # The scored observation (a request row) when there is one, else the trace.
    "request_id": first("observationId", "observation_id", "traceId", "trace_id"),
    "ts": first("timestamp", "createdAt", "created_at"),
    "feedback_type": f"""CASE WHEN {DATA_TYPE} = 'CORRECTION' THEN 'correction'
        ELSE coalesce({THUMBS}, lower(trim({SCORE_NAME}))) END""",
    # A correction's text is the corrected output; other scores' text is their comment.
    "feedback_text": f"CASE WHEN {CORRECTED} IS NOT NULL THEN {CORRECTED} ELSE {COMMENT} END",
}

# A trace export carries its scores and corrections; a score export is one per line.
SCORE_RECORDS = f"""CASE WHEN json_exists(doc, '$.scores') OR json_exists(doc, '$.corrections')
    THEN list_concat(coalesce({_json_list('scores')}, []::JSON[]), coalesce({_json_list('corrections')}, []::JSON[]))
    ELSE [CAST(doc AS JSON)] END"""


def _is_score(rec: Mapping) -> bool:
    if _is_trace(rec):
        return isinstance(rec.get("scores"), list | str) or isinstance(rec.get("corrections"), list | str)
    return ("name" in rec and any(k in rec for k in ("value", "stringValue", "string_value"))
            and any(k in rec for k in ("dataType", "data_type", "source"))
            and any(k in rec for k in ("traceId", "trace_id", "observationId", "observation_id")))


SCORE_SKIP = """CASE WHEN peek('$.scores') IS NOT NULL OR peek('$.corrections') IS NOT NULL
        OR peek('$.observations') IS NOT NULL
    THEN 'Langfuse trace ' || coalesce(peek('$.name'), '?') || ' carries no scores or corrections' END"""


register(Shape(
    name="langfuse_score",
    summary="Langfuse scores (name, value, dataType, traceId/observationId, comment), one per line or "
            "embedded in a trace export; user thumbs become thumbs_up/thumbs_down",
    table="feedback",
    detect=_is_score,
    columns=SCORE_COLUMNS,
    records=SCORE_RECORDS,
    skip=SCORE_SKIP,
    # Text is consumed where it became feedback_text (or is empty); else it stays in extra.
    consume_if={
        "comment": f"{CORRECTED} IS NULL",
        "longStringValue": f"{CORRECTED} IS NOT NULL OR coalesce(peek('$.longStringValue'), '') = ''",
        "long_string_value": f"{CORRECTED} IS NOT NULL OR coalesce(peek('$.long_string_value'), '') = ''",
    },
))
