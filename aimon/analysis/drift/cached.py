"""The daily report's "Quality drift" line: the semantic test on embeddings already cached.

It never embeds: when the responses of the period and of its baseline are not (nearly
all) in the embedding cache, or the embeddings extra is not installed, there is no line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from aimon.analysis.toolkit.window import Window

SAMPLE = 2000
MIN_TEXTS = 50
MIN_CACHED = 0.9
ALPHA = 0.05

RESPONSES_SQL = """
SELECT ts >= $cur_start AS is_current, coalesce(user_id, session_id, request_id) AS unit, response
FROM requests
WHERE ((ts >= $base_start AND ts < $base_end) OR (ts >= $cur_start AND ts < $cur_end))
  AND status = 'ok' AND response IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY ts >= $cur_start ORDER BY md5('0' || request_id)) <= $n
"""


def cached_quality_drift(con: duckdb.DuckDBPyConnection, current: Window, baseline: Window) -> dict[str, Any] | None:
    """The semantic drift of responses, current against baseline, from cached embeddings
    only; None when they are not cached."""
    from aimon.analysis.toolkit import embedding
    from aimon.errors import AimonError
    from aimon.store import embeddings as store

    if not embedding.available():
        return None
    try:
        spec = embedding.model_spec()
    except AimonError:
        return None
    table = store.table_name(spec.dim)
    has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                      "AND table_name = $t", {"t": table}).fetchall()[0][0]
    if not has or not con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE model = $m LIMIT 1)",
                                  {"m": spec.key}).fetchall()[0][0]:
        return None
    rows = con.execute(RESPONSES_SQL, {"base_start": baseline.start, "base_end": baseline.end,
                                       "cur_start": current.start, "cur_end": current.end, "n": SAMPLE}).fetchall()
    if not rows:
        return None
    # Only now, with cached vectors to test: the daily report starts without numpy.
    import numpy as np

    from aimon.analysis.drift import permutation as perm
    from aimon.analysis.drift import semantic

    is_current = np.array([r[0] for r in rows], dtype=bool)
    vectors, found = embedding.cached(con, [r[2] for r in rows])
    for side in (False, True):
        in_side = is_current == side
        if in_side.sum() < MIN_TEXTS or found[in_side].mean() < MIN_CACHED:
            return None
    keep = found
    units = np.array([r[1] for r in rows], dtype=object)[keep]
    u = perm.units(units.astype(str), is_current[keep], permutations=999, seed=0)
    test = semantic.mmd_test(vectors[keep], np.ones(int(keep.sum()), bool), is_current[keep], u, 0)
    return {"field": "response", "p_value": test.p_value, "drifted": test.p_value < ALPHA,
            "centroid_distance": test.centroid_distance, "n_baseline": int((keep & ~is_current).sum()),
            "n_current": int((keep & is_current).sum()), "cached_share": float(found.mean()),
            "baseline": {"start": baseline.start, "end": baseline.end}}
