"""Ingest speed and memory against DuckDB's bare load of the same file, in the same run.

    python benchmarks/ingest.py [--rows 1000000] [--shaped-rows 100000] [--only otel,batch]

For a generated flat JSONL file (and the same rows as Parquet), and for an OpenTelemetry
span file and an OpenAI batch output file shaped like sample_logs'
(``benchmarks/shapedgen.py``), it times, each in a fresh process so peak RSS is the
process's own:

- baseline: ``CREATE TABLE t AS SELECT * FROM read_json(file)`` into a new database
  file with DuckDB's default settings (and, for reference, with zstd compression);
- ``aimon ingest file`` into a new database;
- ``aimon ingest file`` again into that database (every record a duplicate).

It prints throughput ratios (baseline time / aimon time: above 1 means aimon is
faster) and peak RSS. Results are kept in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from datagen import generate  # noqa: E402
from shapedgen import batch_output, otel_spans  # noqa: E402

MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(elapsed, use.ru_maxrss, rc, use.ru_utime + use.ru_stime)
"""

BARE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
if sys.argv[3] == "zstd":
    con.execute("SET force_compression = 'zstd'")
reader = "read_parquet" if sys.argv[2].endswith(".parquet") else "read_json"
con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{sys.argv[2]}')")
con.close()
"""


def measure(argv: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, peak RSS (MB), CPU seconds and exit code of a command run in a fresh
    process. A failed command (aimon out of memory: exit 2) is reported, not fatal."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
    elapsed, rss_kb, rc, cpu = out.stdout.split()
    return float(elapsed), int(rss_kb) / 1024, float(cpu), int(rc)


def fresh(path: Path) -> Path:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    return path


def bench(source: Path, workdir: Path, repeat: int) -> dict:
    aimon = [sys.executable, "-m", "aimon", "ingest", str(source), "--format", "json"]
    result: dict = {"file": str(source), "size_mb": round(source.stat().st_size / 1e6, 1)}
    best = {}
    paired = []  # bare / aimon within each round: the machine's pace drifts between rounds
    for _ in range(repeat):
        runs = {
            "bare": measure([sys.executable, "-c", BARE, str(fresh(workdir / "bare.duckdb")), str(source), "default"]),
            "bare_zstd": measure([sys.executable, "-c", BARE, str(fresh(workdir / "zstd.duckdb")), str(source), "zstd"]),
            "aimon": measure([*aimon, "--db", str(fresh(workdir / "aimon.duckdb"))]),
            "aimon_reingest": measure([*aimon, "--db", str(workdir / "aimon.duckdb")]),
        }
        for name, (secs, rss, cpu, rc) in runs.items():
            if name not in best or secs < best[name][0]:
                best[name] = (secs, max(rss, best.get(name, (0, 0))[1]), cpu, rc)
        paired.append(round(runs["bare"][0] / runs["aimon"][0], 2))
    for name, (secs, rss, cpu, rc) in best.items():
        result[name] = {"seconds": round(secs, 2), "peak_rss_mb": round(rss), "cpu_seconds": round(cpu, 2),
                        "exit_code": rc}
    result["ratio_vs_bare"] = round(best["bare"][0] / best["aimon"][0], 2)
    result["ratio_vs_bare_each_round"] = paired
    result["ratio_vs_bare_median"] = round(statistics.median(paired), 2)
    result["ratio_vs_bare_zstd"] = round(best["bare_zstd"][0] / best["aimon"][0], 2)
    result["reingest_vs_first"] = round(best["aimon"][0] / best["aimon_reingest"][0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shaped-rows", type=int, default=100_000, help="spans and batch lines")
    parser.add_argument("--only", default="jsonl,parquet,otel,batch", help="which files, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of runs; the best time of each counts, and each round's ratio is printed")
    args = parser.parse_args()
    sources = {"jsonl": lambda: generate(args.rows, "jsonl"), "parquet": lambda: generate(args.rows, "parquet"),
               "otel": lambda: otel_spans(args.shaped_rows), "batch": lambda: batch_output(args.shaped_rows)}
    results = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("AIMON_BENCH_TMP")) as tmp:
        for kind in args.only.split(","):
            source = sources[kind]()
            r = bench(source, Path(tmp), args.repeat)
            results.append(r)
            rows = args.rows if kind in ("jsonl", "parquet") else args.shaped_rows
            print(f"\n{kind}: {rows:,} records, {r['size_mb']:,} MB")
            for name in ("bare", "bare_zstd", "aimon", "aimon_reingest"):
                failed = f"   FAILED (exit {r[name]['exit_code']})" if r[name]["exit_code"] else ""
                print(f"  {name:15s} {r[name]['seconds']:7.2f} s   CPU {r[name]['cpu_seconds']:7.2f} s   "
                      f"peak RSS {r[name]['peak_rss_mb']:6,} MB{failed}")
            print(f"  throughput ratio vs bare read: {r['ratio_vs_bare']:.2f} "
                  f"(vs bare with zstd: {r['ratio_vs_bare_zstd']:.2f}); "
                  f"re-ingest is {r['reingest_vs_first']:.2f}x the speed of the first ingest")
            if len(r["ratio_vs_bare_each_round"]) > 1:
                print(f"  ratio vs bare in each round (bare and aimon run one after the other): "
                      f"{', '.join(f'{x:.2f}' for x in r['ratio_vs_bare_each_round'])}; "
                      f"median {r['ratio_vs_bare_median']:.2f}")
    print("\n" + json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
