"""``aimon audit security``: prompt injection, system-prompt leakage, exfiltration and abuse.

:func:`audit` computes the findings of the texts not scanned yet (and the abuse
episodes of the window) and returns them; it never writes. The command stores them
with ``aimon.store.security.save_audit`` when the database is writable, and
:func:`report.security_report` summarises stored and fresh findings together.
Modules: ``rules`` (the patterns), ``normalise`` (obfuscation and decoding), ``scan``
(the SQL pass), ``judge`` (verdicts), ``abuse`` (limits), ``config`` ([security]).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from aimon.analysis.security import abuse as A
from aimon.analysis.security import rules as R
from aimon.analysis.security import scan as S
from aimon.analysis.security.config import SecurityConfig, load_config
from aimon.analysis.toolkit.window import Window

FINDING_SCHEMA = {
    "request_id": pl.String, "ts": pl.Datetime("us", "UTC"), "field": pl.String, "family": pl.String,
    "category": pl.String, "rule": pl.String, "severity": pl.String, "score": pl.Float64, "start": pl.Int32,
    "end": pl.Int32, "obfuscation": pl.String, "evidence": pl.String, "detector_version": pl.Int32,
    "settings": pl.String,
}


def abuse_digest(config: SecurityConfig) -> str:
    return hashlib.sha256(config.abuse.model_dump_json().encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SecurityAudit:
    """What one audit found: text findings of the newly scanned texts (evidence
    redacted), the window's abuse episodes, and which request fields were scanned."""

    window: Window
    fields: tuple[str, ...]
    rescan: bool
    detector_version: int
    settings: str
    abuse_settings: str
    findings: pl.DataFrame
    episodes: pl.DataFrame
    scanned: Any  # pyarrow Table (request_id, field)
    stats: S.ScanStats

    def abuse_rows(self) -> pl.DataFrame:
        """The episodes as security_findings rows."""
        rows = [{
            "request_id": e["request_id"], "ts": e["started"], "field": None, "family": "abuse",
            "category": "abuse", "rule": e["limit_name"], "severity": A.severity(e["ratio"]),
            "score": round(e["ratio"], 3), "start": None, "end": None, "obfuscation": None,
            "evidence": A.describe(e), "detector_version": self.detector_version, "settings": self.abuse_settings,
        } for e in self.episodes.iter_rows(named=True)]
        return pl.DataFrame(rows, schema=FINDING_SCHEMA)

    def rows(self) -> pl.DataFrame:
        """Every finding as security_findings rows (text findings, then abuse)."""
        return pl.concat([self.findings, self.abuse_rows()], how="vertical")


def audit(con: duckdb.DuckDBPyConnection, window: Window, config: SecurityConfig, *,
          fields: tuple[S.Field, ...] = tuple(S.Field), rescan: bool = False,
          on_texts: Callable[[int, int], None] | None = None) -> SecurityAudit:
    """Scan the window's pending texts and find its abuse episodes. Reads only.
    ``on_texts(done, total)``: how far the classifier is (``config.semantic``)."""
    from aimon.analysis.pii.scan import redact_texts

    settings = S.settings_digest(config)
    found, scanned, stats = S.scan(con, window, config, fields=fields, rescan=rescan, on_texts=on_texts)
    evidence = redact_texts(con, [f.evidence for f in found]) if found else []
    frame = pl.DataFrame([{
        "request_id": str(f.key), "ts": f.ts, "field": f.field, "family": R.FAMILY_OF[f.category],
        "category": f.category, "rule": f.rule, "severity": f.severity, "score": f.score, "start": f.start,
        "end": f.end, "obfuscation": f.obfuscation, "evidence": ev, "detector_version": S.DETECTOR_VERSION,
        "settings": settings,
    } for f, ev in zip(found, evidence, strict=True)], schema=FINDING_SCHEMA)
    return SecurityAudit(window=window, fields=tuple(f.value for f in fields), rescan=rescan,
                         detector_version=S.DETECTOR_VERSION, settings=settings, abuse_settings=abuse_digest(config),
                         findings=frame, episodes=A.episodes(con, window, config.abuse), scanned=scanned,
                         stats=stats)


__all__ = ["SecurityAudit", "SecurityConfig", "audit", "load_config"]
