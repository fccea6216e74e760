"""Generated OpenTelemetry span and OpenAI batch output files shaped like sample_logs'.

    python benchmarks/shapedgen.py otel 100000
    python benchmarks/shapedgen.py batch 100000

Spans are sample_logs/otel_spans.jsonl's, each with new span and response ids, and
with ``gen_ai.input.messages`` grown into a conversation: 0-6 earlier turns (user
question and assistant answer, taken from other spans) before the span's own message,
as a chat application sends them, so the attribute is 0.3-6 KB like a real export's.
Batch lines are sample_logs/batch_output.jsonl's (errors included) under new ids.
Seeded; files are cached in benchmarks/data/.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

DATA = Path(__file__).parent / "data"
SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"


def _turns(spans: list[dict]) -> list[list[dict]]:
    """(user, assistant) message pairs from the sample spans, to grow conversations from."""
    pairs = []
    for s in spans:
        attrs = s.get("attributes", {})
        try:
            asked = json.loads(attrs["gen_ai.input.messages"])
            said = json.loads(attrs["gen_ai.output.messages"])
        except (KeyError, ValueError):
            continue
        user = [m for m in asked if m.get("role") == "user"]
        if user and said:
            pairs.append([user[-1], {"role": "assistant", "parts": said[0].get("parts", [])}])
    return pairs


def otel_spans(rows: int, seed: int = 14) -> Path:
    """The benchmark's span file of ``rows`` spans (cached in benchmarks/data/)."""
    path = DATA / f"otel_spans_{rows}.jsonl"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    write_spans(tmp, rows, seed)
    tmp.rename(path)
    return path


def write_spans(path: Path, rows: int, seed: int = 14) -> Path:
    """``rows`` of sample_logs' spans under new ids, conversations grown (tests use it too)."""
    rng = random.Random(seed)
    spans = [json.loads(line) for line in (SAMPLE_LOGS / "otel_spans.jsonl").read_text().splitlines()]
    turns = _turns(spans)
    with path.open("w") as out:
        for i in range(rows):
            rec = json.loads(json.dumps(spans[i % len(spans)]))
            rec["spanId"] = f"{i:016x}"
            rec["traceId"] = f"{rng.getrandbits(128):032x}"
            attrs = rec.get("attributes", {})
            if "gen_ai.response.id" in attrs:
                attrs["gen_ai.response.id"] += f"-g{i}"
            if "gen_ai.input.messages" in attrs:
                history = [m for _ in range(rng.randint(0, 6)) for m in rng.choice(turns)]
                attrs["gen_ai.input.messages"] = json.dumps(history + json.loads(attrs["gen_ai.input.messages"]))
            out.write(json.dumps(rec) + "\n")
    return path


def batch_output(rows: int) -> Path:
    path = DATA / f"batch_output_{rows}.jsonl"
    if path.exists():
        return path
    lines = [json.loads(line) for line in (SAMPLE_LOGS / "batch_output.jsonl").read_text().splitlines()]
    DATA.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as out:
        for i in range(rows):
            rec = json.loads(json.dumps(lines[i % len(lines)]))
            rec["id"] = f"batch_req_{i:032x}"
            rec["custom_id"] = f"{rec['custom_id']}-g{i}"
            body = (rec.get("response") or {}).get("body") or {}
            if "id" in body:
                body["id"] += f"-g{i}"
            out.write(json.dumps(rec) + "\n")
    tmp.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("otel", "batch"))
    parser.add_argument("rows", type=int)
    args = parser.parse_args()
    print(otel_spans(args.rows) if args.kind == "otel" else batch_output(args.rows))


if __name__ == "__main__":
    main()
