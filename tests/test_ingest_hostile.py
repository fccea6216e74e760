"""Records that used to kill a run or load wrong without a word (issue 14, items 2, 9, 10).

Every one of them now loads exactly or becomes a reject with its reason, and the rest of
the run loads: records = loaded + duplicates + rejected, always.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import duckdb
import pytest

from aimon.store.ingest import ingest
from tests.conftest import load, request, request_row, rows

todo = pytest.mark.xfail(strict=True, reason="issue 14: reproduced before the fix")


def reasons(con) -> dict[int, str]:
    return dict(rows(con, "SELECT source_line, reason FROM rejects ORDER BY source_line"))


# --------------------------------------------------------------------------- item 2

@pytest.mark.slow
@pytest.mark.parametrize("value", ["1e30", "1e19", "9999999999999999999", "-1e30", "1e400"])
def test_an_out_of_range_number_is_a_reject_not_a_crash(con, write_jsonl, value):
    good = write_jsonl("good.jsonl", [request(request_id="g1")])
    huge = json.dumps(request(request_id="huge", prompt_tokens=0)).replace('"prompt_tokens": 0', f'"prompt_tokens": {value}')
    bad = write_jsonl("bad.jsonl", [request(request_id="ok1"), huge, request(request_id="ok2")])
    summary = ingest(con, [good, bad])
    assert (summary.records, summary.loaded, summary.rejected) == (4, 3, 1)
    (reason,), = rows(con, "SELECT reason FROM rejects")
    assert reason.startswith("input_tokens is ")
    assert value.lstrip("-")[:4] in reason


@pytest.mark.slow
def test_otel_token_count_of_ten_to_the_nineteen_is_a_reject(con, write_jsonl):
    from tests.test_shapes_otel import chat_span

    spans = [chat_span(), chat_span(**{"gen_ai.usage.input_tokens": 10**19})]
    spans[1]["spanId"] = "00000000000000ff"
    spans[1]["attributes"]["gen_ai.response.id"] = "chatcmpl-big"
    summary = load(con, write_jsonl("spans.jsonl", spans))
    assert (summary.loaded, summary.rejected) == (1, 1)
    assert reasons(con)[2].startswith("input_tokens is out of range: 10000000000000000000")


# --------------------------------------------------------------------------- item 9

@pytest.mark.slow
def test_a_duplicated_key_in_a_file_that_repeats_an_id(con, write_jsonl):
    twice = json.dumps(request(request_id="dup"))[:-1] + ', "model": "gpt-4o-mini"}'
    path = write_jsonl("a.jsonl", [request(request_id="dup"), twice, request(request_id="dup"),
                                   request(request_id="other")])
    summary = load(con, path)
    assert (summary.loaded, summary.duplicates, summary.rejected) == (2, 1, 1)
    assert reasons(con) == {2: "duplicate key: model"}


@pytest.mark.slow
def test_a_duplicated_key_in_a_record_whose_id_one_valid_record_shares(con, write_jsonl):
    # The typed-column reader takes such a record as valid (first value wins): joined to
    # the verdict by id alone, the load read two records for one and aborted the run.
    twice = json.dumps(request(request_id="dup", prompt="second"))[:-1] + ', "model": "gpt-4o-mini"}'
    path = write_jsonl("a.jsonl", [request(request_id="dup", prompt="first"), twice,
                                   request(request_id="other")])
    summary = load(con, path)
    assert (summary.loaded, summary.duplicates, summary.rejected) == (2, 0, 1)
    assert reasons(con) == {2: "duplicate key: model"}
    assert rows(con, "SELECT request_id, prompt, source_line FROM requests ORDER BY source_line") == [
        ("dup", "first", 1), ("other", "What is the refund policy?", 3)]


def test_deep_nesting_among_the_first_records(con, write_jsonl):
    deep = json.dumps(request(request_id="deep"))[:-1] + ', "nest": ' + "[" * 5000 + "]" * 5000 + "}"
    path = write_jsonl("a.jsonl", [request(request_id="r1"), deep, request(request_id="r2")])
    summary = load(con, path)
    assert (summary.loaded, summary.rejected) == (3, 0)
    extra = request_row(con, "deep")["extra"]  # deeper than Python's own parser goes
    assert extra.startswith('{"nest":[[[') and extra.count("[") == extra.count("]") == 5000


def test_a_corrupt_parquet_file_is_a_reject_and_the_rest_loads(con, write_jsonl, tmp_path):
    path = tmp_path / "broken.parquet"
    duckdb.sql(f"COPY (SELECT 'p' || i AS request_id, TIMESTAMP '2026-11-01' AS timestamp, 'gpt-4o' AS model "
               f"FROM range(1000) t(i)) TO '{path}' (FORMAT parquet)")
    data = bytearray(path.read_bytes())
    data[100:400] = b"\xff" * 300
    path.write_bytes(bytes(data))
    good = write_jsonl("good.jsonl", [request()])
    summary = ingest(con, [path, good])
    assert summary.loaded == 1 and summary.rejected >= 1
    assert summary.records == summary.loaded + summary.duplicates + summary.rejected
    assert rows(con, "SELECT count(*) FROM rejects WHERE reason LIKE 'unreadable Parquet%'") == [(1,)]


def _parquet_corrupt_in_its_last_row_group(path, column: str) -> None:
    """8,192 requests in four row groups (DuckDB writes at least 2,048 rows to a group);
    the last group's ``column`` chunk overwritten, so a sample of the first records
    reads well and the file fails only further in."""
    duckdb.sql(f"""COPY (SELECT 'p' || i AS request_id, TIMESTAMP '2026-11-01' + INTERVAL (i) MINUTE AS timestamp,
                               'gpt-4o' AS model, 'prompt ' || i AS prompt
                        FROM range(8192) t(i)) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 2048)""")
    (start, size), = duckdb.sql(f"""SELECT data_page_offset, total_compressed_size FROM parquet_metadata('{path}')
        WHERE path_in_schema = '{column}' ORDER BY row_group_id DESC LIMIT 1""").fetchall()
    data = bytearray(path.read_bytes())
    data[start:start + size] = b"\xff" * size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("column", ["request_id", "prompt"])
def test_a_parquet_file_corrupt_past_its_sample_is_a_reject_outside_a_transaction(
        tmp_path, write_jsonl, monkeypatch, column):
    # A staging file (what `aimon ingest` loads into) is not read whole before it is
    # loaded (2 s of a million rows' 16): the pass that fails (the ids' verdict, or the
    # load itself) stored nothing, and only then is the file read whole.
    import aimon.store.ingest_plan as plan_module
    from aimon.store.ingest_staging import ingest_staged
    read_whole, whole_reads = plan_module._read_whole_parquet, []
    monkeypatch.setattr(plan_module, "_read_whole_parquet", lambda con, f: (whole_reads.append(f.name),
                                                                           read_whole(con, f)))
    broken = tmp_path / "broken.parquet"
    _parquet_corrupt_in_its_last_row_group(broken, column)
    good = write_jsonl("good.jsonl", [request(request_id="g1")])
    db = tmp_path / "a.duckdb"
    summary = ingest_staged(db, [broken, good])
    assert whole_reads == [str(broken)]  # once, after the load failed
    assert (summary.records, summary.loaded, summary.rejected) == (2, 1, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        assert rows(con, "SELECT request_id FROM requests") == [("g1",)]
        (reason,), = rows(con, "SELECT reason FROM rejects")
    assert reason.startswith("unreadable Parquet: ")


def test_a_parquet_file_found_corrupt_after_its_rows_were_stored_leaves_none_of_them(
        tmp_path, write_jsonl, monkeypatch):
    # Should a read after the load fail (a conflict's text, say), the rows and rejects
    # the file's passes stored are taken back before the file is rejected whole.
    import aimon.store.ingest as ingest_module
    import aimon.store.ingest_file as ingest_file_module
    from aimon.store.ingest_staging import ingest_staged
    fine = tmp_path / "fine.parquet"
    duckdb.sql(f"COPY (SELECT 'q' || i AS request_id, TIMESTAMP '2026-11-01' AS timestamp, 'gpt-4o' AS model, "
               f"CASE WHEN i = 3 THEN 'not a number' ELSE '5' END AS prompt_tokens "
               f"FROM range(10) t(i)) TO '{fine}' (FORMAT parquet)")
    write_rejects, calls = ingest_file_module.write_rejects, []

    def fails_after_the_first_files_rejects(con, *args):
        reasons = write_rejects(con, *args)
        calls.append(1)
        if len(calls) == 1:  # fine.parquet's: 9 rows and a reject stored by now
            assert rows(con, "SELECT count(*) FROM _aimon_requests") == [(9,)]
            assert rows(con, "SELECT count(*) FROM rejects") == [(1,)]
            raise duckdb.IOException("read failed")
        return reasons
    monkeypatch.setattr(ingest_file_module, "write_rejects", fails_after_the_first_files_rejects)
    monkeypatch.setattr(ingest_module, "parquet_unreadable", lambda con, f: "unreadable Parquet: read failed")
    good = write_jsonl("good.jsonl", [request(request_id="g1"), {"request_id": "no time"}])
    db = tmp_path / "a.duckdb"
    summary = ingest_staged(db, [fine, good])
    assert (summary.records, summary.loaded, summary.rejected) == (3, 1, 2)
    with duckdb.connect(str(db), read_only=True) as con:
        assert rows(con, "SELECT request_id FROM requests") == [("g1",)]
        assert rows(con, "SELECT source_file LIKE '%fine.parquet', reason FROM rejects ORDER BY 1 DESC") == [
            (True, "unreadable Parquet: read failed"), (False, "missing timestamp")]


def test_a_failed_load_of_a_readable_parquet_file_still_stops_the_run(tmp_path, write_jsonl, monkeypatch):
    # Only a file that cannot be read whole is a reject: any other DuckDB error stops
    # the run with one line, as for every other file.
    import aimon.store.ingest_file as ingest_file_module
    from aimon.errors import InputError
    from aimon.store.ingest_staging import ingest_staged
    fine = tmp_path / "fine.parquet"
    duckdb.sql(f"COPY (SELECT 'q' || i AS request_id, TIMESTAMP '2026-11-01' AS timestamp, 'gpt-4o' AS model "
               f"FROM range(10) t(i)) TO '{fine}' (FORMAT parquet)")

    def failed(*args, **kwargs):
        raise duckdb.ConversionException("something else")
    monkeypatch.setattr(ingest_file_module, "_load_pass", failed)
    with pytest.raises(InputError, match="fine.parquet: cannot load: .*something else; nothing was written"):
        ingest_staged(tmp_path / "a.duckdb", [fine])
    assert not (tmp_path / "a.duckdb").exists()


@pytest.mark.slow
def test_a_gzip_file_cut_short_loads_what_it_holds(con, tmp_path):
    recs = [json.dumps(request(request_id=f"z{i}", prompt="w " * 800)) for i in range(3000)]
    data = gzip.compress(("\n".join(recs) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    assert len(data) < 1 << 20  # so cut it short of its end, not after a MiB
    path.write_bytes(data[: len(data) * 2 // 3])
    summary = load(con, path)
    assert summary.loaded > 100
    assert summary.rejected >= 1
    (reason,), = rows(con, "SELECT reason FROM rejects WHERE source_line IS NULL")
    assert reason.startswith("truncated gzip")


def test_a_small_gzip_file_cut_short_loads_what_it_holds(con, tmp_path):
    # Under a MiB of content: the layout sniffing read past the cut and stopped the run.
    recs = [json.dumps(request(request_id=f"s{i}", prompt=f"question {i}")) for i in range(2000)]
    data = gzip.compress(("\n".join(recs) + "\n").encode())
    assert len(gzip.decompress(data)) < 1 << 20
    path = tmp_path / "logs" / "cut.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(data[: len(data) // 2])
    summary = ingest(con, [tmp_path / "logs"])
    assert 100 < summary.loaded < 2000
    assert summary.records == summary.loaded + summary.duplicates + summary.rejected
    assert rows(con, "SELECT count(*) FROM rejects WHERE reason LIKE 'truncated gzip%'") == [(1,)]


def test_a_broken_element_of_a_json_array_loses_only_itself(con, tmp_path):
    good = [json.dumps(request(request_id=f"a{i}", prompt="p" * 100)) for i in range(1000)]
    broken = '{"request_id": "a-broken", "timestamp": "2026-11-01T10:00:00Z", "prompt": "' + "q" * 70000 + '", }}'
    good.insert(500, broken)
    path = tmp_path / "arr.json"
    path.write_text("[\n" + ",\n".join(good) + "\n]")
    summary = load(con, path)
    assert (summary.records, summary.loaded, summary.rejected) == (1001, 1000, 1)
    (line, reason, raw), = rows(con, "SELECT source_line, reason, raw FROM rejects")
    assert line == 501 and reason.startswith("broken JSON")
    assert raw == broken


# --------------------------------------------------------------------------- item 10

def test_token_counts_above_two_to_the_53_are_exact(con, write_jsonl):
    load(con, write_jsonl("a.jsonl", [request(prompt_tokens=123456789012345678,
                                              completion_tokens=9007199254740993)]))
    assert rows(con, "SELECT input_tokens, output_tokens FROM requests") == [(123456789012345678,
                                                                            9007199254740993)]


@pytest.mark.parametrize("stamp", ["2026-11-01T10:00:00+25:00", "2026-11-01T10:00:00+99:99",
                                   "2026-11-01T10:00:00-13:00"])
def test_an_impossible_utc_offset_is_rejected(con, write_jsonl, stamp):
    summary = load(con, write_jsonl("a.jsonl", [request(timestamp=stamp)]))
    assert summary.rejected == 1
    assert reasons(con)[1] == f"unparseable timestamp: {stamp} (impossible UTC offset)"


# Texts that end in 'Z' and look like ISO 8601, valid and not: aimon_ts reads them by a
# shortcut (a plain cast), which must give what its general checks give.
UTC_TEXTS = ["2026-11-01T10:00:00Z", "2026-11-01T10:00:00.123456Z", "2026-11-01T10:00:00.123456789Z",
             "2026-02-30T10:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01T10:00:00+05:00Z",
             "2026-11-01T10:00:00+25:00Z", "2026-11-01T10:00:00Europe/Z", "2026-11-01T10:00:00 Z",
             "\t2026-11-01T10:00:00Z", "2026-11-01T10:00:00zZ", "99999-11-01T10:00:00Z", "2026-11-01T10:00Z",
             "2026-11-01T10:00:00.Z", "0001-01-01T00:00:00Z"]


def test_the_utc_shortcut_of_aimon_ts_reads_what_the_general_checks_read():
    from aimon.store import macros

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    macros.install(con)
    general = """CASE WHEN aimon_ts_problem(x) IS NOT NULL THEN NULL
                      ELSE TRY_CAST(trim(x) AS TIMESTAMPTZ) END"""
    got = con.execute(f"SELECT x, aimon_ts(x), {general} FROM unnest($t) AS u(x)", {"t": UTC_TEXTS}).fetchall()
    assert [(x, fast) for x, fast, _ in got] == [(x, slow) for x, _, slow in got]
    assert sum(fast is not None for _, fast, _ in got) >= 4


def test_a_local_time_in_a_dst_gap_is_rejected(con, write_jsonl):
    path = write_jsonl("a.jsonl", [request(request_id="gap", timestamp="2026-03-08 02:30:00 America/New_York"),
                                   request(request_id="fine", timestamp="2026-03-08 03:30:00 America/New_York")])
    summary = load(con, path)
    assert (summary.loaded, summary.rejected) == (1, 1)
    assert reasons(con)[1] == ("unparseable timestamp: 2026-03-08 02:30:00 America/New_York "
                               "(no such local time: skipped by a daylight-saving change)")
    assert request_row(con, "fine")["ts"] == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_a_duplicated_key_is_a_reject_not_a_silent_first_value(con, write_jsonl):
    line = '{"timestamp": "2026-11-01T10:00:00Z", "request_id": "k", "model": "a", "model": "b"}'
    summary = load(con, write_jsonl("a.jsonl", [line]))
    assert summary.rejected == 1
    assert reasons(con) == {1: "duplicate key: model"}


def test_feedback_types_outside_the_six_are_rejected(con, write_jsonl):
    path = write_jsonl("f.jsonl", [
        {"request_id": "r1", "timestamp": "2026-11-01T10:05:00Z", "feedback_type": "thumbs_up"},
        {"request_id": "r2", "timestamp": "2026-11-01T10:06:00Z", "feedback_type": "meh"},
    ])
    summary = ingest(con, [path], table="feedback")
    assert (summary.loaded, summary.rejected) == (1, 1)
    assert rows(con, "SELECT reason FROM rejects") == [(
        "unknown feedback_type: meh (aimon's types: thumbs_up, thumbs_down, report, copied_response, "
        "regenerated, edited_output)",)]


def test_an_invalid_utf8_line_keeps_its_bytes(con, tmp_path):
    line = b'{"timestamp": "2026-11-01T10:00:00Z", "request_id": "bad\xff\xfe", "model": "m"}'
    path = tmp_path / "a.jsonl"
    path.write_bytes(json.dumps(request()).encode() + b"\n" + line + b"\n")
    summary = load(con, path)
    assert (summary.loaded, summary.rejected) == (1, 1)
    (reason, raw, raw_bytes), = rows(con, "SELECT reason, raw, raw_bytes FROM rejects")
    at = line.index(b"\xff") + 1
    assert reason == f"invalid UTF-8 at byte {at}"
    assert raw_bytes == line
    assert "\ufffd" not in raw and raw.endswith('"request_id": "bad\\xff\\xfe", "model": "m"}')
    assert summary.files[0].reject_reasons == {"invalid UTF-8": 1}


# --------------------------------------------------------------------------- errors

@pytest.mark.slow
def test_a_duckdb_error_is_one_line_naming_the_file(cli, tmp_path, monkeypatch):
    recs = [request(request_id=f"r{i}", prompt="x" * (2 * 1024 * 1024)) for i in range(40)]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    monkeypatch.setenv("AIMON_MEMORY_LIMIT", "16MB")
    result = cli("ingest", path, "--db", tmp_path / "o.duckdb")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(path) in line and "ran out of memory" in line and "AIMON_MEMORY_LIMIT" in line

