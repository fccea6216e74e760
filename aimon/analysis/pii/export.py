"""A redacted Parquet copy of requests and feedback, for sharing with analytics.

Every validated PII or secret found by :mod:`aimon.analysis.pii` in a text column
(prompt, response, system_prompt, error_message, the inline feedback, the ``extra``
JSON of requests; feedback_text and extra of feedback) is replaced by a marker:

- by default ``[REDACTED_EMAIL]``, ``[REDACTED_CREDIT_CARD]``, ... (the type only);
- with a key (``--pseudonymize-key-file``), ``[EMAIL_3f9a2c1b7d4e8a10]``: the first 16
  hex digits of HMAC-SHA256(key, "<entity_type>:<normalised value>"). The same value
  gets the same token in every row and both tables, so analysts can still count and
  join on a person without seeing who it is; without the key the token cannot be
  reversed or recomputed. Values are normalised first (e-mail lower-cased, card and
  SSN digits only, IBAN without spaces, phone in E.164 (a national number placed by
  the request's jurisdiction and ``[pii] phone_regions``, as the detector placed it),
  IP in canonical form).
  ``user_id`` and ``session_id`` are replaced by ``u_<16 hex>`` / ``s_<16 hex>`` tokens
  of the same HMAC ("user_id:<id>", "session_id:<id>").

With markers, ids are kept, except that an id which is itself an e-mail address or a
phone number is masked like text. Every other id and name (request and feedback ids,
endpoint, model, error type, experiment, variant, ...) is scanned in both modes and
masked like text.

The window's requests are scanned first (findings cached in ``pii_findings``); the
other columns are scanned on the fly. Files are written beside their final name and
renamed when complete.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from aimon.analysis.pii.config import configured_regions, placing_regions
from aimon.analysis.pii.entities import DETECTOR_VERSION, Field
from aimon.analysis.pii.scan import scan
from aimon.analysis.pii.validators import normalise
from aimon.analysis.toolkit.window import Window
from aimon.errors import InputError, UsageError

MIN_KEY_BYTES = 16
TOKEN_HEX = 16

# Request columns covered by the cached findings, and the ones scanned on the fly.
CACHED_FIELDS = (Field.prompt, Field.response, Field.system_prompt, Field.error_message)
REQUEST_EXTRA_COLUMNS = {"feedback": "feedback", "extra": "extra::VARCHAR"}
FEEDBACK_COLUMNS = {"feedback_text": "feedback_text", "extra": "extra::VARCHAR"}
# Scanned too when ids are kept (marker mode): an id may itself be an e-mail address.
REQUEST_ID_COLUMNS = {"user_id": "user_id", "session_id": "session_id"}
FEEDBACK_ID_COLUMNS = {"user_id": "user_id"}
# Every other id and name, scanned in both modes and masked like text (a request id
# built from an e-mail address, a variant named after a person's phone): pseudonyms and
# markers are the same for the same value in both tables, so requests and feedback still
# join on request_id.
REQUEST_NAME_COLUMNS = {c: c for c in ("request_id", "endpoint", "provider", "model", "model_version",
                                       "prompt_version", "error_type", "experiment", "variant", "user_tier",
                                       "jurisdiction")}
FEEDBACK_NAME_COLUMNS = {c: c for c in ("feedback_id", "request_id", "feedback_category")}


def read_key(path: Path) -> bytes:
    """The pseudonymisation key: the file's bytes (a trailing newline is ignored)."""
    try:
        key = path.read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise InputError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"key file {path} holds {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes "
                         "(e.g. openssl rand -hex 32 > key)")
    return key


def key_id(key: bytes) -> str:
    """A fingerprint that tells which key made a copy, without revealing it."""
    return hashlib.sha256(b"aimon-key-id:" + key).hexdigest()[:12]


def token(key: bytes, namespace: str, value: str) -> str:
    return hmac.new(key, f"{namespace}:{value}".encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def pseudonym(key: bytes, entity_type: str, value: str, regions: tuple[str, ...] = ()) -> str:
    """The marker that replaces ``value`` in pseudonymised copies (``regions``: where a
    national phone number is placed)."""
    return f"[{entity_type.upper()}_{token(key, entity_type, normalise(entity_type, value, regions))}]"


@dataclass(frozen=True)
class ExportedFile:
    table: str
    path: str
    rows: int
    values_replaced: int


@dataclass(frozen=True)
class RedactResult:
    out_dir: str
    mode: str                  # "markers" or "pseudonyms"
    key_id: str | None
    window: Window
    files: tuple[ExportedFile, ...]
    by_entity: dict[str, int]
    scheme: str


SPANS_TABLE_SQL = """
CREATE OR REPLACE TEMP TABLE _aimon_spans (
    tbl VARCHAR, key VARCHAR, field VARCHAR, start INTEGER, "end" INTEGER, entity_type VARCHAR, marker VARCHAR
)
"""

CACHED_SPANS_SQL = """
INSERT INTO _aimon_spans
SELECT 'requests', request_id, field, start, "end", entity_type, NULL
FROM pii_findings
WHERE validated AND ts >= $start AND ts < $end AND list_contains($fields, field)
"""

REQUEST_COLUMN_SOURCE_SQL = """
SELECT request_id AS key, ts, '{name}' AS field, {expr} AS text, jurisdiction AS hint
FROM requests WHERE ts >= $start AND ts < $end AND {expr} IS NOT NULL
"""

# The window's feedback: given in it, or about one of its requests (feedback on the
# newest requests arrives after them, past the default window's end).
_FEEDBACK_IN_WINDOW = """({f}.ts >= $start AND {f}.ts < $end
    OR {f}.request_id IN (SELECT request_id FROM requests WHERE ts >= $start AND ts < $end))"""

FEEDBACK_COLUMN_SOURCE_SQL = """
SELECT feedback_id AS key, ts, '{name}' AS field, {expr} AS text,
       (SELECT any_value(r.jurisdiction) FROM requests r WHERE r.request_id = f.request_id) AS hint
FROM feedback f WHERE """ + _FEEDBACK_IN_WINDOW.format(f="f") + """ AND {expr} IS NOT NULL
"""

INSERT_SPANS_SQL = "INSERT INTO _aimon_spans SELECT tbl, key, field, start, \"end\", entity_type, NULL FROM _aimon_new_spans"

_REQUEST_TEXT = "CASE s.field " + " ".join(
    [f"WHEN '{f.value}' THEN r.{f.value}" for f in CACHED_FIELDS]
    + [f"WHEN '{name}' THEN r.{expr}" for name, expr in
       {**REQUEST_EXTRA_COLUMNS, **REQUEST_ID_COLUMNS, **REQUEST_NAME_COLUMNS}.items()]
) + " END"
_FEEDBACK_TEXT = "CASE s.field " + " ".join(
    f"WHEN '{name}' THEN b.{expr}" for name, expr in
    {**FEEDBACK_COLUMNS, **FEEDBACK_ID_COLUMNS, **FEEDBACK_NAME_COLUMNS}.items()) + " END"

# Each span's value, and the jurisdiction that places a national phone number in it
# (feedback: its request's), as the detector placed it.
SPAN_VALUES_SQL = f"""
SELECT s.tbl, s.key, s.field, s.start, s.entity_type,
       substring(CASE s.tbl WHEN 'requests' THEN {_REQUEST_TEXT} ELSE {_FEEDBACK_TEXT} END,
                 s.start + 1, s."end" - s.start) AS value,
       coalesce(r.jurisdiction, fr.jurisdiction) AS hint
FROM _aimon_spans s
LEFT JOIN requests r ON s.tbl = 'requests' AND r.request_id = s.key
LEFT JOIN feedback b ON s.tbl = 'feedback' AND b.feedback_id = s.key
LEFT JOIN (SELECT request_id, any_value(jurisdiction) AS jurisdiction FROM requests GROUP BY ALL) fr
  ON s.tbl = 'feedback' AND fr.request_id = b.request_id
"""

SET_MARKERS_SQL = """
UPDATE _aimon_spans s SET marker = m.marker
FROM _aimon_markers m
WHERE s.tbl = m.tbl AND s.key = m.key AND s.field = m.field AND s.start = m.start
"""

DEFAULT_MARKERS_SQL = "UPDATE _aimon_spans SET marker = '[REDACTED_' || upper(entity_type) || ']' WHERE marker IS NULL"

# Rebuild each text that has spans: gap before span 1, marker 1, gap, marker 2, ..., tail.
# A span that starts inside the previous one is dropped (it cannot happen for one scan).
REDACTED_TEXTS_SQL = """
CREATE OR REPLACE TEMP TABLE _aimon_redacted AS
WITH ordered AS (
    SELECT *, max("end") OVER (PARTITION BY tbl, key, field ORDER BY start, "end" DESC
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM _aimon_spans
), kept AS (
    SELECT *, coalesce(lag("end") OVER (PARTITION BY tbl, key, field ORDER BY start), 0) AS prev_end
    FROM ordered WHERE reach IS NULL OR start >= reach
), texts AS (
    SELECT k.*, CASE k.tbl WHEN 'requests' THEN {request_text} ELSE {feedback_text} END AS text
    FROM kept k
    LEFT JOIN requests r ON k.tbl = 'requests' AND r.request_id = k.key
    LEFT JOIN feedback b ON k.tbl = 'feedback' AND b.feedback_id = k.key
)
SELECT tbl, key, field,
       string_agg(substring(text, prev_end + 1, start - prev_end) || marker, '' ORDER BY start)
         || substring(any_value(text), max("end") + 1) AS text,
       count(*) AS replaced
FROM texts
GROUP BY tbl, key, field
""".format(request_text=_REQUEST_TEXT.replace("s.field", "k.field"),
           feedback_text=_FEEDBACK_TEXT.replace("s.field", "k.field"))


def _join_field(alias: str, tbl: str, key: str, field: str) -> str:
    return (f"LEFT JOIN _aimon_redacted {alias} ON {alias}.tbl = '{tbl}' AND {alias}.key = {key} "
            f"AND {alias}.field = '{field}'")


def _requests_export_sql(pseudonymised: bool) -> str:
    cols = [f"coalesce(x_{f.value}.text, r.{f.value}) AS {f.value}" for f in CACHED_FIELDS]
    cols.append("coalesce(x_feedback.text, r.feedback) AS feedback")
    cols.append("CASE WHEN x_extra.text IS NULL THEN r.extra "
                "WHEN json_valid(x_extra.text) THEN x_extra.text::JSON END AS extra")
    if pseudonymised:
        cols.append("u.token AS user_id")
        cols.append("s.token AS session_id")
    joins = [_join_field(f"x_{f.value}", "requests", "r.request_id", f.value) for f in CACHED_FIELDS]
    joins.append(_join_field("x_feedback", "requests", "r.request_id", "feedback"))
    joins.append(_join_field("x_extra", "requests", "r.request_id", "extra"))
    cols += [f"coalesce(x_{name}.text, r.{name}) AS {name}" for name in REQUEST_NAME_COLUMNS]
    joins += [_join_field(f"x_{name}", "requests", "r.request_id", name) for name in REQUEST_NAME_COLUMNS]
    if pseudonymised:
        joins.append("LEFT JOIN _aimon_ids u ON u.kind = 'user_id' AND u.value = r.user_id")
        joins.append("LEFT JOIN _aimon_ids s ON s.kind = 'session_id' AND s.value = r.session_id")
    else:  # an id that is itself an e-mail or a phone number is masked like text
        cols += ["coalesce(x_user_id.text, r.user_id) AS user_id",
                 "coalesce(x_session_id.text, r.session_id) AS session_id"]
        joins += [_join_field("x_user_id", "requests", "r.request_id", "user_id"),
                  _join_field("x_session_id", "requests", "r.request_id", "session_id")]
    return (f"SELECT r.* REPLACE ({', '.join(cols)}) FROM requests r {' '.join(joins)} "
            f"WHERE r.ts >= $start AND r.ts < $end ORDER BY r.ts, r.request_id")


def _feedback_export_sql(pseudonymised: bool) -> str:
    cols = ["coalesce(x_text.text, b.feedback_text) AS feedback_text",
            "CASE WHEN x_extra.text IS NULL THEN b.extra WHEN json_valid(x_extra.text) THEN x_extra.text::JSON END AS extra"]
    joins = [_join_field("x_text", "feedback", "b.feedback_id", "feedback_text"),
             _join_field("x_extra", "feedback", "b.feedback_id", "extra")]
    cols += [f"coalesce(x_{name}.text, b.{name}) AS {name}" for name in FEEDBACK_NAME_COLUMNS]
    joins += [_join_field(f"x_{name}", "feedback", "b.feedback_id", name) for name in FEEDBACK_NAME_COLUMNS]
    if pseudonymised:
        cols.append("u.token AS user_id")
        joins.append("LEFT JOIN _aimon_ids u ON u.kind = 'user_id' AND u.value = b.user_id")
    else:
        cols.append("coalesce(x_user_id.text, b.user_id) AS user_id")
        joins.append(_join_field("x_user_id", "feedback", "b.feedback_id", "user_id"))
    return (f"SELECT b.* REPLACE ({', '.join(cols)}) FROM feedback b {' '.join(joins)} "
            f"WHERE {_FEEDBACK_IN_WINDOW.format(f='b')} ORDER BY b.ts, b.feedback_id")


IDS_SQL = """
SELECT DISTINCT 'user_id' AS kind, user_id AS value FROM requests WHERE ts >= $start AND ts < $end AND user_id IS NOT NULL
UNION SELECT DISTINCT 'session_id', session_id FROM requests WHERE ts >= $start AND ts < $end AND session_id IS NOT NULL
UNION SELECT DISTINCT 'user_id', user_id FROM feedback b WHERE """ + _FEEDBACK_IN_WINDOW.format(f="b") + """
    AND user_id IS NOT NULL
"""


def _register(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list], types: dict[str, Any]) -> None:
    import pyarrow as pa

    table = pa.table({k: pa.array(v, types[k]) for k, v in columns.items()})
    con.register(f"{name}_arrow", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    finally:
        con.unregister(f"{name}_arrow")


def _copy(con: duckdb.DuckDBPyConnection, query: str, params: dict, path: Path) -> int:
    tmp = path.with_name(path.name + ".tmp")
    escaped = str(tmp).replace("'", "''")
    con.execute(f"COPY ({query}) TO '{escaped}' (FORMAT parquet, COMPRESSION zstd)", params)
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{escaped}')").fetchall()[0][0]
    os.replace(tmp, path)
    return int(rows)


SCHEME = ("markers: each validated entity -> [REDACTED_<TYPE>]; "
          "pseudonyms: -> [<TYPE>_<hex16>], hex16 = HMAC-SHA256(key, '<type>:<normalised value>')[:16]; "
          "user_id -> u_<hex16 of 'user_id:<id>'>, session_id -> s_<hex16 of 'session_id:<id>'>")


def redact_export(con: duckdb.DuckDBPyConnection, out_dir: Path, window: Window, *,
                  key: bytes | None = None) -> RedactResult:
    """Write DIR/requests.parquet, DIR/feedback.parquet and DIR/manifest.json.
    Expects the window's requests to be scanned for :data:`CACHED_FIELDS`."""
    import pyarrow as pa

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    params = window.params()
    con.execute(SPANS_TABLE_SQL)
    con.execute(CACHED_SPANS_SQL, {**params, "fields": [f.value for f in CACHED_FIELDS]})
    request_columns = {**REQUEST_EXTRA_COLUMNS, **REQUEST_NAME_COLUMNS, **({} if key is not None else REQUEST_ID_COLUMNS)}
    feedback_columns = {**FEEDBACK_COLUMNS, **FEEDBACK_NAME_COLUMNS, **({} if key is not None else FEEDBACK_ID_COLUMNS)}
    sources = [REQUEST_COLUMN_SOURCE_SQL.format(name=n, expr=e) for n, e in request_columns.items()]
    fsources = [FEEDBACK_COLUMN_SOURCE_SQL.format(name=n, expr=e) for n, e in feedback_columns.items()]
    for tbl, parts in (("requests", sources), ("feedback", fsources)):
        found, _ = scan(con, "\nUNION ALL\n".join(parts), params)
        found = [f for f in found if f.validated]
        if found:
            _register(con, "_aimon_new_spans", {
                "tbl": [tbl] * len(found), "key": [str(f.key) for f in found], "field": [f.field for f in found],
                "start": [f.start for f in found], "end": [f.end for f in found],
                "entity_type": [f.entity_type for f in found]},
                {"tbl": pa.string(), "key": pa.string(), "field": pa.string(), "start": pa.int32(),
                 "end": pa.int32(), "entity_type": pa.string()})
            con.execute(INSERT_SPANS_SQL)
    if key is not None:
        rows = con.execute(SPAN_VALUES_SQL).fetchall()
        configured = configured_regions()
        if rows:
            _register(con, "_aimon_markers", {
                "tbl": [r[0] for r in rows], "key": [r[1] for r in rows], "field": [r[2] for r in rows],
                "start": [r[3] for r in rows],
                "marker": [pseudonym(key, r[4], r[5] or "", placing_regions(r[6], configured)) for r in rows]},
                {"tbl": pa.string(), "key": pa.string(), "field": pa.string(), "start": pa.int32(),
                 "marker": pa.string()})
            con.execute(SET_MARKERS_SQL)
        ids = con.execute(IDS_SQL, params).fetchall()
        _register(con, "_aimon_ids", {
            "kind": [k for k, _ in ids], "value": [v for _, v in ids],
            "token": [("u_" if k == "user_id" else "s_") + token(key, k, v) for k, v in ids]},
            {"kind": pa.string(), "value": pa.string(), "token": pa.string()})
    con.execute(DEFAULT_MARKERS_SQL)
    con.execute(REDACTED_TEXTS_SQL)
    counts = dict(con.execute("SELECT tbl, sum(replaced)::BIGINT FROM _aimon_redacted GROUP BY ALL").fetchall())
    by_entity = dict(con.execute(
        "SELECT entity_type, count(*) FROM _aimon_spans GROUP BY ALL ORDER BY 2 DESC, 1").fetchall())
    files = []
    for table, sql in (("requests", _requests_export_sql(key is not None)),
                       ("feedback", _feedback_export_sql(key is not None))):
        path = out_dir / f"{table}.parquet"
        rows = _copy(con, sql, params, path)
        files.append(ExportedFile(table, str(path), rows, int(counts.get(table, 0))))
    for t in ("_aimon_spans", "_aimon_redacted", "_aimon_markers", "_aimon_ids", "_aimon_new_spans"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    result = RedactResult(out_dir=str(out_dir), mode="pseudonyms" if key is not None else "markers",
                          key_id=key_id(key) if key is not None else None, window=window, files=tuple(files),
                          by_entity=by_entity, scheme=SCHEME)
    manifest = {"mode": result.mode, "key_id": result.key_id, "window": {"start": window.start.isoformat(),
                                                                         "end": window.end.isoformat()},
                "files": [{"table": f.table, "file": Path(f.path).name, "rows": f.rows,
                           "values_replaced": f.values_replaced} for f in files],
                "by_entity": by_entity, "scheme": SCHEME, "detector_version": DETECTOR_VERSION}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return result
