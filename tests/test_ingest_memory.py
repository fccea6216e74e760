"""Ingest memory stays bounded whatever the records hold (issue 14, items 1 and 9).

Each load runs `aimon ingest` in a fresh process and reads that process's peak RSS, as
a user's shell would see it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from benchmarks.shapedgen import write_spans
from tests.conftest import otlp_lines, request

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"

MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, proc.returncode, file=sys.stderr)
"""


def ingest_process(*args: str, budget: str | None = None) -> tuple[dict | None, str, int, int]:
    """(summary JSON, stderr, peak RSS in MB, exit code) of `aimon ingest ARGS --format json`."""
    env = {**os.environ, "AIMON_DEBUG": ""}
    env.pop("AIMON_MEMORY_LIMIT", None)
    if budget:
        env["AIMON_MEMORY_LIMIT"] = budget
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "aimon", "ingest", *args,
                          "--format", "json"], capture_output=True, text=True, env=env, timeout=600)
    *err, last = out.stderr.strip().splitlines()
    rss, code = (int(x) for x in last.split())
    summary = json.loads(out.stdout) if code == 0 else None
    return summary, "\n".join(err), rss, code


def otel_spans(tmp_path: Path, copies: int) -> Path:
    """sample_logs' spans plus ``copies`` of them under new ids: the shape that ran out of memory."""
    lines = (SAMPLE_LOGS / "otel_spans.jsonl").read_text().splitlines()
    out = list(lines)
    for i in range(copies):
        rec = json.loads(lines[i % len(lines)])
        rec["spanId"] = f"{i:016x}"
        if "gen_ai.response.id" in rec["attributes"]:
            rec["attributes"]["gen_ai.response.id"] += f"-copy{i}"
        out.append(json.dumps(rec))
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_three_thousand_otel_spans_load_under_a_500mb_budget(tmp_path):
    # Read as typed columns, each of the 93 attribute paths re-serialised the whole
    # attributes object: 1,411 spans needed more than 800 MB and this ran out of memory.
    path = otel_spans(tmp_path, 1589)
    summary, err, rss, code = ingest_process(str(path), "--db", str(tmp_path / "o.duckdb"), budget="500MB")
    assert code == 0, err
    assert (summary["records"], summary["loaded"]) == (3000, 3000)


@pytest.mark.slow
def test_out_of_memory_is_one_line_with_the_fix(tmp_path):
    path = otel_spans(tmp_path, 589)
    summary, err, rss, code = ingest_process(str(path), "--db", str(tmp_path / "o.duckdb"), budget="40MB")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "ran out of memory" in line and "AIMON_MEMORY_LIMIT" in line and "Traceback" not in err
    assert not (tmp_path / "o.duckdb").exists() or summary is None


@pytest.mark.slow
def test_a_budget_that_is_not_a_size_is_one_line(tmp_path):
    summary, err, rss, code = ingest_process(str(SAMPLE_LOGS / "golden.jsonl"), "--db", str(tmp_path / "g.duckdb"),
                                             budget="lots")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "AIMON_MEMORY_LIMIT" in line and "'lots'" in line


@pytest.mark.slow  # seconds each: the quick loop keeps a faster sibling
def test_two_thousand_otel_spans_load_in_bounded_memory(tmp_path):
    # 545 MB before extra was cut out of the span in one merge patch (one json_remove
    # per consumed attribute, each a copy of the whole span); about 435 MB after.
    path = otel_spans(tmp_path, 589)
    summary, err, rss, code = ingest_process(str(path), "--db", str(tmp_path / "o.duckdb"))
    assert code == 0, err
    assert (summary["records"], summary["loaded"]) == (2000, 2000)
    assert rss < 450, f"peak RSS {rss} MB"


# Each ran out of memory at the default budget:
# - 2,000 one-span lines (6.3 MB): converting a span read the whole span once per field
#   and its resource once per span;
# - 4 lines of 1,000 spans (12 MB): each level of a line's nesting was unpacked by a
#   JSON function of its own, each holding a parse of the whole chunk of lines, and
#   each span was parsed again to patch its resource in;
# - 24 lines of 512 spans (35 MB; SDK batch processors write 512 a line): the reader
#   handed over chunks of up to twice its 32 MiB record limit, and a filter below the
#   unnest held 1.9 GB (for 118 such lines).
# After: 533, 853 and 1,107 MB peak run alone (not all under 1 GB).
@pytest.mark.slow  # five seconds each
@pytest.mark.parametrize(("lines", "spans_per_line"), [(2000, 1), (4, 1000), (24, 512)])
def test_otlp_export_lines_load_in_bounded_memory(tmp_path, lines, spans_per_line):
    path = otlp_lines(tmp_path, lines, spans_per_line)
    summary, err, rss, code = ingest_process(str(path), "--db", str(tmp_path / "o.duckdb"))
    assert code == 0, err
    spans = lines * spans_per_line
    assert (summary["records"], summary["loaded"]) == (spans, spans)
    assert rss < 1300, f"peak RSS {rss} MB"


def test_an_otlp_line_of_a_thousand_spans_is_unpacked_in_bounded_memory(con):
    # Each span's lambda named the resource and scope lists, and DuckDB copies every
    # outer value a lambda names for each item: the line's whole span list once per
    # span. One line of 1,000 spans (3 MB) ran a 4 GB budget out; about 340 MB now,
    # unpacked and converted.
    from aimon.store import macros
    sample = Path(__file__).parent / "data" / "real-samples" / "otel_genai_otlp_protobufjs.jsonl"
    doc = json.loads(sample.read_text().splitlines()[0])
    doc["scopeSpans"][0]["spans"] *= 1000
    macros.install(con)
    con.execute("SET memory_limit = '1GB'")
    try:
        (spans, converted), = con.execute(
            "SELECT count(*), count(aimon_otlp_record(x)) FROM (SELECT unnest(aimon_otlp_spans(?::JSON)) AS x)",
            [json.dumps(doc)]).fetchall()
    finally:
        con.execute("RESET memory_limit")
    assert spans == converted == 1000


def conversation_spans(tmp_path: Path, n: int) -> Path:
    """``n`` of sample_logs' spans under new ids, each ``gen_ai.input.messages`` grown
    into a conversation of 0-6 earlier turns (0.3-6 KB) as a chat application sends it:
    the generator of the benchmark's 100,000-span file."""
    return write_spans(tmp_path / "conversations.jsonl", n)


@pytest.mark.slow  # ten seconds: the quick loop keeps the plan test (test_mapping_plan.py)
def test_spans_with_long_conversations_load_in_bounded_memory(tmp_path):
    # The prompt and the system prompt each parsed every span's conversation: 775 MB
    # (2 cores, default budget); 560 MB once both read one parse of it.
    path = conversation_spans(tmp_path, 5000)
    summary, err, rss, code = ingest_process(str(path), "--db", str(tmp_path / "c.duckdb"))
    assert code == 0, err
    assert (summary["records"], summary["loaded"]) == (5000, 5000)
    assert rss < 650, f"peak RSS {rss} MB"


# 805-850 MB idle until the batch mapping stopped repeating its extra expression eight
# times (batch_output.jsonl alone took about 800 MB to plan); 453 MB idle since.
@pytest.mark.slow
def test_sample_logs_load_under_600_mb(tmp_path):
    summary, err, rss, code = ingest_process(str(SAMPLE_LOGS), "--db", str(tmp_path / "s.duckdb"))
    assert code == 0, err
    assert summary["records"] == summary["loaded"] + summary["duplicates"] + summary["rejected"]
    assert rss < 600, f"peak RSS {rss} MB"


# With ids, both ran out of memory at 500 MB: the verdict pass parsed each record three
# times in one statement (its keys twice, its id paths once), and DuckDB keeps every
# parse of a chunk of records, about 4x their text, until the next chunk.
# Without ids the load reads every record as JSON text (its id is a hash of that text),
# which keeps more copies of a record than the typed read: both needed more than 1 GB
# (the keys were listed from compact text twice, once more than needed, and the merge
# that cuts out extra parsed compact text); about 700 MB and 850 MB since. The first
# varies from run to run with how the two threads' reads of big records overlap: at
# 600MB 5 runs of 18 ran out of memory in the load, at 750MB none of 6, at 850MB 2 of 45
# (one of them in CI); on one thread all 12 runs at 600MB did. With ids (the typed read)
# none of 24 ran out at 400MB and 500MB.
@pytest.mark.slow
@pytest.mark.parametrize(("form", "ids", "budget"), [
    ("ten 5 MB prompts", True, "500MB"), ("one 33 MB record", True, "500MB"),
    ("ten 5 MB prompts", False, "1000MB"), ("one 33 MB record", False, "1000MB")])
def test_big_records_load_within_the_budget(tmp_path, form, ids, budget):
    recs = [request(request_id=f"r{i}", prompt_tokens=i, response=f"answer {i}") for i in range(200)]
    if not ids:
        for r in recs:
            del r["request_id"]
    if form == "ten 5 MB prompts":
        for i in range(0, 200, 20):
            recs[i]["prompt"] = f"big{i} " + "big " * (5 * 1024 * 1024 // 4)
    else:
        recs[7]["prompt"] = "y" * (33 * 1024 * 1024) + "z"
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    db = tmp_path / "b.duckdb"
    summary, err, rss, code = ingest_process(str(path), "--db", str(db), budget=budget)
    assert code == 0, err
    assert (summary["loaded"], summary["rejected"]) == (200, 0)
    if ids:
        assert rss < 1000, f"peak RSS {rss} MB"
    # Every record, on its own line, with its own values: the passes that read the
    # file are matched record by record.
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("""SELECT source_line, request_id, prompt, response, input_tokens
                                FROM requests ORDER BY source_line""").fetchall()
    assert [(n, p, r, t) for n, _, p, r, t in stored] == [
        (n, r["prompt"], r["response"], r["prompt_tokens"]) for n, r in enumerate(recs, 1)]
    if ids:
        assert [i for _, i, *_ in stored] == [r["request_id"] for r in recs]


def test_the_default_budget_is_a_share_of_the_available_memory(monkeypatch):
    from aimon.store import connection

    monkeypatch.delenv("AIMON_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(connection, "available_memory_mb", lambda: 1000)
    assert connection.memory_budget() == "400MB"
    monkeypatch.setattr(connection, "available_memory_mb", lambda: 64_000)
    assert connection.memory_budget() == "1800MB"
    monkeypatch.setattr(connection, "available_memory_mb", lambda: 100)
    assert connection.memory_budget() == "256MB"
    monkeypatch.setattr(connection, "available_memory_mb", lambda: None)
    assert connection.memory_budget() == "1800MB"
    monkeypatch.setenv("AIMON_MEMORY_LIMIT", "3GB")
    assert connection.memory_budget() == "3GB"


def test_available_memory_is_read_from_this_machine():
    from aimon.store import connection

    available = connection.available_memory_mb()
    assert available is not None and 0 < available < 1 << 30


@pytest.mark.slow
def test_out_of_memory_outside_any_one_file_is_one_line(con, write_jsonl, monkeypatch):
    # The price refresh and the commit run outside every file's error handling.
    import duckdb

    from aimon.errors import InputError
    from aimon.store import ingest as ingest_module

    def out_of_memory(con):
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 16.0 MiB")

    monkeypatch.setattr(ingest_module, "price_pending", out_of_memory)
    with pytest.raises(InputError, match=r"ran out of memory at the memory budget of .*AIMON_MEMORY_LIMIT"):
        ingest_module.ingest(con, [write_jsonl("a.jsonl", [request()])])
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (0,)


@pytest.mark.slow
def test_a_file_mapped_on_one_thread_loads_under_a_lower_budget_then_the_budget_returns(
        tmp_path, monkeypatch):
    # 100,000 spans peaked at 956-1,021 MiB at the default 1800MB, at issue 14's 1 GB;
    # at 800MB, 836-845 MiB (benchmarks/README.md).
    from aimon.store import connection, ingest_rows
    from aimon.store import ingest as ingest_module

    monkeypatch.delenv("AIMON_MEMORY_LIMIT", raising=False)
    spans = tmp_path / "spans.jsonl"
    write_spans(spans, 200, seed=3)
    seen: list[str] = []
    select_rows = ingest_rows.select_rows

    def spy(con, target, *args, **kwargs):
        if kwargs.get("priced"):
            seen.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return select_rows(con, target, *args, **kwargs)

    monkeypatch.setattr("aimon.store.ingest_file.select_rows", spy)
    with connection.connect(tmp_path / "a.duckdb", write=True, memory_limit="1800MB") as con:
        ingest_module.ingest(con, [spans])
        after = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert con.execute("SELECT count(*) FROM requests").fetchone()[0] > 0
    assert seen == ["762.9 MiB"]  # 800MB
    assert after == "1.6 GiB"  # 1800MB, as configured
    # A budget the user sets is theirs.
    monkeypatch.setenv("AIMON_MEMORY_LIMIT", "1800MB")
    seen.clear()
    with connection.connect(tmp_path / "b.duckdb", write=True, memory_limit="1800MB") as con:
        ingest_module.ingest(con, [spans])
    assert seen == ["1.6 GiB"]


@pytest.mark.slow
def test_out_of_memory_under_the_lowered_budget_names_that_budget(tmp_path, monkeypatch):
    from aimon.errors import InputError
    from aimon.store import connection
    from aimon.store import ingest as ingest_module

    monkeypatch.delenv("AIMON_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(connection, "ONE_THREAD_MEMORY_LIMIT_MB", 8)
    spans = write_spans(tmp_path / "spans.jsonl", 2000, seed=5)
    with connection.connect(tmp_path / "a.duckdb", write=True, memory_limit="1800MB") as con:
        with pytest.raises(InputError, match=r"spans\.jsonl: ran out of memory at the memory budget of 8MB;"):
            ingest_module.ingest(con, [spans])
        assert con.execute("SELECT count(*) FROM requests").fetchone() == (0,)
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "1.6 GiB"
