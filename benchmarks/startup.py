"""Start-up time: `aimon --help` and `aimon report daily` on sample_logs, in fresh processes.

    python benchmarks/startup.py [--repeat 10] [--db PATH]

sample_logs is ingested once (requests, then feedback) into benchmarks/data/startup.duckdb
(or --db) and kept. Each command then runs ``--repeat`` times, each in a fresh process, and
the median wall time is printed beside two baselines timed in the same run, on the same
machine: ``python -c pass`` (the interpreter alone) and ``python -c "import duckdb"``
(the one library the report cannot do without). Peak RSS is the largest of the runs
(the children's ru_maxrss). Targets (issue 16 item 8): ``--help`` <= 0.25 s, the daily
report <= 0.6 s. Figures are kept in benchmarks/README.md.
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
DATA = Path(__file__).parent / "data"
SAMPLE = ROOT / "sample_logs"
REQUEST_FILES = ("requests.jsonl.gz", "batch_output.jsonl", "otel_spans.jsonl")
DAY = "2026-11-10"
TARGETS = {"aimon --help": 0.25, f"aimon report daily --date {DAY}": 0.6}


def aimon(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "aimon", *args]  # -P: the checkout chosen by PYTHONPATH, not the cwd


def env_for(checkout: Path | None) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "120"}
    if checkout is not None:  # another checkout's aimon ahead of the installed one
        env["PYTHONPATH"] = str(checkout)
    return env


def ensure_db(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".loading.duckdb")
    tmp.unlink(missing_ok=True)
    env = {**os.environ, "AIMON_DB": str(tmp)}
    subprocess.run(aimon("ingest", *(str(SAMPLE / f) for f in REQUEST_FILES)), env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(aimon("ingest", "--feedback", str(SAMPLE / "feedback.jsonl")), env=env, check=True,
                   stdout=subprocess.DEVNULL)
    tmp.rename(path)


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds of one fresh process, its peak RSS in KiB and its CPU seconds."""
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, env,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def medians(runs: dict[str, tuple[list[str], dict[str, str]]],
            repeat: int) -> dict[str, tuple[float, float, float]]:
    """Median wall seconds, peak RSS (MiB) and median CPU seconds of each command over
    ``repeat`` rounds; each round runs every command once, so a change in the machine's
    load hits all alike. CPU time (user + system) is what the command costs on a loaded
    machine, where wall time also counts the wait for a core."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    peaks = dict.fromkeys(runs, 0)
    for _ in range(repeat):
        for name, (cmd, env) in runs.items():
            elapsed, rss, cpu = run_once(cmd, env)
            times[name].append(elapsed)
            cpus[name].append(cpu)
            peaks[name] = max(peaks[name], rss)
    return {name: (statistics.median(times[name]), peaks[name] / 1024, statistics.median(cpus[name]))
            for name in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--db", type=Path, default=DATA / "startup.duckdb")
    parser.add_argument("--before", type=Path, metavar="CHECKOUT",
                        help="also time the aimon commands of another checkout (e.g. main), same run")
    args = parser.parse_args()
    ensure_db(args.db)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"median of {args.repeat} fresh processes")
    here = env_for(None)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import duckdb"': [sys.executable, "-c", "import duckdb"],
        "aimon --help": aimon("--help"),
        f"aimon report daily --date {DAY}": aimon("report", "daily", "--date", DAY, "--db", str(args.db)),
    }
    runs = {name: (cmd, here) for name, cmd in commands.items()}
    if args.before is not None:
        before = env_for(args.before.resolve())
        for name, cmd in list(commands.items())[2:]:
            runs[f"{name} (before)"] = (cmd, before)
    results = medians(runs, args.repeat)
    base = results["python -c pass"][0]
    duck = results['python -c "import duckdb"'][0]
    print(f"{'command':<49} {'median s':>9} {'target s':>9} {'x pass':>7} {'x duckdb':>9} {'cpu s':>7} {'peak MiB':>9}")
    for name, (median, peak, cpu) in results.items():
        target = None if "(before)" in name else TARGETS.get(name)
        verdict = "" if target is None else ("  ok" if median <= target else "  over")
        print(f"{name:<49} {median:>9.3f} {'' if target is None else f'{target:.2f}':>9} "
              f"{median / base:>7.1f} {median / duck:>9.2f} {cpu:>7.3f} {peak:>9.0f}{verdict}")


if __name__ == "__main__":
    main()
