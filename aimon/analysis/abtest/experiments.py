"""``aimon abtest list``: the experiments in a window with their variants and sizes."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from aimon.analysis.toolkit.window import Window

EXPERIMENTS_SQL = """
SELECT r.experiment,
       coalesce(r.variant, '(none)') AS variant,
       count(*) AS requests,
       count(DISTINCT r.user_id) AS users,
       min(r.ts) AS first,
       max(r.ts) AS last,
       count(r.success) AS success_logged
FROM requests r
WHERE r.experiment IS NOT NULL AND r.ts >= $start AND r.ts < $end
GROUP BY ALL
ORDER BY r.experiment, variant
"""


@dataclass(frozen=True)
class ExperimentList:
    """Every experiment in the window: one row per (experiment, variant)."""

    title: str
    window: Window
    table: pl.DataFrame


def list_experiments(con: duckdb.DuckDBPyConnection, window: Window) -> ExperimentList:
    """Experiments with their variants, sizes and date ranges."""
    con.complete()  # a caller's fetchone() (window.resolve) leaves a result open
    frame = con.sql(EXPERIMENTS_SQL, params=window.params()).pl()
    return ExperimentList("Experiments", window, frame)
