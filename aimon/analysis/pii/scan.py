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
2. *Validation, in Python, on candidates only* (:mod:`aimon.analysis.pii.validators`):
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

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from aimon.analysis.pii.config import configured_regions, placing_regions
from aimon.analysis.pii.entities import (
    CANDIDATE_RE,
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    ENTITY_TYPES,
    GROUP_NAMES,
    KINDS,
    Kind,
    py_candidate_re,
)

_KIND_EXPR = "CASE " + " ".join(f"WHEN x.{g} IS NOT NULL THEN {i}" for i, g in enumerate(GROUP_NAMES)) + " END"


_VALUE_EXPR = "coalesce(" + ", ".join(f"x.{g}" for g in GROUP_NAMES) + ")"


# ``{source}`` yields (key, ts, field, text, hint); hint is the request's jurisdiction
# (or NULL), which places national phone numbers. Offsets: gap_1 match_1 gap_2 match_2 ...,
# so a match starts after all gaps up to its own and all matches before it.
CANDIDATES_SQL = f"""
WITH src AS ({{source}}),
hit AS (
    SELECT key, ts, field, text, hint,
           list_transform(regexp_extract_all(text, $aimon_rx, $aimon_groups),
                          lambda x: {{{{'kind': {_KIND_EXPR}, 'value': {_VALUE_EXPR}}}}}) AS h
    FROM src
    WHERE text IS NOT NULL
),
cand AS (
    -- The split runs only where there are matches (a WHERE on h would not stop DuckDB
    -- from computing the projection for every row: a second full regex pass).
    SELECT key, ts, field, text, hint, h,
           CASE WHEN len(h) > 0
                THEN list_transform(regexp_split_to_array(text, $aimon_rx), lambda g: length(g)) END AS gaps
    FROM hit
),
flat AS (
    SELECT key, ts, field, text, hint,
           unnest(h) AS m, unnest(gaps[1:len(h)]) AS gap, generate_subscripts(h, 1) AS i
    FROM cand
    WHERE gaps IS NOT NULL
),
placed AS (
    SELECT key, ts, field, text, hint, i, m.kind AS kind, m.value AS value,
           (sum(gap + length(m.value)) OVER (PARTITION BY key, field ORDER BY i
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            - length(m.value))::BIGINT AS start
    FROM flat
)
SELECT key, ts, field, kind, value, start, hint,
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

    @property
    def confidence(self) -> str | None:
        """"high" for a validated finding, "low" for one validated with a reason (a
        well-formed phone number outside the numbering plan), None when rejected."""
        if not self.validated:
            return None
        return "high" if self.reason is None else "low"


Verdicts = list[tuple[str, bool, str | None, int, int]]


def _judge(kind: Kind, value: str, before: str, after: str, depth: int = 0,
           regions: tuple[str, ...] = ()) -> Verdicts:
    """Verdicts for one candidate as (entity, ok, reason, start, end) relative to it,
    plus whatever the parts of it a validator did not claim hold: a context form such as
    "call me at ..." may have swallowed another entity, a phone number a trailing SSN.
    ``regions`` place national phone numbers (the request's jurisdiction, the list)."""
    out: Verdicts = []
    verdicts = kind.validate(value, before, after, regions) if kind.regional else kind.validate(value, before, after)
    for verdict in verdicts:
        end = len(value) if verdict.end is None else verdict.end
        out.append((verdict.entity_type, verdict.ok, verdict.reason, verdict.start, end))
    claimed = [(s, e) for _, ok, _, s, e in out if ok]
    if claimed == [(0, len(value))] or depth >= 3:
        return out
    if not claimed:
        if kind.context or kind.regional:  # look again after the context word or first digit
            out.extend(_rescan(value, 1, before, after, depth, regions))
    else:
        s, e = claimed[0]
        out.extend(_rescan(value[:s], 0, before, value[s:] + after, depth, regions))
        out.extend(_rescan(value, e, before, after, depth, regions))
    seen: set[tuple[str, int, int]] = set()
    unique = []
    for item in out:
        if (item[0], item[3], item[4]) not in seen:
            seen.add((item[0], item[3], item[4]))
            unique.append(item)
    return unique


def _rescan(value: str, lo: int, before: str, after: str, depth: int, regions: tuple[str, ...]) -> Verdicts:
    """Entities that start in ``value[lo:]``. The text after the candidate is searched
    too, since an entity cut by the candidate's end continues there; one that starts
    after the candidate is left to the SQL pass, which resumes there."""
    if len(value) - lo < 2:
        return []
    text = value + after
    out = []
    # pos (not slicing) so that \b still sees the character before the range.
    for m in py_candidate_re().finditer(text, lo):
        s, e = m.start(), m.end()
        if s >= len(value):
            break
        kind = KINDS[m.lastindex - 1]
        ctx_before = (before + text[:s])[-CONTEXT_BEFORE:]
        ctx_after = text[e:e + CONTEXT_AFTER]
        for entity, ok, reason, a, b in _judge(kind, m.group(0), ctx_before, ctx_after, depth + 1, regions):
            out.append((entity, ok, reason, s + a, s + b))
    return out


def scan(con: duckdb.DuckDBPyConnection, source_sql: str, params: dict[str, Any] | None = None,
         *, batch: int = 20_000, configured: tuple[str, ...] | None = None) -> tuple[list[Finding], int]:
    """Findings (validated and rejected) for the texts ``source_sql`` yields as
    (key, ts, field, text, hint), and how many candidates the SQL pass produced.
    ``configured``: regions for national phone numbers (default: ``[pii] phone_regions``)."""
    configured = configured_regions() if configured is None else tuple(configured)
    query = CANDIDATES_SQL.format(source=source_sql)
    args = {"aimon_rx": CANDIDATE_RE, "aimon_groups": GROUP_NAMES, **(params or {})}
    result = con.execute(query, args)
    findings: list[Finding] = []
    candidates = 0
    while rows := result.fetchmany(batch):
        candidates += len(rows)
        for key, ts, field, kind_index, value, start, hint, before, after in rows:
            regions = placing_regions(hint, configured)
            for entity, ok, reason, a, b in _judge(KINDS[kind_index], value, before or "", after or "", 0, regions):
                findings.append(Finding(key, field, entity, start + a, start + b, ok, reason, ts))
    return findings, candidates


TEXTS_SOURCE_SQL = """
SELECT k AS key, NULL::TIMESTAMPTZ AS ts, 'text' AS field, t AS text, h AS hint
FROM (SELECT unnest($aimon_texts) AS t, unnest($aimon_hints::VARCHAR[]) AS h,
             generate_subscripts($aimon_texts, 1) - 1 AS k)
"""


def scan_texts(con: duckdb.DuckDBPyConnection, texts: Sequence[str | None], *,
               hints: Sequence[str | None] | None = None,
               configured: tuple[str, ...] | None = None) -> list[list[Finding]]:
    """Validated findings per text, for a handful of strings (snippets, ids, tests).
    ``hints``: a jurisdiction per text; ``configured``: as for :func:`scan`."""
    per_text: list[list[Finding]] = [[] for _ in texts]
    if not texts:
        return per_text
    hint_list = list(hints) if hints is not None else [None] * len(texts)
    found, _ = scan(con, TEXTS_SOURCE_SQL, {"aimon_texts": list(texts), "aimon_hints": hint_list},
                    configured=configured)
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


def mask_values(values: Sequence[str], *, con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """Each value with every entity the detector validates replaced by its
    [REDACTED_TYPE] marker: the masking text gets, for identifiers and any other value
    that reaches an output. One SQL pass over the values given (pass distinct ones) on
    a private in-memory connection, so it needs no database and holds no lock; or on a
    cursor of ``con``, a connection the command has open anyway (the pass reads no table),
    which spares opening one."""
    if not values:
        return []
    if con is not None:
        with con.cursor() as cursor:
            return [v if m is None else m for v, m in zip(values, redact_texts(cursor, list(values)), strict=True)]
    global _mask_con
    with _mask_lock:
        # Opened once a process: opening one costs as much as the pass itself (17 ms),
        # and every command masks what it prints, a process that runs many (tests) pays
        # it each time. A connection a failed pass may have left in any state is dropped.
        if _mask_con is None:
            _mask_con = duckdb.connect()
        try:
            return [v if m is None else m for v, m in zip(values, redact_texts(_mask_con, list(values)),
                                                          strict=True)]
        except BaseException:
            _mask_con.close()
            _mask_con = None
            raise


_mask_con: duckdb.DuckDBPyConnection | None = None
_mask_lock = threading.Lock()
