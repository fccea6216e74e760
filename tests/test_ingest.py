"""Ingest of the flat app log: mapping, rejects, odd bytes, idempotence, accounting."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import duckdb
import pytest

from aimon.errors import InputError
from aimon.store.ingest import ingest
from tests.conftest import load, request, rows


def test_flat_record_maps_every_canonical_column(con, write_jsonl):
    rec = request(
        request_id="abc", system_prompt="You are terse.", provider="openai", version="2024-08-06",
        prompt_version="p3", cached_tokens=20, reasoning_tokens=5, cache_hit=False,
        experiment="exp", variant="B", success=True, temperature=0.2, user_tier="pro",
        jurisdiction="EU", consent=True, user_feedback="thumbs_up", region="eu-west-1",
        app_build=42,
    )
    load(con, write_jsonl("a.jsonl", [rec]))
    got = con.execute("SELECT * FROM requests").fetchall()[0]
    names = [d[0] for d in con.execute("SELECT * FROM requests LIMIT 0").description]
    row = dict(zip(names, got, strict=True))
    assert row["request_id"] == "abc"
    assert row["ts"] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert (row["user_id"], row["session_id"], row["endpoint"], row["model"]) == ("u1", "s1", "/chat", "gpt-4o")
    assert (row["provider"], row["model_version"], row["prompt_version"]) == ("openai", "2024-08-06", "p3")
    assert row["system_prompt"] == "You are terse."
    assert (row["input_tokens"], row["output_tokens"], row["cached_input_tokens"], row["reasoning_tokens"]) == (120, 40, 20, 5)
    assert row["cost_usd"] == pytest.approx(0.0007)
    assert (row["latency_ms"], row["ttft_ms"]) == (850.0, 210.0)
    assert row["status"] == "ok" and row["error_type"] is None
    assert (row["cache_hit"], row["experiment"], row["variant"], row["success"]) == (False, "exp", "B", True)
    assert (row["temperature"], row["user_tier"], row["jurisdiction"], row["consent"]) == (0.2, "pro", "EU", True)
    assert row["feedback"] == "thumbs_up"
    # Fields without a column are kept, not dropped.
    assert json.loads(row["extra"]) == {"region": "eu-west-1", "app_build": 42}
    assert (row["source_line"], row["source_format"]) == (1, "flat")
    assert row["source_file"].endswith("a.jsonl")


def test_common_aliases_are_understood(con, write_jsonl):
    rec = {"created_at": 1793527200, "id": "x1", "user": "u9", "model_name": "gpt-4o-mini",
           "input": "hi", "output": "hello", "input_tokens": 7, "output_tokens": 3,
           "duration_ms": 123, "cost": 0.01, "feature": "/search"}
    load(con, write_jsonl("a.jsonl", [rec]))
    assert rows(con, "SELECT request_id, ts, user_id, model, prompt, response, input_tokens, output_tokens, "
                     "latency_ms, cost_usd, endpoint, extra FROM requests") == [
        ("x1", datetime(2026, 11, 1, 10, 0, tzinfo=UTC), "u9", "gpt-4o-mini", "hi", "hello", 7, 3,
         123.0, 0.01, "/search", None)]


@pytest.mark.slow
def test_second_alias_of_one_column_stays_in_extra(con, write_jsonl):
    load(con, write_jsonl("a.jsonl", [request(latency_ms=100, duration_ms=999)]))
    latency, extra = con.execute("SELECT latency_ms, extra FROM requests").fetchone()
    assert latency == 100.0
    assert json.loads(extra) == {"duration_ms": 999}


def test_epoch_timestamps_in_any_unit(con, write_jsonl):
    recs = [request(request_id=f"r{i}", timestamp=t) for i, t in
            enumerate([1793527200, 1793527200.5, 1793527200000, 1793527200000000, "1793527200000000000",
                       "2026-11-01 10:00:00", "2026-11-01T12:00:00+02:00"])]
    load(con, write_jsonl("a.jsonl", recs))
    got = [r[0] for r in rows(con, "SELECT ts FROM requests ORDER BY request_id")]
    base = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert got == [base, base.replace(microsecond=500000), base, base, base, base, base]


def test_error_forms_set_status_type_and_message(con, write_jsonl):
    recs = [
        request(request_id="s", error="Rate limit exceeded (429)", status=...),
        request(request_id="o", error={"type": "timeout", "message": "timed out", "param": "p"}, status=...),
        request(request_id="t", status="error", error_type="api_error", error_message="boom"),
        request(request_id="k", error=None),
    ]
    load(con, write_jsonl("a.jsonl", recs))
    got = rows(con, "SELECT request_id, status, error_type, error_message, extra FROM requests ORDER BY request_id")
    assert got == [
        ("k", "ok", None, None, None),
        ("o", "error", "timeout", "timed out", '{"error":{"param":"p"}}'),
        ("s", "error", "rate_limit", "Rate limit exceeded (429)", None),
        ("t", "error", "api_error", "boom", None),
    ]


def test_messages_array_becomes_prompt_and_system_prompt(con, write_jsonl):
    msgs = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]}]
    load(con, write_jsonl("a.jsonl", [request(prompt=..., messages=msgs)]))
    assert rows(con, "SELECT system_prompt, prompt FROM requests") == [("Be brief.", "Part one.\nPart two.")]


def test_bad_records_go_to_rejects_with_line_and_reason(con, write_jsonl):
    path = write_jsonl("a.jsonl", [
        request(request_id="good1"),
        "{broken json",
        "[1, 2, 3]",
        request(request_id="nots", timestamp=...),
        request(request_id="bads", timestamp="yesterday-ish"),
        request(request_id="neg", prompt_tokens=-5),
        request(request_id="frac", completion_tokens=2.5),
        request(request_id="word", prompt_tokens="many"),
        request(request_id="cache", prompt_tokens=10, cached_tokens=11),
        request(request_id="reas", completion_tokens=10, reasoning_tokens=11),
        request(request_id="lat", latency_ms=-1),
        request(request_id="old", timestamp=86400),
        request(request_id="good2"),
    ])
    summary = load(con, path)
    assert (summary.records, summary.loaded, summary.rejected) == (13, 2, 11)
    assert rows(con, "SELECT request_id FROM requests ORDER BY 1") == [("good1",), ("good2",)]
    got = rows(con, "SELECT source_line, reason FROM rejects ORDER BY source_line")
    assert got == [
        (2, "broken JSON"),
        (3, "not a JSON object: array"),
        (4, "missing timestamp"),
        (5, "unparseable timestamp: yesterday-ish"),
        (6, "negative input_tokens: -5"),
        (7, "output_tokens is not a whole number: 2.5"),
        (8, "input_tokens is not a whole number: many"),
        (9, "impossible token counts: cached_input_tokens 11 > input_tokens 10"),
        (10, "impossible token counts: reasoning_tokens 11 > output_tokens 10"),
        (11, "negative latency_ms: -1.0"),
        (12, "implausible timestamp: 86400 (an epoch in the wrong unit?)"),
    ]
    raw = dict(rows(con, "SELECT source_line, raw FROM rejects"))
    assert raw[2] == "{broken json"
    assert json.loads(raw[4])["request_id"] == "nots"
    assert summary.reject_reasons()["impossible token counts"] == 2


@pytest.mark.slow
def test_bom_crlf_blank_lines_long_lines_and_any_script(con, write_jsonl):
    big = "x" * (1024 * 1024)
    texts = ["emoji 🎉🚀👩‍💻", "中文和日本語のテキスト", "نص عربي من اليمين إلى اليسار", "עברית", big]
    recs = [request(request_id=f"r{i}", prompt=t) for i, t in enumerate(texts)]
    lines = [json.dumps(recs[0], ensure_ascii=False), "", json.dumps(recs[1], ensure_ascii=False), "   ",
             json.dumps(recs[2]), json.dumps(recs[3], ensure_ascii=False), "", "", json.dumps(recs[4])]
    path = write_jsonl("odd.jsonl", lines, newline="\r\n", bom=True)
    summary = load(con, path)
    assert (summary.records, summary.loaded, summary.rejected) == (5, 5, 0)
    got = rows(con, "SELECT request_id, prompt, source_line FROM requests ORDER BY request_id")
    assert [(r[0], r[1], r[2]) for r in got] == [
        ("r0", texts[0], 1), ("r1", texts[1], 3), ("r2", texts[2], 5), ("r3", texts[3], 6), ("r4", big, 9)]


@pytest.mark.slow
def test_gzip_array_and_pretty_printed_documents(con, write_jsonl, tmp_path):
    load(con, write_jsonl("a.jsonl.gz", [request(request_id="gz1"), request(request_id="gz2")]))
    (tmp_path / "arr.json").write_text(json.dumps([request(request_id="a1"), request(request_id="a2")], indent=2))
    (tmp_path / "doc.json").write_text(json.dumps(request(request_id="d1"), indent=2) + "\n"
                                       + json.dumps(request(request_id="d2"), indent=2))
    load(con, tmp_path / "arr.json")
    load(con, tmp_path / "doc.json")
    assert rows(con, "SELECT request_id, source_line FROM requests ORDER BY 1") == [
        ("a1", 1), ("a2", 2), ("d1", 1), ("d2", 2), ("gz1", 1), ("gz2", 2)]


@pytest.mark.slow
def test_broken_json_array_element_is_one_reject_and_the_rest_loads(con, write_jsonl, tmp_path):
    (tmp_path / "bad.json").write_text('[{"timestamp": "2026-11-01T00:00:00Z", "model": "m"},\n {"oops": ]')
    good = write_jsonl("good.jsonl", [request()])
    summary = ingest(con, [tmp_path / "bad.json", good])
    assert (summary.records, summary.loaded, summary.rejected) == (3, 2, 1)
    (file, line, reason, raw), = rows(con, "SELECT source_file, source_line, reason, raw FROM rejects")
    assert (file, line, reason, raw) == (str(tmp_path / "bad.json"), 2, "broken JSON", '{"oops":')


@pytest.mark.slow
def test_parquet_with_flat_columns(con, tmp_path):
    path = tmp_path / "r.parquet"
    duckdb.sql(f"""COPY (SELECT 'p' || i AS request_id, TIMESTAMP '2026-11-01 10:00:00' + INTERVAL (i) MINUTE AS timestamp,
                 'gpt-4o' AS model, i * 10 AS prompt_tokens, i AS completion_tokens, 'x' AS region,
                 CASE WHEN i = 2 THEN -1 ELSE 5 END AS cached_tokens
               FROM range(1, 4) t(i)) TO '{path}' (FORMAT parquet)""")
    summary = load(con, path)
    assert (summary.records, summary.loaded, summary.rejected) == (3, 2, 1)
    assert rows(con, "SELECT request_id, input_tokens, cached_input_tokens, extra, source_line FROM requests ORDER BY 1") == [
        ("p1", 10, 5, '{"region":"x"}', 1), ("p3", 30, 5, '{"region":"x"}', 3)]
    (line, reason), = rows(con, "SELECT source_line, reason FROM rejects")
    assert (line, reason) == (2, "negative cached_input_tokens: -1")


def test_reingest_adds_nothing(con, write_jsonl):
    path = write_jsonl("a.jsonl", [request(request_id=f"r{i}") for i in range(5)] + ["{bad"])
    first = load(con, path)
    again = load(con, path)
    assert (first.loaded, first.rejected) == (5, 1)
    assert (again.records, again.loaded, again.duplicates, again.rejected) == (6, 0, 5, 1)
    assert rows(con, "SELECT count(*) FROM requests") == [(5,)]
    assert rows(con, "SELECT count(*) FROM rejects") == [(1,)]


@pytest.mark.slow
def test_duplicate_ids_identical_or_conflicting(con, write_jsonl):
    path = write_jsonl("a.jsonl", [
        request(request_id="same"), request(request_id="same"),          # identical copy
        request(request_id="clash", user_id="a"), request(request_id="clash", user_id="b"),
    ])
    summary = load(con, path)
    assert (summary.loaded, summary.duplicates, summary.rejected) == (2, 1, 1)
    assert rows(con, "SELECT request_id, user_id FROM requests ORDER BY 1") == [("clash", "a"), ("same", "u1")]
    (line, reason), = rows(con, "SELECT source_line, reason FROM rejects")
    assert line == 4
    assert reason == ("conflicting duplicate: request_id clash was already loaded from line 3 of this file "
                      "with different content")
    # A later file that changes a loaded request is refused, never an overwrite.
    other = write_jsonl("b.jsonl", [request(request_id="same", response="changed")])
    later = load(con, other)
    assert (later.loaded, later.rejected) == (0, 1)
    assert rows(con, "SELECT response FROM requests WHERE request_id = 'same'") == [(request()["response"],)]
    assert "already loaded from" in rows(con, "SELECT reason FROM rejects WHERE source_file LIKE '%b.jsonl'")[0][0]


@pytest.mark.slow
def test_records_without_id_get_a_stable_one(con, write_jsonl):
    path = write_jsonl("a.jsonl", [request(request_id=..., prompt="one"), request(request_id=..., prompt="two")])
    load(con, path)
    ids = [r[0] for r in rows(con, "SELECT request_id FROM requests ORDER BY 1")]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    assert load(con, path).duplicates == 2


@pytest.mark.slow
def test_files_directories_and_globs(con, write_jsonl, tmp_path):
    (tmp_path / "logs" / "deep").mkdir(parents=True)
    write_jsonl("logs/a.jsonl", [request(request_id="a")])
    write_jsonl("logs/deep/b.jsonl.gz", [request(request_id="b")])
    (tmp_path / "logs" / "notes.txt").write_text("not a log")
    assert ingest(con, [tmp_path / "logs"]).loaded == 2
    write_jsonl("c1.jsonl", [request(request_id="c1")])
    write_jsonl("c2.jsonl", [request(request_id="c2")])
    assert ingest(con, [str(tmp_path / "c*.jsonl")]).loaded == 2


@pytest.mark.parametrize(("arg", "message"), [
    ("missing.jsonl", "no such file"),
    ("notes.txt", "unsupported file type"),
    ("nothing-*.jsonl", "matches no log files"),
])
def test_unusable_paths_are_refused_before_anything_loads(con, tmp_path, arg, message):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=message):
        ingest(con, [tmp_path / arg])


def test_unknown_shape_names_the_keys_and_the_way_out(con, write_jsonl):
    path = write_jsonl("a.jsonl", [{"foo": 1, "bar": 2}])
    with pytest.raises(InputError, match=r"cannot tell .* \(first record's keys: foo, bar\); pass --shape"):
        ingest(con, [path])
    assert rows(con, "SELECT count(*) FROM rejects") == [(0,)]


@pytest.mark.slow
def test_default_time_for_records_without_one(con, write_jsonl):
    path = write_jsonl("a.jsonl", [request(timestamp=...)])
    assert ingest(con, [path]).rejected == 1
    when = datetime(2026, 11, 2, tzinfo=UTC)
    assert ingest(con, [path], default_time=when).loaded == 1
    assert rows(con, "SELECT ts FROM requests") == [(when,)]


def test_feedback_log(con, write_jsonl):
    path = write_jsonl("f.jsonl", [
        {"request_id": "r1", "timestamp": "2026-11-01T10:05:00Z", "feedback_type": "thumbs_down",
         "feedback_category": "incorrect", "feedback_text": "wrong", "user_id": "u1"},
        {"request_id": "r2", "timestamp": "2026-11-01T10:06:00Z", "feedback_type": "👍", "user_id": "u2"},
        {"request_id": "r3", "timestamp": "2026-11-01T10:07:00Z", "user_id": "u2", "feedback_type": None},
    ])
    summary = ingest(con, [path], table="feedback")
    assert (summary.loaded, summary.rejected) == (2, 1)
    assert rows(con, "SELECT request_id, feedback_type, feedback_category, feedback_text FROM feedback ORDER BY 1") == [
        ("r1", "thumbs_down", "incorrect", "wrong"), ("r2", "thumbs_up", None, None)]
    assert rows(con, "SELECT reason FROM rejects") == [("missing feedback_type",)]
    assert ingest(con, [path], table="feedback").duplicates == 2


def test_forced_shape_must_fit_the_table(con, write_jsonl):
    path = write_jsonl("a.jsonl", [request()])
    with pytest.raises(InputError, match="add --feedback"):
        ingest(con, [path], shape="flat_feedback")
    with pytest.raises(InputError, match="unknown shape 'nope'"):
        ingest(con, [path], shape="nope")
    assert ingest(con, [path], shape="flat").loaded == 1


def test_one_ingest_is_one_transaction(con, write_jsonl, monkeypatch):
    good = write_jsonl("a.jsonl", [request(request_id="a")])
    second = write_jsonl("b.jsonl", [request(request_id="b")])
    from aimon.store import ingest as ingest_module

    real = ingest_module._ingest_file
    calls = []

    def fail_on_second(con_, plan, *a, **k):
        calls.append(plan.file.path.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(con_, plan, *a, **k)

    monkeypatch.setattr(ingest_module, "_ingest_file", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        ingest(con, [good, second])
    assert rows(con, "SELECT count(*) FROM requests") == [(0,)]


@pytest.mark.slow  # 120,000 generated lines: about 7 s of CPU
def test_line_numbers_hold_in_a_file_read_in_parallel(con, tmp_path):
    """Large enough for DuckDB to read in several threads; blank lines sprinkled in."""
    path = tmp_path / "many.jsonl"
    duckdb.sql(f"""COPY (SELECT '2026-11-01T00:00:00Z' AS timestamp, 'line-' || i AS request_id,
                        'gpt-4o' AS model, repeat('text ', (i % 50)::INT) AS prompt
                 FROM range(1, 120001) t(i)) TO '{path}' (FORMAT json)""")
    lines = path.read_text().splitlines()
    for at in (5_000, 60_000, 60_001, 119_000):  # blank lines shift everything after them
        lines.insert(at, "")
    path.write_text("\n".join(lines) + "\n")
    summary = load(con, path)
    assert summary.loaded == 120_000
    wrong = rows(con, """SELECT count(*) FROM requests
        WHERE source_line <> (SELECT list_position($lines, request_id))""",
                 {"lines": [json.loads(x)["request_id"] if x else "" for x in lines]})
    assert wrong == [(0,)]


@pytest.mark.slow
def test_feedback_file_among_request_logs_goes_to_feedback(con, write_jsonl, tmp_path):
    (tmp_path / "logs").mkdir()
    write_jsonl("logs/requests.jsonl", [request(request_id="r1")])
    write_jsonl("logs/feedback.jsonl", [{"request_id": "r1", "timestamp": "2026-11-01T10:05:00Z",
                                         "feedback_type": "thumbs_up"}])
    (tmp_path / "logs" / "settings.json").write_text('{"theme": "dark"}')
    summary = ingest(con, [tmp_path / "logs"])
    assert {(f.path.rsplit("/", 1)[-1], f.table, f.loaded) for f in summary.files} == {
        ("requests.jsonl", "requests", 1), ("feedback.jsonl", "feedback", 1)}
    assert [(p.rsplit("/", 1)[-1], why) for p, why in summary.skipped] == [
        ("settings.json", "cannot tell which request log shape this is (first record's keys: theme)")]
    with pytest.raises(InputError, match="cannot tell"):
        ingest(con, [tmp_path / "logs" / "settings.json"])


def test_what_a_directory_holds_and_cannot_be_read_is_listed_with_why(con, write_jsonl, tmp_path):
    (tmp_path / "logs").mkdir()
    write_jsonl("logs/requests.jsonl", [request(request_id="r1")])
    (tmp_path / "logs" / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    os.mkfifo(tmp_path / "logs" / "pipe.jsonl")  # reading it would hang the run
    (tmp_path / "logs" / "notes.txt").write_text("x")
    summary = ingest(con, [tmp_path / "logs"])
    assert summary.loaded == 1
    assert sorted((p.rsplit("/", 1)[-1], why) for p, why in summary.skipped) == [
        ("gone.jsonl", "a link to a missing file"), ("notes.txt", "not a log file (aimon reads .jsonl, "
                                                                  ".ndjson, .json, their .gz, .parquet)"),
        ("pipe.jsonl", "not a regular file")]


@pytest.mark.parametrize("text", [
    # one blank line and no newline at the end: as many bytes as a clean file would have
    '{"timestamp": "2026-11-01T00:00:00Z", "request_id": "a"}\n\n'
    '{"timestamp": "2026-11-01T00:00:01Z", "request_id": "b", "input_tokens": -1}',
    # clean, ending with a newline
    '{"timestamp": "2026-11-01T00:00:00Z", "request_id": "a"}\n'
    '{"timestamp": "2026-11-01T00:00:01Z", "request_id": "b", "input_tokens": -1}\n',
])
def test_reject_line_numbers_with_and_without_blank_lines(con, tmp_path, text):
    path = tmp_path / "edge.jsonl"
    path.write_bytes(text.encode())
    summary = load(con, path)
    assert (summary.loaded, summary.rejected) == (1, 1)
    expected = 3 if "\n\n" in text else 2
    assert rows(con, "SELECT source_line, reason FROM rejects") == [(expected, "negative input_tokens: -1")]


@pytest.mark.slow
def test_invalid_copies_of_an_id_are_rejected_and_a_valid_copy_loads(con, write_jsonl):
    """Validity is learnt while mapping whole records: an invalid first copy of an id
    must not make its valid second copy a duplicate, nor load itself."""
    path = write_jsonl("copies.jsonl", [
        request(request_id="x", input_tokens=-5),
        request(request_id="x"),
        request(request_id="y", timestamp="not a time"),
    ])
    summary = load(con, path)
    assert (summary.records, summary.loaded, summary.duplicates, summary.rejected) == (3, 1, 0, 2)
    assert rows(con, "SELECT request_id, source_line FROM requests") == [("x", 2)]
    again = load(con, path)
    assert (again.loaded, again.duplicates, again.rejected) == (0, 1, 2)
    assert rows(con, "SELECT count(*) FROM rejects") == [(2,)]


def test_parquet_row_without_id_gets_a_stable_one(con, tmp_path):
    path = tmp_path / "noid.parquet"
    duckdb.sql(f"""COPY (SELECT CASE WHEN i = 2 THEN NULL ELSE 'p' || i END AS request_id,
                 TIMESTAMP '2026-11-01 10:00:00' + INTERVAL (i) MINUTE AS timestamp, 'gpt-4o' AS model
               FROM range(1, 4) t(i)) TO '{path}' (FORMAT parquet)""")
    first = load(con, path)
    assert (first.loaded, first.rejected) == (3, 0)
    (generated,), = rows(con, "SELECT request_id FROM requests WHERE source_line = 2")
    assert len(generated) == 32  # md5 of the record
    again = load(con, path)
    assert (again.loaded, again.duplicates) == (0, 3)
