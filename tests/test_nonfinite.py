"""NaN and infinity are not numbers aimon can use (issue 15 item 7).

"NaN", "Infinity" and 1e309 in latency, cost, temperature or token counts are rejects
with a reason, whatever the shape and reader; a database loaded by an older aimon has
them moved out by a migration, so the reports and cost gates that crashed on them run;
a NaN or infinite budget is a usage error, not a gate that always passes.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from aimon.store.connection import connect
from tests.conftest import copy_db, ingested_template, load, request, rows

NON_FINITE = ('"NaN"', '"Infinity"', '"-Infinity"', "1e309", '"nan"', '"inf"', "NaN", "Infinity")
FIELDS = {"latency_ms": "latency_ms", "ttft_ms": "ttft_ms", "cost_usd": "cost_usd",
          "temperature": "temperature", "prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}


def _line(field: str, literal: str, rid: str) -> str:
    rec = request(request_id=rid, temperature=0.7)
    rec.pop(field, None)
    # The literal is written as it is: 1e309 and bare NaN are not what json.dumps writes.
    return json.dumps(rec)[:-1] + f', "{field}": {literal}}}'


@pytest.mark.parametrize("field", FIELDS)
def test_non_finite_numbers_are_rejects_with_a_reason(con, write_jsonl, field):
    lines = [_line(field, lit, f"r{i}") for i, lit in enumerate(NON_FINITE)]
    path = write_jsonl("nf.jsonl", [*lines, json.dumps(request(request_id="good"))])
    summary = load(con, path)  # token counts of NaN stopped the whole file before
    assert (summary.loaded, summary.rejected) == (1, len(NON_FINITE))
    reasons = [r[0] for r in rows(con, "SELECT reason FROM rejects")]
    assert all(r.startswith(f"{FIELDS[field]} is not a finite number: ") for r in reasons), reasons
    assert rows(con, "SELECT request_id FROM requests") == [("good",)]


def test_parquet_nan_and_infinity_are_rejects(con, tmp_path):
    path = tmp_path / "nf.parquet"
    duckdb.sql(f"""COPY (SELECT 'p' || i AS request_id, TIMESTAMP '2026-11-01 10:00:00' AS timestamp,
        'gpt-4o' AS model, 10 AS prompt_tokens, 5 AS completion_tokens,
        CASE i WHEN 1 THEN 'NaN'::DOUBLE WHEN 2 THEN 'inf'::DOUBLE ELSE 100.0 END AS latency_ms,
        CASE i WHEN 3 THEN '-inf'::DOUBLE ELSE 0.001 END AS cost_usd,
        CASE i WHEN 4 THEN 'NaN'::DOUBLE ELSE 0.5 END AS temperature
        FROM range(6) t(i)) TO '{path}' (FORMAT parquet)""")
    summary = load(con, path)
    assert (summary.loaded, summary.rejected) == (2, 4)
    assert sorted(r[0] for r in rows(con, "SELECT reason FROM rejects")) == [
        "cost_usd is not a finite number: -inf", "latency_ms is not a finite number: inf",
        "latency_ms is not a finite number: nan", "temperature is not a finite number: nan"]


@pytest.mark.slow
def test_other_shapes_reject_them_too(con, write_jsonl):
    chat = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1762000000, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}
    text = json.dumps(chat).replace('"prompt_tokens": 10', '"prompt_tokens": 1e309')
    span = {"traceId": "t1", "spanId": "s1", "name": "chat gpt-4o", "startTimeUnixNano": "1762000000000000000",
            "endTimeUnixNano": "1762000001000000000",
            "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                           "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2,
                           "gen_ai.request.temperature": "NaN"}}
    load(con, write_jsonl("chat.jsonl", [text]))
    load(con, write_jsonl("spans.jsonl", [span]))
    assert sorted(r[0] for r in rows(con, "SELECT reason FROM rejects")) == [
        "input_tokens is not a finite number: 1e309", "temperature is not a finite number: NaN"]
    assert rows(con, "SELECT count(*) FROM requests") == [(0,)]


# --------------------------------------------------------------------------- older databases

@pytest.fixture(scope="module")
def old_template(tmp_path_factory):
    """A month of traffic with NaN and infinity in a few rows, as an older aimon stored them."""
    recs = [request(request_id=f"q{d}-{h}", timestamp=f"2026-11-{d:02d}T{h:02d}:00:00Z", user_id=f"u{h}",
                    cost_usd=0.01 + 0.001 * h, latency_ms=500.0 + 10 * h, temperature=0.5)
            for d in range(1, 29) for h in range(0, 24, 2)]
    db_path = ingested_template(tmp_path_factory, recs)
    con = duckdb.connect(str(db_path))
    con.execute("UPDATE _aimon_requests SET latency_ms = 'NaN'::DOUBLE, temperature = 'inf'::DOUBLE "
                "WHERE request_id IN ('q27-10', 'q28-4')")
    con.execute("UPDATE _aimon_requests SET cost_usd = 'inf'::DOUBLE WHERE request_id = 'q26-2'")
    con.execute("DELETE FROM _aimon_migrations WHERE name = 'm015_nonfinite_numbers'")
    con.close()
    return db_path


@pytest.fixture
def old_db(old_template, db_path):
    return copy_db(old_template, db_path)


@pytest.mark.slow
@pytest.mark.parametrize("args", [("report", "daily", "--date", "2026-11-28"), ("report", "weekly"),
                                  ("cost", "forecast"), ("cost", "check", "--daily-budget", "100")],
                         ids=lambda a: "-".join(a[:2]))
def test_an_older_database_with_nan_runs_every_analysis(cli, old_db, args):
    result = cli(*args, "--db", old_db, "-f", "json")  # ValueError / LinAlgError before m015
    assert result.exit_code == 0, result.output + result.stderr
    json.loads(result.stdout)


@pytest.mark.slow
def test_the_upgrade_moves_non_finite_rows_to_rejects(old_db):
    con = connect(old_db, write=True)
    try:
        assert rows(con, "SELECT count(*) FROM requests WHERE request_id IN ('q27-10', 'q28-4', 'q26-2')") == [(0,)]
        assert rows(con, "SELECT count(*) FROM requests") == [(28 * 12 - 3,)]
        reasons = sorted(r[0] for r in rows(con, "SELECT reason FROM rejects"))
        assert reasons == ["cost_usd is not a finite number: inf (moved out by an upgrade)",
                           "latency_ms is not a finite number: nan (moved out by an upgrade)",
                           "latency_ms is not a finite number: nan (moved out by an upgrade)"]
        assert all('"request_id"' in r[0] for r in rows(con, "SELECT raw FROM rejects"))
    finally:
        con.close()


# --------------------------------------------------------------------------- budgets

@pytest.mark.parametrize("flag", ["--daily-budget", "--monthly-budget"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "0"])
def test_a_budget_that_is_not_a_positive_finite_amount_is_refused(cli, old_db, flag, value):
    result = cli("cost", "check", flag, value, "--db", old_db)  # nan passed every gate before
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "positive, finite amount" in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_forecast_budget_that_is_not_finite_is_refused(cli, old_db, value):
    result = cli("cost", "forecast", "--budget", value, "--db", old_db)
    assert result.exit_code == 2 and "positive, finite amount" in result.stderr


# --------------------------------------------------------------------------- thresholds

@pytest.mark.parametrize("args", [
    ("cost", "anomalies", "--z", "nan"), ("cost", "anomalies", "--jump", "nan"),
    ("cost", "anomalies", "--min-usd", "nan"), ("cost", "anomalies", "--hour-factor", "inf"),
    ("cost", "anomalies", "--hour-min-usd", "nan"), ("cost", "reconcile", "--tolerance", "inf"),
    ("cost", "reconcile", "--tolerance", "nan"), ("cost", "routing", "--expensive-ratio", "nan"),
    ("incident", "detect", "--threshold", "inf"), ("incident", "detect", "--threshold", "nan"),
    ("abtest", "analyze", "--experiment", "x", "--min-effect", "nan"),
    ("abtest", "analyze", "--experiment", "x", "--min-effect", "inf"),
])
def test_a_threshold_that_is_not_a_finite_number_is_refused(cli, old_db, args):
    # Every comparison with NaN is false: a NaN threshold flagged nothing and said nothing.
    result = cli(*args, "--db", old_db)
    assert result.exit_code == 2, result.output
    assert "finite" in result.output + result.stderr or "should be" in result.output + result.stderr
