"""The daily report over 10 million generated requests, against a bare count of the same day.

    python benchmarks/report.py [--rows 10000000] [--days 30]

Rows are generated in DuckDB SQL straight into an aimon database (once; kept in
benchmarks/data/), spread evenly over ``--days`` days: a month by default, of which the
report reads its day and the 7-day baseline; with ``--days 8`` those hold every row
(the worst case). A third of the
requests carry no logged cost and are priced from the price snapshot (the cost view's
range join) or stay unpriced (a self-hosted model); 15% have feedback.

It times, in one process on a warm database, best of ``--repeat``:

- baseline: ``SELECT count(*) FROM requests WHERE ts >= day AND ts < day + 1``;
- the daily report: ``build_report`` (every panel, baseline and finding) plus its JSON data;

and prints the report's time as a ratio to the baseline and in seconds, then the whole
``aimon report daily --format json`` command in a fresh process (imports included).
Figures are kept in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aimon.analysis.report.daily import build_report  # noqa: E402
from aimon.render.report import report_data  # noqa: E402
from aimon.store.connection import connect  # noqa: E402
from aimon.store.prices import refresh_prices  # noqa: E402

DATA = Path(__file__).parent / "data"
FIRST_DAY = date(2026, 11, 1)

REQUESTS_SQL = """
INSERT INTO _aimon_requests (request_id, ts, user_id, session_id, endpoint, provider, model, prompt_version, variant,
                      user_tier, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd,
                      latency_ms, ttft_ms, status, error_type, cache_hit, ingested_at)
WITH base AS (
    SELECT i, hash(i, 17) AS h,
           TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_microseconds((i::HUGEINT * ($days * 86400000000) // $rows)::BIGINT) AS ts
    FROM range($rows) t(i)
), shaped AS (
    SELECT *,
           ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-3-5-haiku-20241022', 'o3-mini',
            'acme-llama-70b-ft'][1 + (h % 6)::INT] AS model,
           ['/chat', '/search', '/summarize', '/code-review', '/support-bot'][1 + ((h >> 8) % 5)::INT] AS endpoint,
           (h >> 16) % 100 < 2 AS failed,
           200 + ((h >> 20) % 1800)::INT AS input_tokens,
           20 + ((h >> 32) % 600)::INT AS output_tokens
    FROM base
)
SELECT 'req-' || i, ts, 'user-' || ((h >> 24) % 5000), 'sess-' || ((h >> 28) % 200000), endpoint,
       CASE WHEN model LIKE 'claude%' THEN 'anthropic' WHEN model LIKE 'acme%' THEN 'self-hosted' ELSE 'openai' END,
       model, 'v' || (1 + (h >> 40) % 3), ['control', 'treatment'][1 + ((h >> 42) % 2)::INT],
       ['free', 'pro', 'enterprise'][1 + ((h >> 44) % 3)::INT],
       CASE WHEN failed THEN 0 ELSE input_tokens END,
       CASE WHEN failed THEN 0 ELSE output_tokens END,
       CASE WHEN (h >> 46) % 4 = 0 THEN input_tokens // 2 ELSE 0 END,
       CASE WHEN model = 'o3-mini' THEN output_tokens // 3 END,
       CASE WHEN (h >> 48) % 3 = 0 OR model LIKE 'acme%' THEN NULL
            ELSE round((input_tokens * 2.5 + output_tokens * 10) / 1e6, 8) END,
       round(300 + output_tokens * 12.5 + (h >> 50) % 900, 1),
       CASE WHEN failed THEN NULL ELSE round(150 + (h >> 52) % 400, 1) END,
       CASE WHEN failed THEN 'error' ELSE 'ok' END,
       CASE WHEN failed THEN ['rate_limit', 'timeout', 'api_error'][1 + ((h >> 54) % 3)::INT] END,
       CASE WHEN endpoint = '/search' THEN (h >> 56) % 10 = 0 END,
       TIMESTAMPTZ '2026-12-01 00:00:00+00'
FROM shaped
"""

FEEDBACK_SQL = """
INSERT INTO feedback (feedback_id, request_id, ts, user_id, feedback_type, feedback_category, ingested_at)
SELECT 'fb-' || r.request_id, r.request_id, r.ts + INTERVAL 2 MINUTE, r.user_id,
       ['thumbs_up', 'thumbs_up', 'thumbs_up', 'thumbs_down', 'copied_response', 'regenerated', 'edited_output',
        'report'][1 + ((hash(r.request_id) >> 8) % 8)::INT],
       CASE WHEN (hash(r.request_id) >> 8) % 8 = 7 THEN ['incorrect', 'harmful', 'unhelpful'][1 + (hash(r.ts) % 3)::INT] END,
       TIMESTAMPTZ '2026-12-01 00:00:00+00'
FROM requests r
WHERE hash(r.request_id) % 100 < 15
"""


def database(rows: int, days: int) -> Path:
    """The benchmark database (made once)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"report_{rows}_{days}d.duckdb"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.duckdb")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    con = connect(tmp, write=True)
    con.execute(REQUESTS_SQL, {"rows": rows, "days": days})
    con.execute(FEEDBACK_SQL)
    refresh_prices(con)
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)
    print(f"generated {rows:,} requests over {days} days in {time.perf_counter() - started:.1f} s: {path}")
    return path


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    # A month of traffic by default: the day and its 7-day baseline hold 8/30 of the rows.
    # --days 8 puts every row in the day or its baseline (the worst case).
    parser.add_argument("--days", type=int, default=30, help="days the rows span; the report is of the last one")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = database(args.rows, args.days)
    day = FIRST_DAY + timedelta(days=args.days - 1)
    con = connect(path, write=False)
    total = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
    count_sql = "SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end"
    start, end = (f"{day.isoformat()} 00:00:00+00", f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00")
    build_report(con, day)  # warm the file cache
    base_s, n_day = best(lambda: con.execute(count_sql, {"start": start, "end": end}).fetchall()[0][0],
                         args.repeat)
    report_s, report = best(lambda: report_data(build_report(con, day)), args.repeat)
    con.close()
    print(f"database: {total:,} requests over {args.days} days ({path.stat().st_size / 1e9:.2f} GB); "
          f"report day {day}: {n_day:,} requests; {os.cpu_count()} cores")
    print(f"bare count(*) of the day:      {base_s * 1000:8.1f} ms")
    print(f"daily report (all panels):     {report_s * 1000:8.1f} ms   ratio {report_s / base_s:,.0f}x the count")
    assert report["figures"]["requests"]["value"] == n_day
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aimon", "report", "daily", "--db", str(path), "--format", "json",
                    "-o", os.devnull], check=True, cwd=ROOT)
    print(f"`aimon report daily -f json` in a fresh process: {time.perf_counter() - started:.2f} s "
          "(start-up and imports included)")


if __name__ == "__main__":
    main()
