"""The compliance report: what personal data the logs hold, under which rules, and what
was deleted.

Reads the PII findings of :mod:`aimon.analysis.pii` (the caller scans the window
first), the consent and jurisdiction columns of ``requests``, user reports in
``feedback``, and the ``audit_log`` written by ``aimon forget``/``aimon purge``.

Which jurisdictions need consent, and the retention period, come from the
``[compliance]`` table of ``aimon.toml``::

    [compliance]
    retention_days = 90
    consent_required = ["EU", "UK", "BR"]

``EU`` also matches the member states' ISO codes (DE, FR, ...) and ``EEA`` adds
IS, LI and NO; matching ignores case. Retention counts back from the clock (``as_of``),
not from the newest request: it is about what is stored today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from aimon import config
from aimon.analysis.pii.entities import ENTITY_TYPES, Field
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError
from aimon.store.forget import audit_entries

DEFAULT_RETENTION_DAYS = config.ComplianceConfig().retention_days
DEFAULT_CONSENT_REQUIRED = config.ComplianceConfig().consent_required
EU_MEMBERS = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
              "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")
GROUPS = {"EU": EU_MEMBERS, "EEA": (*EU_MEMBERS, "EU", "IS", "LI", "NO"), "UK": ("GB",), "GB": ("UK",)}


@dataclass(frozen=True)
class ComplianceConfig:
    retention_days: int = DEFAULT_RETENTION_DAYS
    consent_required: tuple[str, ...] = DEFAULT_CONSENT_REQUIRED
    source: str | None = None

    def consent_codes(self) -> list[str]:
        """Upper-case jurisdiction codes that need consent, groups expanded."""
        codes: set[str] = set()
        for j in self.consent_required:
            code = j.strip().upper()
            codes.add(code)
            codes.update(GROUPS.get(code, ()))
        return sorted(codes)


def load_config(path: Path | None) -> ComplianceConfig:
    """The [compliance] table of an aimon.toml (found by ``aimon.config.discover``);
    defaults without a file. InputError naming the key when a value is wrong or unknown."""
    table = config.section(path, "compliance", config.ComplianceConfig)
    return ComplianceConfig(table.retention_days, table.consent_required, None if path is None else str(path))


def parse_jurisdictions(text: str) -> tuple[str, ...]:
    codes = tuple(c.strip() for c in text.split(",") if c.strip())
    if not codes:
        raise UsageError("--consent-required needs jurisdiction codes such as EU,UK,BR")
    return codes


@dataclass(frozen=True)
class ComplianceReport:
    """What ``aimon audit compliance`` shows; counts only, no text and no PII."""

    title: str
    window: Window
    as_of: datetime
    config: ComplianceConfig
    total_requests: int
    requests_with_pii: int
    requests_with_pii_in_prompt: int
    requests_with_pii_in_response: int
    requests_with_pii_in_system_prompt: int
    share_with_pii: float
    requests_with_secrets: int
    pii_by_entity: Any
    content_flags: int
    content_flags_by_category: Any
    models: Any
    jurisdictions: Any
    consent_required_jurisdictions: tuple[str, ...]
    requests_without_consent: int
    requests_consent_unknown: int
    retention_cutoff: datetime
    rows_past_retention: dict[str, int]
    oldest_request: datetime | None
    deletions: list[dict]
    rows_deleted: int


PII_COUNTS_SQL = """
SELECT count(DISTINCT request_id) FILTER (WHERE category = 'pii') AS any_pii,
       count(DISTINCT request_id) FILTER (WHERE category = 'pii' AND field = 'prompt') AS in_prompt,
       count(DISTINCT request_id) FILTER (WHERE category = 'pii' AND field = 'response') AS in_response,
       count(DISTINCT request_id) FILTER (WHERE category = 'pii' AND field = 'system_prompt') AS in_system_prompt,
       count(DISTINCT request_id) FILTER (WHERE category = 'secret') AS secrets
FROM (SELECT f.*, CASE WHEN list_contains($secret_types, entity_type) THEN 'secret' ELSE 'pii' END AS category
      FROM pii_findings f
      WHERE validated AND ts >= $start AND ts < $end)
"""

PII_BY_ENTITY_SQL = """
SELECT entity_type,
       count(DISTINCT request_id) AS requests,
       count(DISTINCT request_id) FILTER (WHERE field = 'prompt') AS in_prompt,
       count(DISTINCT request_id) FILTER (WHERE field = 'response') AS in_response,
       count(DISTINCT request_id) FILTER (WHERE field = 'system_prompt') AS in_system_prompt
FROM pii_findings
WHERE validated AND ts >= $start AND ts < $end
GROUP BY ALL ORDER BY requests DESC, entity_type
"""

TOTAL_SQL = "SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end"

# A content flag: a user report in the feedback (thumbs-down reasons are opinions, a
# report is a flag), or a moderation flag the source logged in the request's extra.
FLAGS_SQL = """
WITH reports AS (
    SELECT coalesce(feedback_category, '(none)') AS category, count(*) AS flags
    FROM feedback
    WHERE feedback_type = 'report' AND ts >= $start AND ts < $end
    GROUP BY ALL
), moderated AS (
    SELECT 'moderation flag (logged)' AS category, count(*) AS flags
    FROM requests
    WHERE ts >= $start AND ts < $end AND extra IS NOT NULL
      AND list_has_any(
            list_transform(['$.content_flag', '$.content_moderation_flag', '$.moderation_flag', '$.flagged',
                            '$.moderation.flagged'],
                           lambda p: lower(coalesce(json_extract_string(extra, p), ''))),
            ['true', '1', 'yes', 'flagged', 'harmful', 'sexual', 'violence', 'hate', 'self-harm'])
    HAVING count(*) > 0
)
SELECT 'user report: ' || category AS category, flags FROM reports
UNION ALL SELECT category, flags FROM moderated
ORDER BY flags DESC, category
"""

MODELS_SQL = """
SELECT coalesce(provider, '(unknown)') AS provider, coalesce(model, '(unknown)') AS model, count(*) AS requests,
       min(ts) AS first_seen, max(ts) AS last_seen
FROM requests WHERE ts >= $start AND ts < $end
GROUP BY ALL ORDER BY requests DESC, model
"""

JURISDICTIONS_SQL = """
SELECT coalesce(jurisdiction, '(unknown)') AS jurisdiction,
       list_contains($codes, upper(jurisdiction)) AS consent_required,
       count(*) AS requests,
       count(*) FILTER (WHERE consent) AS with_consent,
       count(*) FILTER (WHERE NOT consent) AS without_consent,
       count(*) FILTER (WHERE consent IS NULL) AS consent_unknown,
       count(DISTINCT user_id) AS users
FROM requests WHERE ts >= $start AND ts < $end
GROUP BY ALL ORDER BY requests DESC, jurisdiction
"""

CONSENT_SQL = """
SELECT count(*) FILTER (WHERE NOT consent), count(*) FILTER (WHERE consent IS NULL)
FROM requests
WHERE ts >= $start AND ts < $end AND list_contains($codes, upper(jurisdiction))
"""

RETENTION_SQL = """
SELECT (SELECT count(*) FROM requests WHERE ts < $cutoff),
       (SELECT count(*) FROM feedback WHERE ts < $cutoff),
       (SELECT count(*) FROM rejects WHERE ingested_at < $cutoff),
       (SELECT count(*) FROM pii_findings WHERE ts < $cutoff),
       (SELECT min(ts) FROM requests)
"""


def compliance_report(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    config: ComplianceConfig,
    *,
    as_of: datetime | None = None,
) -> ComplianceReport:
    """The report for the window; retention and deletions cover the whole database.
    Expects the window's prompt, response and system prompt to have been scanned."""
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    params = window.params()
    codes = config.consent_codes()
    secret_types = [k for k, e in ENTITY_TYPES.items() if e.category == "secret"]
    total = con.execute(TOTAL_SQL, params).fetchall()[0][0]
    any_pii, in_prompt, in_response, in_system, secrets = con.execute(
        PII_COUNTS_SQL, {**params, "secret_types": secret_types}).fetchall()[0]
    flags = con.sql(FLAGS_SQL, params=params).pl()
    without, unknown = con.execute(CONSENT_SQL, {**params, "codes": codes}).fetchall()[0]
    cutoff = as_of - timedelta(days=config.retention_days)
    old_requests, old_feedback, old_rejects, old_findings, oldest = con.execute(
        RETENTION_SQL, {"cutoff": cutoff}).fetchall()[0]
    deletions = audit_entries(con)
    return ComplianceReport(
        title="Compliance report",
        window=window,
        as_of=as_of,
        config=config,
        total_requests=int(total),
        requests_with_pii=int(any_pii),
        requests_with_pii_in_prompt=int(in_prompt),
        requests_with_pii_in_response=int(in_response),
        requests_with_pii_in_system_prompt=int(in_system),
        share_with_pii=any_pii / total if total else 0.0,
        requests_with_secrets=int(secrets),
        pii_by_entity=con.sql(PII_BY_ENTITY_SQL, params=params).pl(),
        content_flags=int(flags["flags"].sum()) if flags.height else 0,
        content_flags_by_category=flags,
        models=con.sql(MODELS_SQL, params=params).pl(),
        jurisdictions=con.sql(JURISDICTIONS_SQL, params={**params, "codes": codes}).pl(),
        consent_required_jurisdictions=tuple(config.consent_required),
        requests_without_consent=int(without),
        requests_consent_unknown=int(unknown),
        retention_cutoff=cutoff,
        rows_past_retention={"requests": int(old_requests), "feedback": int(old_feedback),
                             "rejects": int(old_rejects), "pii_findings": int(old_findings)},
        oldest_request=oldest,
        deletions=deletions,
        rows_deleted=sum(d["rows_deleted"] for d in deletions),
    )


COMPLIANCE_FIELDS = (Field.prompt, Field.response, Field.system_prompt)
