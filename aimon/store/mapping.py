"""The SQL that maps one file's records onto a canonical table.

:func:`parsed_sql` builds one SELECT per file that yields, for every record, the
canonical columns converted to their types, ``extra`` (what no column consumed) and
``reason`` (why the record cannot load, or NULL). Nothing here runs a query.

Two kinds of source feed it:

- JSON: one JSON text per record (``doc``); every path a shape reads is extracted with
  one parse per record (``json_extract_string(doc, [paths])``).
- Parquet: typed columns; paths become column references, and ``extra`` is the JSON of
  the columns no shape path consumed.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from aimon.store.mapping_extra import ROOMY, extra_sql
from aimon.store.shapes import TABLE_COLUMNS, CompiledShape, Shape, compile_shape, sql_str

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
                 "reasoning_tokens")
ID_COLUMN = {"requests": "request_id", "feedback": "feedback_id"}
# What a request's price is looked up by: read in the first pass over a file, so that the
# price snapshot covers its models before the load writes each request's cost.
PRICED_BY = ("provider", "model", "model_version")
_KIND_WORD = {"BIGINT": "a whole number", "DOUBLE": "a number", "BOOLEAN": "true or false"}
_NESTED_TYPE = re.compile(r"^(STRUCT|MAP|UNION)\(|\[\d*\]$")


@dataclass(frozen=True)
class Source:
    """Where one file's records come from, as SQL.

    ``sql`` yields ``doc`` (JSON text, NULL for a broken record) for JSON sources, or
    the file's own columns for Parquet; plus ``rec_no`` when ``numbered``.
    """

    sql: str
    numbered: bool
    # Parquet: column name -> DuckDB type. None for JSON.
    columns: Mapping[str, str] | None = None
    # Top-level keys seen in the sampled records (all columns for Parquet).
    seen_keys: frozenset[str] | None = None
    # Typed columns: whether ``doc`` must hold the record (for generated ids and rejects'
    # text); a reader whose records all carry ids and whose rejects come from the file
    # does without.
    record_text: bool = True
    # JSON text: whether a pass of its own has found records that give a key twice
    # (:func:`aimon.store.ingest_rows.verdict_lines`), so that this mapping parses each
    # record once, for its paths, instead of twice.
    keys_checked: bool = False


def typed(kind: str, raw: str) -> str:
    """Convert a mapped text value to a canonical column type (NULL when it does not fit)."""
    if kind == "BIGINT":
        # Read as an integer where the text is one, so that counts above 2^53 stay exact;
        # through DOUBLE otherwise ("12.0", "1e3"). A value no BIGINT holds is NULL here
        # and a reject with its reason (reason_sql), never a conversion error.
        return (f"coalesce(CASE WHEN TRY_CAST({raw} AS DOUBLE) IS NOT NULL THEN TRY_CAST({raw} AS BIGINT) END, "
                f"TRY_CAST(TRY_CAST({raw} AS DOUBLE) AS BIGINT))")
    if kind == "DOUBLE":
        return f"TRY_CAST({raw} AS DOUBLE)"
    if kind == "BOOLEAN":
        return f"aimon_bool({raw})"
    if kind == "TIMESTAMPTZ":
        return f"aimon_ts({raw})"
    return f"CAST({raw} AS VARCHAR)"


def raw(col: str) -> str:
    """The mapped, not yet converted value of a column: text as the source gave it."""
    return f'"r:{col}"'


FEEDBACK_TYPES = ("thumbs_up", "thumbs_down", "report", "copied_response", "regenerated", "edited_output")


def reason_sql(table: str, skip: str | None, known_feedback_types: bool = False) -> str:
    """First problem that stops a mapped record from loading, or NULL.

    Reasons read 'kind: detail' so that summaries can group them by kind.
    """
    columns = TABLE_COLUMNS[table]
    checks = ["WHEN pre_reason IS NOT NULL THEN pre_reason"]
    if skip:
        checks.append(f"WHEN ({skip}) IS NOT NULL THEN 'not a model call: ' || ({skip})")
    checks += [
        f"WHEN {raw('ts')} IS NULL THEN 'missing timestamp'",
        f"WHEN ts IS NULL THEN 'unparseable timestamp: ' || left({raw('ts')}, 60) "
        f"|| coalesce(' (' || aimon_ts_problem({raw('ts')}) || ')', '')",
        "WHEN ts < TIMESTAMPTZ '2000-01-01 00:00:00+00' OR ts >= TIMESTAMPTZ '2100-01-01 00:00:00+00' "
        f"THEN 'implausible timestamp: ' || left({raw('ts')}, 60) || ' (an epoch in the wrong unit?)'",
    ]
    for col, kind in columns.items():
        if kind not in _KIND_WORD:
            continue
        r = raw(col)
        if kind in ("BIGINT", "DOUBLE"):
            # "NaN", "Infinity", 1e309: DuckDB reads them as doubles, and no analysis can
            # use them (a sum or a regression becomes NaN or raises).
            checks.append(f"WHEN {r} IS NOT NULL AND NOT isfinite(TRY_CAST({r} AS DOUBLE)) "
                          f"THEN '{col} is not a finite number: ' || left({r}, 40)")
        if kind == "BIGINT":
            # A number, but none a BIGINT holds (1e30, 9999999999999999999).
            checks.append(f"WHEN {r} IS NOT NULL AND {col} IS NULL AND TRY_CAST({r} AS DOUBLE) IS NOT NULL "
                          f"THEN '{col} is out of range: ' || left({r}, 40) || ' (about ' "
                          f"|| replace(printf('%.4g', TRY_CAST({r} AS DOUBLE)), 'e+', 'e') "
                          "|| '; the largest whole number stored is 9223372036854775807)'")
        checks.append(f"WHEN {r} IS NOT NULL AND {col} IS NULL "
                      f"THEN '{col} is not {_KIND_WORD[kind]}: ' || left({r}, 40)")
        if kind == "BIGINT":
            checks.append(f"WHEN {r} IS NOT NULL AND TRY_CAST({r} AS DOUBLE) <> floor(TRY_CAST({r} AS DOUBLE)) "
                          f"THEN '{col} is not a whole number: ' || left({r}, 40)")
    if table == "requests":
        for col in (*TOKEN_COLUMNS, "latency_ms", "ttft_ms", "cost_usd"):
            checks.append(f"WHEN {col} < 0 THEN 'negative {col}: ' || {col}")
        for small, big in (("cached_input_tokens", "input_tokens"),
                           ("cache_write_tokens", "input_tokens"),
                           ("reasoning_tokens", "output_tokens")):
            checks.append(f"WHEN {small} > {big} THEN 'impossible token counts: {small} ' || {small} "
                          f"|| ' > {big} ' || {big}")
        both = "coalesce(cached_input_tokens, 0) + coalesce(cache_write_tokens, 0)"
        checks.append(f"WHEN {both} > input_tokens THEN 'impossible token counts: cached_input_tokens "
                      f"+ cache_write_tokens ' || ({both}) || ' > input_tokens ' || input_tokens")
    else:
        checks.append("WHEN feedback_type IS NULL OR feedback_type = '' THEN 'missing feedback_type'")
        if known_feedback_types:
            names = ", ".join(FEEDBACK_TYPES)
            checks.append(f"WHEN feedback_type NOT IN ({', '.join(sql_str(t) for t in FEEDBACK_TYPES)}) "
                          f"THEN 'unknown feedback_type: ' || left(feedback_type, 40) || ' (aimon''s types: {names})'")
    return "CASE " + "\n    ".join(checks) + " END"


def _split_path(path: str) -> tuple[str, str] | None:
    """'$.a.b' -> ('a', '$.b'); '$."x.y"' -> ('x.y', '$'). None for '$' or '$[0]'."""
    m = re.match(r'\$\.(?:"((?:[^"\\]|\\.)*)"|([^.\[]+))(.*)$', path)
    if not m:
        return None
    key = m.group(1) if m.group(1) is not None else m.group(2)
    return key, "$" + m.group(3)


def _column_value(path: str, columns: Mapping[str, str], as_json: bool) -> str:
    """A Parquet column (or a path inside one) standing in for a JSON path."""
    split = _split_path(path)
    if split is None or split[0] not in columns:
        return "NULL"
    key, rest = split
    ref = f"p.{_quote_ident(key)}"
    kind = columns[key]
    nested = bool(_NESTED_TYPE.search(kind)) or kind == "JSON"
    if rest == "$":
        if as_json:
            return f"CAST(to_json({ref}) AS VARCHAR)"
        if kind == "JSON":  # a JSON string value is its text, unquoted
            return f"json_extract_string({ref}, '$')"
        return f"CAST(to_json({ref}) AS VARCHAR)" if nested else f"CAST({ref} AS VARCHAR)"
    if not nested:
        return "NULL"
    fn = "json_extract" if as_json else "json_extract_string"
    return f"CAST({fn}(to_json({ref}), {sql_str(rest)}) AS VARCHAR)"


def _consumed(c: CompiledShape, cols: Mapping[str, str] | frozenset[str]
              ) -> tuple[list[str], list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """Top-level keys the columns consume outright when the file's keys are known, and the
    alias groups with several aliases present (only those need a per-row patch)."""
    consumed = list(c.static_keys)
    several = []
    for keys, refs in c.alias_groups:
        present = [(k, r) for k, r in zip(keys, refs, strict=True) if k in cols]
        if len(present) <= 1:
            consumed += [k for k, _ in present]
        else:
            several.append((tuple(k for k, _ in present), tuple(r for _, r in present)))
    return consumed, several


def json_column_types(c: CompiledShape, keys: list[str]) -> dict[str, str] | None:
    """For reading JSON lines as typed columns (``read_json(columns=...)``): VARCHAR for a
    key the shape only reads as text and consumes (DuckDB then gives exactly what
    ``json_extract_string`` gives), JSON for every other key, so that nested paths and
    ``extra`` keep their JSON values. None when the shape reads something other than
    top-level keys and paths below them."""
    consumed, _ = _consumed(c, frozenset(keys))
    as_text: set[str] = set()
    as_json: set[str] = set()
    for path in c.text_paths:
        split = _split_path(path)
        if split is None:
            return None
        (as_text if split[1] == "$" else as_json).add(split[0])
    for path in c.json_paths:
        split = _split_path(path)
        if split is None:
            return None
        as_json.add(split[0])
    return {k: "VARCHAR" if k in as_text and k not in as_json and k in consumed else "JSON" for k in keys}


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def verdict_shape(shape: Shape) -> Shape:
    """The shape reduced to what deciding whether a record loads needs: its id, time and
    every column that is validated (numbers, booleans), so the verdict pass reads fewer
    paths."""
    needed = {col for col, kind in TABLE_COLUMNS[shape.table].items() if kind != "VARCHAR"}
    needed |= {ID_COLUMN[shape.table], "feedback_type", *PRICED_BY}
    return replace(shape, columns={k: v for k, v in shape.columns.items() if k in needed},
                   consume_if={}, drop=())


def id_shape(shape: Shape) -> Shape:
    """The shape reduced to the record's id (and model, to take its prices before the
    load): enough to number records and find duplicates. Whether the record is valid is
    learnt later, in the pass that loads it."""
    keep = {ID_COLUMN[shape.table], *PRICED_BY}
    return replace(shape, columns={k: v for k, v in shape.columns.items() if k in keep},
                   consume_if={}, drop=(), skip=None)


def raw_text(source: Source, doc: str) -> str:
    """A record as JSON text (for generated ids and rejects), from the view's doc column."""
    return f"CAST(to_json({doc}) AS VARCHAR)" if source.columns is not None else f"CAST({doc} AS VARCHAR)"


@dataclass(frozen=True)
class _Base:
    """The first CTEs of a mapping (through ``e``: one row per record, its path values
    as slots) and how the later steps read them."""

    sql: str
    slot_cols: str  # the slot columns carried from e into m
    extra_doc: str  # what extra is cut from
    canonical: str  # wraps extra into aimon_canonical_extra's form where it is not already
    shape: CompiledShape  # the compiled shape, its top-level key removals narrowed to the source


def parsed_sql(c: CompiledShape, source: Source, table: str, default_time: datetime | None,
               with_extra: bool = True, ids_only: bool = False, id_fallback: bool = True) -> str:
    """SELECT [rec_no, sub_no,] doc, <canonical columns>, extra, reason FROM the source.

    ``ids_only`` (with a shape from :func:`id_shape`): the reason covers only what the
    reader sees (broken JSON, not an object); the mapping's checks are left to the
    passes that map the whole record. ``id_fallback=False`` leaves a record without an
    id NULL rather than hashing the record, so that a reader of typed columns reads only
    the id's.
    """
    shape = c.shape
    columns = TABLE_COLUMNS[table]
    number = "rec_no, sub_no, " if source.numbered else ""
    base = _typed_base(c, source) if source.columns is not None else _text_base(c, source, number)
    c, canonical = base.shape, base.canonical
    imputing = [col for col in shape.impute if col in c.columns and (col != "ts" or default_time is None)]
    with_gaps = base.sql
    if imputing:
        if not source.numbered:
            raise ValueError(f"shape {shape.name} imputes values from its neighbours: read it numbered")
        with_gaps += f", gaps AS ({_neighbour_values(shape, imputing, source, table)})"
    raw_cols, imputed_flags, id_generated = _raw_columns(c, source, table, default_time, imputing,
                                                         ids_only, id_fallback)
    typed_cols = [f"{typed(kind, raw(col))} AS {col}" for col, kind in columns.items() if col != "status"]
    if table == "requests":
        typed_cols.append(f"CASE WHEN lower({raw('status')}) IN ('error', 'failed', 'failure', 'fail') "
                          f"OR {raw('error_type')} IS NOT NULL THEN 'error' ELSE 'ok' END AS status")
    top, finish = (extra_sql(c, base.extra_doc, source.seen_keys, resorted=source.columns is None) if with_extra
                   else ("NULL", "NULL"))
    unmarked = ""
    if with_extra and (shape.marks or imputing):
        # _marked repeats what it marks once per imputed column and branch, so it marks a
        # column, not the expression: a batch line's 15 KB of it eight times over took
        # DuckDB 5 s to plan (common subexpressions) for every batch file.
        unmarked = f", x AS (SELECT *, {finish} AS extra1 FROM m)"
        finish, canonical = _marked(shape, "extra1", imputing), "aimon_canonical_extra({})"
    parsed = "e"
    if c.messages:
        # Message lists parsed in a step of their own: every column that reads one (the
        # prompt, the system prompt) reads its parse, not a parse of its own.
        parsed = "l"
        with_gaps += (", l AS (SELECT *, " + ", ".join(f'{expr} AS "msgs#{i}"' for i, expr in enumerate(c.messages, 1))
                      + " FROM e)")
    sql = f"""{with_gaps},
m AS (SELECT {number}doc, pre_reason{base.slot_cols},
    {', '.join(raw_cols)},
    CASE WHEN pre_reason IS NULL THEN {top} END AS extra0{''.join(', ' + f for f in imputed_flags)}
  FROM {parsed}{' LEFT JOIN gaps USING (rec_no, sub_no)' if imputing else ''}){unmarked},
t AS (SELECT *, {canonical.format(finish) if with_extra else finish} AS extra, {', '.join(typed_cols)},
       {id_generated} AS id_generated FROM {'x' if unmarked else 'm'})
SELECT {number}doc, {', '.join(columns)}, extra,
  {"pre_reason" if ids_only else reason_sql(table, c.skip, shape.name == "flat_feedback")} AS reason, id_generated
FROM t"""
    if source.columns is not None:
        sql = re.sub(r"\bvj\[(\d+)\]", r'"vj#\1"', sql)
        sql = re.sub(r"\bv\[(\d+)\]", r'"v#\1"', sql)
    return sql


def _typed_base(c: CompiledShape, source: Source) -> _Base:
    """Typed columns (Parquet, or JSON lines read one column per top-level key)."""
    cols = source.columns
    # Each path's value is its own column ("v#1"), not an element of a list: building
    # a list of every alias path for every row cost more than reading the columns.
    slots = ([f'{_column_value(p, cols, False)} AS "v#{i}"' for i, p in enumerate(c.text_paths, 1)]
             + [f'CAST({_column_value(p, cols, True)} AS JSON) AS "vj#{i}"'
                for i, p in enumerate(c.json_paths, 1)])
    consumed, several = _consumed(c, cols)
    # What no column consumed, in aimon_canonical_extra's form (sorted keys, no
    # top-level nulls) by construction: the merge patches and removals below keep it.
    rest = sorted(k for k in cols if k not in consumed)
    # Joined as text, not built as a MAP for to_json to write: that cost 0.4-0.5 s more a
    # million rows (a list, a lambda and a map for every row). The merge below rewrites
    # the text, and what is stored is the same (tests/test_ingest_typed.py).
    doc_for_extra = ("'{' || concat_ws(',', "
                     + ", ".join(f"CASE WHEN p.{_quote_ident(k)} IS NOT NULL THEN CAST(to_json({sql_str(k)}) AS VARCHAR)"
                                 f" || ':' || CAST(to_json(p.{_quote_ident(k)}) AS VARCHAR) END" for k in rest)
                     + ") || '}'") if rest else "'{}'"
    # The row itself stays a struct (no copy); it becomes JSON text only where a
    # record needs it: a generated id or a reject's raw text.
    whole = ("struct_pack(" + ", ".join(f"{_quote_ident(k)} := p.{_quote_ident(k)}" for k in cols) + ")"
             if source.record_text else "NULL::VARCHAR")
    sql = (f"WITH e AS (SELECT {'rec_no, 1 AS sub_no, ' if source.numbered else ''}{whole} AS doc, "
           f"{doc_for_extra} AS extra_doc, NULL::VARCHAR AS pre_reason"
           f"{''.join(', ' + x for x in slots)} FROM ({source.sql}) p)")
    slot_cols = "".join(f', "v#{i}"' for i in range(1, len(c.text_paths) + 1)) + "".join(
        f', "vj#{i}"' for i in range(1, len(c.json_paths) + 1))
    narrowed = copy.copy(c)
    narrowed.static_keys, narrowed.alias_groups = [], several
    return _Base(sql, slot_cols, "extra_doc", "{}", narrowed)


def _text_base(c: CompiledShape, source: Source, number: str) -> _Base:
    """JSON text (``doc``): every path read with one parse per record; a shape whose
    records sit in a list of the line (``records``) gets one row per list item."""
    shape = c.shape
    # The reader trims values, so an object starts with '{'; only other values pay for
    # json_type.
    # A key given twice would keep one value and drop the other without a trace (and
    # breaks DuckDB's maps): such a record is a reject naming the key.
    dup_key = "NULL" if source.keys_checked else f"aimon_dup_key(json_keys({ROOMY.format(doc='doc')}))"
    not_object = (f"CASE WHEN doc IS NULL THEN 'broken JSON' WHEN left(doc, 1) = '{{' THEN {dup_key} "
                  "WHEN json_type(doc) <> 'OBJECT' THEN 'not a JSON object: ' || lower(json_type(doc)) END")
    text_list = "[" + ", ".join(sql_str(p) for p in c.text_paths) + "]" if c.text_paths else None
    json_list = "[" + ", ".join(sql_str(p) for p in c.json_paths) + "]" if c.json_paths else None
    if shape.records:
        # The broken lines are left out by a CASE, not a WHERE: with a filter below the
        # unnest, 118 OTLP lines of 512 spans took 1.9 GB to unpack on one thread, 0.6
        # GB without.
        items = (f"SELECT rec_no, unnest(r) AS doc, generate_subscripts(r, 1) AS sub_no "
                 f"FROM (SELECT rec_no, CASE WHEN pre_reason IS NULL THEN {shape.records} END AS r FROM lines)")
        if shape.record_each:
            items = f"SELECT rec_no, {shape.record_each}(doc) AS doc, sub_no FROM ({items})"
        s = (f"WITH lines AS (SELECT rec_no, doc, {not_object} AS pre_reason FROM ({source.sql})), "
             f"s AS (SELECT rec_no, 1 AS sub_no, doc, pre_reason FROM lines "
             f"WHERE pre_reason IS NOT NULL OR coalesce(len({shape.records}), 0) = 0 "
             f"UNION ALL SELECT rec_no, sub_no, CAST(doc AS VARCHAR), NULL FROM ({items}))")
    else:
        sub = ", 1 AS sub_no" if source.numbered else ""
        rec = "rec_no, " if source.numbered else ""
        s = f"WITH s AS (SELECT {rec}doc{sub}, {not_object} AS pre_reason FROM ({source.sql}))"
    parsed = ROOMY.format(doc="CAST(doc AS VARCHAR)")
    v = (f"CASE WHEN pre_reason IS NULL THEN json_extract_string({parsed}, {text_list}) END AS v"
         if text_list else "NULL::VARCHAR[] AS v")
    vj = (f"CASE WHEN pre_reason IS NULL THEN json_extract({parsed}, {json_list}) END AS vj"
          if json_list else "NULL::JSON[] AS vj")
    sql = f"{s}, e AS (SELECT {number}CAST(doc AS VARCHAR) AS doc, pre_reason, {v}, {vj} FROM s)"
    return _Base(sql, ", v, vj", "doc", "aimon_canonical_extra({})", c)


def _raw_columns(c: CompiledShape, source: Source, table: str, default_time: datetime | None,
                 imputing: list[str], ids_only: bool, id_fallback: bool) -> tuple[list[str], list[str], str]:
    """Each canonical column as text (``"r:<column>"``), the flags of the columns a row
    took from a neighbour (``"i:<column>"``), and whether the id was generated."""
    id_col = ID_COLUMN[table]
    raw_cols, imputed_flags = [], []
    id_generated = "NULL::BOOLEAN"
    for col in TABLE_COLUMNS[table]:
        expr = c.columns.get(col, "NULL")
        if col == "ts" and default_time is not None:
            expr = f"coalesce({expr}, {sql_str(default_time.isoformat())})"
        if col in imputing:
            imputed_flags.append(f'({expr}) IS NULL AND "g:{col}" IS NOT NULL AS "i:{col}"')
            expr = f'coalesce({expr}, "g:{col}")'
        if col == id_col:
            # The source's id, or a hash of the record itself: the same record always
            # gets the same id, so loading it twice is caught as a duplicate.
            fallback = f"md5({raw_text(source, 'doc')})" if id_fallback else "NULL"
            if ids_only:  # only the first pass asks whether a record brought its own id
                id_generated = f"nullif(trim(CAST({expr} AS VARCHAR)), '') IS NULL"
            expr = f"coalesce(nullif(trim(CAST({expr} AS VARCHAR)), ''), {fallback})"
        raw_cols.append(f"CAST({expr} AS VARCHAR) AS {raw(col)}")
    return raw_cols, imputed_flags, id_generated


def _neighbour_values(shape: Shape, imputing: list[str], source: Source, table: str) -> str:
    """rec_no, sub_no and "g:<column>" (text) for each record lacking an imputed column:
    the value of the nearest earlier record that has one, else of the nearest later one.
    Only those columns' paths are read, and only the records lacking a value are kept,
    so the join that brings the values to the records stays small."""
    few = replace(shape, columns={col: shape.columns[col] for col in imputing}, consume_if={}, drop=(),
                  skip=None, marks={}, impute={})
    values = parsed_sql(compile_shape(few), source, table, None, with_extra=False, ids_only=True,
                        id_fallback=False)
    order = "ORDER BY rec_no, sub_no ROWS BETWEEN"
    known, near, lacking = [], [], []
    for col in imputing:
        if col == "ts":
            ok = ("CASE WHEN ts >= TIMESTAMPTZ '2000-01-01 00:00:00+00' AND ts < TIMESTAMPTZ '2100-01-01 00:00:00+00' "
                  "THEN strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%f') || '+00:00' END")
        else:
            ok = f"nullif(trim(CAST({col} AS VARCHAR)), '')"
        known.append(f'{ok} AS "k:{col}"')
        near.append(f'coalesce(last_value("k:{col}" IGNORE NULLS) OVER ({order} UNBOUNDED PRECEDING AND 1 PRECEDING), '
                    f'first_value("k:{col}" IGNORE NULLS) OVER ({order} 1 FOLLOWING AND UNBOUNDED FOLLOWING)) '
                    f'AS "g:{col}"')
        lacking.append(f'"k:{col}" IS NULL')
    return (f"SELECT rec_no, sub_no, {', '.join(f'{chr(34)}g:{col}{chr(34)}' for col in imputing)} FROM ("
            f"SELECT rec_no, sub_no, ({' OR '.join(lacking)}) AS lacking, {', '.join(near)} "
            f"FROM (SELECT rec_no, sub_no, {', '.join(known)} FROM ({values}))) WHERE lacking")


def _marked(shape: Shape, finish: str, imputing: list[str]) -> str:
    """``extra`` with the shape's marks (the record's own keys win) and, for each column
    whose value a row took from a neighbour, ``<column>_imputed``."""
    out = f"coalesce({finish}, '{{}}')"
    if shape.marks:
        out = f"json_merge_patch({sql_str(json.dumps(dict(shape.marks)))}, {out})"
    for col in imputing:
        note = sql_str(json.dumps({f"{col}_imputed": shape.impute[col]}))
        out = f'CASE WHEN "i:{col}" THEN json_merge_patch({out}, {note}) ELSE {out} END'
    return f"CAST({out} AS VARCHAR)"
