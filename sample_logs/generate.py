#!/usr/bin/env python3
"""Regenerate aimon's sample data set in this directory.

    python sample_logs/generate.py          # writes every file, prints sizes and sha256
    python sample_logs/generate.py --check  # regenerates in memory twice and compares

Standard library only. The output depends on nothing but the code and the seed in
generator/config.py: not on the current date, the machine, or the time zone.
See generator/__init__.py for what the data set holds and README.md for the
ground truth of every planted phenomenon.
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generator import readme, writers  # noqa: E402
from generator.build import build  # noqa: E402
from generator.truth_general import ground_truth  # noqa: E402


def render():
    """Build everything and return {file name: bytes to write}."""
    ds = build()
    payloads = {
        "requests.jsonl.gz": writers.lines_bytes(writers.flat_record(q) for q in ds.requests),
        "batch_output.jsonl": writers.lines_bytes(ds.batch_lines, compact=False),
        "otel_spans.jsonl": writers.lines_bytes(ds.spans),
        "feedback.jsonl": writers.lines_bytes(ds.feedback),
    }
    files = {}
    for name, data in payloads.items():
        files[name] = {"rows": data.count(b"\n"), "bytes_uncompressed": len(data),
                       "sha256_uncompressed": hashlib.sha256(data).hexdigest()}
    gt = ground_truth(ds, files)
    out = {}
    for name, data in payloads.items():
        out[name] = writers.gzip_bytes(data) if name.endswith(".gz") else data
    out["ground_truth.json"] = (json.dumps(gt, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    out["README.md"] = readme.render(gt).encode("utf-8")
    return out


def main(argv):
    out = render()
    if "--check" in argv:
        again = render()
        same = all(out[k] == again[k] for k in out)
        print("deterministic" if same else "NOT deterministic")
        return 0 if same else 1
    for name, data in out.items():
        writers.write_bytes(os.path.join(HERE, name), data)
    for name in sorted(out):
        path = os.path.join(HERE, name)
        print(f"{name:22s} {os.path.getsize(path):>10,d} bytes  sha256 {writers.sha256_file(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
