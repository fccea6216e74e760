"""JSON lines read as typed columns (one parse per record) load exactly what the JSON-text
reader loads, and the same record read either way is a duplicate, never a conflict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aimon.store import ingest_file as ingest_module
from aimon.store.connection import connect
from tests.conftest import load, real_sample, request, request_row, rows

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"

COMPARE = "SELECT * EXCLUDE (ingested_at, source_file) FROM _aimon_requests ORDER BY request_id, source_line"
REJECTS = "SELECT source_line, reason, raw FROM rejects ORDER BY source_line"


def varied_records() -> list:
    recs = [request(request_id=f"r{i}", timestamp=f"2026-11-01T10:{i % 60:02d}:00Z") for i in range(260)]
    recs[1] |= {"region": "eu", "flags": {"beta": True, "note": None}, "score": 1.50, "big": 12345678901234567890}
    recs[2] |= {"region": None, "usage": {"prompt_tokens": 7}, "prompt": "héllo \"quoted\" 😀 שלום"}
    recs[3] |= {"model": {"name": "odd"}, "temperature": "0.7", "tags": ["a", 1, None]}
    recs[4] |= {"input_tokens": 5, "prompt_tokens": None}  # another alias of the same column
    recs[5] |= {"completion_tokens": -3}  # invalid: found only by the load
    recs[6] = dict(recs[0])  # the same id twice, same content: a duplicate
    recs[7] = recs[0] | {"response": "different"}  # the same id again, other content: a conflict
    recs[250] |= {"late_key": {"x": [1, 2]}, "another": 3}  # keys the 200-record sample never saw
    out = [json.dumps(r, ensure_ascii=False) for r in recs]
    out.insert(9, '{"request_id": "broken", "prompt": "cut off')  # broken JSON
    out.insert(12, "[1, 2, 3]")  # not an object
    return out


def ingest_both(tmp_path, write_jsonl, records):
    return read_both(tmp_path, write_jsonl("varied.jsonl", records))


def read_both(tmp_path, path, **kw):
    results = []
    for typed in (True, False):
        con = connect(tmp_path / f"{typed}.duckdb", write=True)
        chosen = []
        real = ingest_module._read_typed

        def spy(*args, _real=real, _typed=typed, _chosen=chosen, **kw):
            _chosen.append(_real(*args, **kw) if _typed else False)
            return _chosen[-1]

        ingest_module._read_typed = spy
        # Span shapes stay on JSON text by default (memory); the typed reader must still
        # load them exactly as the text reader does.
        heavy = ingest_module.TYPED_MAX_NESTED_PATHS
        ingest_module.TYPED_MAX_NESTED_PATHS = 10**6
        try:
            summary = load(con, path, **kw)
        finally:
            ingest_module._read_typed = real
            ingest_module.TYPED_MAX_NESTED_PATHS = heavy
        results.append((summary, rows(con, COMPARE), rows(con, REJECTS), chosen))
        con.close()
    return results


@pytest.mark.slow
def test_typed_columns_load_exactly_what_json_text_loads(tmp_path, write_jsonl):
    (typed_sum, typed_rows, typed_rejects, chosen), (text_sum, text_rows, text_rejects, _) = ingest_both(
        tmp_path, write_jsonl, varied_records())
    assert chosen == [True]  # the typed reader really was used
    assert (typed_sum.loaded, typed_sum.duplicates, typed_sum.rejected) == (text_sum.loaded, text_sum.duplicates,
                                                                           text_sum.rejected) == (257, 1, 4)
    assert typed_rows == text_rows
    assert typed_rejects == text_rejects
    reasons = [r[1].split(":")[0] for r in typed_rejects]
    assert sorted(reasons) == ["broken JSON", "conflicting duplicate", "negative output_tokens",
                               "not a JSON object"]
    # Rejects keep the line as written, from the file.
    assert '"request_id": "broken", "prompt": "cut off' in dict((r[0], r[2]) for r in typed_rejects)[10]


@pytest.mark.slow
def test_typed_extra_keeps_values_and_keys_beyond_the_sample(tmp_path, write_jsonl, con):
    load(con, write_jsonl("a.jsonl", varied_records()))
    extra = {rid: json.loads(e) if e else None for rid, e in rows(con, "SELECT request_id, extra FROM requests")}
    assert extra["r1"] == {"big": 12345678901234567890, "flags": {"beta": True, "note": None}, "region": "eu",
                           "score": 1.5}
    assert extra["r250"] == {"another": 3, "late_key": {"x": [1, 2]}}
    assert extra["r2"] is None  # usage.prompt_tokens is a column; "region": null carries nothing
    assert extra["r3"] == {"tags": ["a", 1, None]}
    assert request_row(con, "r3")["model"] == '{"name":"odd"}'  # an object where text belongs: its JSON
    r2 = request_row(con, "r2")
    assert r2["prompt"] == "héllo \"quoted\" 😀 שלום"
    assert request_row(con, "r4")["input_tokens"] == 5


@pytest.mark.parametrize("second", ["array", "broken line"])
def test_the_same_records_read_the_other_way_are_duplicates(tmp_path, write_jsonl, con, second):
    recs = [request(request_id=f"d{i}", extra_field={"k": i, "z": None}, region="eu", note=None) for i in range(5)]
    assert load(con, write_jsonl("first.jsonl", recs)).loaded == 5
    if second == "array":
        path = tmp_path / "again.json"
        path.write_text(json.dumps(recs))
    else:  # a trailing line cut off while being written: the file is read as JSON text
        path = write_jsonl("again.jsonl", [json.dumps(r) for r in recs] + ['{"request_id": "d9", "pro'])
    summary = load(con, path)
    assert (summary.loaded, summary.duplicates) == (0, 5)
    assert summary.rejected == (1 if second == "broken line" else 0)


@pytest.mark.slow
@pytest.mark.parametrize("odd", [{"": "empty key"}, {"Model": "x", "model": "y"}, {"a\nb": 1}, {" ": 2},
                                 {'q"x': 3}, {"a\x00b": 4}, {"rowid": 5}, {"SELECT": 6}])
def test_odd_keys_load_whichever_reader_takes_them(tmp_path, write_jsonl, odd):
    recs = [request(request_id=f"o{i}") | (odd if i == 3 else {}) for i in range(5)]
    (typed_sum, typed_rows, _, chosen), (text_sum, text_rows, _, _) = read_both(
        tmp_path, write_jsonl("odd.jsonl", recs))
    assert (typed_sum.loaded, typed_sum.rejected) == (text_sum.loaded, text_sum.rejected) == (5, 0)
    assert typed_rows == text_rows
    # The empty key and keys equal but for case stay on JSON text.
    assert chosen == [not ("" in odd or "Model" in odd)]


def test_a_database_loaded_before_canonical_extra_is_rewritten(tmp_path, write_jsonl):
    import duckdb

    from aimon.store import schema

    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute(schema.MIGRATIONS_TABLE_SQL)
    for migration in schema.MIGRATIONS[:9]:
        migration(raw)
        raw.execute("INSERT INTO _aimon_migrations (name) VALUES ($n)", {"n": migration.__name__})
    # As the JSON-text reader wrote extra before: source key order, nulls kept.
    raw.execute("""INSERT INTO _aimon_requests (request_id, ts, model, status, extra, source_file, source_line,
                   source_format, ingested_at)
                   VALUES ('k1', TIMESTAMPTZ '2026-11-01 10:00:00+00', 'gpt-4o', 'ok',
                           '{"zone":"eu","note":null,"app":{"v":null}}', 'x', 1, 'flat', now())""")
    raw.close()
    con = connect(path, write=True)
    assert rows(con, "SELECT CAST(extra AS VARCHAR) FROM requests") == [('{"app":{"v":null},"zone":"eu"}',)]
    con.close()


REAL = ["anthropic_message", "langfuse_observation", "litellm_spend_logs", "litellm_standard_logging_payload",
        "openai_chat_completion", "openai_compatible_chat_completion", "openai_responses",
        "openinference_spans", "otel_genai_spans", "simonw_llm_logs"]


# The 5.6 MB sample file takes seconds through each reader: slow; the real samples stay quick.
@pytest.mark.parametrize("name", [pytest.param("sample_logs/requests.jsonl.gz", marks=pytest.mark.slow),
                                  *(f"real/{n}.jsonl" for n in REAL)])
def test_real_logs_load_the_same_through_both_readers(tmp_path, name):
    path = SAMPLE_LOGS / "requests.jsonl.gz" if name.startswith("sample_logs") else real_sample(name[5:])
    # Bare Anthropic message bodies carry no time.
    when = datetime(2026, 11, 1, tzinfo=UTC) if "anthropic" in name else None
    (typed_sum, typed_rows, typed_rejects, chosen), (text_sum, text_rows, text_rejects, _) = read_both(
        tmp_path, path, default_time=when)
    assert chosen == [True]
    assert typed_sum.records == text_sum.records and typed_sum.loaded == text_sum.loaded > 0
    assert typed_rows == text_rows
    assert typed_rejects == text_rejects


@pytest.mark.slow
@pytest.mark.parametrize("name", ["otel_genai_spans", "openinference_spans"])
def test_span_files_are_read_as_json_text(tmp_path, name):
    # As typed columns every attribute path re-serialised the whole attributes object:
    # a thousand spans took a gigabyte.
    con = connect(tmp_path / "s.duckdb", write=True)
    chosen = []
    real = ingest_module._read_typed

    def spy(*args, **kw):
        chosen.append(real(*args, **kw))
        return chosen[-1]

    ingest_module._read_typed = spy
    try:
        summary = load(con, real_sample(f"{name}.jsonl"))
    finally:
        ingest_module._read_typed = real
        con.close()
    assert chosen == [False] and summary.loaded > 0


def test_typed_extra_is_the_text_of_a_map_of_what_no_column_took(tmp_path, con):
    # The keys no column consumed are joined as text, not built as a MAP and written by
    # to_json (0.3 s a million rows): the text must stay exactly what the MAP gave, or
    # records loaded before would come back as conflicts.
    import duckdb
    path = tmp_path / "odd.parquet"
    odd = duckdb.connect()
    odd.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        ('r1', '2026-11-01T10:00:00Z', 'é"k\\', {'a': 1, 'b': NULL}, [1.5, NULL], 'nan'::DOUBLE,
         TIMESTAMP '2026-01-01 10:00', '\\x00\\x01'::BLOB, '{"x":1.50}'::JSON, 'line' || chr(10) || 'break' || chr(1)),
        ('r2', '2026-11-01T10:00:01Z', NULL, NULL, NULL, 'inf'::DOUBLE, NULL, NULL, NULL, NULL),
        ('r3', '2026-11-01T10:00:02Z', '😀', {'a': NULL, 'b': 'x'}, [], -0.0, NULL, NULL, '"str"'::JSON, ''),
        ('r4', '2026-11-01T10:00:03Z', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
    ) v(request_id, "timestamp", "we""ird key", s, l, d, ts, b, j, "ctl\x01")""")
    odd.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    rest = sorted(name for (name,) in odd.execute("SELECT column_name FROM (DESCRIBE t)").fetchall()
                  if name not in ("request_id", "timestamp"))
    quoted = {name: '"' + name.replace('"', '""') + '"' for name in rest}
    as_map = ("nullif(CAST(to_json(map_from_entries(list_filter(["
              + ", ".join(f"struct_pack(k := '{name.replace(chr(39), chr(39) * 2)}', v := to_json(t.{quoted[name]}))"
                          for name in rest)
              + "], lambda e: e.v IS NOT NULL))) AS VARCHAR), '{}')")
    expected = dict(odd.execute(f"SELECT request_id, {as_map} FROM t").fetchall())
    load(con, path, shape="flat")
    stored = dict(rows(con, "SELECT request_id, CAST(extra AS VARCHAR) FROM requests"))
    assert stored == expected
    assert expected["r4"] is None and "NaN" in expected["r1"]
