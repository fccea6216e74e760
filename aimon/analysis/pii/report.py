"""``aimon audit pii``: what the findings cache holds for a window, by entity, field,
model, endpoint, user and day, with redacted samples, and the --fail-on gate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from aimon.analysis.pii.entities import (
    DEFAULT_FIELDS,
    DETECTOR_VERSION,
    ENTITY_TYPES,
    FIELD_SQL,
    Field,
)
from aimon.analysis.pii.scan import apply_markers, redact_texts, scan
from aimon.analysis.toolkit.gate import Breach, Verdict
from aimon.analysis.toolkit.window import Window


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
    # Validated findings of lower confidence by entity type and reason (a well-formed
    # phone number outside the numbering plan, after a phone word).
    low_confidence: Any = None
    # Feedback rows that belong to no request (no request id, or one not in the log):
    # the cache is per request, so they are scanned here, each report (findings by
    # entity type and field; counted in ``findings`` and in the gate).
    feedback_without_request: Any = None


# Feedback fields of rows with no request, as their text (the offsets point into it).
_ORPHAN_FEEDBACK_TEXT = {Field.feedback_text: "b.feedback_text", Field.feedback_extra: "b.extra::VARCHAR",
                         Field.feedback_user_id: "b.user_id", Field.feedback_category: "b.feedback_category"}


ORPHAN_FEEDBACK_SOURCE_SQL = """
SELECT b.feedback_id AS key, b.ts, '{field}' AS field, {text} AS text, NULL::VARCHAR AS hint
FROM feedback b
WHERE b.ts >= $start AND b.ts < $end
  AND (b.request_id IS NULL OR NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = b.request_id))
"""


def _orphan_feedback(con: duckdb.DuckDBPyConnection, window: Window, fields: Sequence[Field]) -> Any:
    """Validated findings in feedback rows that belong to no request, by entity type and
    field: counts only, never values."""
    import polars as pl

    wanted = [f for f in _ORPHAN_FEEDBACK_TEXT if f in fields]
    found = []
    if wanted:
        source = "\nUNION ALL\n".join(ORPHAN_FEEDBACK_SOURCE_SQL.format(field=f.value, text=_ORPHAN_FEEDBACK_TEXT[f])
                                       for f in wanted)
        found = [f for f in scan(con, source, window.params())[0] if f.validated]
    frame = pl.DataFrame({"entity_type": [f.entity_type for f in found], "field": [f.field for f in found],
                          "feedback_id": [str(f.key) for f in found]},
                         schema={"entity_type": pl.String, "field": pl.String, "feedback_id": pl.String})
    return (frame.group_by("entity_type", "field")
            .agg(pl.len().cast(pl.Int64).alias("findings"), pl.col("feedback_id").n_unique().cast(pl.Int64)
                 .alias("feedback_rows"))
            .sort(["findings", "entity_type", "field"], descending=[True, False, False]))


_VALID = "validated AND ts >= $start AND ts < $end AND list_contains($fields, field)"


TOTALS_SQL = f"""
SELECT (SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end) AS requests,
       (SELECT count(DISTINCT request_id) FROM pii_findings WHERE {_VALID}) AS requests_with_pii,
       (SELECT count(*) FROM pii_findings WHERE {_VALID}) AS findings,
       (SELECT count(*) FROM pii_findings WHERE NOT validated AND ts >= $start AND ts < $end
                                            AND list_contains($fields, field)) AS rejected
"""


BY_ENTITY_SQL = f"""
SELECT entity_type, count(*) AS findings, count(reason) AS low_confidence, count(DISTINCT request_id) AS requests,
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


LOW_CONFIDENCE_SQL = f"""
SELECT entity_type, reason, count(*) AS findings
FROM pii_findings WHERE {_VALID} AND reason IS NOT NULL
GROUP BY ALL ORDER BY findings DESC, entity_type, reason
"""


REJECTED_SQL = """
SELECT entity_type, reason, count(*) AS candidates
FROM pii_findings
WHERE NOT validated AND ts >= $start AND ts < $end AND list_contains($fields, field)
GROUP BY ALL ORDER BY candidates DESC, entity_type, reason
"""


_FIELD_TEXT = "CASE f.field " + " ".join(f"WHEN '{x.value}' THEN {FIELD_SQL[x]}" for x in Field) + " END"


# A few findings per entity type, newest first, with the text around them and every
# finding (validated or not) that overlaps that stretch, so all of them can be masked.
SAMPLES_SQL = f"""
WITH picked AS (
    SELECT request_id, field, entity_type, start, "end", ts, reason,
           row_number() OVER (PARTITION BY entity_type ORDER BY ts DESC, request_id, start) AS n
    FROM pii_findings WHERE {_VALID}
    QUALIFY n <= $per_type
), win AS (
    SELECT p.*, greatest(0, p.start - $ctx) AS w0, p."end" + $ctx AS w1
    FROM picked p
)
SELECT w.request_id, w.field, w.entity_type, w.ts, w.start, w."end", w.w0, w.n,
       CASE WHEN w.reason IS NULL THEN 'high' ELSE 'low' END AS confidence,
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
    Expects the window's scan to have been kept (``aimon.store.pii_cache.keep``)."""
    import polars as pl

    names = [Field(f).value for f in fields]
    params = {**window.params(), "fields": names}
    requests, with_pii, findings, rejected = con.execute(TOTALS_SQL, params).fetchall()[0]
    orphans = _orphan_feedback(con, window, [Field(f) for f in fields])
    by_entity = con.sql(BY_ENTITY_SQL, params=params).pl()
    by_entity = by_entity.with_columns(
        pl.col("entity_type").replace_strict({k: e.category for k, e in ENTITY_TYPES.items()},
                                             default="pii").alias("category")
    ).select("entity_type", "category", "findings", "low_confidence", "requests", "first_seen", "last_seen")
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
        for request_id, field, entity, ts, start, end, w0, _n, confidence, text, spans in sorted(
                rows, key=lambda r: (r[2], r[7])):
            sample_rows.append({"request_id": request_id, "field": field, "entity_type": entity, "ts": ts,
                                "confidence": confidence,
                                "snippet": _snippet(text or "", w0, start, end, spans, entity, show_pii)})
    samples_frame = pl.DataFrame(sample_rows, schema={"request_id": pl.String, "field": pl.String,
                                                      "entity_type": pl.String, "ts": pl.Datetime("us", "UTC"),
                                                      "confidence": pl.String, "snippet": pl.String})
    return PiiReport(
        title="PII and secrets in the logs",
        window=window,
        fields=tuple(names),
        detector_version=DETECTOR_VERSION,
        requests=int(requests),
        requests_with_pii=int(with_pii),
        share_with_pii=(with_pii / requests) if requests else 0.0,
        findings=int(findings) + int(orphans["findings"].sum()),
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
        feedback_without_request=orphans,
        low_confidence=con.sql(LOW_CONFIDENCE_SQL, params=params).pl(),
    )


def gate(report: PiiReport, fail_on: Iterable[str]) -> Verdict:
    """A breach per entity type of ``fail_on`` that was found, in requests and in feedback
    without a request (``requests`` None); none: the gate passes."""
    wanted = set(fail_on)
    breaches = [Breach(row["entity_type"], {"findings": row["findings"], "requests": row["requests"]})
                for row in report.by_entity.iter_rows(named=True) if row["entity_type"] in wanted]
    orphans = report.feedback_without_request
    if orphans is not None and orphans.height:
        per_type = orphans.select("entity_type", "findings").group_by("entity_type").sum()
        breaches += [Breach(row["entity_type"], {"findings": row["findings"], "requests": None})
                     for row in per_type.sort("entity_type").iter_rows(named=True) if row["entity_type"] in wanted]
    return Verdict(",".join(sorted(wanted)), tuple(breaches))
