"""The summary of ``aimon validate``: failure rate per check (Wilson 95% interval) overall
and by model, endpoint and prompt version, redacted examples, and the ``--fail-on`` gate.

Results come from the stored tables (current version and settings of each check) and,
when they could not be stored, from the run in memory. Counts are taken from the
compact form (a bitmask of checks per request), never by expanding every result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb
import polars as pl

from aimon.analysis.toolkit.gate import Breach, Verdict
from aimon.analysis.toolkit.intervals import wilson_exprs
from aimon.analysis.validate import ValidationRun, no_ranges
from aimon.analysis.validate import checks as K
from aimon.errors import UsageError

EXAMPLE_CHARS = 160


class Dimension(StrEnum):
    """Splits of the failure rates (fixed column names, never user text in SQL)."""

    model = "model"
    endpoint = "endpoint"
    prompt_version = "prompt_version"


CURRENT = """(SELECT unnest($names) AS check_name, unnest($versions) AS checker_version,
                   unnest($settings) AS settings, unnest($bits) AS bit)"""

# Requests covered in the window, with the bits of the current checks that covered them
# and the splits; stored runs plus, when not stored, the run in memory.
COVERAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE _aimon_vcov AS
WITH runs AS (
    SELECT r.run_id, sum(c.bit)::INTEGER AS mask
    FROM validation_runs r JOIN {CURRENT} c USING (check_name, checker_version, settings)
    GROUP BY r.run_id
), ranges AS (
    SELECT m.mask, g.* EXCLUDE (run_id, requests) FROM validation_coverage_ranges g JOIN runs m USING (run_id)
    UNION ALL
    SELECT mask, ingested_at, endpoint, model, prompt_version, ts_from, ts_to FROM _aimon_fresh_ranges WHERE mask <> 0
), cov AS (
    SELECT m.mask, v.model, v.endpoint, v.prompt_version FROM validation_coverage v JOIN runs m USING (run_id)
    WHERE v.ts >= $start AND v.ts < $end
    UNION ALL
    SELECT mask, model, endpoint, prompt_version FROM _aimon_fresh_covered
    WHERE ts >= $start AND ts < $end AND mask <> 0
    UNION ALL
    -- A range's requests as they are now (forget and purge remove some), counted
    -- without their ids.
    SELECT g.mask, g.model, g.endpoint, g.prompt_version
    FROM ranges g JOIN requests q ON {K.IN_RANGE}
    WHERE g.ts_to >= $start AND g.ts_from < $end AND q.ts >= $start AND q.ts < $end
)
-- A request and check meet in one current run at most, so counts add up without
-- going back to single requests (the splits are kept beside each covered request).
SELECT mask, model, endpoint, prompt_version, count(*) AS n FROM cov GROUP BY ALL
"""

OUTCOMES_SQL = f"""
CREATE OR REPLACE TEMP TABLE _aimon_vout AS
WITH o AS (
    SELECT o.request_id, o.check_name, o.passed, o.detail
    FROM validation_outcomes o
    JOIN validation_runs r ON r.run_id = o.run_id AND r.check_name = o.check_name
    JOIN {CURRENT} c ON c.check_name = r.check_name AND c.checker_version = r.checker_version
                     AND c.settings = r.settings
    UNION ALL
    SELECT request_id, check_name, passed, detail FROM _aimon_fresh_outcomes
)
SELECT o.*, q.model, q.endpoint, q.prompt_version, q.ts
FROM o JOIN requests q USING (request_id)
WHERE q.ts >= $start AND q.ts < $end
"""

BY_CHECK_SQL = f"""
WITH masks AS (SELECT mask, sum(n) AS n FROM _aimon_vcov GROUP BY mask),
checked AS (SELECT c.check_name, sum(n)::BIGINT AS checked FROM masks JOIN {CURRENT} c ON (masks.mask & c.bit) <> 0
            GROUP BY ALL),
result AS (SELECT check_name, count(*) FILTER (WHERE passed = false) AS failed,
                  count(*) FILTER (WHERE passed IS NULL) AS skipped
           FROM _aimon_vout GROUP BY ALL)
SELECT checked.check_name, checked.checked, coalesce(failed, 0) AS failed, coalesce(skipped, 0) AS skipped
FROM checked LEFT JOIN result USING (check_name)
"""

BY_DIMENSION_SQL = f"""
WITH masks AS (SELECT coalesce({{dim}}, '(none)') AS value, mask, sum(n) AS n FROM _aimon_vcov GROUP BY ALL),
checked AS (SELECT masks.value, c.check_name, sum(n)::BIGINT AS checked
            FROM masks JOIN {CURRENT} c ON (masks.mask & c.bit) <> 0 GROUP BY ALL),
result AS (SELECT coalesce({{dim}}, '(none)') AS value, check_name, count(*) FILTER (WHERE passed = false) AS failed
           FROM _aimon_vout GROUP BY ALL)
SELECT checked.value AS {{dim}}, checked.check_name, checked.checked, coalesce(failed, 0) AS failed
FROM checked LEFT JOIN result USING (value, check_name)
ORDER BY checked.check_name, {{dim}}
"""

# The newest failures of each check first, then their texts: joining every failure to
# requests read the response column of the whole window (0.23 CPU s a million rows).
EXAMPLES_SQL = """
WITH picked AS (
    SELECT check_name, request_id, ts, detail FROM _aimon_vout
    WHERE passed = false
    QUALIFY row_number() OVER (PARTITION BY check_name ORDER BY ts DESC, request_id) <= $per_check
)
SELECT p.check_name, p.request_id, p.ts, p.detail, q.response
FROM picked p JOIN requests q USING (request_id)
ORDER BY p.check_name, p.ts DESC
"""

RESPONSES_SQL = """
SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end AND status = 'ok'
"""


@dataclass(frozen=True)
class Gate:
    check: str
    inclusive: bool
    threshold: float


@dataclass(frozen=True)
class ValidationReport:
    """What ``aimon validate`` shows; examples are redacted unless ``pii_shown``."""

    title: str
    window: Any
    responses: int
    checked: int
    by_check: Any
    by_model: Any
    by_endpoint: Any
    by_prompt_version: Any
    examples: Any
    notes: tuple[str, ...]
    pii_shown: bool


_GATE = re.compile(r"^\s*([a-z_]+)\s*(>=|>)\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$")


def parse_gate(text: str) -> list[Gate]:
    """'repetition>2%,refusal>5%' -> gates; a failure rate above the threshold fails."""
    gates = []
    for part in text.split(","):
        if not part.strip():
            continue
        m = _GATE.match(part.lower())
        if not m:
            raise UsageError(f"--fail-on: cannot read {part.strip()!r}; write CHECK>RATE such as refusal>5%")
        name, op, number, pct = m.groups()
        if name not in K.BY_NAME:
            raise UsageError(f"--fail-on: unknown check {name!r}; use {', '.join(K.BY_NAME)}")
        value = float(number) / 100 if pct else float(number)
        if not 0 <= value <= 1:
            raise UsageError(f"--fail-on: {part.strip()!r} is not a rate; write 5% or 0.05")
        gates.append(Gate(name, op == ">=", value))
    if not gates:
        raise UsageError("--fail-on needs CHECK>RATE, such as 'repetition>2%,refusal>5%'")
    return gates


def gate(report: ValidationReport, gates: list[Gate]) -> Verdict:
    """A breach per gate whose check failed above its rate (none: all pass). A gate on a
    check that did not run in the window cannot be judged: UsageError."""
    rows = {r["check"]: r for r in report.by_check.iter_rows(named=True)}
    breaches = []
    for g in gates:
        row = rows.get(g.check)
        if row is None or not row["checked"]:
            why = row["status"] if row else "not run"
            raise UsageError(f"--fail-on {g.check}: no response was checked ({why}); the gate cannot be judged")
        rate = row["failure_rate"]
        if rate > g.threshold or (g.inclusive and rate >= g.threshold):
            breaches.append(Breach(g.check, {"rate": rate, "checked": row["checked"],
                                             "inclusive": g.inclusive, "threshold": g.threshold}))
    return Verdict(",".join(f"{g.check}{'>=' if g.inclusive else '>'}{g.threshold:g}" for g in gates),
                   tuple(breaches))


def _with_rates(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(*wilson_exprs("failed", "checked", "failure_rate"))


def _snippets(con, frame: pl.DataFrame, show_pii: bool) -> pl.DataFrame:
    from aimon.analysis.pii.scan import redact_texts

    texts = frame["response"].to_list()
    shown = texts if show_pii else redact_texts(con, texts)
    cut = [None if t is None else (" ".join(t.split())[:EXAMPLE_CHARS] + ("…" if len(t) > EXAMPLE_CHARS else ""))
           for t in shown]
    return frame.drop("response").with_columns(pl.Series("response", cut, dtype=pl.String))


def validation_report(con: duckdb.DuckDBPyConnection, run: ValidationRun, *, stored: bool, examples: int = 3,
                      show_pii: bool = False, notes: tuple[str, ...] = ()) -> ValidationReport:
    """Summarise the window's results: stored ones, plus ``run``'s when not ``stored``."""
    import pyarrow as pa

    checks = run.checks
    params = {**run.window.params(), "names": [c.name for c in checks], "versions": [c.version for c in checks],
              "settings": [c.settings for c in checks], "bits": [c.bit for c in checks], "per_check": examples}
    empty = pa.table({"request_id": pa.array([], pa.string()), "ts": pa.array([], pa.timestamp("us", tz="UTC")),
                      "mask": pa.array([], pa.int32()), "model": pa.array([], pa.string()),
                      "endpoint": pa.array([], pa.string()), "prompt_version": pa.array([], pa.string())})
    con.register("_aimon_fresh_covered", empty if stored else run.covered)
    ranges = no_ranges() if stored or run.ranges is None else run.ranges
    con.register("_aimon_fresh_ranges", ranges)
    con.register("_aimon_fresh_outcomes", run.outcomes.head(0).to_arrow() if stored else run.outcomes.to_arrow())
    try:
        con.execute(COVERAGE_SQL, {k: params[k] for k in ("names", "versions", "settings", "bits", "start", "end")})
        con.execute(OUTCOMES_SQL, {k: params[k] for k in ("names", "versions", "settings", "bits", "start", "end")})
        current = {k: params[k] for k in ("names", "versions", "settings", "bits")}
        by_check = con.sql(BY_CHECK_SQL, params=current).pl() if checks else pl.DataFrame()
        dims = {d: con.sql(BY_DIMENSION_SQL.format(dim=d.value), params=current).pl() if checks else pl.DataFrame()
                for d in Dimension}
        picked = con.sql(EXAMPLES_SQL, params={"per_check": examples}).pl() if examples else pl.DataFrame()
        responses = con.execute(RESPONSES_SQL, run.window.params()).fetchall()[0][0]
    finally:
        con.execute("DROP TABLE IF EXISTS _aimon_vcov")
        con.execute("DROP TABLE IF EXISTS _aimon_vout")
        con.unregister("_aimon_fresh_covered")
        con.unregister("_aimon_fresh_ranges")
        con.unregister("_aimon_fresh_outcomes")
    return ValidationReport(
        # Responses checked: by the check that covered most (counting distinct requests
        # across runs would read every covered row again).
        title="Output validation", window=run.window, responses=int(responses),
        checked=int(by_check["checked"].max() or 0) if by_check.height else 0,
        by_check=_check_table(by_check, run), by_model=_rated(dims[Dimension.model]),
        by_endpoint=_rated(dims[Dimension.endpoint]), by_prompt_version=_rated(dims[Dimension.prompt_version]),
        examples=_snippets(con, picked, show_pii) if picked.height else picked, notes=notes, pii_shown=show_pii)


def _rated(frame: pl.DataFrame) -> pl.DataFrame:
    return _with_rates(frame.rename({"check_name": "check"})) if frame.height else frame


def _check_table(by_check: pl.DataFrame, run: ValidationRun) -> pl.DataFrame:
    """One row per check in the order of the catalogue, skipped ones included."""
    counts = {r["check_name"]: r for r in by_check.iter_rows(named=True)} if by_check.height else {}
    ran = {c.name for c in run.checks}
    rows = []
    for c in K.CHECKS:
        if c.name not in ran and c.name not in run.skipped:
            continue
        got = counts.get(c.name, {})
        status = f"skipped: {run.skipped[c.name]}" if c.name in run.skipped else "ran"
        rows.append({"check": c.name, "status": status, "checked": int(got.get("checked") or 0),
                     "failed": int(got.get("failed") or 0), "not_judged": int(got.get("skipped") or 0),
                     "what": c.description})
    frame = pl.DataFrame(rows, schema={"check": pl.String, "status": pl.String, "checked": pl.Int64,
                                       "failed": pl.Int64, "not_judged": pl.Int64, "what": pl.String})
    return _with_rates(frame).select("check", "status", "checked", "failed", "failure_rate", "failure_rate_low",
                                     "failure_rate_high", "not_judged", "what")
