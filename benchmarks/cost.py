"""Cost breakdown speed against a bare DuckDB GROUP BY over the same table, in the same run.

    python benchmarks/cost.py [--rows 10000000] [--db PATH] [--repeat 3]

Generates ``--rows`` requests directly in DuckDB SQL into an aimon database file (60
days, 6 models of which one has no price, a third of rows with a logged cost, cached
tokens on half, 1% response-cache hits, 20,000 users, 5 endpoints), snapshots prices as
``aimon ingest`` does, then times, best of ``--repeat``:

- baseline: ``SELECT model, CAST(ts AS DATE), count(*), sum(input_tokens),
  sum(output_tokens), sum(cost_usd) FROM requests GROUP BY ALL`` (the logged cost
  column as it is: no pricing, no unpriced bucket);
- ``aimon cost breakdown --by model,day``: the whole analysis (effective cost priced at
  the price in force per request, logged/computed split, unpriced bucket, exact P95,
  cost per user-day, cache savings, totals), and the same with ``--approx-p95``;
- ``SELECT ... sum(cost_usd) FROM costed_requests GROUP BY model, day``: the view alone.

It prints wall and CPU time (all threads) with their ratios to the baseline (target for
the breakdown: <= 3x); on a shared machine the CPU ratio is the steadier one.
The database is kept (and reused) at ``--db``. Results are kept in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aimon.analysis.cost.breakdown import breakdown  # noqa: E402
from aimon.analysis.cost.common import By  # noqa: E402
from aimon.analysis.toolkit.window import resolve  # noqa: E402
from aimon.store.connection import connect  # noqa: E402
from aimon.store.prices import refresh_prices  # noqa: E402

GENERATE_SQL = """
INSERT INTO _aimon_requests (request_id, ts, user_id, session_id, endpoint, provider, model,
                      input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
                      reasoning_tokens, cost_usd, status, cache_hit, source_format, ingested_at)
WITH g AS (
    SELECT i, hash(i) AS h1, hash(i + 7919) AS h2, hash(i + 104729) AS h3 FROM range($rows) t(i)
)
SELECT 'req-' || i,
       TIMESTAMPTZ '2026-09-01 00:00:00+00' + to_microseconds((i * (60 * 86400000000 // $rows))::BIGINT),
       'u' || (h1 % 20000)::VARCHAR,
       's' || (i // 4)::VARCHAR,
       ['/chat', '/search', '/summarize', '/code-review', '/support-bot'][1 + (h2 % 5)::BIGINT],
       m.provider, m.model,
       in_tok, out_tok,
       CASE WHEN h3 % 2 = 0 THEN (in_tok * (h3 % 50) // 100) ELSE 0 END,
       CASE WHEN m.provider = 'anthropic' AND h3 % 7 = 0 THEN in_tok // 10 ELSE 0 END,
       CASE WHEN m.model = 'o3-mini' THEN out_tok // 2 ELSE 0 END,
       CASE WHEN h1 % 3 = 0 AND m.model <> 'acme-llama' THEN (in_tok * 2.5 + out_tok * 10) / 1e6 END,
       CASE WHEN h2 % 100 = 0 THEN 'error' ELSE 'ok' END,
       h3 % 100 = 1,
       'flat',
       now()
FROM (
    SELECT *, 50 + (h1 % 4000)::BIGINT AS in_tok, 10 + (h2 % 900)::BIGINT AS out_tok,
           (h3 % 6)::INTEGER AS mi
    FROM g
) r
JOIN (VALUES (0, 'openai', 'gpt-4o'), (1, 'openai', 'gpt-4o-mini'), (2, 'openai', 'o3-mini'),
             (3, 'anthropic', 'claude-sonnet-4-5'), (4, 'anthropic', 'claude-3-5-haiku-20241022'),
             (5, 'self-hosted', 'acme-llama')) AS m(mi, provider, model) USING (mi)
"""

BARE_SQL = """
SELECT model, CAST(ts AS DATE) AS day, count(*), sum(input_tokens), sum(output_tokens), sum(cost_usd)
FROM requests GROUP BY ALL
"""

VIEW_SQL = """
SELECT model, CAST(ts AS DATE) AS day, count(*), sum(input_tokens), sum(output_tokens), sum(cost_usd)
FROM costed_requests GROUP BY ALL
"""


def build(path: Path, rows: int) -> None:
    for p in (path, Path(str(path) + ".wal")):
        if p.exists():
            p.unlink()
    con = connect(path, write=True)
    t = time.perf_counter()
    con.execute(GENERATE_SQL, {"rows": rows})
    refresh_prices(con)
    con.close()
    print(f"generated {rows:,} rows in {time.perf_counter() - t:.1f} s -> {path} "
          f"({os.path.getsize(path) / 1e6:,.0f} MB)")


def best(fn, repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (all threads of this process) over ``repeat`` runs.
    CPU time is the steadier measure on a shared machine; wall time is what users wait."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--db", type=Path, default=Path("benchmarks/data/cost_bench.duckdb"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="Regenerate the database even if it exists.")
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not args.db.exists():
        build(args.db, args.rows)
    con = connect(args.db, write=False)
    n = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
    window = resolve(con, None, None)
    con.execute("SELECT 1").fetchall()
    bare = best(lambda: con.sql(BARE_SQL).fetchall(), args.repeat)
    view = best(lambda: con.sql(VIEW_SQL).fetchall(), args.repeat)
    exact = best(lambda: breakdown(con, window, [By.model, By.day]), args.repeat)
    approx = best(lambda: breakdown(con, window, [By.model, By.day], approx_p95=True), args.repeat)
    result = breakdown(con, window, [By.model, By.day])
    con.close()
    print(f"rows: {n:,}; groups: {result.groups.height:,}; threads: {os.cpu_count()}; "
          f"load average: {os.getloadavg()[0]:.1f}")
    print(f"{'':<52} {'wall':>8} {'ratio':>6}   {'cpu':>8} {'ratio':>6}")
    for label, (w, c) in (("baseline GROUP BY model, day with sum()", bare),
                          ("costed_requests view, same GROUP BY", view),
                          ("aimon cost breakdown --by model,day", exact),
                          ("aimon cost breakdown --by model,day --approx-p95", approx)):
        print(f"{label:<52} {w:7.3f}s {w / bare[0]:5.2f}x   {c:7.3f}s {c / bare[1]:5.2f}x")
    ratio = min(exact[0] / bare[0], exact[1] / bare[1])
    print(f"target: breakdown <= 3x the baseline -> {'met' if ratio <= 3 else 'NOT met'} "
          f"(wall {exact[0] / bare[0]:.2f}x, cpu {exact[1] / bare[1]:.2f}x)")

if __name__ == "__main__":
    main()
