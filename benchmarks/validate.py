"""Validation throughput: ``aimon validate`` against one bare DuckDB scan of the same column.

    python benchmarks/validate.py [--rows 1000000] [--repeat 3]

Generates ``--rows`` requests whose responses read like an assistant's (sentences,
markdown lists, code blocks, ~600 characters), with planted failures: refusals in
several languages, loops, truncated answers, empty and unbalanced responses, replies
in another language. Then, in one process, best of ``--repeat``:

- bare: ``SELECT sum(length(response)), count_if(regexp_matches(response, R))`` over
  the requests (one scan computing a length and a regex);
- aimon: ``aimon.analysis.validate.validate`` over every response (all checks but
  off_topic, which needs the embedding layer and is bounded by the model's speed),
  ``save_run`` (results stored) and ``validation_report`` (the summary), on a fresh copy
  of the database each time;

and once ``aimon validate -f json`` as a separate process. Ratio = aimon / bare
(target <= 3). The machine is shared: compare ratios from one run, not seconds.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import pyarrow as pa  # noqa: E402
from datagen import DATA  # noqa: E402

from aimon.analysis import validate as V  # noqa: E402
from aimon.analysis.pii.cache import window_for  # noqa: E402
from aimon.analysis.validate.report import validation_report  # noqa: E402
from aimon.store.connection import connect  # noqa: E402
from aimon.store.validations import save_run  # noqa: E402

BARE_SQL = r"SELECT sum(length(response)), count_if(regexp_matches(response, '(?i)\b(?:sorry|cannot)\b')) FROM requests"

SENTENCES = [
    "Thanks for reaching out about your order.", "I checked your account and everything looks fine.",
    "The refund will arrive within five business days.", "You can change this under Settings > Billing.",
    "Here is a short summary of the document.", "The main risk is the migration timeline (see section 3).",
    "Revenue grew by 12% compared with the previous quarter.", "Let me know if you need anything else.",
    "The function returns None when the list is empty.", "Use a context manager so the file is closed.",
    "Shipping usually takes two to four days.", "Your subscription renews on the first of the month.",
    "The error comes from a missing environment variable.", "I recommend upgrading to the latest version.",
    "Weekend traffic was lower, as expected.", "The team agreed to revisit the budget in March.",
]
BULLETS = ["- Check the cable.", "- Restart the router.", "- Update the firmware.", "1. Open the app.",
           "2. Tap Settings.", "3. Choose Security."]
CODE = "```python\ndef total(items):\n    return sum(i.price for i in items)\n```"
PLANTED = {
    "refusal": ["I'm sorry, but I can't help with that request.", "Lo siento, no puedo ayudar con eso.",
                "Je ne peux pas vous aider avec cela.", "抱歉，我无法帮助你。"],
    "loop": ["I apologize for the confusion. " * 30],
    "truncated": ["The plan has three phases and the first one covers the migration of the"],
    "empty": [""],
    "unbalanced": ["The total is (price * quantity which we add to the tax."],
    "language": ["Puede restablecer su contraseña desde la página de configuración de la cuenta."],
}


def response(r: random.Random) -> str:
    parts = r.sample(SENTENCES, r.randint(3, 8))
    if r.random() < 0.3:
        parts.insert(r.randint(0, len(parts)), "\n" + "\n".join(r.sample(BULLETS, 3)) + "\n")
    if r.random() < 0.15:
        parts.append("\n" + CODE + "\n")
    return " ".join(parts)


def bench_db(rows: int) -> Path:
    path = DATA / f"validate_{rows}.duckdb"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    r = random.Random(3)
    kinds = list(PLANTED)
    responses = []
    for i in range(rows):
        if i % 100 == 7:  # 1% planted, spread over the kinds
            responses.append(r.choice(PLANTED[kinds[(i // 100) % len(kinds)]]))
        else:
            responses.append(response(r))
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = connect(tmp, write=True)
    con.register("gen", pa.table({"i": pa.array(range(rows), pa.int64()), "response": pa.array(responses)}))
    con.execute("""
        INSERT INTO _aimon_requests (request_id, ts, user_id, endpoint, provider, model, prompt_version, prompt,
                                     response, input_tokens, output_tokens, status, source_format, ingested_at,
                                     cost_source)
        SELECT 'req-' || lpad(i::VARCHAR, 9, '0'),
               TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds((i * 1209600000000 // $rows)::BIGINT),
               'user-' || (i % 5000), ['/chat', '/support', '/summarize'][1 + (i % 3)::INT], 'openai',
               ['gpt-4o', 'gpt-4o-mini'][1 + (i % 2)::INT], 'v' || (1 + i % 3),
               'Could you help me with my account and the order I placed last week?', response, 60, 150, 'ok',
               'bench', now(), 'logged'
        FROM gen
    """, {"rows": rows})
    con.unregister("gen")
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)
    return path


def time_bare(path: Path, repeat: int) -> tuple[float, float]:
    """Best wall seconds and best CPU seconds (every thread of this process)."""
    con = connect(path)
    try:
        best, best_cpu = float("inf"), float("inf")
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            con.execute(BARE_SQL).fetchall()
            best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, time.process_time() - c)
        return best, best_cpu
    finally:
        con.close()


def time_aimon(template: Path, repeat: int) -> tuple[float, float, object, object, dict[str, float]]:
    best, best_cpu, run, report, phases = float("inf"), float("inf"), None, None, {}
    loaded = V.load_config(None)
    names = tuple(n for n in V.parse_checks(None) if n != "off_topic")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "v.duckdb"
            shutil.copy(template, path)
            t, c = time.perf_counter(), time.process_time()
            con = connect(path, write=True)
            window = window_for(con, None, None)
            t1 = time.perf_counter()
            run = V.validate(con, window, loaded, names)
            t2 = time.perf_counter()
            save_run(con, run)
            t3 = time.perf_counter()
            report = validation_report(con, run, stored=True)
            con.close()
            t4 = time.perf_counter()
            best_cpu = min(best_cpu, time.process_time() - c)
            if t4 - t < best:
                best = t4 - t
                phases = {"open": t1 - t, "checks (SQL pass and Python candidates)": t2 - t1,
                          "store": t3 - t2, "summary": t4 - t3}
    return best, best_cpu, run, report, phases


def time_command(template: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.duckdb"
        shutil.copy(template, path)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "aimon", "validate", "-f", "json", "--db", str(path),
                        "--checks", ",".join(n for n in V.parse_checks(None) if n != "off_topic")],
                       check=True, capture_output=True)
        return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = bench_db(args.rows)
    bare, bare_cpu = time_bare(path, args.repeat)
    seconds, cpu, run, report, phases = time_aimon(path, args.repeat)
    command = time_command(path)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.rows:,} responses; best of {args.repeat}")
    print(f"  bare scan (length + one regex): {bare:.2f} s")
    print(f"  aimon validate (9 checks, stored, summarised): {seconds:.2f} s "
          f"({run.stats.candidates:,} responses looked at in Python)")
    print(f"  aimon validate -f json, separate process: {command:.2f} s")
    for name, t in phases.items():
        print(f"    {name}: {t:.2f} s ({t / bare:.2f}x the bare scan)")
    print("\n| | seconds | ratio to the bare scan (target <= 3) |")
    print("|---|---:|---:|")
    print(f"| bare DuckDB scan: length + one regex | {bare:.2f} | 1.00 |")
    print(f"| aimon validate, in process | {seconds:.2f} | **{seconds / bare:.2f}** |")
    print(f"| aimon validate -f json, own process | {command:.2f} | {command / bare:.2f} |")
    print(f"\nCPU seconds (every thread; steadier than wall time on a loaded machine): bare {bare_cpu:.2f}, "
          f"aimon {cpu:.2f}, ratio **{cpu / bare_cpu:.2f}**")
    print("\nFailures found:")
    for row in report.by_check.iter_rows(named=True):
        print(f"  {row['check']}: {row['failed']:,} of {row['checked']:,}")
    print(f"\npeak RSS of this process: {rss:,.0f} MB")


if __name__ == "__main__":
    main()
