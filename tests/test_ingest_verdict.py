"""The verdict pass over JSON lines (aimon.store.ingest_rows.verdict_lines): one read of
the file lists each record's keys beside its id, short records in that statement and
long ones in a pass of their own; a record whose keys come in an order the sample showed
skips the search for a repeated key. Whichever way a record goes, a duplicated key is a
reject naming the key, and keys the sample never saw reach ``extra``."""

from __future__ import annotations

import json

from aimon.store import ingest_rows
from aimon.store.ingest_plan import key_orders
from tests.conftest import load, otlp_lines, request, rows

LONG = "x" * (ingest_rows.KEYS_WITH_IDS_BYTES + 1000)


def twice(rec: dict, key: str, value: str) -> str:
    """The record's JSON with ``key`` given a second time."""
    return json.dumps(rec)[:-1] + f', {json.dumps(key)}: {json.dumps(value)}}}'


def test_short_and_long_records_beyond_the_sample(con, write_jsonl):
    recs: list = [request(request_id=f"r{i}", timestamp=f"2026-11-01T10:{i % 60:02d}:00Z") for i in range(230)]
    recs[210] |= {"prompt": LONG, "late_long": [1, 2]}        # a key the sample never saw, long record
    recs[211] |= {"late_short": {"a": 1}}                     # the same, short record
    recs[212] = twice(recs[212] | {"prompt": LONG}, "model", "other")   # long, key twice
    recs[213] = twice(recs[213], "user_id", "someone")                  # short, key twice
    recs[214] = twice({"other_order": 1} | recs[214], "other_order", "2")  # an order the sample never saw
    summary = load(con, write_jsonl("a.jsonl", recs))
    assert (summary.records, summary.loaded, summary.rejected) == (230, 227, 3)
    rejects = rows(con, "SELECT source_line, reason, raw FROM rejects ORDER BY source_line")
    assert [(line, reason) for line, reason, _ in rejects] == [
        (213, "duplicate key: model"), (214, "duplicate key: user_id"), (215, "duplicate key: other_order")]
    assert [raw for _, _, raw in rejects] == [recs[212], recs[213], recs[214]]  # the whole line
    extra = dict(rows(con, "SELECT request_id, extra FROM requests WHERE request_id IN ('r210', 'r211')"))
    assert json.loads(extra["r210"]) == {"late_long": [1, 2]}
    assert json.loads(extra["r211"]) == {"late_short": {"a": 1}}
    assert rows(con, "SELECT length(prompt) FROM requests WHERE request_id = 'r210'") == [(len(LONG),)]


def test_a_key_repeated_in_the_sample_order_is_still_found(con, write_jsonl):
    # The sample's records parsed in Python keep one copy of a repeated key, so this
    # record's order is among the sample's orders with one key less; its own key list
    # is longer and gets the full search.
    recs = [json.dumps(request(request_id=f"r{i}")) for i in range(5)]
    recs[3] = twice(request(request_id="r3"), "model", "b")
    summary = load(con, write_jsonl("a.jsonl", recs))
    assert (summary.loaded, summary.rejected) == (4, 1)
    assert rows(con, "SELECT source_line, reason FROM rejects") == [(4, "duplicate key: model")]


def test_key_orders_are_distinct_keys_most_common_first():
    samples = [{"a": 1, "b": 2}, {"b": 1, "a": 2}, {"b": 3, "a": 4}, {"\ud800": 1}, {"a\x00": 1}, {}]
    assert key_orders(samples) == (("b", "a"), ("a", "b"))


def test_a_key_sql_cannot_hold_does_not_stop_the_run(con, tmp_path):
    path = tmp_path / "a.jsonl"
    line = json.dumps(request(request_id="s"))[:-1] + ', "\\ud800": 1}'
    path.write_text(line + "\n" + json.dumps(request(request_id="t")) + "\n")
    summary = load(con, path)
    assert summary.records == 2


def test_the_sample_stops_at_its_bytes(con, tmp_path, monkeypatch):
    # Python's parse of a record takes about eight times its text: 118 OTLP export lines
    # of 512 spans (169 MB) were all sampled, and took 1.4 GB before a span loaded.
    from aimon.store import ingest_plan
    from aimon.store.reader import LogFile
    monkeypatch.setattr(ingest_plan, "SAMPLE_BYTES", 100_000)
    path = tmp_path / "wide.jsonl"
    path.write_text("".join(json.dumps(request(request_id=f"r{i}", prompt="p" * 40_000)) + "\n" for i in range(10)))
    assert len(ingest_plan.sample_records(con, LogFile(path, "lines"))) == 2
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(request(prompt="p" * 200_000)) + "\n")
    assert len(ingest_plan.sample_records(con, LogFile(one, "lines"))) == 1


def test_a_file_of_many_records_a_line_reads_with_a_limit_just_above_its_longest_line(con, tmp_path):
    # DuckDB hands the mapping about twice the record limit of text at a time, and each
    # OTLP line is unpacked whole: at 32 MiB, 118 lines of 512 spans took 1.1 GB on one
    # thread before a span was converted.
    from aimon.store.ingest_plan import plan_file
    from aimon.store.reader import MAX_RECORD_BYTES, LogFile
    path = otlp_lines(tmp_path, 3, spans_per_line=400)
    longest = max(len(line.encode()) for line in path.read_text().splitlines())
    plan = plan_file(con, LogFile(path, "lines"), "requests", None, tmp_path)
    assert plan.shape.name == "otlp_json"
    assert longest < plan.file.max_record_bytes <= longest + (2 << 20)
    flat = tmp_path / "flat.jsonl"
    flat.write_text(json.dumps(request()) + "\n")
    assert plan_file(con, LogFile(flat, "lines"), "requests", None, tmp_path).file.max_record_bytes == MAX_RECORD_BYTES
