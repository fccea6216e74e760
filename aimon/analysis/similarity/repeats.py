"""Prompts asked more than once: how consistent are their answers, and what would a
semantic cache have saved?

Consistency: for each prompt asked at least ``min_asked`` times (exactly the same text,
per endpoint), the spread of its distinct answers: the mean and minimum pairwise cosine
similarity of their embeddings, worst first.

Cache opportunity: a request is a cache hit when an earlier request of the same endpoint
asked the same prompt, or one whose embedding is within ``similarity`` (cosine) of it.
The hit rate is what a semantic cache that kept every answer would reach; the dollars are
the effective cost of the hit requests (requests already served from a cache, and errors,
cost nothing and are not counted as savings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from aimon.analysis.toolkit.window import Window

if TYPE_CHECKING:
    import duckdb
    import polars as pl

SNIPPET = 120
BLOCK = 2048


def _snip(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= SNIPPET else flat[:SNIPPET - 1] + "…"


REPEATED_SQL = """
SELECT coalesce(endpoint, '(none)') AS endpoint, prompt, count(*) AS asked,
       list(DISTINCT response ORDER BY response) AS answers
FROM requests
WHERE ts >= $start AND ts < $end AND status = 'ok' AND prompt IS NOT NULL AND response IS NOT NULL {filters}
GROUP BY ALL
HAVING count(*) >= $min_asked AND count(DISTINCT response) >= 2
ORDER BY asked DESC, endpoint, prompt
LIMIT $limit
"""


@dataclass(frozen=True)
class Consistency:
    title: str
    window: Window
    min_asked: int
    prompts: pl.DataFrame
    pii_shown: bool
    notes: list[str] = field(default_factory=list)


def consistency(con: duckdb.DuckDBPyConnection, window: Window, *, min_asked: int = 3, top: int = 20,
                endpoint: str | None = None, limit: int = 2000, show_pii: bool = False, model: Any = None,
                progress: Any = None) -> Consistency:
    """The spread of answers to repeated prompts, worst first."""
    import polars as pl

    from aimon.analysis.pii.scan import redact_texts
    from aimon.analysis.toolkit import embedding

    embedding.require(model)
    con.complete()
    params: dict[str, Any] = {**window.params(), "min_asked": min_asked, "limit": limit}
    filters = ""
    if endpoint is not None:
        filters, params["endpoint"] = "AND endpoint = $endpoint", endpoint
    groups = con.sql(REPEATED_SQL.format(filters=filters), params=params).pl()
    answers = [a for group in groups["answers"].to_list() for a in group]
    vectors = embedding.embed(con, answers, model=model, progress=progress) if answers else None
    rows, pos = [], 0
    for rec in groups.iter_rows(named=True):
        k = len(rec["answers"])
        v = vectors[pos:pos + k]
        pos += k
        sims = (v @ v.T)[np.triu_indices(k, 1)]
        rows.append({"endpoint": rec["endpoint"], "prompt": rec["prompt"], "asked": rec["asked"],
                     "distinct_answers": k, "mean_similarity": float(sims.mean()),
                     "min_similarity": float(sims.min())})
    schema = {"endpoint": pl.String, "prompt": pl.String, "asked": pl.Int64, "distinct_answers": pl.Int64,
              "mean_similarity": pl.Float64, "min_similarity": pl.Float64}
    frame = pl.DataFrame(rows, schema=schema).sort(["mean_similarity", "endpoint", "prompt"]).head(top)
    shown = frame["prompt"].to_list() if show_pii else redact_texts(con, frame["prompt"].to_list())
    frame = frame.with_columns(pl.Series("prompt", [_snip(t) for t in shown], dtype=pl.String))
    notes = [] if len(groups) < limit else [f"only the {limit:,} most-asked prompts were compared"]
    return Consistency(title="Consistency of answers to repeated prompts", window=window, min_asked=min_asked,
                       prompts=frame, pii_shown=show_pii, notes=notes)


# Distinct prompts per endpoint with when each was first asked, how often, and the cost of
# every request after the first (an exact repeat is a hit for any cache).
PROMPTS_SQL = """
SELECT coalesce(endpoint, '(none)') AS endpoint, prompt, min(ts) AS first_ts, count(*) AS asked,
       arg_min(coalesce(cost_usd, 0) * (status = 'ok' AND NOT coalesce(cache_hit, false))::INT, ts) AS first_cost,
       sum(coalesce(cost_usd, 0) * (status = 'ok' AND NOT coalesce(cache_hit, false))::INT) AS cost
FROM costed_requests
WHERE ts >= $start AND ts < $end AND prompt IS NOT NULL {filters}
GROUP BY ALL
ORDER BY endpoint, first_ts, prompt
"""


@dataclass(frozen=True)
class CacheOpportunity:
    title: str
    window: Window
    similarity: float
    by_endpoint: pl.DataFrame
    totals: dict[str, Any]
    examples: pl.DataFrame
    pii_shown: bool
    notes: list[str] = field(default_factory=list)


def _earlier_neighbour(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """For each row (in first-asked order), the index of an earlier row within the cosine
    threshold (the most similar), or -1."""
    n = len(vectors)
    out = np.full(n, -1, dtype=np.int64)
    for start in range(1, n, BLOCK):
        block = vectors[start:start + BLOCK]
        sims = block @ vectors[:start + len(block)].T
        rows = np.arange(len(block))[:, None] + start
        sims[np.arange(sims.shape[1])[None, :] >= rows] = -2  # only earlier prompts
        best = sims.argmax(axis=1)
        hit = sims[np.arange(len(block)), best] >= threshold
        out[start:start + len(block)][hit] = best[hit]
    return out


def cache_opportunity(con: duckdb.DuckDBPyConnection, window: Window, *, similarity: float = 0.95,
                      endpoint: str | None = None, max_prompts: int = 20000, show_pii: bool = False,
                      model: Any = None, progress: Any = None) -> CacheOpportunity:
    """Hit rate and savings a semantic cache would have reached, by endpoint."""
    import polars as pl

    from aimon.analysis.pii.scan import redact_texts
    from aimon.analysis.toolkit import embedding

    embedding.require(model)
    con.complete()
    params: dict[str, Any] = window.params()
    filters = ""
    if endpoint is not None:
        filters, params["endpoint"] = "AND endpoint = $endpoint", endpoint
    prompts = con.sql(PROMPTS_SQL.format(filters=filters), params=params).pl()
    rows, examples, notes = [], [], []
    for name in sorted(set(prompts["endpoint"].to_list())):
        p = prompts.filter(pl.col("endpoint") == name)
        if p.height > max_prompts:
            notes.append(f"{name}: {p.height:,} distinct prompts; only the first {max_prompts:,} were compared "
                         "for near-duplicates (exact repeats counted in full)")
        head = p.head(max_prompts)
        vectors = embedding.embed(con, head["prompt"].to_list(), model=model, progress=progress)
        near = _earlier_neighbour(vectors, similarity)
        first_hit = np.zeros(p.height, dtype=bool)
        first_hit[:head.height] = near >= 0
        asked = p["asked"].to_numpy()
        cost, first_cost = p["cost"].to_numpy(), p["first_cost"].to_numpy()
        requests = int(asked.sum())
        exact = int((asked - 1).sum())
        saved = float((cost - first_cost).sum() + first_cost[first_hit].sum())
        rows.append({"endpoint": name, "requests": requests, "distinct_prompts": p.height, "exact_repeats": exact,
                     "near_duplicates": int(first_hit.sum()), "hit_rate": (exact + int(first_hit.sum())) / requests,
                     "cost_usd": float(cost.sum()), "saved_usd": saved,
                     "saved_share": saved / float(cost.sum()) if cost.sum() else None})
        for i in np.flatnonzero(near >= 0)[:3]:
            examples.append({"endpoint": name, "prompt": head["prompt"][int(i)],
                             "earlier_prompt": head["prompt"][int(near[i])],
                             "similarity": float(vectors[i] @ vectors[near[i]])})
    schema = {"endpoint": pl.String, "requests": pl.Int64, "distinct_prompts": pl.Int64, "exact_repeats": pl.Int64,
              "near_duplicates": pl.Int64, "hit_rate": pl.Float64, "cost_usd": pl.Float64, "saved_usd": pl.Float64,
              "saved_share": pl.Float64}
    by_endpoint = pl.DataFrame(rows, schema=schema).sort("saved_usd", "endpoint", descending=[True, False])
    ex = pl.DataFrame(examples, schema={"endpoint": pl.String, "prompt": pl.String, "earlier_prompt": pl.String,
                                        "similarity": pl.Float64})
    if not show_pii and ex.height:
        ex = ex.with_columns(pl.Series("prompt", redact_texts(con, ex["prompt"].to_list()), dtype=pl.String),
                             pl.Series("earlier_prompt", redact_texts(con, ex["earlier_prompt"].to_list()),
                                       dtype=pl.String))
    ex = ex.with_columns(pl.col("prompt").map_elements(_snip, return_dtype=pl.String),
                         pl.col("earlier_prompt").map_elements(_snip, return_dtype=pl.String))
    requests = int(by_endpoint["requests"].sum())
    hits = int(by_endpoint["exact_repeats"].sum() + by_endpoint["near_duplicates"].sum())
    cost, saved = float(by_endpoint["cost_usd"].sum()), float(by_endpoint["saved_usd"].sum())
    totals = {"requests": requests, "hits": hits, "hit_rate": hits / requests if requests else None,
              "cost_usd": cost, "saved_usd": saved, "saved_share": saved / cost if cost else None}
    return CacheOpportunity(title="Semantic cache opportunity", window=window, similarity=similarity,
                            by_endpoint=by_endpoint, totals=totals, examples=ex, pii_shown=show_pii, notes=notes)
