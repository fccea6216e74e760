"""The summary of ``aimon audit security``: by category, user, endpoint and day, with
redacted examples, the abuse episodes, and the ``--fail-on`` gate.

Findings come from ``security_findings`` (current detector version and settings) plus,
when the database could not be written, the audit's in-memory findings; abuse always
comes from the audit (it depends on the limits in force). User ids are shown as
pseudonyms (``user-`` and 10 hex digits of their SHA-256) unless ``show_pii``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from aimon.analysis.security import SecurityAudit
from aimon.analysis.security import rules as R
from aimon.analysis.toolkit.gate import Breach, Verdict
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError

SEVERITIES = ("low", "medium", "high")
FAMILIES = ("injection", "leakage", "exfiltration", "abuse")

# The findings the report reads: stored ones of this detector and settings, and the
# audit's own when they were not stored (registered as _aimon_fresh_security).
FINDINGS_SQL = """
SELECT request_id, ts, field, family, category, rule, severity, score, start, "end", obfuscation, evidence
FROM security_findings
WHERE family <> 'abuse' AND detector_version = $version AND settings = $settings AND ts >= $start AND ts < $end
  AND $use_stored
UNION ALL BY NAME
SELECT request_id, ts, field, family, category, rule, severity, score, start, "end", obfuscation, evidence
FROM _aimon_fresh_security
WHERE ts >= $start AND ts < $end
"""
_USER = ("CASE WHEN r.user_id IS NULL THEN '(none)' WHEN $show_pii THEN r.user_id "
         "ELSE 'user-' || left(sha256(r.user_id), 10) END")

TOTALS_SQL = """
SELECT (SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end) AS requests,
       count(DISTINCT request_id) AS requests_flagged,
       count(*) AS findings,
       count(*) FILTER (WHERE severity = 'high') AS high,
       count(DISTINCT request_id) FILTER (WHERE family = 'injection') AS injection_requests
FROM _aimon_security_window
"""

BY_CATEGORY_SQL = """
SELECT family, category, count(DISTINCT request_id) AS requests, count(*) AS findings,
       count(*) FILTER (WHERE severity = 'high') AS high,
       count(*) FILTER (WHERE severity = 'medium') AS medium,
       count(*) FILTER (WHERE severity = 'low') AS low,
       count(*) FILTER (WHERE obfuscation IS NOT NULL AND family = 'injection') AS obfuscated,
       min(ts) AS first_seen, max(ts) AS last_seen
FROM _aimon_security_window GROUP BY family, category
ORDER BY list_position($families, family), high DESC, requests DESC, category
"""

BY_USER_SQL = f"""
SELECT {_USER} AS user, count(DISTINCT f.request_id) AS requests_flagged, count(*) AS findings,
       count(*) FILTER (WHERE f.severity = 'high') AS high,
       list(DISTINCT f.category ORDER BY f.category) AS categories, max(f.ts) AS last_seen
FROM _aimon_security_window f JOIN requests r USING (request_id)
GROUP BY ALL ORDER BY high DESC, requests_flagged DESC, user
LIMIT $top
"""

BY_ENDPOINT_SQL = """
SELECT coalesce(r.endpoint, '(none)') AS endpoint, count(DISTINCT f.request_id) AS requests_flagged,
       count(DISTINCT f.request_id) FILTER (WHERE f.family = 'injection') AS injection,
       count(DISTINCT f.request_id) FILTER (WHERE f.family = 'leakage') AS leakage,
       count(DISTINCT f.request_id) FILTER (WHERE f.family = 'exfiltration') AS exfiltration,
       count(*) FILTER (WHERE f.family = 'abuse') AS abuse_episodes,
       count(*) FILTER (WHERE f.severity = 'high') AS high
FROM _aimon_security_window f JOIN requests r USING (request_id)
GROUP BY ALL ORDER BY requests_flagged DESC, endpoint
"""

BY_DAY_SQL = """
WITH req AS (
    SELECT date_trunc('day', ts)::DATE AS day, count(*) AS requests
    FROM requests WHERE ts >= $start AND ts < $end GROUP BY ALL
), found AS (
    SELECT date_trunc('day', ts)::DATE AS day, count(DISTINCT request_id) AS requests_flagged,
           count(DISTINCT request_id) FILTER (WHERE family = 'injection') AS injection,
           count(DISTINCT request_id) FILTER (WHERE family = 'leakage') AS leakage,
           count(DISTINCT request_id) FILTER (WHERE family = 'exfiltration') AS exfiltration,
           count(*) FILTER (WHERE family = 'abuse') AS abuse_episodes,
           count(*) FILTER (WHERE severity = 'high') AS high
    FROM _aimon_security_window GROUP BY ALL
)
SELECT req.day, req.requests, coalesce(requests_flagged, 0) AS requests_flagged, coalesce(injection, 0) AS injection,
       coalesce(leakage, 0) AS leakage, coalesce(exfiltration, 0) AS exfiltration,
       coalesce(abuse_episodes, 0) AS abuse_episodes, coalesce(high, 0) AS high
FROM req LEFT JOIN found USING (day)
ORDER BY req.day
"""

_FIELD_TEXT = "CASE f.field WHEN 'prompt' THEN r.prompt WHEN 'response' THEN r.response END"

# A few findings per category: high first, then newest; one per request.
EXAMPLES_SQL = f"""
WITH one AS (
    SELECT * FROM _aimon_security_window WHERE family <> 'abuse'
    QUALIFY row_number() OVER (PARTITION BY request_id, field ORDER BY score DESC, start) = 1
), picked AS (
    SELECT *, row_number() OVER (PARTITION BY category
                                 ORDER BY list_position($severities, severity) DESC, ts DESC, request_id) AS n
    FROM one QUALIFY n <= $per_category
)
SELECT p.ts, p.request_id, p.field, p.category, p.rule, p.severity, p.obfuscation, p.evidence,
       CASE WHEN $show_pii THEN substring({_FIELD_TEXT.replace('f.', 'p.')}, greatest(p.start - 60, 0) + 1,
                                          p."end" - greatest(p.start - 60, 0) + 60) END AS text
FROM picked p JOIN requests r USING (request_id)
ORDER BY list_position($families, p.family), p.category, p.n
"""


@dataclass(frozen=True)
class SecurityReport:
    """What ``aimon audit security`` shows. User ids are pseudonyms and evidence is
    redacted unless ``pii_shown``."""

    title: str
    window: Window
    detector_version: int
    requests: int
    requests_flagged: int
    injection_requests: int
    findings: int
    high: int
    by_category: Any
    by_user: Any
    by_endpoint: Any
    by_day: Any
    examples: Any
    abuse: Any
    notes: tuple[str, ...]
    pii_shown: bool


@dataclass(frozen=True)
class SecurityGate:
    """--fail-on as given (``asked``, for the message) and the lowest severity that fails."""

    asked: str
    level: str


def parse_gate(text: str) -> SecurityGate:
    """'high', 'medium', 'low' or 'any' -> the gate (any: the lowest severity, low)."""
    asked = text.strip().lower()
    level = "low" if asked == "any" else asked
    if level not in SEVERITIES:
        raise UsageError(f"--fail-on: unknown severity {text.strip()!r}; use high, medium, low or any")
    return SecurityGate(asked, level)


def gate(report: SecurityReport, g: SecurityGate) -> Verdict:
    """A breach per category with findings at ``g.level`` or above (none: the gate passes)."""
    wanted = SEVERITIES[SEVERITIES.index(g.level):]
    breaches = []
    for row in report.by_category.iter_rows(named=True):
        n = sum(row[s] for s in wanted)
        if n:
            breaches.append(Breach(row["category"], {"family": row["family"], "findings": n, "level": g.level,
                                                     "requests": row["requests"]}))
    return Verdict(g.asked, tuple(breaches))


def _episodes_frame(audit: SecurityAudit, show_pii: bool) -> pl.DataFrame:
    from aimon.analysis.security import abuse as A

    e = audit.episodes
    if e.height == 0:
        return pl.DataFrame(schema={"user": pl.String, "limit": pl.String, "started": pl.Datetime("us", "UTC"),
                                    "ended": pl.Datetime("us", "UTC"), "periods_over": pl.Int64, "peak": pl.Float64,
                                    "limit_value": pl.Float64, "ratio": pl.Float64, "severity": pl.String})
    users = e["user_id"] if show_pii else e["user_id"].map_elements(_pseudonym, return_dtype=pl.String)
    return pl.DataFrame({
        "user": users, "limit": e["limit_name"], "started": e["started"], "ended": e["ended"],
        "periods_over": e["buckets_over"], "peak": e["peak"], "limit_value": e["limit_value"],
        "ratio": e["ratio"].round(2), "severity": [A.severity(r) for r in e["ratio"]],
    })


def _pseudonym(user_id: str) -> str:
    import hashlib

    return "user-" + hashlib.sha256(user_id.encode()).hexdigest()[:10]


_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    names = set(_PARAM.findall(sql))
    return con.sql(sql, params={k: v for k, v in params.items() if k in names}).pl()


def security_report(con: duckdb.DuckDBPyConnection, audit: SecurityAudit, *, stored: bool,
                    top: int = 10, examples: int = 3, show_pii: bool = False,
                    notes: tuple[str, ...] = ()) -> SecurityReport:
    """Summarise the window's findings: stored ones, plus ``audit``'s when not ``stored``."""
    window = audit.window
    fresh = audit.abuse_rows() if stored else audit.rows()
    con.register("_aimon_fresh_security", fresh.to_arrow())
    try:
        # A rescan kept in memory replaces the stored findings of the window.
        use_stored = stored or not audit.rescan
        params = {**window.params(), "version": audit.detector_version, "settings": audit.settings,
                  "use_stored": use_stored,
                  "show_pii": show_pii, "top": top, "families": list(FAMILIES),
                  "severities": list(SEVERITIES), "per_category": examples}
        base = _frame(con, FINDINGS_SQL, params)
        con.register("_aimon_security_window", base.to_arrow())
        try:
            totals = _frame(con, TOTALS_SQL, params).row(0, named=True)
            by_category = _frame(con, BY_CATEGORY_SQL, params)
            by_user = _frame(con, BY_USER_SQL, params)
            by_endpoint = _frame(con, BY_ENDPOINT_SQL, params)
            by_day = _frame(con, BY_DAY_SQL, params)
            picked = _frame(con, EXAMPLES_SQL, params) if examples > 0 else pl.DataFrame()
        finally:
            con.unregister("_aimon_security_window")
    finally:
        con.unregister("_aimon_fresh_security")
    if picked.height and not show_pii:
        picked = picked.drop("text")
    return SecurityReport(
        title="Security audit: prompt injection, leakage, exfiltration and abuse",
        window=window, detector_version=audit.detector_version,
        requests=int(totals["requests"]), requests_flagged=int(totals["requests_flagged"]),
        injection_requests=int(totals["injection_requests"]), findings=int(totals["findings"]),
        high=int(totals["high"]), by_category=by_category, by_user=by_user, by_endpoint=by_endpoint,
        by_day=by_day, examples=picked, abuse=_episodes_frame(audit, show_pii), notes=notes, pii_shown=show_pii,
    )


CATEGORY_HELP = {
    "instruction_override": "asks the model to ignore or replace its instructions",
    "jailbreak": "DAN and kin: a persona or mode without rules",
    "fake_delimiter": "fake system turns, chat-template tokens or role markers",
    "prompt_extraction": "asks for the system prompt or hidden instructions",
    "encoded": "an injection hidden in base64 or hex",
    "indirect": "an injection inside a document, web page or tool output the user passed on",
    "system_prompt_leak": "the response discloses the system prompt",
    "exfiltration_link": "an image or link to a host outside the allow-list carrying data",
    "invisible_text": "invisible characters in a response (hidden text or a covert channel)",
    "abuse": "a user above a requests, tokens or cost limit",
}
assert set(CATEGORY_HELP) == set(R.FAMILY_OF)
