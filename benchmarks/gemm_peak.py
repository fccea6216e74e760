"""What this CPU's bf16 units deliver to OpenVINO: GFLOP per second of one MatMul on both
cores, for the shapes all-MiniLM-L6-v2 multiplies and a large square one. A yardstick
for ``benchmarks/embed.py``: when the embedding's own rate (about 23.6 MFLOP per token)
matches these figures, the model runs at the hardware's pace and only less work or
lower precision makes it faster.

    python benchmarks/gemm_peak.py [--seconds 3]

Needs the ``embeddings`` extra (OpenVINO).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

SHAPES = ((4096, 384, 1536), (4096, 1536, 384), (4096, 384, 384), (8192, 1024, 1024))


def cpu_seconds() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each shape runs")
    args = parser.parse_args()
    import openvino as ov
    from openvino import opset13 as ops

    core = ov.Core()
    print("CPU capabilities:", ", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")))
    rng = np.random.default_rng(0)
    for m, k, n in SHAPES:
        x = ops.parameter([m, k], np.float32)
        w = ops.constant((rng.standard_normal((k, n)) * 0.05).astype(np.float32))
        compiled = core.compile_model(ov.Model([ops.matmul(x, w, False, False)], [x]), "CPU",
                                      {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": 2})
        request = compiled.create_infer_request()
        a = rng.standard_normal((m, k)).astype(np.float32)
        for _ in range(5):
            request.infer([a])
        began, cpu, calls = time.perf_counter(), cpu_seconds(), 0
        while time.perf_counter() - began < args.seconds:
            request.infer([a])
            calls += 1
        wall, used = time.perf_counter() - began, cpu_seconds() - cpu
        flop = 2 * m * k * n * calls
        print(f"{m} x {k} x {n}: {flop / wall / 1e9:,.0f} GFLOP/s on both cores, "
              f"{flop / used / 1e9:,.0f} GFLOP per CPU-second "
              f"(precision {compiled.get_property('INFERENCE_PRECISION_HINT')})")


if __name__ == "__main__":
    main()
