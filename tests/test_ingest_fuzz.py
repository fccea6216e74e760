"""Hostile records mixed with good ones never abort a run (issue 14, acceptance).

Over 500 hostile records (every JSON type in every column, huge and non-finite numbers,
invalid UTF-8, NUL bytes, lone surrogates, 5 MB strings, deep nesting, odd timestamps and
zones) go through both JSON readers (JSON text, and typed columns when every record
brings its id), a JSON array and Parquet. Each run accounts for every record
(records = loaded + duplicates + rejected) and every good record comes back exactly.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

from aimon.store.ingest import ingest
from tests.conftest import request, rows

pytestmark = pytest.mark.slow

COLUMNS = ("timestamp", "request_id", "user_id", "session_id", "endpoint", "model", "prompt", "response",
           "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms", "ttft_ms", "status")
DEEP = "__deep__"  # written as 1,200 nested arrays (deeper than Python's json goes)
HOSTILE_VALUES = [
    None, True, False, 0, -1, 1.5, -0.0, 2.5e-300, 1e30, -1e30, 1e19, 10**19, 2**63, -(2**63) - 1,
    123456789012345678, "abc", "", " ", "1e400", "NaN", "-Infinity", [], {}, [1, "a", None],
    {"a": {"b": [1]}}, "\x00", "a\x00b", "\ud800", "\udfff tail", "é😀\u202e", "<script>x</script>",
    "\r\n", "0x10", "1_000", DEEP,
]
HOSTILE_TIMES = [
    "2026-13-01", "2026-11-01T25:00:00Z", "2026-11-01T10:00:00+25:00", "2026-11-01T10:00:00+99:99",
    "0", 0, -1, 1e20, 1e30, "1700000000", 1700000000123, "2026-03-08 02:30:00 America/New_York",
    "2026-11-01 10:00:00 Mars/Olympus", "yesterday", "2026-11-01T10:00:00+05:45", "9999-12-31",
    "1970-01-01", "", None, [], {}, True, "2026-11-01T10:00:00.123456789Z",
]
# Lines that are not (valid) JSON objects at all.
RAW_LINES = [
    b'{"request_id": "raw-nan", "timestamp": "2026-11-01T10:00:00Z", "prompt_tokens": NaN}',
    b'{"request_id": "raw-inf", "timestamp": "2026-11-01T10:00:00Z", "latency_ms": Infinity}',
    b'{"request_id": "raw-309", "timestamp": "2026-11-01T10:00:00Z", "cost_usd": 1e309}',
    b'{"request_id": "raw-utf8", "timestamp": "2026-11-01T10:00:00Z", "prompt": "bad \xff\xfe"}',
    b'{"request_id": "raw-nul", "timestamp": "2026-11-01T10:00:00Z", "prompt": "a\x00b"}',
    b'{"request_id": "raw-dup", "timestamp": "2026-11-01T10:00:00Z", "model": "a", "model": "b"}',
    b'{"request_id": "raw-cut", "timestamp": "2026-11-01T1',
    b"[1, 2, 3]", b'"just a string"', b"42", b"null", b"true", b"{}", b"{,}",
]


def good_records(n: int) -> list[dict]:
    out = []
    for i in range(n):
        out.append(request(
            request_id=f"good-{i}", user_id=f"u{i % 7}", model=["gpt-4o", "claude-sonnet-4", "x/y:z"][i % 3],
            timestamp=f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07.250Z",
            prompt=["plain", "é😀 ünïcode", "quote \" and \\ backslash", "line\nbreak", "x" * 3000][i % 5],
            prompt_tokens=[0, 1, 123456789012345678, 9007199254740993, 120][i % 5],
            completion_tokens=i, latency_ms=float(i) + 0.5, ttft_ms=None if i % 4 == 0 else 12.25))
    return out


def hostile_records(n: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        rec = request(request_id=f"hostile-{i}")
        for col in rng.sample(COLUMNS, rng.randint(1, 3)):
            pool = HOSTILE_TIMES if col == "timestamp" else HOSTILE_VALUES
            value = pool[rng.randrange(len(pool))]
            rec[col] = value
        out.append(rec)
    out[17]["prompt"] = "big " * (5 * 1024 * 1024 // 4)
    out[301]["response"] = "r" * (5 * 1024 * 1024)
    return out


def check_good(con, good: list[dict]) -> None:
    got = {r[0]: r[1:] for r in rows(con, """SELECT request_id, user_id, model, prompt, input_tokens, output_tokens,
        latency_ms, ttft_ms, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%g') FROM requests
        WHERE request_id LIKE 'good-%'""")}
    assert len(got) == len(good)
    for rec in good:
        want = (rec["user_id"], rec["model"], rec["prompt"], rec["prompt_tokens"], rec["completion_tokens"],
                rec["latency_ms"], rec["ttft_ms"], rec["timestamp"][:-1])
        assert got[rec["request_id"]] == want, rec["request_id"]


def dumps(rec: dict) -> bytes:
    return json.dumps(rec).replace(f'"{DEEP}"', "[" * 1200 + "]" * 1200).encode()


@pytest.fixture(scope="module")
def corpus() -> tuple[list[dict], list[dict]]:
    rng = random.Random(14)
    return good_records(200), hostile_records(520, rng)


def run(con, paths: list[Path]):
    summary = ingest(con, paths)
    assert summary.records == summary.loaded + summary.duplicates + summary.rejected
    assert summary.rejected >= 1
    (stored,), = rows(con, "SELECT count(*) FROM requests")
    assert stored == summary.loaded
    return summary


def test_json_lines_typed_and_text_readers(con, tmp_path, corpus):
    good, hostile = corpus
    mixed = [dumps(r) for r in good + hostile]
    random.Random(1).shuffle(mixed)
    # Every record brings its id: read as typed columns.
    typed_file = tmp_path / "typed.jsonl"
    typed_file.write_bytes(b"\n".join(mixed) + b"\n")
    # Records without ids and lines that are not JSON objects: read as JSON text.
    text_file = tmp_path / "text.jsonl"
    no_ids = [dumps({k: v for k, v in r.items() if k != "request_id"}) for r in hostile[:60]]
    text_file.write_bytes(b"\n".join([*RAW_LINES, *no_ids, *mixed]) + b"\n")
    summary = run(con, [typed_file, text_file])
    assert summary.records == 2 * len(mixed) + len(RAW_LINES) + len(no_ids)
    check_good(con, good)


def test_json_array(con, tmp_path, corpus):
    good, hostile = corpus
    path = tmp_path / "arr.json"
    path.write_bytes(b"[" + b",\n".join(dumps(r) for r in hostile[:260] + good + hostile[260:]) + b"]")
    summary = run(con, [path])
    assert summary.records == len(good) + len(hostile)
    check_good(con, good)


def test_parquet(con, tmp_path, corpus):
    good, hostile = corpus
    src = tmp_path / "src.jsonl"
    # Parquet holds one type per column: each hostile value is given as its JSON text.
    # (A lone surrogate cannot be UTF-8 at all: it is given as its JSON escape.)
    flat = [{k: v if isinstance(v, str) and v.isascii() else json.dumps(v) for k, v in r.items()} for r in hostile]
    src.write_bytes(b"\n".join(dumps(r) for r in flat + good) + b"\n")
    path = tmp_path / "h.parquet"
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS) + "}"
    duckdb.execute(f"COPY (SELECT * FROM read_json('{src}', columns = {columns}, maximum_object_size = 100000000)) "
                   f"TO '{path}' (FORMAT parquet)")
    summary = run(con, [path])
    assert summary.records == len(good) + len(hostile)
    check_good(con, good)
