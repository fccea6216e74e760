"""SQL macros that shapes use to turn source values into canonical ones.

They are created as TEMP macros on the ingest connection, so they never become part of
the stored schema and can change between aimon versions.
"""

from __future__ import annotations

import duckdb

MACROS_SQL = [
    # A timestamp from ISO 8601 text or a Unix epoch in s, ms, us or ns (told apart by
    # magnitude: 1e11 s is the year 5138, 1e11 ms is 1973). Naive text is read as UTC
    # because the ingest session's TimeZone is UTC.
    r"""
    CREATE OR REPLACE TEMP MACRO aimon_ts(x) AS (
        CASE
            WHEN x IS NULL THEN NULL
            WHEN regexp_full_match(trim(x::VARCHAR), '-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?') THEN
                CASE
                    WHEN abs(TRY_CAST(x AS DOUBLE)) < 1e11 THEN TRY_CAST(to_timestamp(TRY_CAST(x AS DOUBLE)) AS TIMESTAMPTZ)
                    WHEN abs(TRY_CAST(x AS DOUBLE)) < 1e14 THEN make_timestamptz(TRY_CAST(TRY_CAST(x AS DOUBLE) * 1000 AS BIGINT))
                    WHEN abs(TRY_CAST(x AS DOUBLE)) < 1e17 THEN make_timestamptz(TRY_CAST(TRY_CAST(x AS DOUBLE) AS BIGINT))
                    ELSE make_timestamptz(TRY_CAST(TRY_CAST(split_part(trim(x::VARCHAR), '.', 1) AS HUGEINT) // 1000 AS BIGINT))
                END
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
    # The text of a message content value given as JSON: a string, a list of parts
    # ({type: text, text} as OpenAI/Anthropic write them, {type: text, content} as the
    # OpenTelemetry semantic conventions do), or one such part.
    """
    CREATE OR REPLACE TEMP MACRO aimon_content_text(c) AS (
        CASE json_type(c)
            WHEN 'VARCHAR' THEN json_extract_string(c, '$')
            WHEN 'ARRAY' THEN nullif(array_to_string(list_filter(list_transform(
                    json_extract(c, '$[*]'),
                    lambda p: CASE json_type(p)
                        WHEN 'VARCHAR' THEN json_extract_string(p, '$')
                        WHEN 'OBJECT' THEN coalesce(json_extract_string(p, '$.text'),
                                                    CASE WHEN json_type(p, '$.content') = 'VARCHAR'
                                                         THEN json_extract_string(p, '$.content') END)
                    END),
                lambda t: t IS NOT NULL AND t <> ''), chr(10)), '')
            WHEN 'OBJECT' THEN coalesce(json_extract_string(c, '$.text'),
                                        CASE WHEN json_type(c, '$.content') = 'VARCHAR'
                                             THEN json_extract_string(c, '$.content') END)
        END
    )
    """,
    # The text of a list of chat messages ({role, content} or {role, parts}), keeping
    # the system/developer messages (want_system) or all the others. A plain string is
    # taken as it is, as the user's prompt.
    """
    CREATE OR REPLACE TEMP MACRO aimon_messages_text(msgs, want_system) AS (
        CASE json_type(msgs)
            WHEN 'VARCHAR' THEN CASE WHEN want_system THEN NULL ELSE json_extract_string(msgs, '$') END
            WHEN 'ARRAY' THEN nullif(array_to_string(list_filter(list_transform(
                    list_filter(json_extract(msgs, '$[*]'),
                        lambda m: (coalesce(json_extract_string(m, '$.role'), '') IN ('system', 'developer')) = want_system),
                    lambda m: aimon_content_text(coalesce(json_extract(m, '$.content'), json_extract(m, '$.parts')))),
                lambda t: t IS NOT NULL AND t <> ''), chr(10) || chr(10)), '')
            WHEN 'OBJECT' THEN CASE WHEN want_system THEN NULL ELSE aimon_content_text(msgs) END
        END
    )
    """,
    # A prompt field that may hold plain text or, as text, a JSON list of messages.
    """
    CREATE OR REPLACE TEMP MACRO aimon_prompt_text(x, want_system) AS (
        CASE WHEN x IS NOT NULL AND left(ltrim(x), 1) = '[' AND json_valid(x)
                  AND json_type(x) = 'ARRAY' AND json_type(x, '$[0]') = 'OBJECT'
             THEN aimon_messages_text(x::JSON, want_system)
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
    for sql in MACROS_SQL:
        con.execute(sql)
