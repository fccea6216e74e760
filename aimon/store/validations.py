"""Storing the results of ``aimon validate`` (computed by aimon.analysis.validate).

One transaction per sweep. Results of a check at another version or settings go (the
check re-runs over what it covered); each distinct set of checks applied to a request
becomes a run (validation_runs), the requests it covered go to
validation_coverage_ranges (one row per whole group: an ingest's requests of one
endpoint, model and prompt version between two instants) or, when a group was not
whole, one by one to validation_coverage, and every result that is not a plain pass to
validation_outcomes. The view ``validations`` shows every result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from aimon.store.session import transaction

CURRENT = """(SELECT unnest($names) AS check_name, unnest($versions) AS checker_version,
                   unnest($settings) AS settings, unnest($bits) AS bit)"""
DROP_STALE_RUNS_SQL = f"""
DELETE FROM validation_runs r
WHERE list_contains($names, r.check_name)
  AND NOT EXISTS (SELECT 1 FROM {CURRENT} c
                  WHERE c.check_name = r.check_name AND c.checker_version = r.checker_version
                    AND c.settings = r.settings)
"""
DROP_ORPHAN_OUTCOMES_SQL = """
DELETE FROM validation_outcomes o
WHERE NOT EXISTS (SELECT 1 FROM validation_runs r WHERE r.run_id = o.run_id AND r.check_name = o.check_name)
"""
DROP_ORPHAN_VALIDATED_SQL = """
DELETE FROM validation_coverage v WHERE v.run_id NOT IN (SELECT run_id FROM validation_runs)
"""
DROP_ORPHAN_RANGES_SQL = """
DELETE FROM validation_coverage_ranges g WHERE g.run_id NOT IN (SELECT run_id FROM validation_runs)
"""
MASKS_SQL = """
CREATE OR REPLACE TEMP TABLE _aimon_masks AS
SELECT mask, (SELECT coalesce(max(run_id), 0) FROM validation_runs) + row_number() OVER (ORDER BY mask) AS run_id
FROM (SELECT mask FROM _aimon_new_covered WHERE mask <> 0
      UNION SELECT mask FROM _aimon_new_ranges WHERE mask <> 0)
"""
INSERT_RANGES_SQL = """
INSERT INTO validation_coverage_ranges (run_id, ingested_at, endpoint, model, prompt_version, ts_from, ts_to, requests)
SELECT m.run_id, g.ingested_at, g.endpoint, g.model, g.prompt_version, g.ts_from, g.ts_to, g.n
FROM _aimon_new_ranges g JOIN _aimon_masks m USING (mask)
"""
INSERT_RUNS_SQL = f"""
INSERT INTO validation_runs (run_id, check_name, checker_version, settings, ran_at)
SELECT m.run_id, c.check_name, c.checker_version, c.settings, $now
FROM _aimon_masks m JOIN {CURRENT} c ON (m.mask & c.bit) <> 0
"""
INSERT_VALIDATED_SQL = """
INSERT INTO validation_coverage (request_id, ts, run_id, model, endpoint, prompt_version)
SELECT v.request_id, v.ts, m.run_id, v.model, v.endpoint, v.prompt_version FROM _aimon_new_covered v JOIN _aimon_masks m USING (mask)
"""
# Each outcome goes to the run of its request's checks: found among the requests stored
# one by one, else in the range that holds it (the outcomes are few; the ranges, a
# handful per ingest).
INSERT_OUTCOMES_SQL = """
INSERT INTO validation_outcomes (request_id, run_id, check_name, passed, detail)
WITH ranged AS (
    SELECT o.request_id, g.mask
    FROM (SELECT DISTINCT request_id FROM _aimon_new_outcomes) o
    JOIN requests q USING (request_id)
    JOIN _aimon_new_ranges g
      ON q.ingested_at = g.ingested_at AND q.endpoint IS NOT DISTINCT FROM g.endpoint
     AND q.model IS NOT DISTINCT FROM g.model AND q.prompt_version IS NOT DISTINCT FROM g.prompt_version
     AND q.ts >= g.ts_from AND q.ts <= g.ts_to AND q.status = 'ok'
), masks AS (
    SELECT request_id, mask FROM _aimon_new_covered
    UNION ALL
    SELECT request_id, mask FROM ranged
)
SELECT o.request_id, m.run_id, o.check_name, o.passed, o.detail
FROM _aimon_new_outcomes o JOIN masks v USING (request_id) JOIN _aimon_masks m USING (mask)
"""


def save_run(con: duckdb.DuckDBPyConnection, run: Any) -> None:
    """Write a ``ValidationRun`` (aimon.analysis.validate) in one transaction."""
    current = {"names": [c.name for c in run.checks], "versions": [c.version for c in run.checks],
               "settings": [c.settings for c in run.checks], "bits": [c.bit for c in run.checks]}
    con.register("_aimon_new_covered", run.covered)
    con.register("_aimon_new_ranges", run.ranges)
    con.register("_aimon_new_outcomes", run.outcomes.to_arrow())
    try:
        with transaction(con):
            con.execute(DROP_STALE_RUNS_SQL, current)
            con.execute(DROP_ORPHAN_OUTCOMES_SQL)
            con.execute(DROP_ORPHAN_VALIDATED_SQL)
            con.execute(DROP_ORPHAN_RANGES_SQL)
            con.execute(MASKS_SQL)
            con.execute(INSERT_RUNS_SQL, {**current, "now": datetime.now(UTC)})
            con.execute(INSERT_VALIDATED_SQL)
            con.execute(INSERT_RANGES_SQL)
            con.execute(INSERT_OUTCOMES_SQL)
            con.execute("DROP TABLE _aimon_masks")
    finally:
        con.unregister("_aimon_new_covered")
        con.unregister("_aimon_new_ranges")
        con.unregister("_aimon_new_outcomes")
