"""SQL macros that shapes use to turn source values into canonical ones.

They are created as TEMP macros on the ingest connection, so they never become part of
the stored schema and can change between aimon versions.
"""

from __future__ import annotations

import duckdb

from aimon.store.macros_telemetry import TELEMETRY_MACROS_SQL

MACROS_SQL = [
    # Why a timestamp text that DuckDB would read still names no instant, else NULL: a
    # UTC offset outside -12:00..+14:00 (DuckDB shifts by it), or a local time that a
    # daylight-saving change skips (DuckDB moves it an hour on).
    r"""
    CREATE OR REPLACE TEMP MACRO aimon_ts_problem(x) AS (
        CASE
            WHEN NOT regexp_matches(x::VARCHAR, '[0-9]\s*([+-][0-9]{2}:?[0-9]{2}|[A-Za-z_]+/[A-Za-z_/+-]+)\s*$') THEN NULL
            WHEN regexp_matches(x::VARCHAR, '[+-][0-9]{2}:?[0-9]{2}\s*$') THEN
                CASE WHEN TRY_CAST(regexp_extract(x::VARCHAR, '([+-])([0-9]{2}):?([0-9]{2})\s*$', 3) AS INT) > 59
                       OR TRY_CAST(regexp_extract(x::VARCHAR, '([+-])([0-9]{2}):?([0-9]{2})\s*$', 2) AS INT) * 60
                          + TRY_CAST(regexp_extract(x::VARCHAR, '([+-])([0-9]{2}):?([0-9]{2})\s*$', 3) AS INT)
                          > CASE WHEN regexp_extract(x::VARCHAR, '([+-])([0-9]{2}):?([0-9]{2})\s*$', 1) = '-'
                                 THEN 720 ELSE 840 END
                     THEN 'impossible UTC offset' END
            WHEN TRY_CAST(trim(x::VARCHAR) AS TIMESTAMPTZ) IS NOT NULL
                 AND TRY_CAST(regexp_extract(trim(x::VARCHAR), '^(.*[0-9])\s+[A-Za-z_]+/[A-Za-z_/+-]+$', 1) AS TIMESTAMP)
                     <> timezone(regexp_extract(trim(x::VARCHAR), '\s([A-Za-z_]+/[A-Za-z_/+-]+)$', 1),
                                 TRY_CAST(trim(x::VARCHAR) AS TIMESTAMPTZ))
            THEN 'no such local time: skipped by a daylight-saving change'
        END
    )
    """,
    # A timestamp from ISO 8601 text or a Unix epoch in s, ms, us or ns (told apart by
    # magnitude: 1e11 s is the year 5138, 1e11 ms is 1973). Naive text is read as UTC
    # because the ingest session's TimeZone is UTC.
    r"""
    CREATE OR REPLACE TEMP MACRO aimon_ts(x) AS (
        CASE
            WHEN x IS NULL THEN NULL
            -- The usual form, ISO 8601 in UTC ('...Z', no space, no zone name), first:
            -- none of the checks below can apply to it, and they took most of the
            -- column's time.
            WHEN x::VARCHAR LIKE '____-__-__T__:__:__%Z' AND NOT contains(x::VARCHAR, ' ')
                 AND NOT contains(x::VARCHAR, '/') THEN TRY_CAST(x::VARCHAR AS TIMESTAMPTZ)
            WHEN regexp_full_match(trim(x::VARCHAR), '-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?') THEN
                CASE
                    WHEN abs(TRY_CAST(x AS DOUBLE)) < 1e11 THEN TRY_CAST(to_timestamp(TRY_CAST(x AS DOUBLE)) AS TIMESTAMPTZ)
                    WHEN abs(TRY_CAST(x AS DOUBLE)) < 1e14 THEN make_timestamptz(TRY_CAST(TRY_CAST(x AS DOUBLE) * 1000 AS BIGINT))
                    WHEN abs(TRY_CAST(x AS DOUBLE)) < 1e17 THEN make_timestamptz(TRY_CAST(TRY_CAST(x AS DOUBLE) AS BIGINT))
                    ELSE make_timestamptz(TRY_CAST(TRY_CAST(split_part(trim(x::VARCHAR), '.', 1) AS HUGEINT) // 1000 AS BIGINT))
                END
            WHEN aimon_ts_problem(x) IS NOT NULL THEN NULL
            ELSE TRY_CAST(trim(x::VARCHAR) AS TIMESTAMPTZ)
        END
    )
    """,
    # Milliseconds between two timestamps given in any form aimon_ts reads. Like every
    # macro that feeds a column, it returns text: conversion and validation come later.
    """
    CREATE OR REPLACE TEMP MACRO aimon_ms_between(a, b) AS (
        CAST(epoch_us(aimon_ts(b)) / 1000.0 - epoch_us(aimon_ts(a)) / 1000.0 AS VARCHAR)
    )
    """,
    # Seconds (as text or number) to milliseconds, as text.
    """
    CREATE OR REPLACE TEMP MACRO aimon_s_to_ms(x) AS (CAST(TRY_CAST(x AS DOUBLE) * 1000.0 AS VARCHAR))
    """,
    # The texts of a list that are neither NULL nor empty, joined by sep; NULL when
    # there are none. (Not nullif(array_to_string(...), ''): DuckDB rewrites both into
    # expressions that name their argument twice and evaluates it each time, so a list
    # of messages was unpacked four times, and each message's parts four times more.)
    """
    CREATE OR REPLACE TEMP MACRO aimon_join_texts(texts, sep) AS (
        list_aggr(list_filter(texts, lambda jt_t: jt_t IS NOT NULL AND jt_t <> ''), 'string_agg', sep)
    )
    """,
    # The text of a message content value given as JSON: a string, a list of parts
    # ({type: text, text} as OpenAI/Anthropic write them, {type: text, content} as the
    # OpenTelemetry semantic conventions do), or one such part.
    """
    CREATE OR REPLACE TEMP MACRO aimon_content_text(c) AS (
        -- c is bound once: callers pass an extraction (a parse of the message) as c.
        list_transform([c], lambda ct_c: CASE json_type(ct_c)
            WHEN 'VARCHAR' THEN json_extract_string(ct_c, '$')
            WHEN 'ARRAY' THEN aimon_join_texts(list_transform(
                    json_extract(ct_c, '$[*]'),
                    lambda p: CASE json_type(p)
                        WHEN 'VARCHAR' THEN json_extract_string(p, '$')
                        WHEN 'OBJECT' THEN coalesce(json_extract_string(p, '$.text'),
                                                    CASE WHEN json_type(p, '$.content') = 'VARCHAR'
                                                         THEN json_extract_string(p, '$.content') END)
                    END), chr(10))
            WHEN 'OBJECT' THEN coalesce(json_extract_string(ct_c, '$.text'),
                                        CASE WHEN json_type(ct_c, '$.content') = 'VARCHAR'
                                             THEN json_extract_string(ct_c, '$.content') END)
        END)[1]
    )
    """,
    # The text of a list of chat messages ({role, content} or {role, parts}), keeping
    # the system/developer messages (want_system) or all the others. A plain string is
    # taken as it is, as the user's prompt.
    """
    CREATE OR REPLACE TEMP MACRO aimon_messages_text(msgs, want_system) AS (
        CASE json_type(msgs)
            WHEN 'VARCHAR' THEN CASE WHEN want_system THEN NULL ELSE json_extract_string(msgs, '$') END
            WHEN 'ARRAY' THEN aimon_join_texts(list_transform(
                    list_filter(json_extract(msgs, '$[*]'),
                        lambda m: (coalesce(json_extract_string(m, '$.role'), '') IN ('system', 'developer')) = want_system),
                    lambda m: aimon_content_text(coalesce(json_extract(m, '$.content'), json_extract(m, '$.parts')))),
                chr(10) || chr(10))
            WHEN 'OBJECT' THEN CASE WHEN want_system THEN NULL ELSE aimon_content_text(msgs) END
        END
    )
    """,
    # A message list parsed once (the shapes' msgs()), for columns that each read part of
    # it: x is the value as JSON, s as text (a string's content, unquoted). A list, or a
    # string holding one, becomes LIST(STRUCT(role, content, parts)); anything else,
    # and a string that is not valid JSON, NULL. One json_transform reads every message's
    # role and content; json_type and json_extract per list and per message, written
    # once for the prompt and once for the system prompt, each kept their own parse of
    # a chunk of whole conversations (100,000 spans: 1.16 GB).
    """
    CREATE OR REPLACE TEMP MACRO aimon_msgs_parse(x, s) AS (
        CASE WHEN left(x, 1) = '[' OR (left(x, 1) = '"' AND left(ltrim(s), 1) = '[')
             THEN try(json_transform(s, '[{"role": "VARCHAR", "content": "JSON", "parts": "JSON"}]')) END
    )
    """,
    # The text of a parsed message list (aimon_msgs_parse), as aimon_messages_text
    # gives it for the same list.
    """
    CREATE OR REPLACE TEMP MACRO aimon_msgs_text(msgs, want_system) AS (
        aimon_join_texts(list_transform(
                list_filter(msgs, lambda cm_m: (coalesce(cm_m.role, '') IN ('system', 'developer')) = want_system),
                lambda cm_m: aimon_content_text(coalesce(cm_m.content, cm_m.parts))),
            chr(10) || chr(10))
    )
    """,
    # The prompt from a msgs() value: its messages' text, else (x, s as for
    # aimon_msgs_parse) a string as it is or one message object, as
    # aimon_messages_text(aimon_json_value(x), false) reads them. The messages' text is
    # not inside a CASE branch: the lambdas over a list took three times the CPU and
    # more memory there (10,000 spans: 3.2 s and 334 MB against 0.9 s and 265 MB).
    """
    CREATE OR REPLACE TEMP MACRO aimon_msgs_prompt(msgs, x, s) AS (
        coalesce(aimon_msgs_text(msgs, false), CASE WHEN msgs IS NULL THEN
            CASE WHEN left(x, 1) = '{' THEN aimon_content_text(x)
                 WHEN left(x, 1) = '"' THEN
                     CASE WHEN left(ltrim(s), 1) = '{' AND TRY_CAST(s AS JSON) IS NOT NULL
                          THEN aimon_content_text(TRY_CAST(s AS JSON)) ELSE s END
            END END)
    )
    """,
    # A prompt field that may hold plain text or, as text, a JSON list of messages.
    """
    CREATE OR REPLACE TEMP MACRO aimon_prompt_text(x, want_system) AS (
        -- TRY_CAST, not a json_valid guard: DuckDB may evaluate the cast first.
        -- A regex, not ltrim: ltrim copies the whole prompt (0.1 s a million prompts).
        -- Both see only spaces before the bracket.
        CASE WHEN x IS NOT NULL AND regexp_matches(x, '^ *[[]')
                  AND json_type(TRY_CAST(x AS JSON)) = 'ARRAY'
                  AND json_type(TRY_CAST(x AS JSON), '$[0]') = 'OBJECT'
             THEN aimon_messages_text(TRY_CAST(x AS JSON), want_system)
             WHEN want_system THEN NULL
             ELSE x
        END
    )
    """,
    # An error category from a logged type, or from the message when no type is logged.
    r"""
    CREATE OR REPLACE TEMP MACRO aimon_error_type(kind, message) AS (
        CASE
            WHEN nullif(trim(kind::VARCHAR), '') IS NOT NULL THEN lower(trim(kind::VARCHAR))
            WHEN message IS NULL OR trim(message::VARCHAR) = '' THEN NULL
            WHEN regexp_matches(message, '(?i)rate.?limit|too many requests|\b429\b|quota') THEN 'rate_limit'
            WHEN regexp_matches(message, '(?i)time.?out|timed out|deadline exceeded|\b504\b') THEN 'timeout'
            WHEN regexp_matches(message, '(?i)overloaded|\b529\b|\b503\b|unavailable') THEN 'overloaded'
            WHEN regexp_matches(message, '(?i)content.?(filter|policy)|safety|moderation') THEN 'content_filter'
            WHEN regexp_matches(message, '(?i)context.?length|maximum context|too many tokens') THEN 'context_length'
            WHEN regexp_matches(message, '(?i)invalid|validation|schema|malformed|parse') THEN 'validation'
            WHEN regexp_matches(message, '(?i)auth|api key|permission|forbidden|\b401\b|\b403\b') THEN 'auth'
            ELSE 'api_error'
        END
    )
    """,
    # A boolean from JSON true/false, 1/0, yes/no, "true"/"false".
    # 'duplicate key: K' for the first key that a list of keys holds twice, else NULL.
    """
    CREATE OR REPLACE TEMP MACRO aimon_dup_key(k) AS (
        CASE WHEN len(k) <> len(list_distinct(k)) THEN 'duplicate key: '
            || list_filter(k, lambda aimon_x, aimon_i: list_position(k, aimon_x) < aimon_i)[1] END
    )
    """,
    """
    CREATE OR REPLACE TEMP MACRO aimon_bool(x) AS (
        CASE lower(trim(x::VARCHAR))
            WHEN 'true' THEN true WHEN 'false' THEN false
            WHEN '1' THEN true WHEN '0' THEN false
            WHEN 'yes' THEN true WHEN 'no' THEN false
            WHEN 'y' THEN true WHEN 'n' THEN false
            WHEN 't' THEN true WHEN 'f' THEN false
        END
    )
    """,
    # --- vendor response bodies (aimon.store.shapes.openai / anthropic / llm_logs) ---
    # Returns x. Its second argument lists values (written with j()) whose paths a shape
    # consumes because x already holds their content: e.g. the text of each content
    # block, when x is the whole text computed from a peek() of the block list.
    """
    CREATE OR REPLACE TEMP MACRO aimon_with_consumed(x, consumed) AS (x)
    """,
    # Input tokens as a sum of counts (Anthropic's input + cache writes + cache reads), as
    # text. NULL when the first count is missing; a part that is not a whole non-negative
    # number is returned as it is, so that validation rejects the record naming that value.
    """
    CREATE OR REPLACE TEMP MACRO aimon_bad_count(x) AS (
        x IS NOT NULL AND coalesce(TRY_CAST(x AS DOUBLE) < 0
                                   OR TRY_CAST(x AS DOUBLE) <> floor(TRY_CAST(x AS DOUBLE)), true)
    )
    """,
    """
    CREATE OR REPLACE TEMP MACRO aimon_token_sum(a, b, c) AS (
        CASE
            WHEN a IS NULL THEN NULL
            WHEN aimon_bad_count(a) THEN a::VARCHAR
            WHEN aimon_bad_count(b) THEN b::VARCHAR
            WHEN aimon_bad_count(c) THEN c::VARCHAR
            ELSE CAST(CAST(TRY_CAST(a AS DOUBLE) AS HUGEINT) + coalesce(CAST(TRY_CAST(b AS DOUBLE) AS HUGEINT), 0)
                      + coalesce(CAST(TRY_CAST(c AS DOUBLE) AS HUGEINT), 0) AS VARCHAR)
        END
    )
    """,
    # Join a list of text pieces in which NULL stands for a non-text block (a tool call, a
    # thinking block): adjacent pieces are one run of text (Anthropic splits cited text into
    # many blocks) and are joined as they are; runs are separated by a blank line.
    """
    CREATE OR REPLACE TEMP MACRO aimon_text_runs(pieces) AS (
        list_reduce(CAST(pieces AS VARCHAR[]),
            lambda acc, t: CASE WHEN t IS NULL THEN {'s': acc.s, 'gap': acc.s IS NOT NULL}
                                ELSE {'s': coalesce(acc.s || CASE WHEN acc.gap THEN chr(10) || chr(10) ELSE '' END, '') || t,
                                      'gap': false} END,
            {'s': NULL::VARCHAR, 'gap': false}).s
    )
    """,
    # The text of a list of content blocks ({type: text, text} among others), as JSON or
    # JSON text; NULL when it holds no text block.
    """
    CREATE OR REPLACE TEMP MACRO aimon_blocks_text(blocks) AS (
        CASE WHEN blocks IS NOT NULL AND json_valid(blocks) THEN
            CASE WHEN json_type(blocks) = 'ARRAY' THEN
                aimon_text_runs(list_transform(CAST(json_extract(blocks, '$[*]') AS JSON[]),
                    lambda b: CASE WHEN json_extract_string(b, '$.type') = 'text'
                                   THEN coalesce(json_extract_string(b, '$.text'), '') END))
            END
        END
    )
    """,
    # True when a content list holds only plain text blocks ({type: text, text}, nothing
    # else), so that dropping it loses nothing its text does not hold.
    """
    CREATE OR REPLACE TEMP MACRO aimon_plain_text_blocks(blocks) AS (
        CASE WHEN blocks IS NOT NULL AND json_valid(blocks) THEN
            CASE WHEN json_type(blocks) = 'ARRAY' THEN
                json_array_length(blocks) > 0
                AND len(list_filter(CAST(json_extract(blocks, '$[*]') AS JSON[]),
                        lambda b: json_type(b) = 'OBJECT' AND json_extract_string(b, '$.type') = 'text'
                                  AND json_type(b, '$.text') = 'VARCHAR'
                                  AND list_has_all(['type', 'text'], json_keys(b))))
                    = json_array_length(blocks)
            ELSE false END
        ELSE false END
    )
    """,
    # An OpenAI chat message's answer: its content (a string, or a list of text parts) and
    # its refusal. Content of any other form is kept whole, as JSON text, so nothing of it
    # is lost when the shape consumes it.
    """
    CREATE OR REPLACE TEMP MACRO aimon_chat_text(content, refusal) AS (
        aimon_join_texts([
            CASE WHEN content IS NULL OR json_type(content) = 'NULL' THEN NULL
                 WHEN json_type(content) = 'VARCHAR' THEN json_extract_string(content, '$')
                 WHEN aimon_plain_text_blocks(content) THEN aimon_blocks_text(content)
                 ELSE CAST(content AS VARCHAR) END,
            refusal], chr(10) || chr(10))
    )
    """,
    # The answer text of an OpenAI Responses API `output` list: the output_text (and
    # refusal) parts of its message items; reasoning and tool items separate runs.
    """
    CREATE OR REPLACE TEMP MACRO aimon_output_text(output) AS (
        CASE WHEN output IS NOT NULL AND json_valid(output) THEN
            CASE WHEN json_type(output) = 'ARRAY' THEN
                aimon_text_runs(flatten(list_transform(CAST(json_extract(output, '$[*]') AS JSON[]),
                    lambda it: CASE WHEN json_extract_string(it, '$.type') = 'message'
                        THEN list_concat(coalesce(list_transform(CAST(json_extract(it, '$.content[*]') AS JSON[]),
                                 lambda p: CASE json_extract_string(p, '$.type')
                                     WHEN 'output_text' THEN coalesce(json_extract_string(p, '$.text'), '')
                                     WHEN 'refusal' THEN coalesce(json_extract_string(p, '$.refusal'), '') END),
                                 []::VARCHAR[]), [NULL::VARCHAR])
                        ELSE [NULL::VARCHAR] END)))
            END
        END
    )
    """,
    # A value read from JSON text that may be broken (simonw/llm keeps token_details and
    # options_json as JSON strings): NULL instead of an error.
    """
    CREATE OR REPLACE TEMP MACRO aimon_json_get(doc, path) AS (
        CASE WHEN doc IS NOT NULL AND json_valid(doc) THEN json_extract_string(doc, path) END
    )
    """,
    # Canonical feedback types from the many spellings sources use.
    """
    CREATE OR REPLACE TEMP MACRO aimon_feedback_type(x) AS (
        CASE
            WHEN x IS NULL THEN NULL
            WHEN lower(trim(x::VARCHAR)) IN ('thumbs_up', 'thumbsup', 'thumbs-up', 'thumbs up', 'up', 'like',
                                             'liked', 'positive', 'good', '+1', '1', 'true', '👍') THEN 'thumbs_up'
            WHEN lower(trim(x::VARCHAR)) IN ('thumbs_down', 'thumbsdown', 'thumbs-down', 'thumbs down', 'down',
                                             'dislike', 'disliked', 'negative', 'bad', '-1', '0', 'false', '👎') THEN 'thumbs_down'
            WHEN lower(trim(x::VARCHAR)) IN ('report', 'reported', 'flag', 'flagged', 'abuse') THEN 'report'
            WHEN lower(trim(x::VARCHAR)) IN ('copy', 'copied', 'copied_response', 'copy_response') THEN 'copied_response'
            WHEN lower(trim(x::VARCHAR)) IN ('regenerate', 'regenerated', 'retry', 'retried') THEN 'regenerated'
            WHEN lower(trim(x::VARCHAR)) IN ('edit', 'edited', 'edited_output', 'edit_output') THEN 'edited_output'
            ELSE lower(trim(x::VARCHAR))
        END
    )
    """,
]


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ingest macros on ``con`` (temporary: they vanish with the connection)."""
    for sql in (*MACROS_SQL, *TELEMETRY_MACROS_SQL):
        con.execute(sql)
