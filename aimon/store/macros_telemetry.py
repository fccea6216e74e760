"""SQL macros of the tracing shapes (otel, openinference, langfuse): OTLP/JSON values,
span attributes and usage details. Installed with the others by
:func:`aimon.store.macros.install`.
"""

from __future__ import annotations

TELEMETRY_MACROS_SQL = [
    # An OTLP/JSON integer as text: a number, a decimal string (int64 in OTLP/JSON), a
    # protobufjs Long {low, high, unsigned} (low and high are signed 32-bit halves), or a
    # JS HrTime [seconds, nanoseconds] pair (read as nanoseconds).
    """
    CREATE OR REPLACE TEMP MACRO aimon_otel_int(x) AS (
        CASE json_type(x)
            WHEN 'OBJECT' THEN CAST(
                (TRY_CAST(json_extract_string(x, '$.high') AS HUGEINT)
                 + CASE WHEN lower(json_extract_string(x, '$.unsigned')) = 'true'
                             AND TRY_CAST(json_extract_string(x, '$.high') AS HUGEINT) < 0
                        THEN 4294967296 ELSE 0 END) * 4294967296
                + (TRY_CAST(json_extract_string(x, '$.low') AS HUGEINT) + 4294967296) % 4294967296 AS VARCHAR)
            WHEN 'ARRAY' THEN CAST(TRY_CAST(json_extract_string(x, '$[0]') AS HUGEINT) * 1000000000
                                   + TRY_CAST(json_extract_string(x, '$[1]') AS HUGEINT) AS VARCHAR)
            WHEN 'VARCHAR' THEN json_extract_string(x, '$')
            WHEN 'NULL' THEN NULL
            ELSE CAST(x AS VARCHAR)
        END
    )
    """,
    # A trace or span id as text: hex for a protobufjs Buffer {type: "Buffer", data: [bytes]}.
    """
    CREATE OR REPLACE TEMP MACRO aimon_otel_id(x) AS (
        CASE json_type(x)
            WHEN 'OBJECT' THEN coalesce(aimon_join_texts(list_transform(
                    CAST(json_extract_string(x, '$.data[*]') AS VARCHAR[]),
                    lambda id_b: lpad(lower(to_hex(TRY_CAST(id_b AS INTEGER))), 2, '0')), ''), CAST(x AS VARCHAR))
            WHEN 'VARCHAR' THEN json_extract_string(x, '$')
            WHEN 'NULL' THEN NULL
            ELSE CAST(x AS VARCHAR)
        END
    )
    """,
    # An OTLP AnyValue ({stringValue} | {intValue} | {doubleValue} | {boolValue} | {bytesValue}
    # | {arrayValue: {values}} | {kvlistValue: {values: [{key, value}]}}) as plain JSON.
    # Array and key-value items are unwrapped one level, without converting their ints.
    """
    CREATE OR REPLACE TEMP MACRO aimon_otlp_value(v) AS (
        CASE
            WHEN json_exists(v, '$.intValue') THEN CASE json_type(v, '$.intValue')
                WHEN 'OBJECT' THEN coalesce(TRY_CAST(aimon_otel_int(json_extract(v, '$.intValue')) AS JSON), json_extract(v, '$.intValue'))
                WHEN 'VARCHAR' THEN coalesce(TRY_CAST(CAST(TRY_CAST(json_extract_string(v, '$.intValue') AS HUGEINT) AS VARCHAR) AS JSON),
                                             json_extract(v, '$.intValue'))
                ELSE json_extract(v, '$.intValue') END
            WHEN json_exists(v, '$.arrayValue') THEN to_json(coalesce(CAST(json_extract(v, '$.arrayValue.values[*].*') AS JSON[]), []::JSON[]))
            WHEN json_exists(v, '$.kvlistValue') THEN CAST('{' || coalesce(list_aggr(list_transform(
                    coalesce(CAST(json_extract(v, '$.kvlistValue.values[*]') AS JSON[]), []::JSON[]),
                    lambda av_kv: CAST(to_json(coalesce(json_extract_string(av_kv, '$.key'), '')) AS VARCHAR) || ':'
                                  || coalesce(CAST(json_extract(av_kv, '$.value.*')[1] AS VARCHAR), 'null')),
                    'string_agg', ','), '') || '}' AS JSON)
            ELSE coalesce(json_extract(v, '$.*')[1], v)
        END
    )
    """,
    # OTLP attributes [{key, value: AnyValue}] as one JSON object {key: value}; an object
    # (attributes already flat) is returned as it is.
    """
    CREATE OR REPLACE TEMP MACRO aimon_otlp_attrs(a) AS (
        CASE json_type(a)
            -- list_aggr, not array_to_string: DuckDB evaluates array_to_string's list
            -- twice (see aimon_join_texts), and a span's attributes hold its messages.
            -- Each attribute's key and value in one parse of it (at_f): the value is named
            -- eight times in aimon_otlp_value, and a message's text may be in it.
            WHEN 'ARRAY' THEN CAST('{' || coalesce(list_aggr(list_transform(
                    coalesce(CAST(json_extract(CAST(a AS JSON), '$[*]') AS JSON[]), []::JSON[]),
                    lambda at_kv: list_transform([json_extract(at_kv, ['$.key', '$.value'])], lambda at_f:
                        CAST(to_json(coalesce(json_extract_string(at_f[1], '$'), '')) AS VARCHAR) || ':'
                        || coalesce(CAST(aimon_otlp_value(at_f[2]) AS VARCHAR), 'null'))[1]),
                    'string_agg', ','), '') || '}' AS JSON)
            ELSE a
        END
    )
    """,
    # An OTLP resource or scope with its attributes as one object.
    """
    CREATE OR REPLACE TEMP MACRO aimon_otlp_holder(h) AS (
        CASE WHEN json_type(h, '$.attributes') = 'ARRAY'
             THEN json_merge_patch(h, json_object('attributes', aimon_otlp_attrs(json_extract(h, '$.attributes'))))
             ELSE h END
    )
    """,
    # One OTLP span and the resource and scope that hold it (``rp``, ``sc``) as a flat
    # span record: attributes (its own, its events', its resource's and scope's) as
    # objects, ids as hex, 64-bit times as decimal text.
    """
    CREATE OR REPLACE TEMP MACRO aimon_otlp_span(sp, rp, sc) AS (
        -- The span's fields in one parse (os_f), not one parse of the whole span per field
        -- read: a JSON function keeps its parses until the chunk of records is done. The
        -- resource and scope are patched in once, converted: patching them in first and
        -- converting the result took a second parse of every span (270 MB a chunk).
        list_transform([json_extract(sp, ['$.traceId', '$.spanId', '$.parentSpanId', '$.startTimeUnixNano',
                                          '$.endTimeUnixNano', '$.attributes', '$.events', '$.resource',
                                          '$.scope'])],
            lambda os_f: json_merge_patch(sp, json_object(
                'traceId', aimon_otel_id(os_f[1]),
                'spanId', aimon_otel_id(os_f[2]),
                'parentSpanId', aimon_otel_id(os_f[3]),
                'startTimeUnixNano', aimon_otel_int(os_f[4]),
                'endTimeUnixNano', aimon_otel_int(os_f[5]),
                'attributes', aimon_otlp_attrs(os_f[6]),
                'events', CASE WHEN json_type(os_f[7]) = 'ARRAY' THEN to_json(list_transform(
                        coalesce(CAST(json_extract(os_f[7], '$[*]') AS JSON[]), []::JSON[]),
                        lambda sp_ev: list_transform([json_extract(sp_ev, ['$.timeUnixNano', '$.attributes'])],
                            lambda ev_f: json_merge_patch(sp_ev, json_object(
                                'timeUnixNano', aimon_otel_int(ev_f[1]),
                                'attributes', aimon_otlp_attrs(ev_f[2]))))[1]))
                    ELSE os_f[7] END,
                -- A span's own "resource" or "scope" (not OTLP fields) is kept under
                -- its holder's, as a patch of the holder would keep it.
                'resource', aimon_otlp_holder(CASE WHEN os_f[8] IS NULL THEN rp ELSE json_merge_patch(os_f[8], rp) END),
                'scope', aimon_otlp_holder(CASE WHEN os_f[9] IS NULL THEN sc ELSE json_merge_patch(os_f[9], sc) END))))[1]
    )
    """,
    # Every span of an OTLP/JSON document ({resourceSpans: [...]} or one bare ResourceSpans
    # {resource, scopeSpans}, as protobufjs decodes it), each with its resource and scope:
    # a list of {span, resource, scope}, which ``aimon_otlp_record`` turns into a flat
    # span record once each is a row of its own. The document is parsed once, into
    # DuckDB's own lists (json_transform): unpacked with a JSON function per level, every
    # level parsed the line again and kept that parse for the whole chunk of lines, and
    # 24 lines of 512 spans (38 MB) took 1.1 GB before a span was converted.
    """
    CREATE OR REPLACE TEMP MACRO aimon_otlp_spans(doc) AS (
        -- A resource's and a scope's patches are made once (ot_rp, ot_sc), not once per
        -- span they hold; and the per-span lambda names only the patches: a lambda copies
        -- every outer value it names for each item.
        list_transform([json_transform(doc, '{"resourceSpans": [{"resource": "JSON", "schemaUrl": "JSON",
                "scopeSpans": [{"scope": "JSON", "schemaUrl": "JSON", "spans": ["JSON"]}]}],
                "resource": "JSON", "schemaUrl": "JSON",
                "scopeSpans": [{"scope": "JSON", "schemaUrl": "JSON", "spans": ["JSON"]}]}')],
            lambda ot_t: flatten(list_transform(
                CASE WHEN ot_t.resourceSpans IS NOT NULL THEN ot_t.resourceSpans
                     WHEN ot_t.scopeSpans IS NOT NULL
                     THEN [{'resource': ot_t.resource, 'schemaUrl': ot_t.schemaUrl, 'scopeSpans': ot_t.scopeSpans}] END,
                lambda ot_rs: list_transform([CASE WHEN ot_rs.resource IS NOT NULL OR ot_rs.schemaUrl IS NOT NULL
                        THEN json_merge_patch(coalesce(ot_rs.resource, '{}'), json_object('schemaUrl', ot_rs.schemaUrl)) END],
                    lambda ot_rp: flatten(list_transform(coalesce(ot_rs.scopeSpans, []),
                        lambda ot_ss: list_transform([CASE WHEN ot_ss.scope IS NOT NULL OR ot_ss.schemaUrl IS NOT NULL
                                THEN json_merge_patch(coalesce(ot_ss.scope, '{}'), json_object('schemaUrl', ot_ss.schemaUrl)) END],
                            lambda ot_sc: list_transform(coalesce(ot_ss.spans, []),
                                lambda ot_sp: {'span': ot_sp, 'resource': ot_rp, 'scope': ot_sc}))[1])))[1])))[1]
    )
    """,
    # One item of ``aimon_otlp_spans`` as a flat span record; a span that is not an object
    # becomes one holding its resource and scope, as patching them into it made it.
    """
    CREATE OR REPLACE TEMP MACRO aimon_otlp_record(x) AS (
        aimon_otlp_span(CASE WHEN left(x.span, 1) = '{' THEN x.span ELSE '{}' END, x.resource, x.scope)
    )
    """,
    # A JSON value that may hold JSON as text (OTel attributes cannot nest, so message
    # lists travel as JSON strings): the parsed array or object, else the value itself.
    """
    -- Each value is bound once (list_transform over a one-element list): every JSON
    -- function call is its own parse, and its working memory is kept for the statement.
    CREATE OR REPLACE TEMP MACRO aimon_json_value(x) AS (
        list_transform([x], lambda jv_x: CASE WHEN json_type(jv_x) = 'VARCHAR' THEN
            list_transform([json_extract_string(jv_x, '$')], lambda jv_s: coalesce(
                CASE WHEN left(ltrim(jv_s), 1) IN ('[', '{') THEN TRY_CAST(jv_s AS JSON) END, jv_x))[1]
            ELSE jv_x END)[1]
    )
    """,
    # ``extra`` in one canonical form whatever the reader: keys sorted, top-level nulls
    # dropped (a key logged as null carries nothing), NULL when nothing is left. Records
    # read as JSON text and as typed columns (aimon.store.mapping) then store the same
    # text, so the same record is a duplicate, never a conflict, whichever way it came.
    # One parse of the record into its top-level entries (a MAP cast), not one per key;
    # and ``x`` is bound once (a macro inlines its argument at every use, and the
    # argument is the whole expression that cut ``extra`` out of the record: used inside
    # the per-key lambda, it was evaluated once per key).
    """
    CREATE OR REPLACE TEMP MACRO aimon_canonical_extra(x) AS (
        list_transform([x], lambda ce_x: CASE WHEN ce_x IS NULL OR ce_x = '{}' THEN NULL
            ELSE nullif(CAST(to_json(map_from_entries(list_sort(list_filter(
                map_entries(TRY_CAST(CAST(ce_x AS JSON) AS MAP(VARCHAR, JSON))),
                lambda ce_e: ce_e.value IS NOT NULL)))) AS VARCHAR), '{}') END)[1]
    )
    """,
    # The text of a value that is a JSON list of chat messages held as text, else NULL.
    # (TRY_CAST: DuckDB may evaluate a CASE branch's cast before its json_valid guard.)
    """
    CREATE OR REPLACE TEMP MACRO aimon_text_messages(x, want_system) AS (
        CASE WHEN json_type(TRY_CAST(x AS JSON)) = 'ARRAY' AND json_type(TRY_CAST(x AS JSON), '$[0]') = 'OBJECT'
             THEN aimon_messages_text(TRY_CAST(x AS JSON), want_system) END
    )
    """,
    # Text of indexed message attributes (gen_ai.prompt.N.role/.content,
    # llm.input_messages.N.message.role/.content): two parallel lists of text.
    """
    CREATE OR REPLACE TEMP MACRO aimon_indexed_text(roles, contents, want_system) AS (
        aimon_join_texts(list_transform(range(1, len(contents) + 1),
                lambda ix_i: CASE WHEN (coalesce(lower(roles[ix_i]), '') IN ('system', 'developer')) = want_system
                               THEN contents[ix_i] END),
            chr(10) || chr(10))
    )
    """,
    # Text of OpenInference messages in the nested ("logical JSON") form:
    # [{"message.role", "message.content" | "message.contents": [{"message_content.text"}]}].
    """
    CREATE OR REPLACE TEMP MACRO aimon_oi_messages_text(msgs, want_system) AS (
        CASE json_type(msgs) WHEN 'ARRAY' THEN aimon_join_texts(list_transform(
                list_filter(coalesce(CAST(json_extract(msgs, '$[*]') AS JSON[]), []::JSON[]),
                    lambda oi_m: (coalesce(lower(json_extract_string(oi_m, '$."message.role"')), '')
                               IN ('system', 'developer')) = want_system),
                lambda oi_m2: coalesce(json_extract_string(oi_m2, '$."message.content"'),
                                   aimon_join_texts(list_transform(
                                       coalesce(CAST(json_extract(oi_m2, '$."message.contents"[*]') AS JSON[]), []::JSON[]),
                                       lambda oi_p: json_extract_string(oi_p, '$."message_content.text"')), chr(10)))),
            chr(10) || chr(10))
        END
    )
    """,
    # Langfuse usage_details: usage types are disjoint and Langfuse counts every type whose
    # name holds 'input' as input and every one holding 'output' as output (cached reads
    # and writes are separate 'input_*' types, not part of 'input'). The older
    # OpenInference-derived 'prompt_details.*' / 'completion_details.*' types are subsets
    # of input/output and are not added. kind: input, output, cache_read, cache_write,
    # reasoning. Text, NULL when no type of that kind is logged.
    """
    CREATE OR REPLACE TEMP MACRO aimon_langfuse_usage(u, kind) AS (
        CASE WHEN json_type(u) = 'OBJECT' THEN CAST(CAST(list_sum(list_transform(list_filter(json_keys(u),
            lambda lf_k: CASE kind
                WHEN 'input' THEN contains(lower(lf_k), 'input')
                WHEN 'output' THEN contains(lower(lf_k), 'output')
                WHEN 'cache_read' THEN (contains(lower(lf_k), 'input') AND (contains(lower(lf_k), 'cache_read')
                                        OR contains(lower(lf_k), 'cached')))
                                       OR lower(lf_k) IN ('prompt_details.cache_read', 'prompt_details.cached_tokens')
                WHEN 'cache_write' THEN (contains(lower(lf_k), 'input') AND (contains(lower(lf_k), 'cache_creation')
                                         OR contains(lower(lf_k), 'cache_write')))
                                        OR lower(lf_k) IN ('prompt_details.cache_write', 'prompt_details.cache_creation')
                WHEN 'reasoning' THEN (contains(lower(lf_k), 'output') AND contains(lower(lf_k), 'reasoning'))
                                      OR lower(lf_k) = 'completion_details.reasoning'
            END),
            lambda lf_k2: TRY_CAST(json_extract_string(u, '$."' || replace(lf_k2, '"', '\\"') || '"') AS DOUBLE))) AS BIGINT) AS VARCHAR)
        END
    )
    """,
]
