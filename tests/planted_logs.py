"""Request logs with something planted in them, made in the test (seeded numpy).

Used by the A/B test and incident tests: rows go straight into a migrated database
with ``INSERT ... BY NAME`` (faster than writing and ingesting JSONL for thousands of
rows; the ingest path has its own tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from aimon.store.prices import price_pending
from aimon.store.schema import stored

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def insert(con, frame: pl.DataFrame, table: str = "requests") -> None:
    """Append the frame's columns to ``table`` by name (lineage filled in)."""
    frame = frame.with_columns(pl.lit(datetime.now(UTC)).alias("ingested_at"))
    if table == "requests" and "source_format" not in frame.columns:
        frame = frame.with_columns(pl.lit("test").alias("source_format"))
    con.register("planted_rows", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {stored(table)} BY NAME SELECT * FROM planted_rows")
    finally:
        con.unregister("planted_rows")
    price_pending(con)  # as ingest does, at the current price snapshot


def experiment(
    name: str = "exp",
    *,
    users: dict[str, int] | None = None,
    success: dict[str, float] | None = None,
    latency_ms: dict[str, float] | None = None,
    requests_per_user: float = 8.0,
    user_sd: float = 0.0,
    seed: int = 1,
    log_success: bool = True,
    prefix: str = "",
) -> pl.DataFrame:
    """An experiment assigned by user: each user sees one variant.

    ``success`` is each variant's success probability; ``user_sd`` spreads it per
    user on the logit scale (users differ, so requests of one user are correlated).
    """
    rng = np.random.default_rng(seed)
    users = users or {"control": 300, "treatment": 300}
    success = success or dict.fromkeys(users, 0.3)
    latency_ms = latency_ms or dict.fromkeys(users, 1000.0)
    cols: dict[str, list] = {k: [] for k in ("request_id", "ts", "user_id", "session_id", "experiment",
                                             "variant", "status", "success", "latency_ms", "cost_usd",
                                             "output_tokens", "input_tokens", "model", "endpoint")}
    k = 0
    for variant, n_users in users.items():
        p = success[variant]
        logit = np.log(p / (1 - p))
        for u in range(n_users):
            n = 1 + rng.poisson(requests_per_user - 1)
            p_u = 1 / (1 + np.exp(-(logit + rng.normal(0, user_sd)))) if user_sd else p
            ok = rng.random(n) < p_u
            lat = rng.lognormal(np.log(latency_ms[variant]), 0.5, n)
            for i in range(n):
                cols["request_id"].append(f"{prefix}{name}-{k}")
                cols["ts"].append(T0 + timedelta(seconds=int(rng.integers(0, 2 * 86400))))
                cols["user_id"].append(f"{prefix}{variant}-u{u}")
                cols["session_id"].append(f"{prefix}{variant}-u{u}-s{i // 4}")
                cols["experiment"].append(name)
                cols["variant"].append(variant)
                cols["status"].append("ok")
                cols["success"].append(bool(ok[i]) if log_success else None)
                cols["latency_ms"].append(float(lat[i]))
                cols["cost_usd"].append(float(lat[i]) * 1e-6)
                cols["output_tokens"].append(int(lat[i] / 10))
                cols["input_tokens"].append(100)
                cols["model"].append("gpt-4o")
                cols["endpoint"].append("/support-bot")
                k += 1
    return pl.DataFrame(cols, schema_overrides={"ts": pl.Datetime("us", "UTC"), "success": pl.Boolean})


MODELS = [("gpt-4o-mini", "/chat"), ("claude-sonnet-4-5", "/chat"), ("gpt-4o-mini", "/search"),
          ("claude-3-5-haiku", "/summarize"), ("o3-mini", "/code-review")]
BASE_LATENCY = {"gpt-4o-mini": 900.0, "claude-sonnet-4-5": 2500.0, "claude-3-5-haiku": 1100.0, "o3-mini": 9000.0}


def traffic(
    *,
    days: float = 3.0,
    per_minute: float = 3.0,
    error_rate: float = 0.015,
    seed: int = 7,
    incident: tuple[datetime, datetime] | None = None,
    incident_model: str = "claude-sonnet-4-5",
    incident_endpoint: str = "/chat",
    incident_error_rate: float = 0.4,
    incident_latency_factor: float = 4.0,
    incident_extra_per_minute: float = 1.5,
    prompt: str = "Where is my order? Reach me at jane.roe@example.com or +44 7700 900123.",
) -> pl.DataFrame:
    """Production-like traffic over ``days`` from T0, with an optional planted incident:
    between its start and end, requests of ``incident_model`` on ``incident_endpoint``
    fail with ``incident_error_rate`` and take ``incident_latency_factor`` times longer
    (and that segment gets ``incident_extra_per_minute`` more requests, as retries do)."""
    rng = np.random.default_rng(seed)
    minutes = int(days * 1440)
    counts = rng.poisson(per_minute, minutes)
    extra = np.zeros(minutes, dtype=int)
    if incident:
        a = int((incident[0] - T0).total_seconds() // 60)
        b = int((incident[1] - T0).total_seconds() // 60)
        extra[a:b] = rng.poisson(incident_extra_per_minute, b - a)
    total = int(counts.sum() + extra.sum())
    minute = np.concatenate([np.repeat(np.arange(minutes), counts), np.repeat(np.arange(minutes), extra)])
    seconds = minute * 60 + rng.integers(0, 60, total)
    pair = rng.integers(0, len(MODELS), total)
    segment = np.array([MODELS.index((incident_model, incident_endpoint))] * len(extra.nonzero()[0]))
    pair[counts.sum():] = segment[0] if len(segment) else 0
    model = np.array([MODELS[i][0] for i in pair])
    endpoint = np.array([MODELS[i][1] for i in pair])
    latency = np.array([BASE_LATENCY[m] for m in model]) * rng.lognormal(0, 0.35, total)
    failed = rng.random(total) < error_rate
    ts = np.array([T0 + timedelta(seconds=int(s)) for s in seconds])
    if incident:
        inside = np.array([incident[0] <= t < incident[1] for t in ts])
        hit = inside & (model == incident_model) & (endpoint == incident_endpoint)
        latency[hit] *= incident_latency_factor
        failed[hit] = rng.random(int(hit.sum())) < incident_error_rate
    types = np.array(["rate_limit", "timeout", "api_error"])[rng.integers(0, 3, total)]
    order = np.argsort(seconds, kind="stable")
    return pl.DataFrame({
        "request_id": [f"r{i:07d}" for i in range(total)],
        "ts": list(ts),
        "user_id": [f"u{i}" for i in rng.integers(0, 200, total)],
        "session_id": [f"s{i}" for i in rng.integers(0, 2000, total)],
        "model": model, "endpoint": endpoint,
        "prompt_version": [e.strip("/") + "-v1" for e in endpoint],
        "user_tier": np.array(["free", "pro", "enterprise"])[rng.integers(0, 3, total)],
        "status": np.where(failed, "error", "ok"),
        "error_type": [t if f else None for t, f in zip(types, failed, strict=True)],
        "error_message": ["upstream said no; call 555-123-4567 or ops@example.com" if f else None
                          for f in failed],
        "latency_ms": latency,
        "cost_usd": latency * 1e-6,
        "prompt": [prompt] * total,
    }, schema_overrides={"ts": pl.Datetime("us", "UTC"), "error_type": pl.String,
                         "error_message": pl.String})[order]


def request_jsonl(n: int) -> list[dict]:
    """Flat JSONL request records of a small experiment 'tone' (variants A and B)."""
    from conftest import request

    return [request(request_id=f"j{i}", timestamp=f"2026-11-01T10:{i % 60:02d}:00.000Z", user_id=f"u{i % 20}",
                    experiment="tone", variant="AB"[i % 20 % 2], success=bool(i % 3)) for i in range(n)]
