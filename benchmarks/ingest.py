"""Ingest speed and memory against DuckDB's bare load of the same file, in the same run.

    python benchmarks/ingest.py [--rows 1000000]

For a generated JSONL file (and the same rows as Parquet) it times, each in a fresh
process so peak RSS is the process's own:

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
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from datagen import generate  # noqa: E402

MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
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


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command run in a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
    elapsed, rss_kb, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"command failed ({rc}): {' '.join(argv)}")
    return float(elapsed), int(rss_kb) / 1024


def fresh(path: Path) -> Path:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    return path


def bench(source: Path, workdir: Path, repeat: int) -> dict:
    aimon = [sys.executable, "-m", "aimon", "ingest", str(source), "--format", "json"]
    result: dict = {"file": str(source), "size_mb": round(source.stat().st_size / 1e6, 1)}
    best = {}
    for _ in range(repeat):
        runs = {
            "bare": measure([sys.executable, "-c", BARE, str(fresh(workdir / "bare.duckdb")), str(source), "default"]),
            "bare_zstd": measure([sys.executable, "-c", BARE, str(fresh(workdir / "zstd.duckdb")), str(source), "zstd"]),
            "aimon": measure([*aimon, "--db", str(fresh(workdir / "aimon.duckdb"))]),
            "aimon_reingest": measure([*aimon, "--db", str(workdir / "aimon.duckdb")]),
        }
        for name, (secs, rss) in runs.items():
            if name not in best or secs < best[name][0]:
                best[name] = (secs, max(rss, best.get(name, (0, 0))[1]))
    for name, (secs, rss) in best.items():
        result[name] = {"seconds": round(secs, 2), "peak_rss_mb": round(rss)}
    result["ratio_vs_bare"] = round(best["bare"][0] / best["aimon"][0], 2)
    result["ratio_vs_bare_zstd"] = round(best["bare_zstd"][0] / best["aimon"][0], 2)
    result["reingest_vs_first"] = round(best["aimon"][0] / best["aimon_reingest"][0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best time counts")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("AIMON_BENCH_TMP")) as tmp:
        for kind in ("jsonl", "parquet"):
            source = generate(args.rows, kind)
            r = bench(source, Path(tmp), args.repeat)
            results.append(r)
            print(f"\n{kind}: {args.rows:,} rows, {r['size_mb']:,} MB")
            for name in ("bare", "bare_zstd", "aimon", "aimon_reingest"):
                print(f"  {name:15s} {r[name]['seconds']:7.2f} s   peak RSS {r[name]['peak_rss_mb']:6,} MB")
            print(f"  throughput ratio vs bare read: {r['ratio_vs_bare']:.2f} "
                  f"(vs bare with zstd: {r['ratio_vs_bare_zstd']:.2f}); "
                  f"re-ingest is {r['reingest_vs_first']:.2f}x the speed of the first ingest")
    print("\n" + json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
