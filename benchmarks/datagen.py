"""Generated request logs for the benchmarks: flat JSONL (and Parquet) of any size.

Rows are made in DuckDB SQL from a seeded vocabulary, so a million rows take seconds
rather than minutes of Python. Text lengths follow a realistic spread: prompts of
roughly 100-2,000 characters and responses of 200-3,000 (about 2.5 KB a record).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

DATA = Path(__file__).parent / "data"

WORDS = (  # noqa: SIM905 -- a sentence reads better than 85 quoted words
    "the customer asked about billing refund order shipping delay account login password reset "
    "invoice subscription plan upgrade downgrade cancel support ticket agent model response "
    "summary document paragraph section code review function variable error exception retry "
    "timeout latency cost token budget forecast report weekly daily trend anomaly incident "
    "please could you explain why how when where which would should help thanks great issue "
    "problem solution answer question context detail example result data table query python "
    "service request user session feature release version deploy rollback config setting"
).split()

ROWS_SQL = """
WITH base AS (
    SELECT i,
           hash(i, 17) AS h,
           TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds((i * 1209600000000 // $rows)::BIGINT) AS ts
    FROM range($rows) t(i)
), sized AS (
    SELECT *,
           20 + (h % 280)::INT AS prompt_words,
           35 + ((h >> 9) % 420)::INT AS response_words,
           ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-3-5-haiku-20241022', 'o3-mini'][1 + ((h >> 20) % 5)::INT] AS model,
           ['/chat', '/search', '/summarize', '/code-review', '/support-bot'][1 + ((h >> 24) % 5)::INT] AS endpoint
    FROM base
)
SELECT
    strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp,
    'req-' || lpad(i::VARCHAR, 9, '0') AS request_id,
    'user-' || ((h >> 30) % 5000) AS user_id,
    'sess-' || ((h >> 33) % 200000) AS session_id,
    endpoint,
    CASE WHEN model LIKE 'claude%' THEN 'anthropic' ELSE 'openai' END AS provider,
    model,
    'v' || (1 + (h >> 40) % 3) AS prompt_version,
    array_to_string(list_transform(range(prompt_words), lambda k: $words[1 + (hash(i, k) % $nwords)::INT]), ' ') AS prompt,
    array_to_string(list_transform(range(response_words), lambda k: $words[1 + (hash(i, k, 7) % $nwords)::INT]), ' ') AS response,
    (prompt_words * 1.3)::BIGINT + 40 AS prompt_tokens,
    (response_words * 1.3)::BIGINT AS completion_tokens,
    CASE WHEN (h >> 44) % 4 = 0 THEN ((prompt_words * 1.3)::BIGINT + 40) // 2 ELSE 0 END AS cached_tokens,
    round(((prompt_words * 2.5 + response_words * 10) / 1e6), 8) AS cost_usd,
    round(200 + response_words * 12.5 + (h >> 50) % 400, 1) AS latency_ms,
    round(80 + (h >> 52) % 300, 1) AS ttft_ms,
    CASE WHEN (h >> 56) % 100 < 2 THEN 'error' ELSE 'ok' END AS status,
    CASE WHEN (h >> 56) % 100 < 2 THEN {'type': 'rate_limit', 'message': 'Rate limit exceeded'} END AS error,
    0.7 AS temperature,
    ['free', 'pro', 'enterprise'][1 + ((h >> 58) % 3)::INT] AS user_tier,
    'eu-west-1' AS region
FROM sized
"""


def generate(rows: int, kind: str = "jsonl") -> Path:
    """Write (once) and return a benchmark file of ``rows`` requests."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"requests_{rows}.{kind}"
    if path.exists():
        return path
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    params = {"rows": rows, "words": WORDS, "nwords": len(WORDS)}
    fmt = "FORMAT json" if kind == "jsonl" else "FORMAT parquet, COMPRESSION zstd"
    tmp = path.with_suffix(path.suffix + ".tmp")
    con.execute(f"COPY ({ROWS_SQL}) TO '{tmp}' ({fmt})", params)
    tmp.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kind", choices=["jsonl", "parquet"], default="jsonl")
    args = parser.parse_args()
    print(generate(args.rows, args.kind))


if __name__ == "__main__":
    main()
