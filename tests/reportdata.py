"""Synthetic traffic for report, metric and alert tests, written straight into the
canonical tables in DuckDB SQL (fast, and exact enough to check figures by hand).

Requests are spaced evenly: ``per_minute`` requests in every minute from ``start``,
the i-th at start + i * 60 / per_minute seconds. Every ``error_every``-th request is an
error, every ``cache_every``-th a cache hit, so counts are known exactly.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from aimon.store.prices import price_pending

INSERT_SQL = """
INSERT INTO _aimon_requests (request_id, ts, user_id, session_id, endpoint, provider, model, prompt_version, variant,
                      user_tier, input_tokens, output_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms,
                      status, error_type, cache_hit, feedback, ingested_at)
SELECT $prefix || i,
       $start::TIMESTAMPTZ + to_microseconds((i * 60000000 // $per_minute)::BIGINT),
       'u' || (i % $users), 's' || (i % 50), $endpoint, $provider, $model, $prompt_version, $variant, $tier,
       $input_tokens, $output_tokens, $reasoning_tokens, $cost,
       $latency + (i % 10) * $latency_step, $ttft,
       CASE WHEN $error_every > 0 AND i % $error_every = 0 THEN 'error' ELSE 'ok' END,
       CASE WHEN $error_every > 0 AND i % $error_every = 0 THEN $error_type END,
       CASE WHEN $cache_every > 0 THEN i % $cache_every = 0 END,
       $inline_feedback,
       TIMESTAMPTZ '2026-12-01 00:00:00+00'
FROM range($n) t(i)
"""


def add_requests(con: duckdb.DuckDBPyConnection, start: str | datetime, minutes: int, per_minute: int = 6, *,
                 prefix: str = "r", model: str = "gpt-4o", endpoint: str = "/chat", provider: str = "openai",
                 prompt_version: str = "v1", variant: str | None = None, tier: str = "pro",
                 error_every: int = 0, error_type: str = "rate_limit", cache_every: int = 0,
                 latency: float = 800.0, latency_step: float = 0.0, ttft: float | None = 200.0,
                 input_tokens: int = 100, output_tokens: int = 50, reasoning_tokens: int | None = None,
                 cost: float | None = 0.001, users: int = 10, inline_feedback: str | None = None) -> int:
    """Insert ``minutes * per_minute`` requests; returns how many."""
    n = minutes * per_minute
    con.execute(INSERT_SQL, {
        "prefix": prefix, "start": start, "per_minute": per_minute, "n": n, "users": users, "endpoint": endpoint,
        "provider": provider, "model": model, "prompt_version": prompt_version, "variant": variant, "tier": tier,
        "input_tokens": input_tokens, "output_tokens": output_tokens, "reasoning_tokens": reasoning_tokens,
        "cost": cost, "latency": latency, "latency_step": latency_step, "ttft": ttft,
        "error_every": error_every, "error_type": error_type, "cache_every": cache_every,
        "inline_feedback": inline_feedback,
    })
    price_pending(con)  # as ingest does, at the current price snapshot
    return n


FEEDBACK_SQL = """
INSERT INTO feedback (feedback_id, request_id, ts, user_id, feedback_type, feedback_category, ingested_at)
SELECT 'f-' || $kind || '-' || r.request_id, r.request_id, r.ts + INTERVAL 1 MINUTE, r.user_id, $kind,
       $category, TIMESTAMPTZ '2026-12-01 00:00:00+00'
FROM requests r
WHERE r.request_id LIKE $prefix || '%' AND hash(r.request_id) % $every = $which
"""


def add_feedback(con: duckdb.DuckDBPyConnection, prefix: str, kind: str, every: int, which: int = 0,
                 category: str | None = None) -> int:
    """Give a feedback signal to about 1 in ``every`` requests whose id starts with ``prefix``."""
    con.execute(FEEDBACK_SQL, {"prefix": prefix, "kind": kind, "every": every, "which": which,
                               "category": category})
    return con.execute("SELECT count(*) FROM feedback WHERE feedback_type = $k", {"k": kind}).fetchall()[0][0]


def add_feedback_for(con: duckdb.DuckDBPyConnection, request_ids: list[str], kind: str,
                     category: str | None = None, delay_minutes: int = 1) -> None:
    """Give ``kind`` feedback to exactly these requests."""
    con.execute("""
        INSERT INTO feedback (feedback_id, request_id, ts, user_id, feedback_type, feedback_category, ingested_at)
        SELECT 'f-' || $kind || '-' || r.request_id, r.request_id, r.ts + to_minutes($delay), r.user_id, $kind,
               $category, TIMESTAMPTZ '2026-12-01 00:00:00+00'
        FROM requests r WHERE list_contains($ids, r.request_id)
    """, {"ids": request_ids, "kind": kind, "category": category, "delay": delay_minutes})
