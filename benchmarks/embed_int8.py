"""Int8 (VNNI) post-training quantisation of aimon's OpenVINO embedding model, measured.

    python benchmarks/embed_int8.py               # 500 evaluation texts, 300 calibration texts
    python benchmarks/embed_int8.py --texts 100   # smoke check

Needs the embeddings extra plus ``nncf`` (not an aimon dependency: this script decides
whether it should become one). Issue 12 asks for a cold drift under 60 s at cosine >= 0.999
to plain fp32; aimon's OpenVINO path already runs near this CPU's floating-point peak, so
the lever left is int8 on the VNNI units. For every variant, in one run:

- NNCF ``quantize`` of the converted OpenVINO model (``model_type=TRANSFORMER``), with
  SmoothQuant alpha variations and with parts of the network kept in float through
  ``ignored_scope`` (attention projections, the first or last layer, the second FFN
  MatMul that reads GELU's outliers);
- its speed as texts per CPU-second (user+sys of this process, OpenVINO's threads
  included) relative to aimon's current path measured in the same run, interleaved with
  the variants so a changing load shifts both; wall rates are printed but mean little on
  a shared machine;
- the cosine of each vector to plain sentence-transformers fp32: minimum, 1st percentile
  and mean over the evaluation texts, and the drift p-value of the first half against the
  second computed from these vectors and from the fp32 ones.

Evaluation texts are benchmarks/embed.py's typical responses (50-400 words, seed 1).
Calibration texts are sample_logs' own responses (distinct, seeded choice), joined in
runs of one to four so their lengths span the same range as the evaluation texts; they
are never the evaluation texts. Quantised models are kept under --work so a re-run only
measures. Figures go in benchmarks/README.md ("Int8").
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from embed import SAMPLE, fp32_reference, p_value, typical_texts  # noqa: E402

ATTENTION = ".*attention\\..*"  # query, key, value and the attention output projection
FFN2 = ".*\\.output\\.dense.*"  # the MatMul after GELU (and, with it, attention.output.dense)
SDPA = "SDPA"  # stands for the type ScaledDotProductAttention: QK^T, softmax and x V in float


def layer(i: int) -> str:
    return f".*encoder\\.layer\\.{i}\\..*"


# name -> (SmoothQuant alpha for MatMul or -1 for none, ignored-scope patterns, preset)
VARIANTS: dict[str, tuple[float, list[str], str]] = {
    "all linears int8, SmoothQuant 0.95 (NNCF default)": (0.95, [], "performance"),
    "all linears int8, attention core (SDPA) in float": (0.95, [SDPA], "performance"),
    "all linears int8, SDPA in float, SmoothQuant 0.5": (0.5, [SDPA], "performance"),
    "all linears int8, SDPA in float, mixed preset": (0.95, [SDPA], "mixed"),
    "all linears int8, SmoothQuant 0.5": (0.5, [], "performance"),
    "all linears int8, SmoothQuant 0.8": (0.8, [], "performance"),
    "all linears int8, no SmoothQuant": (-1, [], "performance"),
    "all linears int8, SmoothQuant 0.95, mixed preset": (0.95, [], "mixed"),
    "FFN only (attention in float)": (0.95, [ATTENTION], "performance"),
    "FFN only, first and last layer in float": (0.95, [ATTENTION, layer(0), layer(5)], "performance"),
    "QKV + FFN1 only (both output.dense in float)": (0.95, [FFN2], "performance"),
    "all linears but the last layer": (0.95, [layer(5)], "performance"),
    # data-free int8 weights, float activations: less memory traffic, the same float compute
    "weights only int8 (compress_weights INT8_ASYM)": (-1, [], "weights"),
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def calibration_texts(n: int, seed: int = 2) -> list[str]:
    """``n`` texts of one to four distinct sample_logs responses each."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        responses = sorted({json.loads(line).get("response") or "" for line in fh} - {""})
    rng = random.Random(seed)
    rng.shuffle(responses)
    out, i = [], 0
    while len(out) < n:
        k = rng.randint(1, 4)
        out.append("\n\n".join(responses[i:i + k]))
        i += k
    return out


def calibration_inputs(tokenizer, texts: list[str]) -> list[dict]:
    inputs = []
    for enc in tokenizer.encode_batch(texts):
        ids = np.asarray([enc.ids], dtype=np.int64)
        inputs.append({"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return inputs


def quantised(model, inputs: list[dict], alpha: float, ignored: list[str], preset: str, path: Path):
    """The NNCF-quantised model, read from ``path`` when an earlier run made it."""
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        AdvancedSmoothQuantParameters,
    )

    core = ov.Core()
    xml = path / "model.xml"
    if xml.is_file():
        return core.read_model(xml), 0.0
    started = cpu_seconds()
    if preset == "weights":
        result = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    else:
        result = nncf.quantize(
            model, nncf.Dataset(inputs), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(inputs),
            preset=nncf.QuantizationPreset.MIXED if preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
            ignored_scope=nncf.IgnoredScope(
                patterns=[p for p in ignored if p != SDPA], validate=False,
                types=["ScaledDotProductAttention"] if SDPA in ignored else []) if ignored else None,
            advanced_parameters=AdvancedQuantizationParameters(
                smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=alpha)))
    spent = cpu_seconds() - started
    path.mkdir(parents=True, exist_ok=True)
    ov.save_model(result, xml, compress_to_fp16=False)
    return result, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=500, help="evaluation texts (default 500)")
    parser.add_argument("--calibration", type=int, default=300, help="calibration texts (default 300)")
    parser.add_argument("--work", type=Path, default=ROOT / ".int8-work", help="quantised models kept here")
    parser.add_argument("--groups", default="", help="for int8 weights: also compile with these "
                        "DYNAMIC_QUANTIZATION_GROUP_SIZE values, comma-separated (0: float activations)")
    parser.add_argument("--only", default="", help="run only variants whose name contains this")
    args = parser.parse_args()

    import openvino as ov

    from aimon.analysis.toolkit import embedding_model as em

    texts = typical_texts(args.texts)
    half = len(texts) // 2
    ref_file = args.work / f"fp32-{len(texts)}.npy"
    if ref_file.is_file():
        reference = np.load(ref_file)
        print(f"fp32 reference: {ref_file} (from an earlier run)", flush=True)
    else:
        reference, wall, cpu, _ = fp32_reference(texts)
        args.work.mkdir(parents=True, exist_ok=True)
        np.save(ref_file, reference)
        print(f"fp32 reference: {len(texts) / cpu:.1f} texts/CPU-s ({len(texts) / wall:.1f}/s wall)", flush=True)
    p_fp32 = p_value(reference, half)

    spec = em.resolve()
    current = em.OpenVinoEncoder(spec)
    current.encode(texts[:8])
    print(f"aimon's path: OpenVINO {current.precision}, {current.requests} streams, batch {em.BATCH_SIZE}; "
          f"loads {os.getloadavg()[0]:.1f}", flush=True)
    base_xml = em.cache_dir() / "models" / spec.key.replace("/", "-").replace("@", "-") / "model.xml"
    calib = calibration_inputs(current.tokenizer, calibration_texts(args.calibration))

    def measure(enc) -> tuple[float, float, np.ndarray]:
        started, cpu = time.perf_counter(), cpu_seconds()
        vectors = enc.encode(texts)
        return len(texts) / (cpu_seconds() - cpu), len(texts) / (time.perf_counter() - started), vectors

    def report(name: str, rate: float, wall_rate: float, base: float, vectors: np.ndarray) -> None:
        cos = (vectors * reference).sum(axis=1)
        print(f"  {name:<50} {rate:6.1f} texts/CPU-s {rate / base:5.2f}x current ({wall_rate:6.1f}/s wall)  "
              f"cosine min {cos.min():.6f} p1 {np.percentile(cos, 1):.6f} mean {cos.mean():.6f}  "
              f"p {p_value(vectors, half):.3f} (fp32 {p_fp32:.3f})", flush=True)

    base_rate, base_wall, base_vectors = measure(current)
    report(f"current path ({current.precision})", base_rate, base_wall, base_rate, base_vectors)
    for name, (alpha, ignored, preset) in VARIANTS.items():
        if args.only and args.only not in name:
            continue
        slug = "".join(c if c.isalnum() else "-" for c in name)[:60]
        model, spent = quantised(ov.Core().read_model(base_xml), calib, alpha, ignored, preset, args.work / slug)
        if spent:
            print(f"  (quantising took {spent:.0f} CPU-s; loads {os.getloadavg()[0]:.1f})", flush=True)
        # OpenVINO's CPU plugin quantises the activations of int8-weight MatMuls on the fly
        # in groups of DYNAMIC_QUANTIZATION_GROUP_SIZE (its default when unset)
        groups = [None] + ([int(g) for g in args.groups.split(",")] if preset == "weights" and args.groups else [])
        for group in groups:
            config = {"PERFORMANCE_HINT": "THROUGHPUT"}
            if group is not None:
                config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = group
            enc = em.OpenVinoEncoder.__new__(em.OpenVinoEncoder)
            enc.__dict__.update(current.__dict__)
            enc.compiled = ov.Core().compile_model(model, "CPU", config)
            enc.encode(texts[:8])
            rate, wall_rate, vectors = measure(enc)
            # the current path again right after: each ratio is to the mean of the current
            # path's runs just before and just after, neighbouring minutes of the same load
            again, again_wall, _ = measure(current)
            label = name if group is None else f"{name}, group {group}"
            report(label, rate, wall_rate, (base_rate + again) / 2, vectors)
            base_rate = again
            print(f"  {'  current path, just after':<50} {again:6.1f} texts/CPU-s ({again_wall:6.1f}/s wall)",
                  flush=True)


if __name__ == "__main__":
    main()
