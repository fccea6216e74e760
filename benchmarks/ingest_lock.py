"""How long `aimon ingest` keeps readers out: a reader polls the database while it runs.

    python benchmarks/ingest_lock.py [--checkout PATH] [--poll 0.02]

sample_logs' feedback is ingested first (so the database exists and readers have
something to open); then, for the three request files loaded fresh and loaded again
(every record a duplicate), a second process opens the database read-only every
``--poll`` seconds while the ingest runs, as a cron report would, and records which
attempts found it locked. Printed per run: the ingest's wall time, how long the reader
was locked out in all and at the longest stretch, and that share of the run. Each
attempt is a fresh ``duckdb.connect(read_only=True)``, so the figure includes no wait
of aimon's own. ``--checkout`` runs another checkout's aimon (the figures before a
change). Results are kept in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
REQUEST_FILES = ("requests.jsonl.gz", "batch_output.jsonl", "otel_spans.jsonl")

# The reader: one line per attempt, "<seconds since start> <1 if locked out else 0>",
# until the file named by argv[3] appears.
POLLER = """
import sys, time, duckdb
from pathlib import Path
db, poll, stop = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
start = time.perf_counter()
while not stop.exists():
    t = time.perf_counter() - start
    try:
        duckdb.connect(db, read_only=True).close()
        locked = 0
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        locked = 1
    print(f"{t:.4f} {locked}", flush=True)
    time.sleep(poll)
"""


def aimon(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "aimon", *args]


def measure(args: list[str], db: Path, env: dict[str, str], poll: float, work: Path) -> dict[str, float]:
    stop = work / "stop"
    stop.unlink(missing_ok=True)
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(db), str(poll), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)  # the reader is polling before the ingest starts
    start = time.perf_counter()
    subprocess.run(aimon(*args, "--db", str(db)), env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    stop.touch()
    out, _ = poller.communicate()
    samples = [(float(t), line.endswith("1")) for line in out.splitlines() for t in [line.split()[0]]]
    locked_total = longest = run = 0.0
    for (t, locked), (t_next, _) in zip(samples, samples[1:], strict=False):
        step = t_next - t
        run = run + step if locked else 0.0
        locked_total += step if locked else 0.0
        longest = max(longest, run)
    return {"wall": wall, "locked": locked_total, "longest": longest,
            "attempts": len(samples), "refused": sum(1 for _, locked in samples if locked)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, help="another checkout's aimon (PYTHONPATH)")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between the reader's attempts")
    opts = parser.parse_args()
    env = {**os.environ, "AIMON_LOCK_TIMEOUT": "5m"}
    env["PYTHONPATH"] = str(opts.checkout or ROOT)
    with tempfile.TemporaryDirectory(prefix="aimon-lock-") as tmp:
        work = Path(tmp)
        db = work / "aimon.duckdb"
        subprocess.run(aimon("ingest", "--feedback", str(SAMPLE / "feedback.jsonl"), "--db", str(db)),
                       env=env, check=True, stdout=subprocess.DEVNULL)
        files = [str(SAMPLE / f) for f in REQUEST_FILES]
        print(f"{'run':<28} {'ingest':>8} {'locked out':>11} {'longest':>8} {'share':>6} {'refused':>9}")
        for label in ("requests, new", "requests, again"):
            r = measure(["ingest", *files], db, env, opts.poll, work)
            print(f"{label:<28} {r['wall']:7.2f}s {r['locked']:10.2f}s {r['longest']:7.2f}s "
                  f"{r['locked'] / r['wall']:6.0%} {r['refused']:>4}/{r['attempts']:<4}")


if __name__ == "__main__":
    main()
