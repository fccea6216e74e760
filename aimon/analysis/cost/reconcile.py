"""``aimon cost reconcile``: logged cost against the priced tokens."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from aimon.analysis.cost.common import _frame
from aimon.analysis.toolkit.window import Window
from aimon.errors import UsageError

RECONCILE_ROWS_SQL = """
SELECT request_id, ts, coalesce(provider, '(none)') AS provider, model,
       input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, batch,
       logged_cost_usd, computed_cost_usd,
       logged_cost_usd - computed_cost_usd AS difference_usd,
       (logged_cost_usd - computed_cost_usd) / nullif(computed_cost_usd, 0) AS difference_ratio
FROM costed_requests
WHERE ts >= $start AND ts < $end
  AND logged_cost_usd IS NOT NULL AND computed_cost_usd IS NOT NULL
  AND abs(logged_cost_usd - computed_cost_usd)
      > $tolerance * greatest(abs(logged_cost_usd), abs(computed_cost_usd))
ORDER BY abs(logged_cost_usd - computed_cost_usd) DESC, request_id
LIMIT $limit
"""

RECONCILE_BY_MODEL_SQL = """
SELECT coalesce(provider, '(none)') AS provider, coalesce(model, '(none)') AS model,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL) AS logged_requests,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL AND computed_cost_usd IS NOT NULL) AS compared,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL AND computed_cost_usd IS NOT NULL
                          AND abs(logged_cost_usd - computed_cost_usd)
                              > $tolerance * greatest(abs(logged_cost_usd), abs(computed_cost_usd)))
           AS mismatched,
       count(*) FILTER (WHERE logged_cost_usd IS NOT NULL AND computed_cost_usd IS NULL)
           AS logged_only,
       sum(logged_cost_usd) FILTER (WHERE computed_cost_usd IS NOT NULL) AS logged_cost_usd,
       sum(computed_cost_usd) FILTER (WHERE logged_cost_usd IS NOT NULL) AS computed_cost_usd,
       median(logged_cost_usd / nullif(computed_cost_usd, 0)) AS median_ratio
FROM costed_requests
WHERE ts >= $start AND ts < $end AND logged_cost_usd IS NOT NULL
GROUP BY ALL
ORDER BY mismatched DESC, compared DESC, model
"""


@dataclass(frozen=True)
class Reconciliation:
    """Requests whose logged cost differs from the priced tokens by more than the tolerance."""

    title: str
    window: Window
    tolerance: float
    summary: dict
    by_model: pl.DataFrame
    rows: pl.DataFrame


def reconcile(con: duckdb.DuckDBPyConnection, window: Window, *, tolerance: float = 0.01,
              limit: int = 20) -> Reconciliation:
    """Logged vs computed cost per model, and the largest disagreements."""
    if not 0 <= tolerance < 1:
        raise UsageError("--tolerance is a fraction between 0 and 1, e.g. 0.01 for 1%")
    params = {**window.params(), "tolerance": tolerance}
    by_model = _frame(con, RECONCILE_BY_MODEL_SQL, params)
    rows = _frame(con, RECONCILE_ROWS_SQL, {**params, "limit": limit})
    def total(col: str) -> float | int:
        return by_model[col].sum() if not by_model.is_empty() else 0
    compared = int(total("compared"))
    mismatched = int(total("mismatched"))
    summary = {
        "logged_requests": int(total("logged_requests")),
        "compared": compared,
        "mismatched": mismatched,
        "mismatched_share": mismatched / compared if compared else None,
        "logged_only": int(total("logged_only")),
        "logged_cost_usd": float(total("logged_cost_usd") or 0),
        "computed_cost_usd": float(total("computed_cost_usd") or 0),
    }
    summary["difference_usd"] = summary["logged_cost_usd"] - summary["computed_cost_usd"]
    return Reconciliation(
        title=f"Logged vs computed cost (tolerance {tolerance:.1%})",
        window=window, tolerance=tolerance, summary=summary, by_model=by_model, rows=rows)
