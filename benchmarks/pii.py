"""PII detection: accuracy on the labelled set, and throughput against two baselines.

    python benchmarks/pii.py [--rows 1000000] [--baseline-rows N] [--presidio-texts 2000]

1. *Accuracy*: precision and recall per entity type on tests/pii_eval/eval_set.jsonl
   (generated text with planted entities and hard negatives), recall per kind and
   false positives per near-miss kind on tests/pii_eval/phones_set.jsonl (national
   phone formats, unassigned area codes), for aimon, for the
   five naive patterns of a typical per-row loop (email, phone, ssn, card, ip), and
   for Presidio's pattern recognizers when they can run.
2. *Throughput* on ``--rows`` generated requests (benchmarks/datagen.py text, with
   ~3% of prompts given a planted entity and ~2% a look-alike), in records per second:

   - aimon: ``scan_pending`` and ``pii_cache.keep`` over the whole table (DuckDB candidate pass, Python
     validation of every candidate, findings written), in this process;
   - (a) a per-row Python ``re`` loop with five naive patterns over prompt and
     response (rows fetched from DuckDB in batches; only the loop is timed), over
     ``--baseline-rows`` records (default: all of them);
   - (b) Presidio's ``AnalyzerEngine`` with pattern recognizers only (email, phone,
     SSN, card, IP, IBAN, US passport and licence, date) and no NLP model, run in a
     separate virtualenv (``--presidio-python``, default /tmp/presidio-venv) on
     ``--presidio-texts`` records, since at a few hundred texts per second a million
     records would take hours. Skipped, and said so, when that venv is missing.

Ratios are aimon's records/s divided by the baseline's (above 1: aimon is faster).
Results are kept in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import duckdb  # noqa: E402
from datagen import DATA, generate  # noqa: E402

from aimon.analysis.pii.cache import ScanStats, scan_pending, window_for  # noqa: E402
from aimon.analysis.pii.entities import DEFAULT_FIELDS, ENTITY_TYPES  # noqa: E402
from aimon.store import pii_cache  # noqa: E402
from aimon.store.connection import connect  # noqa: E402
from tests.pii_eval import evaluate  # noqa: E402
from tests.pii_eval import generate as evalgen  # noqa: E402
from tests.pii_eval import phones as phone_eval  # noqa: E402

# The five patterns of a typical hand-written detector (as in many blog posts).
NAIVE = {
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,}\b",
    "phone": r"\b\d{3}[-.]?\d{3}[-.]?\d{4}\b",
    "us_ssn": r"\b\d{3}-\d{2}-\d{4}\b",
    "credit_card": r"\b\d{4}[\s-]?\d{4}[\s-]?\d{4}[\s-]?\d{4}\b",
    "ipv4": r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b",
}
NAIVE_RE = {k: re.compile(v) for k, v in NAIVE.items()}

PRESIDIO_TYPES = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "US_SSN": "us_ssn", "CREDIT_CARD": "credit_card",
                  "IBAN_CODE": "iban", "US_PASSPORT": "passport", "US_DRIVER_LICENSE": "drivers_license",
                  "DATE_TIME": "date_of_birth", "IP_ADDRESS": "ip"}

PRESIDIO_SCRIPT = r'''
import json, logging, sys, time
logging.disable(logging.CRITICAL)
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, DateRecognizer, EmailRecognizer,
    IbanRecognizer, IpRecognizer, PhoneRecognizer, UsLicenseRecognizer, UsPassportRecognizer, UsSsnRecognizer)

class NoNlp(NlpEngine):
    """Pattern recognizers only: no spaCy model (none can be downloaded offline)."""
    def load(self): pass
    def is_loaded(self): return True
    def process_text(self, text, language):
        return NlpArtifacts(entities=[], tokens=None, tokens_indices=[], lemmas=[], nlp_engine=self, language=language)
    def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
        for t in texts:
            yield t, self.process_text(t, language)
    def is_stopword(self, word, language): return False
    def is_punct(self, word, language): return False
    def get_supported_entities(self): return []
    def get_supported_languages(self): return ["en"]

registry = RecognizerRegistry()
for r in (EmailRecognizer(), PhoneRecognizer(), UsSsnRecognizer(), CreditCardRecognizer(), IpRecognizer(),
          IbanRecognizer(), UsPassportRecognizer(), UsLicenseRecognizer(), DateRecognizer()):
    registry.add_recognizer(r)
engine = AnalyzerEngine(registry=registry, nlp_engine=NoNlp(), supported_languages=["en"])
engine.analyze(text="warm up a@b.com", language="en")
mode, path = sys.argv[1], sys.argv[2]
texts = [json.loads(line) for line in open(path, encoding="utf-8")]
t = time.perf_counter()
results = [engine.analyze(text=x, language="en", score_threshold=0.4) for x in texts]
elapsed = time.perf_counter() - t
out = {"texts": len(texts), "seconds": elapsed}
if mode == "spans":
    out["spans"] = [[(r.entity_type, r.start, r.end) for r in rs] for rs in results]
print(json.dumps(out))
'''


# --------------------------------------------------------------------------- data

def bench_db(rows: int) -> Path:
    """A migrated aimon database of ``rows`` generated requests with planted PII (built once)."""
    path = DATA / f"pii_{rows}.duckdb"
    if path.exists():
        return path
    source = generate(rows, "parquet")
    import random

    r = random.Random(7)
    pattern_types = [t for t, e in ENTITY_TYPES.items() if not e.context_required]
    planted = [(t, evalgen.POSITIVES[t][0](r)) for _ in range(400) for t in pattern_types]
    negatives = [(k, f(r)) for _ in range(600) for k, f in evalgen.NEGATIVES.items()]
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = connect(tmp, write=True)
    con.execute("CREATE TEMP TABLE pool AS SELECT unnest($v) AS value, generate_subscripts($v, 1) - 1 AS i",
                {"v": [v for _, v in planted]})
    con.execute("CREATE TEMP TABLE negs AS SELECT unnest($v) AS value, generate_subscripts($v, 1) - 1 AS i",
                {"v": [v for _, v in negatives]})
    con.execute(f"""
        INSERT INTO _aimon_requests (request_id, ts, user_id, session_id, endpoint, provider, model, prompt_version,
                              prompt, response, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms,
                              status, source_file, source_line, source_format, ingested_at)
        SELECT s.request_id, s.timestamp::TIMESTAMPTZ, s.user_id, s.session_id, s.endpoint, s.provider, s.model,
               s.prompt_version,
               s.prompt || CASE WHEN hash(s.request_id, 1) % 1000 < 30
                                THEN ' my details: ' || p.value || '. thanks'
                                WHEN hash(s.request_id, 1) % 1000 < 50
                                THEN ' see ' || n.value || ' for context' ELSE '' END,
               s.response, s.prompt_tokens, s.completion_tokens, s.cost_usd, s.latency_ms, s.ttft_ms, s.status,
               'bench', 0, 'bench', now()
        FROM read_parquet('{source}') s
        LEFT JOIN pool p ON p.i = hash(s.request_id, 2) % {len(planted)}
        LEFT JOIN negs n ON n.i = hash(s.request_id, 3) % {len(negatives)}
    """)
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)
    return path


# --------------------------------------------------------------------------- accuracy

def naive_scores(records: list[dict]) -> dict[str, evaluate.Score]:
    planted: dict[str, int] = {}
    detected: dict[str, int] = {}
    tp: dict[str, int] = {}
    for rec in records:
        gold = [dict(e, matched=False) for e in rec["entities"] if e["type"] in NAIVE]
        for e in gold:
            planted[e["type"]] = planted.get(e["type"], 0) + 1
        for kind, rx in NAIVE_RE.items():
            for m in rx.finditer(rec["text"]):
                detected[kind] = detected.get(kind, 0) + 1
                hit = next((g for g in gold if not g["matched"] and g["type"] == kind
                            and m.start() < g["end"] and g["start"] < m.end()), None)
                if hit:
                    hit["matched"] = True
                    tp[kind] = tp.get(kind, 0) + 1
    return {k: evaluate.Score(k, planted.get(k, 0), detected.get(k, 0), tp.get(k, 0), 0) for k in NAIVE}


def presidio_run(python: Path, texts: list[str], mode: str) -> dict | None:
    if not python.exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps(t) + "\n")
    try:
        out = subprocess.run([str(python), "-c", PRESIDIO_SCRIPT, mode, fh.name], capture_output=True, text=True,
                             env={**os.environ, "TLDEXTRACT_CACHE": tempfile.gettempdir()})
    finally:
        os.unlink(fh.name)
    if out.returncode != 0:
        print(f"Presidio failed to run: {out.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def presidio_scores(records: list[dict], spans: list[list]) -> dict[str, evaluate.Score]:
    covered = set(PRESIDIO_TYPES.values()) - {"ip"} | {"ipv4", "ipv6"}
    planted: dict[str, int] = {}
    detected: dict[str, int] = {}
    tp: dict[str, int] = {}
    for rec, found in zip(records, spans, strict=True):
        gold = [dict(e, matched=False) for e in rec["entities"] if e["type"] in covered]
        for e in gold:
            planted[e["type"]] = planted.get(e["type"], 0) + 1
        for entity, start, end in found:
            kind = PRESIDIO_TYPES.get(entity)
            if kind is None:
                continue
            hit = next((g for g in gold if not g["matched"] and start < g["end"] and g["start"] < end
                        and (g["type"] == kind or (kind == "ip" and g["type"] in ("ipv4", "ipv6")))), None)
            label = hit["type"] if hit else ("ipv4" if kind == "ip" else kind)
            detected[label] = detected.get(label, 0) + 1
            if hit:
                hit["matched"] = True
                tp[label] = tp.get(label, 0) + 1
    return {k: evaluate.Score(k, planted.get(k, 0), detected.get(k, 0), tp.get(k, 0), 0) for k in sorted(planted)}


def print_scores(title: str, scores: dict[str, evaluate.Score]) -> None:
    print(f"\n{title}")
    print("| entity type | planted | detected | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    for s in scores.values():
        print(f"| {s.entity_type} | {s.planted} | {s.detected} | {s.precision:.3f} | {s.recall:.3f} |")


# --------------------------------------------------------------------------- throughput

def time_aimon(path: Path) -> tuple[float, ScanStats]:
    con = connect(path, write=True)
    try:
        window = window_for(con, None, None)
        t = time.perf_counter()
        scan = scan_pending(con, window, DEFAULT_FIELDS, rescan=True)
        pii_cache.keep(con, scan)
        return time.perf_counter() - t, scan.stats
    finally:
        con.close()


def time_naive(path: Path, rows: int) -> tuple[float, int, int]:
    con = duckdb.connect(str(path), read_only=True)
    result = con.execute(f"SELECT prompt, response FROM requests LIMIT {rows}")
    loop, seen, matches = 0.0, 0, 0
    while batch := result.fetchmany(20_000):
        t = time.perf_counter()
        for prompt, response in batch:
            for text in (prompt, response):
                if text:
                    for rx in NAIVE_RE.values():
                        matches += len(rx.findall(text))
        loop += time.perf_counter() - t
        seen += len(batch)
    con.close()
    return loop, seen, matches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=None, help="records for the naive loop (default: all)")
    parser.add_argument("--presidio-texts", type=int, default=2000, help="records Presidio scans for its rate")
    parser.add_argument("--presidio-python", type=Path, default=Path("/tmp/presidio-venv/bin/python"))
    args = parser.parse_args()

    records = evaluate.load()
    scores, _ = evaluate.evaluate(records)
    print(f"Labelled set: {len(records)} texts, {sum(s.planted for s in scores.values())} planted entities, "
          f"{sum(len(r['negatives']) for r in records)} hard negatives")
    print("\naimon, every entity type")
    print(evaluate.table(scores))
    phones = phone_eval.load()
    print(f"\nPhone numbers without a country code: {len(phones)} texts, "
          f"{sum(len(r['entities']) for r in phones)} planted phones, {sum(len(r['negatives']) for r in phones)} near misses")
    print(phone_eval.table(phone_eval.evaluate(phones)))
    print_scores("Naive per-row patterns (the baseline loop)", naive_scores(records))
    presidio = presidio_run(args.presidio_python, [r["text"] for r in records], "spans")
    if presidio:
        print_scores("Presidio pattern recognizers (no NLP model)", presidio_scores(records, presidio["spans"]))
    else:
        print(f"\nPresidio: not run ({args.presidio_python} missing; "
              "python -m venv /tmp/presidio-venv && /tmp/presidio-venv/bin/pip install presidio-analyzer)")

    path = bench_db(args.rows)
    con = duckdb.connect(str(path), read_only=True)
    n, chars = con.execute("SELECT count(*), sum(length(prompt) + length(response)) FROM requests").fetchall()[0]
    con.close()
    print(f"\nThroughput on {n:,} records ({chars / n:,.0f} characters of prompt + response each), "
          f"{os.cpu_count()} cores")
    seconds, stats = time_aimon(path)
    aimon_rps = n / seconds
    print(f"  aimon: {seconds:.1f} s, {aimon_rps:,.0f} records/s ({stats.texts:,} texts, {stats.candidates:,} "
          f"candidates all validated, {stats.findings:,} findings, {stats.rejected:,} look-alikes rejected)")
    loop, seen, matches = time_naive(path, args.baseline_rows or n)
    naive_rps = seen / loop
    print(f"  (a) naive re loop: {loop:.1f} s for {seen:,} records, {naive_rps:,.0f} records/s "
          f"({matches:,} matches, none validated)")
    con = duckdb.connect(str(path), read_only=True)
    sample = con.execute(f"SELECT prompt, response FROM requests "
                         f"USING SAMPLE reservoir({int(args.presidio_texts)} ROWS) REPEATABLE (1)").fetchall()
    con.close()
    timed = presidio_run(args.presidio_python, [t for row in sample for t in row if t], "time")
    print("\n| baseline | records/s | aimon records/s | ratio (aimon / baseline) |")
    print("|---|---:|---:|---:|")
    print(f"| (a) per-row Python re loop, 5 naive patterns | {naive_rps:,.0f} | {aimon_rps:,.0f} | "
          f"{aimon_rps / naive_rps:,.1f}x |")
    if timed:
        presidio_rps = len(sample) / timed["seconds"]
        print(f"| (b) Presidio AnalyzerEngine, pattern recognizers, {len(sample):,} records "
              f"({timed['texts'] / timed['seconds']:,.0f} texts/s) | {presidio_rps:,.1f} | {aimon_rps:,.0f} | "
              f"{aimon_rps / presidio_rps:,.0f}x |")
    else:
        print("| (b) Presidio | not run | | |")


if __name__ == "__main__":
    main()
