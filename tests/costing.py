"""Helpers for the cost tests: canonical request rows inserted straight into a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aimon.store.prices import price_pending

COLUMNS = ("request_id", "ts", "user_id", "session_id", "endpoint", "provider", "model",
           "prompt_version", "prompt", "response", "input_tokens", "output_tokens",
           "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd", "status",
           "cache_hit", "variant", "extra", "source_format")

DEFAULTS: dict[str, Any] = {
    "ts": datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
    "user_id": "u1",
    "session_id": "s1",
    "endpoint": "/chat",
    "provider": "openai",
    "model": "gpt-4o",
    "prompt_version": None,
    "prompt": "hi",
    "response": "hello",
    "input_tokens": 1000,
    "output_tokens": 100,
    "cached_input_tokens": None,
    "cache_write_tokens": None,
    "reasoning_tokens": None,
    "cost_usd": None,
    "status": "ok",
    "cache_hit": None,
    "variant": None,
    "extra": None,
    "source_format": "flat",
}

INSERT_SQL = f"INSERT INTO _aimon_requests ({', '.join(COLUMNS)}, ingested_at) VALUES "
ROW_SQL = f"({', '.join('?' for _ in COLUMNS)}, now())"
# Rows per INSERT: one statement for many rows costs about what one row does (a test
# adds up to a thousand, each insert planned on its own took 3 ms).
BATCH = 500


def add(con, *rows: dict[str, Any]) -> None:
    """Insert request rows (dicts overriding DEFAULTS); request ids default to r1, r2, ..."""
    start = con.execute("SELECT count(*) FROM requests").fetchone()[0]
    records = []
    for i, row in enumerate(rows, start + 1):
        rec = {**DEFAULTS, "request_id": f"r{i}", **row}
        unknown = set(rec) - set(COLUMNS)
        assert not unknown, unknown
        records.append(rec)
    for at in range(0, len(records), BATCH):
        batch = records[at:at + BATCH]
        con.execute(INSERT_SQL + ", ".join([ROW_SQL] * len(batch)), [rec[c] for rec in batch for c in COLUMNS])
    price_pending(con)  # as ingest does, at the current price snapshot


def cost_of(con, request_id: str) -> tuple[Any, ...]:
    """(cost_usd, cost_source) of one request from the request_costs view."""
    return con.execute("SELECT cost_usd, cost_source FROM request_costs WHERE request_id = $id",
                       {"id": request_id}).fetchone()
