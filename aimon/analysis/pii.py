"""PII and secrets in the logs: a vectorised DuckDB pass, validation on candidates only.

How a scan works:

1. *Candidates, in SQL.* One RE2 regular expression, an alternation of one capturing
   group per candidate *kind* (:data:`KINDS`), runs over every text with
   ``regexp_extract_all`` (DuckDB: vectorised, all cores). Texts without a match stop
   there. For the rest, ``regexp_split_to_array`` with the same expression gives the
   gaps between matches, and a running sum of gap and match lengths gives each
   candidate's character offset. The candidate leaves DuckDB with 48 characters before
   and 16 after it, for the boundary and context rules RE2 cannot express (it has no
   look-behind).
2. *Validation, in Python, on candidates only* (``aimon.analysis.pii_validators``):
   Luhn and card prefixes, SSN ranges, ``ipaddress``, IBAN mod-97, ``phonenumbers``,
   JWT structure, key formats, and context words for dates of birth, passport and
   driver's licence numbers. Look-alikes are rejected with a reason.
3. *Findings* go to ``pii_findings`` (request_id, field, entity_type, start, end,
   validated, ts, reason, detector_version): positions, never the value. Rejected
   candidates are kept with ``validated = false`` and a reason, so a report can say what
   was looked at and why it was not counted. ``pii_scanned`` remembers which request
   fields were scanned by which detector version, so a second report scans nothing.

``start``/``end`` are 0-based character offsets into the field's text, end exclusive
(Python slicing: ``text[start:end]``); ``end`` is a reserved word in SQL, so quote it:
``SELECT start, "end" FROM pii_findings``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import duckdb

from aimon.analysis import pii_validators as v
from aimon.analysis.toolkit.window import Window, resolve
from aimon.errors import UsageError

# Bump when a pattern or validator changes what is found: findings of older versions
# are then dropped and the texts scanned again.
DETECTOR_VERSION = 1

CONTEXT_BEFORE = 48
CONTEXT_AFTER = 16


class Field(StrEnum):
    """Text columns of ``requests`` a scan can cover (fixed names, never user text in SQL)."""

    prompt = "prompt"
    response = "response"
    system_prompt = "system_prompt"
    error_message = "error_message"


DEFAULT_FIELDS: tuple[Field, ...] = (Field.prompt, Field.response, Field.system_prompt)


@dataclass(frozen=True)
class EntityType:
    name: str
    category: str          # "pii" or "secret"
    context_required: bool  # found only next to a context word (DOB:, passport no., ...)
    description: str

    @property
    def marker(self) -> str:
        return f"[REDACTED_{self.name.upper()}]"


ENTITY_TYPES: dict[str, EntityType] = {e.name: e for e in [
    EntityType("email", "pii", False, "e-mail address"),
    EntityType("phone", "pii", False, "phone number, validated with libphonenumber (E.164, US and national formats)"),
    EntityType("us_ssn", "pii", False, "US social security number (area/group/serial ranges checked)"),
    EntityType("credit_card", "pii", False, "payment card number: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay; Luhn-checked"),
    EntityType("ipv4", "pii", False, "IPv4 address (ipaddress-validated; loopback and broadcast excluded)"),
    EntityType("ipv6", "pii", False, "IPv6 address (ipaddress-validated)"),
    EntityType("iban", "pii", False, "IBAN (country length and mod-97 checked)"),
    EntityType("date_of_birth", "pii", True, "date of birth, only after a word such as DOB, born, date of birth"),
    EntityType("passport", "pii", True, "passport number, only after the word passport"),
    EntityType("drivers_license", "pii", True, "driver's licence number, only after driver's licence/DL"),
    EntityType("aws_access_key_id", "secret", False, "AWS access key id (AKIA/ASIA...)"),
    EntityType("aws_secret_access_key", "secret", True, "AWS secret access key, after its variable name"),
    EntityType("google_api_key", "secret", False, "Google Cloud API key (AIza...)"),
    EntityType("openai_api_key", "secret", False, "OpenAI API key (sk-, sk-proj-...)"),
    EntityType("anthropic_api_key", "secret", False, "Anthropic API key (sk-ant-...)"),
    EntityType("github_token", "secret", False, "GitHub token (ghp_, gho_, ghs_, github_pat_...)"),
    EntityType("slack_token", "secret", False, "Slack token (xoxb-, xoxp-...) or incoming-webhook URL"),
    EntityType("private_key", "secret", False, "PEM private key block"),
    EntityType("jwt", "secret", False, "JSON Web Token (header and payload decode to JSON)"),
]}


@dataclass(frozen=True)
class Kind:
    """One alternative of the candidate expression and the validator for its matches."""

    name: str
    pattern: str
    validate: v.Validator
    context: bool = False  # the match includes a context word before the entity


_HEX = "[0-9A-Fa-f]"
_ID_GAP = r"(?i:[\s:#.,-]{0,3}(?:no|nr|number|num|id)\b\.?)?(?i:[\s:#.,-]{0,3}is\b)?[\s:#.,-]{1,4}"
_MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?"

# Order matters where two alternatives can start at the same character (RE2 takes the
# first that matches): specific secrets before generic shapes, context forms before the
# bare numbers they contain, cards before phone numbers.
KINDS: tuple[Kind, ...] = (
    Kind("private_key",
         r"-----BEGIN [A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----(?:(?:[A-Za-z0-9+/=\s:,.]|-[A-Za-z0-9+/=]|\\[nr])*?"
         r"-----END [A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----"
         r"|(?:(?:\s|\\[nr])*[A-Za-z0-9+/=]{16,})*)", v.private_key),
    Kind("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", v.jwt),
    Kind("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", v.anthropic_api_key),
    Kind("openai_api_key", r"\bsk-[A-Za-z0-9_-]{20,}", v.openai_api_key),
    Kind("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})", v.github_token),
    Kind("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}",
         v.slack_token),
    Kind("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b", v.aws_access_key_id),
    Kind("google_api_key", r"\bAIza[0-9A-Za-z_-]{35,}", v.google_api_key),
    Kind("aws_secret_ctx",
         r"(?i:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}",
         v.aws_secret_access_key, context=True),
    Kind("dob_ctx",
         r"(?i:\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on| in)?|birthday)\b)[^\n]{0,30}?"
         r"(?:\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{1,2}-\d{1,2}\b"
         rf"|(?i:\b\d{{1,2}}(?:st|nd|rd|th)? {_MONTH},? \d{{4}}\b|\b{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b))",
         v.date_of_birth, context=True),
    Kind("passport_ctx", rf"(?i:\bpassport){_ID_GAP}[A-Za-z0-9]{{6,9}}\b", v.passport, context=True),
    Kind("drivers_license_ctx",
         rf"(?i:\b(?:driver'?s?|driving)[\s-]?licen[cs]e|\bDL\b){_ID_GAP}[A-Za-z0-9][A-Za-z0-9-]{{4,17}}\b",
         v.drivers_license, context=True),
    Kind("ssn_ctx",
         r"(?i:\b(?:ssn|social security(?: number| no\.?| #)?|ss#))[^0-9A-Za-z\n]{0,5}"
         r"(?i:(?:is|number|no\.?)[^0-9A-Za-z\n]{0,3})?\d{3}[- ]?\d{2}[- ]?\d{4}\b",
         v.ssn_in_context, context=True),
    Kind("phone_ctx",
         r"(?i:\b(?:phone|tel|telephone|call|mobile|cell|cellphone|sms|whatsapp|fax)\b)[^0-9+(\n]{0,20}"
         r"\+?\(?\d[\d .()-]{5,18}\d\b",
         v.phone_in_context, context=True),
    Kind("email", r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", v.email),
    Kind("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", v.iban),
    Kind("ipv6",
         rf"\b(?:{_HEX}{{1,4}}:){{7}}{_HEX}{{1,4}}"
         rf"|\b{_HEX}{{1,4}}(?::{_HEX}{{1,4}}){{0,6}}::(?:{_HEX}{{1,4}}(?::{_HEX}{{1,4}}){{0,6}})?",
         v.ipv6),
    Kind("credit_card", r"\b(?:\d{4}[ -]?){3}\d{4}(?:[ -]?\d{3})?\b|\b\d{4}[ -]?\d{6}[ -]?\d{4,5}\b", v.credit_card),
    Kind("us_ssn", r"\b\d{3}[- ]\d{2}[- ]\d{4}\b", v.us_ssn),
    Kind("ipv4", r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", v.ipv4),
    Kind("phone_intl", r"\+\d[\d .()-]{6,18}\d", v.phone_international),
    Kind("phone_us", r"(?:\b1[ .-])?(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b", v.phone_us),
)

CANDIDATE_RE = "|".join(f"({k.pattern})" for k in KINDS)
GROUP_NAMES = [f"k{i}" for i in range(len(KINDS))]
# The same expression in Python, for the parts of a candidate a validator did not claim.
_PY_RE = re.compile(CANDIDATE_RE, re.ASCII)

for _k in KINDS:  # an inner capturing group would shift every kind after it
    assert re.compile(_k.pattern).groups == 0, _k.name


def parse_entity_types(text: str, *, option: str = "--fail-on") -> frozenset[str]:
    """'any', 'pii', 'secret' or a comma list of entity types -> the set of type names."""
    wanted: set[str] = set()
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name in ("any", "all"):
            wanted.update(ENTITY_TYPES)
        elif name in ("pii", "secret", "secrets"):
            wanted.update(e.name for e in ENTITY_TYPES.values() if e.category == name.rstrip("s"))
        elif name in ENTITY_TYPES:
            wanted.add(name)
        else:
            raise UsageError(f"{option}: unknown entity type {raw.strip()!r}; use any, pii, secret or "
                             f"one of {', '.join(ENTITY_TYPES)}")
    if not wanted:
        raise UsageError(f"{option} needs 'any' or entity types such as email,credit_card")
    return frozenset(wanted)


def parse_fields(text: str | None) -> tuple[Field, ...]:
    if not text:
        return DEFAULT_FIELDS
    fields = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        try:
            field = Field(name)
        except ValueError:
            raise UsageError(f"--fields: unknown field {raw.strip()!r}; use "
                             f"{', '.join(f.value for f in Field)}") from None
        if field not in fields:
            fields.append(field)
    if not fields:
        raise UsageError("--fields needs at least one of " + ", ".join(f.value for f in Field))
    return tuple(fields)


# --------------------------------------------------------------------------- the scan

_KIND_EXPR = "CASE " + " ".join(f"WHEN x.{g} IS NOT NULL THEN {i}" for i, g in enumerate(GROUP_NAMES)) + " END"
_VALUE_EXPR = "coalesce(" + ", ".join(f"x.{g}" for g in GROUP_NAMES) + ")"

# ``{source}`` yields (key, ts, field, text). Offsets: gap_1 match_1 gap_2 match_2 ...,
# so a match starts after all gaps up to its own and all matches before it.
CANDIDATES_SQL = f"""
WITH src AS ({{source}}),
hit AS (
    SELECT key, ts, field, text,
           list_transform(regexp_extract_all(text, $aimon_rx, $aimon_groups),
                          lambda x: {{{{'kind': {_KIND_EXPR}, 'value': {_VALUE_EXPR}}}}}) AS h
    FROM src
    WHERE text IS NOT NULL
),
cand AS (
    -- The split runs only where there are matches (a WHERE on h would not stop DuckDB
    -- from computing the projection for every row: a second full regex pass).
    SELECT key, ts, field, text, h,
           CASE WHEN len(h) > 0
                THEN list_transform(regexp_split_to_array(text, $aimon_rx), lambda g: length(g)) END AS gaps
    FROM hit
),
flat AS (
    SELECT key, ts, field, text,
           unnest(h) AS m, unnest(gaps[1:len(h)]) AS gap, generate_subscripts(h, 1) AS i
    FROM cand
    WHERE gaps IS NOT NULL
),
placed AS (
    SELECT key, ts, field, text, i, m.kind AS kind, m.value AS value,
           (sum(gap + length(m.value)) OVER (PARTITION BY key, field ORDER BY i
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            - length(m.value))::BIGINT AS start
    FROM flat
)
SELECT key, ts, field, kind, value, start,
       substring(text, greatest(1, start - {CONTEXT_BEFORE} + 1), least(start, {CONTEXT_BEFORE})) AS before,
       substring(text, start + length(value) + 1, {CONTEXT_AFTER}) AS after
FROM placed
"""


@dataclass(frozen=True, slots=True)
class Finding:
    """One judged candidate: where it is, what it is, whether it counts. No value."""

    key: Any
    field: str
    entity_type: str
    start: int
    end: int
    validated: bool
    reason: str | None
    ts: Any = None


def _judge(kind: Kind, value: str, before: str, after: str, depth: int = 0) -> list[tuple[str, bool, str | None, int, int]]:
    """Verdicts for one candidate as (entity, ok, reason, start, end) relative to it,
    plus whatever the parts of it a validator did not claim hold: a context form such as
    "call me at ..." may have swallowed another entity, a phone number a trailing SSN."""
    out: list[tuple[str, bool, str | None, int, int]] = []
    for verdict in kind.validate(value, before, after):
        end = len(value) if verdict.end is None else verdict.end
        out.append((verdict.entity_type, verdict.ok, verdict.reason, verdict.start, end))
    claimed = [(s, e) for _, ok, _, s, e in out if ok]
    if claimed == [(0, len(value))] or depth >= 3:
        return out
    if not claimed:
        if kind.context:  # look again after the context word
            out.extend(_rescan(value, 1, before, after, depth))
    else:
        s, e = claimed[0]
        out.extend(_rescan(value[:s], 0, before, value[s:] + after, depth))
        out.extend(_rescan(value, e, before, after, depth))
    seen: set[tuple[str, int, int]] = set()
    unique = []
    for item in out:
        if (item[0], item[3], item[4]) not in seen:
            seen.add((item[0], item[3], item[4]))
            unique.append(item)
    return unique


def _rescan(value: str, lo: int, before: str, after: str, depth: int) -> list[tuple[str, bool, str | None, int, int]]:
    """Entities that start in ``value[lo:]``. The text after the candidate is searched
    too, since an entity cut by the candidate's end continues there; one that starts
    after the candidate is left to the SQL pass, which resumes there."""
    if len(value) - lo < 2:
        return []
    text = value + after
    out = []
    # pos (not slicing) so that \b still sees the character before the range.
    for m in _PY_RE.finditer(text, lo):
        s, e = m.start(), m.end()
        if s >= len(value):
            break
        kind = KINDS[m.lastindex - 1]
        ctx_before = (before + text[:s])[-CONTEXT_BEFORE:]
        ctx_after = text[e:e + CONTEXT_AFTER]
        for entity, ok, reason, a, b in _judge(kind, m.group(0), ctx_before, ctx_after, depth + 1):
            out.append((entity, ok, reason, s + a, s + b))
    return out


def scan(con: duckdb.DuckDBPyConnection, source_sql: str, params: dict[str, Any] | None = None,
         *, batch: int = 20_000) -> tuple[list[Finding], int]:
    """Findings (validated and rejected) for the texts ``source_sql`` yields as
    (key, ts, field, text), and how many candidates the SQL pass produced."""
    query = CANDIDATES_SQL.format(source=source_sql)
    args = {"aimon_rx": CANDIDATE_RE, "aimon_groups": GROUP_NAMES, **(params or {})}
    result = con.execute(query, args)
    findings: list[Finding] = []
    candidates = 0
    while rows := result.fetchmany(batch):
        candidates += len(rows)
        for key, ts, field, kind_index, value, start, before, after in rows:
            for entity, ok, reason, a, b in _judge(KINDS[kind_index], value, before or "", after or ""):
                findings.append(Finding(key, field, entity, start + a, start + b, ok, reason, ts))
    return findings, candidates


TEXTS_SOURCE_SQL = """
SELECT k AS key, NULL::TIMESTAMPTZ AS ts, 'text' AS field, t AS text
FROM (SELECT unnest($aimon_texts) AS t, generate_subscripts($aimon_texts, 1) - 1 AS k)
"""


def scan_texts(con: duckdb.DuckDBPyConnection, texts: Sequence[str | None]) -> list[list[Finding]]:
    """Validated findings per text, for a handful of strings (snippets, ids, tests)."""
    per_text: list[list[Finding]] = [[] for _ in texts]
    if not texts:
        return per_text
    found, _ = scan(con, TEXTS_SOURCE_SQL, {"aimon_texts": list(texts)})
    for f in found:
        if f.validated:
            per_text[f.key].append(f)
    return per_text


def apply_markers(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end, replacement) span replaced; overlaps keep the first."""
    out, pos = [], 0
    for start, end, replacement in sorted(spans):
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact_texts(con: duckdb.DuckDBPyConnection, texts: Sequence[str | None]) -> list[str | None]:
    """The texts with every validated entity replaced by its [REDACTED_TYPE] marker."""
    found = scan_texts(con, texts)
    return [None if t is None else apply_markers(t, [(f.start, f.end, ENTITY_TYPES[f.entity_type].marker)
                                                      for f in fs])
            for t, fs in zip(texts, found, strict=True)]


# --------------------------------------------------------------------------- the findings cache

def _fields_sql(fields: Sequence[Field]) -> list[Field]:
    return [Field(f) for f in fields]


# Request fields in the window not scanned by this detector version. The bookkeeping
# queries select no text (the count and the marks never decompress prompts); a NULL
# field is marked as scanned like any other.
REQUEST_FIELD_SOURCE_SQL = """
SELECT request_id AS key, ts, '{field}' AS field{text}
FROM requests r
WHERE ts >= $start AND ts < $end
  AND NOT EXISTS (SELECT 1 FROM pii_scanned s
                  WHERE s.request_id = r.request_id AND s.field = '{field}'
                    AND s.detector_version = $version)
"""


def _pending_source(fields: Sequence[Field], *, text: bool = True) -> str:
    return "\nUNION ALL\n".join(
        REQUEST_FIELD_SOURCE_SQL.format(field=f.value, text=f", {f.value} AS text" if text else "")
        for f in _fields_sql(fields))


PENDING_COUNT_SQL = "SELECT count(*) FROM ({source})"
DROP_STALE_FINDINGS_SQL = "DELETE FROM pii_findings WHERE detector_version <> $version"
DROP_STALE_SCANNED_SQL = "DELETE FROM pii_scanned WHERE detector_version <> $version"
DROP_WINDOW_FINDINGS_SQL = """
DELETE FROM pii_findings WHERE ts >= $start AND ts < $end AND list_contains($fields, field)
"""
DROP_WINDOW_SCANNED_SQL = """
DELETE FROM pii_scanned s WHERE list_contains($fields, s.field)
  AND s.request_id IN (SELECT request_id FROM requests WHERE ts >= $start AND ts < $end)
"""
MARK_SCANNED_SQL = """
INSERT INTO pii_scanned (request_id, field, detector_version, scanned_at)
SELECT key, field, $version, $now FROM ({source})
"""
INSERT_FINDINGS_SQL = """
INSERT INTO pii_findings (request_id, field, entity_type, start, "end", validated, ts, reason, detector_version)
SELECT key, field, entity_type, start, "end", validated, ts, reason, $version FROM _aimon_new_findings
"""


@dataclass(frozen=True)
class ScanStats:
    texts: int
    candidates: int
    findings: int
    rejected: int
    seconds: float


def pending(con: duckdb.DuckDBPyConnection, window: Window, fields: Sequence[Field]) -> int:
    """How many request fields in the window this detector version has not scanned."""
    if not _has_pii_tables(con):
        return -1
    source = _pending_source(fields, text=False)
    row = con.execute(PENDING_COUNT_SQL.format(source=source),
                      {**window.params(), "version": DETECTOR_VERSION}).fetchall()[0]
    stale = con.execute("SELECT count(*) FROM pii_scanned WHERE detector_version <> $version",
                        {"version": DETECTOR_VERSION}).fetchall()[0]
    return int(row[0]) + int(stale[0])


def _has_pii_tables(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                      "AND schema_name = 'main' AND table_name IN ('pii_findings', 'pii_scanned')").fetchall()[0]
    return row[0] == 2


def ensure_scanned(con: duckdb.DuckDBPyConnection, window: Window, fields: Sequence[Field], *,
                   rescan: bool = False) -> ScanStats:
    """Scan the request fields in the window that this detector version has not scanned
    yet (all of them with ``rescan``) and store their findings; needs a write connection.
    One transaction: interrupted, the cache is as it was."""
    import pyarrow as pa

    began = time.perf_counter()
    fields = _fields_sql(fields)
    params = {**window.params(), "version": DETECTOR_VERSION}
    names = [f.value for f in fields]
    source = _pending_source(fields)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(DROP_STALE_FINDINGS_SQL, {"version": DETECTOR_VERSION})
        con.execute(DROP_STALE_SCANNED_SQL, {"version": DETECTOR_VERSION})
        if rescan:
            con.execute(DROP_WINDOW_FINDINGS_SQL, {**window.params(), "fields": names})
            con.execute(DROP_WINDOW_SCANNED_SQL, {**window.params(), "fields": names})
        keys = _pending_source(fields, text=False)
        texts = con.execute(PENDING_COUNT_SQL.format(source=keys), params).fetchall()[0][0]
        findings, candidates = scan(con, source, params) if texts else ([], 0)
        if findings:
            table = pa.table({
                "key": pa.array([f.key for f in findings], pa.string()),
                "field": pa.array([f.field for f in findings], pa.string()),
                "entity_type": pa.array([f.entity_type for f in findings], pa.string()),
                "start": pa.array([f.start for f in findings], pa.int32()),
                "end": pa.array([f.end for f in findings], pa.int32()),
                "validated": pa.array([f.validated for f in findings], pa.bool_()),
                "ts": pa.array([f.ts for f in findings], pa.timestamp("us", tz="UTC")),
                "reason": pa.array([f.reason for f in findings], pa.string()),
            })
            con.register("_aimon_new_findings", table)
            try:
                con.execute(INSERT_FINDINGS_SQL, {"version": DETECTOR_VERSION})
            finally:
                con.unregister("_aimon_new_findings")
        if texts:
            con.execute(MARK_SCANNED_SQL.format(source=keys), {**params, "now": datetime.now(UTC)})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    valid = sum(f.validated for f in findings)
    return ScanStats(texts=int(texts), candidates=candidates, findings=valid,
                     rejected=len(findings) - valid, seconds=time.perf_counter() - began)


def window_for(con: duckdb.DuckDBPyConnection, since: str | None, until: str | None, *, tz: str = "UTC") -> Window:
    """The --since/--until window; the whole history (possibly empty) by default."""
    return resolve(con, since, until, tz=tz, allow_empty=True)


# --------------------------------------------------------------------------- the report

@dataclass(frozen=True)
class PiiReport:
    """What ``aimon audit pii`` shows. Frames hold counts and positions, never values;
    ``samples`` are redacted unless ``pii_shown``."""

    title: str
    window: Window
    fields: tuple[str, ...]
    detector_version: int
    requests: int
    requests_with_pii: int
    share_with_pii: float
    findings: int
    rejected_candidates: int
    by_entity: Any
    by_field: Any
    by_model: Any
    by_endpoint: Any
    top_users: Any
    by_day: Any
    rejected: Any
    samples: Any
    pii_shown: bool


_VALID = "validated AND ts >= $start AND ts < $end AND list_contains($fields, field)"

TOTALS_SQL = f"""
SELECT (SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end) AS requests,
       (SELECT count(DISTINCT request_id) FROM pii_findings WHERE {_VALID}) AS requests_with_pii,
       (SELECT count(*) FROM pii_findings WHERE {_VALID}) AS findings,
       (SELECT count(*) FROM pii_findings WHERE NOT validated AND ts >= $start AND ts < $end
                                            AND list_contains($fields, field)) AS rejected
"""

BY_ENTITY_SQL = f"""
SELECT entity_type, count(*) AS findings, count(DISTINCT request_id) AS requests,
       min(ts) AS first_seen, max(ts) AS last_seen
FROM pii_findings WHERE {_VALID}
GROUP BY ALL ORDER BY findings DESC, entity_type
"""

BY_FIELD_SQL = f"""
SELECT entity_type, field, count(*) AS findings, count(DISTINCT request_id) AS requests
FROM pii_findings WHERE {_VALID}
GROUP BY ALL ORDER BY entity_type, findings DESC, field
"""

BY_DIMENSION_SQL = """
SELECT f.entity_type, f.field, coalesce(r.{dim}, '(none)') AS {dim},
       count(*) AS findings, count(DISTINCT f.request_id) AS requests
FROM pii_findings f JOIN requests r USING (request_id)
WHERE f.validated AND f.ts >= $start AND f.ts < $end AND list_contains($fields, f.field)
GROUP BY ALL ORDER BY f.entity_type, findings DESC, {dim}
"""

TOP_USERS_SQL = """
SELECT coalesce(r.user_id, '(none)') AS user_id, count(DISTINCT f.request_id) AS requests_with_pii,
       count(*) AS findings, list(DISTINCT f.entity_type ORDER BY f.entity_type) AS entity_types,
       max(f.ts) AS last_seen
FROM pii_findings f JOIN requests r USING (request_id)
WHERE f.validated AND f.ts >= $start AND f.ts < $end AND list_contains($fields, f.field)
GROUP BY ALL ORDER BY requests_with_pii DESC, findings DESC, user_id
LIMIT $top
"""

BY_DAY_SQL = f"""
WITH req AS (
    SELECT date_trunc('day', ts)::DATE AS day, count(*) AS requests
    FROM requests WHERE ts >= $start AND ts < $end GROUP BY ALL
), found AS (
    SELECT date_trunc('day', ts)::DATE AS day, count(DISTINCT request_id) AS requests_with_pii,
           count(*) AS findings
    FROM pii_findings WHERE {_VALID} GROUP BY ALL
)
SELECT req.day, req.requests, coalesce(found.requests_with_pii, 0) AS requests_with_pii,
       coalesce(found.requests_with_pii, 0) / req.requests AS share_with_pii,
       coalesce(found.findings, 0) AS findings
FROM req LEFT JOIN found USING (day)
ORDER BY req.day
"""

REJECTED_SQL = """
SELECT entity_type, reason, count(*) AS candidates
FROM pii_findings
WHERE NOT validated AND ts >= $start AND ts < $end AND list_contains($fields, field)
GROUP BY ALL ORDER BY candidates DESC, entity_type, reason
"""

_FIELD_TEXT = "CASE f.field " + " ".join(f"WHEN '{x.value}' THEN r.{x.value}" for x in Field) + " END"

# A few findings per entity type, newest first, with the text around them and every
# finding (validated or not) that overlaps that stretch, so all of them can be masked.
SAMPLES_SQL = f"""
WITH picked AS (
    SELECT request_id, field, entity_type, start, "end", ts,
           row_number() OVER (PARTITION BY entity_type ORDER BY ts DESC, request_id, start) AS n
    FROM pii_findings WHERE {_VALID}
    QUALIFY n <= $per_type
), win AS (
    SELECT p.*, greatest(0, p.start - $ctx) AS w0, p."end" + $ctx AS w1
    FROM picked p
)
SELECT w.request_id, w.field, w.entity_type, w.ts, w.start, w."end", w.w0, w.n,
       substring({_FIELD_TEXT.replace('f.field', 'w.field')}, w.w0 + 1, w.w1 - w.w0) AS text,
       (SELECT list({{'s': g.start, 'e': g."end", 't': g.entity_type, 'v': g.validated}})
        FROM pii_findings g
        WHERE g.request_id = w.request_id AND g.field = w.field AND g."end" > w.w0 AND g.start < w.w1) AS spans
FROM win w JOIN requests r USING (request_id)
ORDER BY w.n, w.entity_type
LIMIT $limit
"""


def _snippet(text: str, w0: int, start: int, end: int, spans: list[dict], entity: str, show_pii: bool) -> str:
    if show_pii:
        marks = [(start - w0, end - w0, f"[{entity.upper()}: {text[start - w0:end - w0]}]")]
    else:
        marks = []
        for s in spans or []:
            label = s["t"].upper() if s["v"] else f"{s['t'].upper()}?"
            marks.append((max(0, s["s"] - w0), max(0, min(len(text), s["e"] - w0)), f"[REDACTED_{label}]"))
    body = re.sub(r"\s+", " ", apply_markers(text, marks)).strip()
    if w0 > 0:  # start at a word, not in the middle of one ("…lient(" -> "…")
        cut = re.match(r"\S{1,20}?\s", body)
        if cut and "[" not in cut.group(0):
            body = body[cut.end():]
    return ("…" if w0 > 0 else "") + body + "…"


def pii_report(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    fields: Sequence[Field] = DEFAULT_FIELDS,
    *,
    top: int = 10,
    samples: int = 10,
    context_chars: int = 40,
    show_pii: bool = False,
) -> PiiReport:
    """Counts, trend, top users and samples of the validated findings in the window.
    Expects the window to have been scanned (:func:`ensure_scanned`)."""
    import polars as pl

    names = [Field(f).value for f in fields]
    params = {**window.params(), "fields": names}
    requests, with_pii, findings, rejected = con.execute(TOTALS_SQL, params).fetchall()[0]
    by_entity = con.sql(BY_ENTITY_SQL, params=params).pl()
    by_entity = by_entity.with_columns(
        pl.col("entity_type").replace_strict({k: e.category for k, e in ENTITY_TYPES.items()},
                                             default="pii").alias("category")
    ).select("entity_type", "category", "findings", "requests", "first_seen", "last_seen")
    by_field = con.sql(BY_FIELD_SQL, params=params).pl()
    by_model = con.sql(BY_DIMENSION_SQL.format(dim="model"), params=params).pl()
    by_endpoint = con.sql(BY_DIMENSION_SQL.format(dim="endpoint"), params=params).pl()
    top_users = con.sql(TOP_USERS_SQL, params={**params, "top": top}).pl()
    if not show_pii and top_users.height:
        masked = redact_texts(con, top_users["user_id"].to_list())
        top_users = top_users.with_columns(pl.Series("user_id", masked))
    by_day = con.sql(BY_DAY_SQL, params=params).pl()
    rejected_frame = con.sql(REJECTED_SQL, params=params).pl()
    sample_rows = []
    if samples > 0 and findings:
        types = max(1, by_entity.height)
        per_type = max(1, -(-samples // types))
        rows = con.execute(SAMPLES_SQL, {**params, "per_type": per_type, "ctx": context_chars,
                                         "limit": samples}).fetchall()
        for request_id, field, entity, ts, start, end, w0, _n, text, spans in sorted(rows, key=lambda r: (r[2], r[7])):
            sample_rows.append({"request_id": request_id, "field": field, "entity_type": entity, "ts": ts,
                                "snippet": _snippet(text or "", w0, start, end, spans, entity, show_pii)})
    samples_frame = pl.DataFrame(sample_rows, schema={"request_id": pl.String, "field": pl.String,
                                                      "entity_type": pl.String,
                                                      "ts": pl.Datetime("us", "UTC"), "snippet": pl.String})
    return PiiReport(
        title="PII and secrets in the logs",
        window=window,
        fields=tuple(names),
        detector_version=DETECTOR_VERSION,
        requests=int(requests),
        requests_with_pii=int(with_pii),
        share_with_pii=(with_pii / requests) if requests else 0.0,
        findings=int(findings),
        rejected_candidates=int(rejected),
        by_entity=by_entity,
        by_field=by_field,
        by_model=by_model,
        by_endpoint=by_endpoint,
        top_users=top_users,
        by_day=by_day,
        rejected=rejected_frame,
        samples=samples_frame,
        pii_shown=show_pii,
    )


def gate(report: PiiReport, fail_on: Iterable[str]) -> list[str]:
    """One line per entity type of ``fail_on`` that was found (empty: the gate passes)."""
    wanted = set(fail_on)
    return [f"{row['entity_type']}: {row['findings']:,} finding(s) in {row['requests']:,} request(s)"
            for row in report.by_entity.iter_rows(named=True) if row["entity_type"] in wanted]


ProgressCallback = Callable[[str], None]
