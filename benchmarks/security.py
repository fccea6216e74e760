"""Security audit: accuracy on the labelled set, and throughput against the seed's loop.

    python benchmarks/security.py [--rows 1000000] [--baseline-rows N] [--skip-throughput]
    python benchmarks/security.py --set PATH [--set PATH ...] [--show-mistakes]   # other sets only
    python benchmarks/security.py --semantic --set PATH   # `audit security --semantic`, beside the default

1. *Accuracy*: precision and recall per category on tests/security_eval/eval_set.jsonl,
   each set apart (dev, heldout, heldout2 and heldout3: every one of them has been
   studied, so all four are development sets now), or on the JSON Lines sets given with
   ``--set`` (a blind set: its mistakes are printed only with ``--show-mistakes``), for
   aimon and for the seed article's
   SecurityMonitor (seven injection patterns, four leakage phrases), side by side;
   then aimon's and the seed's recall by language and by obfuscation. With
   ``--semantic``, "aimon" is ``aimon audit security --semantic`` (the fine-tuned
   classifier; the ``embeddings`` extra) and the default detector is a column beside it.
   Throughput is the default detector's only.
2. *Throughput* on ``--rows`` generated prompts (benchmarks/datagen.py text, with 0.5%
   planted injections and 1% hard benign prompts from the evaluation set; the generated
   file and the database are built once and cached under benchmarks/data, which git
   ignores), in prompts per second and in CPU seconds:

   - aimon: ``aimon.analysis.security.audit`` over the prompts (the SQL passes, Python
     on flagged prompts, verdicts, redaction, abuse) and ``save_audit`` (findings and
     scan marks written), in this process;
   - baseline: a per-row Python ``re`` loop with the seed's seven patterns over the
     same prompts (fetched from DuckDB in batches; only the loop is timed).

Ratio = aimon prompts/s over the baseline's (target >= 1), by wall and by CPU time (every
thread). Peak RSS is the process's.
The machine is shared: compare ratios from one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import duckdb  # noqa: E402
from datagen import DATA, generate  # noqa: E402

from aimon.analysis import security  # noqa: E402
from aimon.analysis.pii.cache import window_for  # noqa: E402
from aimon.analysis.security.scan import Field  # noqa: E402
from aimon.store.connection import connect  # noqa: E402
from aimon.store.security import save_audit  # noqa: E402
from tests.security_eval import evaluate  # noqa: E402


def accuracy(path: Path | None = None, show_mistakes: bool = True, semantic: bool = False) -> None:
    """Precision and recall per category and split; ``semantic``: aimon's verdicts are
    those of ``--semantic`` (the fine-tuned classifier), and the default detector's
    are printed beside them."""
    records = evaluate.load(path) if path else evaluate.load()
    predicted = evaluate.predict(records, semantic=semantic)
    default = evaluate.predict(records) if semantic else predicted
    rules = evaluate.predict(records, use_model=False)
    flagged = evaluate.seed_predict(records)
    if path:
        print(f"\n{path}")
    for split in dict.fromkeys(r["split"] for r in records):
        idx = [i for i, r in enumerate(records) if r["split"] == split]
        recs = [records[i] for i in idx]
        ours = evaluate.scores(recs, [predicted[i] for i in idx])
        seed = evaluate.seed_scores(recs, [flagged[i] for i in idx])
        alone = evaluate.scores(recs, [rules[i] for i in idx])
        plain = evaluate.scores(recs, [default[i] for i in idx])
        benign = sum(r["label"] is None for r in recs)
        name = "aimon --semantic" if semantic else "aimon"
        print(f"\n{split}: {len(recs)} texts ({benign} benign)")
        print(f"| category | texts | {name} precision | {name} recall | "
              + ("aimon P / R | " if semantic else "") + "rules alone P / R | seed precision | seed recall |")
        print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if semantic else ""))
        for c in evaluate.CATEGORIES:
            a, s, r, d = ours[c], seed[c], alone[c], plain[c]
            sp = f"{s.precision:.3f}" if s.predicted else "(flags none)"
            print(f"| {c} | {a.labelled} | {a.precision:.3f} | {a.recall:.3f} | "
                  + (f"{d.precision:.3f} / {d.recall:.3f} | " if semantic else "")
                  + f"{r.precision:.3f} / {r.recall:.3f} | {sp} | {s.recall:.3f} |")
        reported = [sum(r["label"] is None and bool(got[i]) for i, r in zip(idx, recs, strict=True))
                    for got in (predicted, default, rules, flagged)]
        print(f"  benign texts reported: {name} {reported[0]}, " + (f"aimon {reported[1]}, " if semantic else "")
              + f"rules alone {reported[2]}, seed {reported[3]} (of {benign})")
        wrong = evaluate.mistakes(recs, [predicted[i] for i in idx])
        print(f"  aimon mistakes: {len(wrong)}")
        for rid, label, got, text in wrong if show_mistakes else ():
            print(f"    {rid}: labelled {label}, reported {got}: {text[:90]!r}")
    for key in ("language", "obfuscation"):
        ours = evaluate.by_slice(records, predicted, key)
        seed_right = {}
        for r, f in zip(records, flagged, strict=True):
            if r["label"] is not None and r["field"] == "prompt":
                k = r[key] or "none"
                seed_right[k] = seed_right.get(k, 0) + bool(f)
        print(f"\nPositives by {key} (every split): right category (aimon) / flagged (seed) / texts")
        for k, (right, total) in ours.items():
            print(f"  {k}: aimon {right}/{total}, seed {seed_right.get(k, 0)}/{total}")


# --------------------------------------------------------------------------- throughput

def bench_db(rows: int) -> Path:
    """A migrated aimon database of ``rows`` generated requests, 0.5% of prompts replaced by
    injections and 1% by hard benign prompts of the evaluation set (built once)."""
    path = DATA / f"security_{rows}.duckdb"
    if path.exists():
        return path
    source = generate(rows, "parquet")
    records = evaluate.load()
    attacks = [r["text"] for r in records if r["field"] == "prompt" and r["label"]]
    benign = [r["text"] for r in records if r["field"] == "prompt" and not r["label"]]
    random.Random(5).shuffle(attacks)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = connect(tmp, write=True)
    con.execute("CREATE TEMP TABLE attack AS SELECT unnest($v) AS text, generate_subscripts($v, 1) - 1 AS i",
                {"v": attacks})
    con.execute("CREATE TEMP TABLE benign AS SELECT unnest($v) AS text, generate_subscripts($v, 1) - 1 AS i",
                {"v": benign})
    con.execute(f"""
        INSERT INTO _aimon_requests (request_id, ts, user_id, session_id, endpoint, provider, model, prompt_version,
                                     prompt, response, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms,
                                     status, source_file, source_line, source_format, ingested_at, cost_source)
        SELECT s.request_id, s.timestamp::TIMESTAMPTZ, s.user_id, s.session_id, s.endpoint, s.provider, s.model,
               s.prompt_version,
               CASE WHEN hash(s.request_id, 1) % 1000 < 5 THEN a.text
                    WHEN hash(s.request_id, 1) % 1000 < 15 THEN b.text ELSE s.prompt END,
               NULL, s.prompt_tokens, s.completion_tokens, s.cost_usd, s.latency_ms, s.ttft_ms, s.status,
               'bench', 0, 'bench', now(), 'logged'
        FROM read_parquet('{source}') s
        LEFT JOIN attack a ON a.i = hash(s.request_id, 2) % {len(attacks)}
        LEFT JOIN benign b ON b.i = hash(s.request_id, 3) % {len(benign)}
    """)
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)
    return path


def time_aimon(template: Path) -> tuple[float, float, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        shutil.copy(template, path)
        con = connect(path, write=True)
        try:
            window = window_for(con, None, None)
            t, c = time.perf_counter(), time.process_time()
            result = security.audit(con, window, security.SecurityConfig(), fields=(Field.prompt,))
            save_audit(con, result)
            return time.perf_counter() - t, time.process_time() - c, result
        finally:
            con.close()


KIND_SQL = ("CASE WHEN hash(request_id, 1) % 1000 < 5 THEN 'planted injection' "
            "WHEN hash(request_id, 1) % 1000 < 15 THEN 'hard benign' ELSE 'generated text' END")


def time_seed(path: Path, rows: int) -> tuple[float, float, int, dict[str, int]]:
    """Wall and CPU seconds of the loop alone, prompts seen, what it flagged by kind."""
    con = duckdb.connect(str(path), read_only=True)
    result = con.execute(f"SELECT prompt, {KIND_SQL} FROM requests LIMIT {rows}")
    loop, cpu, seen, flagged = 0.0, 0.0, 0, {}
    while batch := result.fetchmany(20_000):
        t, c = time.perf_counter(), time.process_time()
        hits = [kind for prompt, kind in batch if prompt and any(rx.search(prompt) for rx in evaluate.SEED_RE)]
        loop += time.perf_counter() - t
        cpu += time.process_time() - c
        for kind in hits:
            flagged[kind] = flagged.get(kind, 0) + 1
        seen += len(batch)
    con.close()
    return loop, cpu, seen, flagged


def aimon_kinds(path: Path, request_ids: list[str]) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    found = dict(con.execute(f"SELECT {KIND_SQL} AS kind, count(*) FROM requests "
                             "WHERE list_contains($ids, request_id) GROUP BY ALL", {"ids": request_ids}).fetchall())
    con.close()
    return found


def throughput(rows: int, baseline_rows: int | None) -> None:
    path = bench_db(rows)
    con = duckdb.connect(str(path), read_only=True)
    n, chars, planted, benign = con.execute(
        "SELECT count(*), sum(length(prompt)), count(*) FILTER (WHERE hash(request_id, 1) % 1000 < 5), "
        "count(*) FILTER (WHERE hash(request_id, 1) % 1000 BETWEEN 5 AND 14) FROM requests").fetchall()[0]
    con.close()
    print(f"\nThroughput on {n:,} prompts ({chars / n:,.0f} characters each, {planted:,} planted injections), "
          f"{os.cpu_count()} cores")
    seconds, cpu, result = time_aimon(path)
    aimon_rate = n / seconds
    injection = result.findings.filter(result.findings["family"] == "injection")
    ids = injection["request_id"].unique().to_list()
    found = len(ids)
    kinds = aimon_kinds(path, ids)
    print(f"  aimon: {seconds:.1f} s ({cpu:.1f} CPU s), {aimon_rate:,.0f} prompts/s; {result.stats.candidates:,} prompts "
          f"flagged by SQL, {found:,} reported as injections")
    loop, seed_cpu, seen, seed_kinds = time_seed(path, baseline_rows or n)
    flagged = sum(seed_kinds.values())
    seed_rate = seen / loop
    print(f"  seed loop: {loop:.1f} s ({seed_cpu:.1f} CPU s) for {seen:,} prompts, {seed_rate:,.0f} prompts/s; "
          f"{flagged:,} flagged")
    print(f"\n  what was flagged ({planted:,} planted injections, {benign:,} hard benign prompts from the "
          f"evaluation set, the rest generated text):")
    for kind in ("planted injection", "hard benign", "generated text"):
        print(f"    {kind}: aimon {kinds.get(kind, 0):,}, seed {seed_kinds.get(kind, 0):,}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n| | prompts/s | flagged as injection | ratio (aimon / seed loop) |")
    print("|---|---:|---:|---:|")
    print(f"| seed's seven patterns, per-row Python re loop | {seed_rate:,.0f} | {flagged:,} | 1.00 |")
    print(f"| aimon audit security (prompts) | {aimon_rate:,.0f} | {found:,} | **{aimon_rate / seed_rate:.2f}** |")
    # CPU time counts every DuckDB thread: on a shared machine it is the steadier figure.
    cpu_ratio = (seen / seed_cpu) / (n / cpu)
    print(f"\nCPU seconds per 1,000 prompts: seed loop {1000 * seed_cpu / seen:.3f}, aimon {1000 * cpu / n:.3f}; "
          f"ratio by CPU time (aimon prompts per CPU second / the loop's) **{1 / cpu_ratio:.2f}**")
    print(f"\npeak RSS of this process: {rss:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=None, help="prompts for the seed loop (default: all)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--set", dest="sets", type=Path, action="append", default=[], metavar="PATH",
                        help="a labelled set in JSON Lines (tests/security_eval/evaluate.py:load); measured instead "
                             "of the committed sets, without throughput")
    parser.add_argument("--show-mistakes", action="store_true", help="print the mistakes on --set sets")
    parser.add_argument("--semantic", action="store_true",
                        help="accuracy of `aimon audit security --semantic` (the embeddings extra), beside the default")
    args = parser.parse_args()
    for path in args.sets:
        if not path.is_file():
            parser.error(f"--set {path}: no such file")
        accuracy(path, show_mistakes=args.show_mistakes, semantic=args.semantic)
    if args.sets:
        return
    if not args.skip_accuracy:
        accuracy(semantic=args.semantic)
    if not args.skip_throughput:
        throughput(args.rows, args.baseline_rows)


if __name__ == "__main__":
    main()
