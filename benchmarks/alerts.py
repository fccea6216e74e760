"""``aimon alerts scan --since 7d`` and ``aimon cost routing`` on a million generated
requests, against a bare DuckDB scan of the same rows, in the same run.

    python benchmarks/alerts.py [--rows 1000000] [--days 14] [--repeat 5]

Rows are generated in DuckDB SQL straight into an aimon database (once; kept in
benchmarks/data/): ``--days`` days of traffic with a daily cycle (three times as many
requests at the afternoon peak as at night), six models (one self-hosted and unpriced),
prompts of 3-200 words (a third of them short), latency, TTFT, response-cache hits on
/search, 15% of requests with feedback, and a few planted incidents (an error burst, a
latency spike, a runaway spender, a cache outage) so the rules have something to find.
With the default 14 days, a 7-day scan and its 7-day same-hour baselines read every row.

Each measurement is a fresh process, median of ``--repeat`` rounds (each round runs
every command once), with the best wall time and the peak RSS:

- bare scan (alerts): one DuckDB pass over every request of the scan's reach
  (``count(*)``, errors, cache hits, sums of latency, TTFT and stored cost), then the same
  over the feedback;
- ``aimon alerts scan --since 7d -f json``: the whole command (imports included);
- bare scan (routing): one DuckDB pass over the routing window's requests reading the
  prompts (``sum(length(prompt))``, tokens and cost per model);
- ``aimon cost routing -f json``.

Ratios are command / bare scan, wall and CPU (user + system of the process; the steadier
figure on a shared machine). Then the analyses alone, in this process on a warm
database (no start-up), with the same ratios. Targets: alerts scan <= 3 s and cost
routing <= 2 s. Figures are kept in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.datagen import WORDS  # noqa: E402

DATA = Path(__file__).parent / "data"
START = "2026-10-01 00:00:00+00"

# Request i falls on day i // per_day; within the day its position p in [0, 1) is warped
# to t = p - a sin(2 pi (p - 0.25)) / (2 pi), so the rate is 1 / (1 - a cos(2 pi (p - 0.25))):
# busiest at 15:00, quietest at 03:00, three times apart for a = 0.5.
REQUESTS_SQL = """
INSERT INTO _aimon_requests (request_id, ts, user_id, session_id, endpoint, provider, model, prompt_version,
                      prompt, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd,
                      latency_ms, ttft_ms, status, error_type, cache_hit, user_tier, source_format, ingested_at)
WITH base AS (
    SELECT i, hash(i, 17) AS h, i // $per_day AS day, (i % $per_day) / $per_day::DOUBLE AS p
    FROM range($rows) t(i)
), timed AS (
    SELECT *, TIMESTAMPTZ '{start}' + to_microseconds(
               (day * 86400e6 + 86400e6 * (p - 0.5 * sin(2 * pi() * (p - 0.25)) / (2 * pi())))::BIGINT) AS ts
    FROM base
), shaped AS (
    SELECT *,
           ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-3-5-haiku-20241022', 'o3-mini',
            'acme-llama-70b-ft'][1 + (h % 6)::INT] AS model,
           ['/chat', '/search', '/summarize', '/code-review', '/support-bot'][1 + ((h >> 8) % 5)::INT] AS endpoint,
           CASE WHEN (h >> 12) % 3 = 0 THEN 3 + ((h >> 14) % 18)::INT ELSE 20 + ((h >> 14) % 180)::INT END
               AS prompt_words,
           -- incidents: 14:00-14:40 on day 12 a third of requests fail; 10:00-11:00 on day 13
           -- gpt-4o answers three times slower; 20:00-21:00 on day 11 one user spends 20x.
           (day = $last - 2 AND hour(ts) = 14 AND minute(ts) < 40) AS outage,
           (day = $last - 1 AND hour(ts) = 10) AS slow,
           (day = $last - 3 AND hour(ts) = 20 AND (h >> 5) % 10 = 0) AS runaway,
           (day = $last - 2 AND hour(ts) IN (18, 19)) AS cache_down
    FROM timed
), failing AS (
    SELECT *, (h >> 16) % 100 < CASE WHEN outage THEN 33 ELSE 2 END AS failed,
           CASE WHEN runaway THEN 40000 ELSE 200 + ((h >> 20) % 1800)::INT END AS in_tok,
           20 + ((h >> 32) % 600)::INT AS out_tok
    FROM shaped
)
SELECT 'req-' || i, ts, CASE WHEN runaway THEN 'user-runaway' ELSE 'user-' || ((h >> 24) % 5000) END,
       'sess-' || ((h >> 28) % 200000), endpoint,
       CASE WHEN model LIKE 'claude%' THEN 'anthropic' WHEN model LIKE 'acme%' THEN 'self-hosted' ELSE 'openai' END,
       model, 'v' || (1 + (h >> 40) % 3),
       array_to_string(list_transform(range(prompt_words), lambda k: $words[1 + (hash(i, k) % $nwords)::INT]), ' ')
           || CASE WHEN (h >> 36) % 20 = 0 THEN E'\\n```python\\ndef f(x):\\n    return x\\n```' ELSE '' END,
       CASE WHEN failed THEN 0 ELSE in_tok END,
       CASE WHEN failed THEN 0 ELSE out_tok END,
       CASE WHEN (h >> 46) % 4 = 0 THEN in_tok // 2 ELSE 0 END,
       CASE WHEN model = 'o3-mini' THEN out_tok // 3 END,
       CASE WHEN (h >> 48) % 3 = 0 OR model LIKE 'acme%' THEN NULL
            ELSE round((in_tok * 2.5 + out_tok * 10) / 1e6, 8) END,
       round((300 + out_tok * 12.5 + (h >> 50) % 900) * CASE WHEN slow AND model = 'gpt-4o' THEN 3 ELSE 1 END, 1),
       CASE WHEN failed THEN NULL ELSE round(150 + (h >> 52) % 400, 1) END,
       CASE WHEN failed THEN 'error' ELSE 'ok' END,
       CASE WHEN failed THEN ['rate_limit', 'timeout', 'api_error'][1 + ((h >> 54) % 3)::INT] END,
       CASE WHEN endpoint = '/search' THEN NOT cache_down AND (h >> 56) % 10 < 3 END,
       ['free', 'pro', 'enterprise'][1 + ((h >> 58) % 3)::INT],
       'flat',
       TIMESTAMPTZ '2026-12-01 00:00:00+00'
FROM failing
"""

FEEDBACK_SQL = """
INSERT INTO feedback (feedback_id, request_id, ts, user_id, feedback_type, feedback_category, ingested_at)
SELECT 'fb-' || r.request_id, r.request_id, r.ts + INTERVAL 2 MINUTE, r.user_id,
       ['thumbs_up', 'thumbs_up', 'thumbs_up', 'thumbs_up', 'thumbs_up', 'thumbs_up', 'thumbs_down',
        'copied_response', 'regenerated', 'report'][1 + ((hash(r.request_id) >> 8) % 10)::INT],
       CASE WHEN (hash(r.request_id) >> 8) % 10 = 9 THEN ['incorrect', 'harmful', 'unhelpful'][1 + (hash(r.ts) % 3)::INT] END,
       TIMESTAMPTZ '2026-12-01 00:00:00+00'
FROM requests r
WHERE hash(r.request_id) % 100 < 15
"""

# What a scan must read at the least: every request and vote in its reach, once.
BARE_ALERTS_SQL = (
    """SELECT count(*), count(*) FILTER (WHERE status = 'error'), count(*) FILTER (WHERE cache_hit),
              sum(latency_ms), sum(ttft_ms), sum(cost_usd)
       FROM _aimon_requests WHERE ts >= (SELECT max(ts) FROM _aimon_requests) - INTERVAL 15 DAY""",
    """SELECT count(*) FILTER (WHERE feedback_type = 'thumbs_down'), count(*) FROM feedback
       WHERE ts >= (SELECT max(ts) FROM feedback) - INTERVAL 15 DAY""",
)

# The routing window's requests with their prompts, per model.
BARE_ROUTING_SQL = (
    """SELECT model, count(*), sum(length(prompt)), sum(input_tokens + output_tokens), sum(cost_usd)
       FROM _aimon_requests WHERE ts >= (SELECT max(ts) FROM _aimon_requests) - INTERVAL 30 DAY
       GROUP BY ALL""",
)

# A bare scan in its own process: import duckdb, open the file, run the queries.
BARE_SCRIPT = ("import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=True); "
               "[con.sql(q).fetchall() for q in sys.argv[2:]]")


def database(rows: int, days: int) -> Path:
    """The benchmark database (made once)."""
    from aimon.store.connection import connect
    from aimon.store.prices import refresh_prices

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"alerts_{rows}_{days}d.duckdb"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.duckdb")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    con = connect(tmp, write=True)
    con.execute(REQUESTS_SQL.format(start=START), {"rows": rows, "per_day": -(-rows // days), "last": days - 1,
                                                   "words": list(WORDS), "nwords": len(WORDS)})
    con.execute(FEEDBACK_SQL)
    refresh_prices(con)
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)
    print(f"generated {rows:,} requests over {days} days in {time.perf_counter() - started:.1f} s: {path}")
    return path


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: a rule fired is not a failure here
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(argvs: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float, float, float]]:
    """Median wall, median CPU, best wall and peak RSS of each command over ``repeat``
    rounds; each round runs every command once, so a change in the machine's load hits
    the command and its bare scan alike."""
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in argvs}
    for _ in range(repeat):
        for name, argv in argvs.items():
            runs[name].append(run(argv))
    return {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs),
                   min(r[0] for r in rs), max(r[2] for r in rs)) for name, rs in runs.items()}


def in_process(path: Path, repeat: int) -> list[tuple[str, float, float]]:
    """The analyses alone (no start-up), best wall and CPU of ``repeat`` on a warm database."""
    import duckdb

    from aimon.analysis.alerts.rules import DEFAULT_RULES
    from aimon.analysis.alerts.scan import scan
    from aimon.analysis.cost.routing import routing
    from aimon.analysis.toolkit.window import ceil_minute, newest_request, resolve, time_or_newest
    from aimon.store.connection import connect

    con = connect(path, write=False)
    last = newest_request(con)
    end, start = ceil_minute(time_or_newest(con, None, tz="UTC", option="--until", newest=last)), ceil_minute(
        time_or_newest(con, "7d", tz="UTC", option="--since", newest=last))
    window = resolve(con, None, None)
    bare_con = duckdb.connect(str(path), read_only=True)

    def bare(queries: tuple[str, ...]) -> None:
        for q in queries:
            bare_con.sql(q).fetchall()

    def timed(fn) -> tuple[float, float]:
        walls, cpus = [], []
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        return min(walls), min(cpus)

    out = [
        ("bare scan (alerts)", *timed(lambda: bare(BARE_ALERTS_SQL))),
        ("alerts scan --since 7d", *timed(lambda: scan(con, DEFAULT_RULES, start, end))),
        ("bare scan (routing)", *timed(lambda: bare(BARE_ROUTING_SQL))),
        ("cost routing", *timed(lambda: routing(con, window))),
    ]
    bare_con.close()
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-process", action="store_true", help="Only the in-process timings.")
    args = parser.parse_args()
    path = database(args.rows, args.days)
    py = sys.executable
    print(f"database: {args.rows:,} requests over {args.days} days ({path.stat().st_size / 1e6:,.0f} MB); "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    header = f"{'':<40} {'wall':>8} {'ratio':>7}   {'cpu':>8} {'ratio':>7}"
    if not args.skip_process:
        print(f"\nfresh processes (imports included), median of {args.repeat} (ratio: to the bare scan's median; "
              "cpu: user + system of the process)")
        print(f"{'':<40} {'wall':>8} {'ratio':>7}   {'cpu':>8} {'ratio':>7}   {'best wall':>9}   {'peak RSS':>9}")
        aimon = [py, "-m", "aimon"]
        pairs = (
            ("alerts", [py, "-c", BARE_SCRIPT, str(path), *BARE_ALERTS_SQL],
             aimon + ["alerts", "scan", "--since", "7d", "--db", str(path), "-f", "json", "-o", os.devnull], 3.0),
            ("routing", [py, "-c", BARE_SCRIPT, str(path), *BARE_ROUTING_SQL],
             aimon + ["cost", "routing", "--db", str(path), "-f", "json", "-o", os.devnull], 2.0),
        )
        argvs = {}
        for what, bare_argv, argv, _ in pairs:
            argvs[f"bare DuckDB scan ({what})"] = bare_argv
            argvs[f"aimon {' '.join(argv[3:5])}"] = argv
        got = measure(argvs, args.repeat)
        for what, _, argv, target in pairs:
            bare = got[f"bare DuckDB scan ({what})"]
            mine = got[f"aimon {' '.join(argv[3:5])}"]
            for label, (w, c, fastest, rss) in ((f"bare DuckDB scan ({what})", bare),
                                                 (f"aimon {' '.join(argv[3:5])}", mine)):
                print(f"{label:<40} {w:7.2f}s {w / bare[0]:6.1f}x   {c:7.2f}s {c / bare[1]:6.1f}x   "
                      f"{fastest:8.2f}s   {rss:7.0f} MB")
            print(f"{'':<40} target <= {target:g} s (median wall): {'met' if mine[0] <= target else 'NOT met'}"
                  f"{'' if os.getloadavg()[0] < 1.5 else ' (machine loaded: see the CPU column)'}")
    print("\nin this process, warm database (no start-up), best of", args.repeat)
    print(header)
    rows = in_process(path, args.repeat)
    for i, (label, w, c) in enumerate(rows):
        bw, bc = rows[i - i % 2][1:]
        print(f"{label:<40} {w:7.2f}s {w / bw:6.1f}x   {c:7.2f}s {c / bc:6.1f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
