"""aimon abtest list / analyze through the CLI: formats, JSON keys, gates and exit codes."""

from __future__ import annotations

import json

import pytest
from planted_logs import experiment, insert, request_jsonl

from aimon.store.connection import connect
from tests.conftest import copy_db

VARIANT_KEYS = {"variant", "n", "successes", "success_rate"}
COMPARISON_KEYS = {"variant", "control", "metric", "diff", "ci_low", "ci_high", "p_value", "test"}


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    """A database with a real effect ('effect'), an A/A test ('aa') and a broken split ('srm')."""
    path = tmp_path_factory.mktemp("ab") / "ab.duckdb"
    con = connect(path, write=True)
    insert(con, experiment("effect", users={"control": 400, "treatment": 400},
                           success={"control": 0.30, "treatment": 0.37},
                           latency_ms={"control": 1000.0, "treatment": 1150.0}, seed=3))
    insert(con, experiment("aa", users={"A": 300, "B": 300}, seed=12, prefix="aa-"))
    insert(con, experiment("srm", users={"control": 1000, "treatment": 850}, requests_per_user=2, seed=4,
                           prefix="srm-"))
    con.close()
    return path


@pytest.fixture
def db(experiments, tmp_path):
    """The experiments in this test's own file (a copy)."""
    return copy_db(experiments, tmp_path / "ab.duckdb")


@pytest.mark.slow
def test_list(cli, db):
    res = cli("abtest", "list", "--db", db, "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = [e["experiment"] for e in data["experiments"]]
    assert names == ["aa", "effect", "srm"]
    effect = data["experiments"][1]
    assert [v["variant"] for v in effect["variants"]] == ["control", "treatment"]
    assert set(effect["variants"][0]) >= {"variant", "requests", "users", "first", "last"}
    table = cli("abtest", "list", "--db", db)
    assert table.exit_code == 0 and "treatment" in table.stdout
    csv = cli("abtest", "list", "--db", db, "--format", "csv")
    assert csv.stdout.splitlines()[0].startswith("experiment,variant,requests,users")


@pytest.mark.slow
def test_analyze_json_carries_every_documented_key(cli, db):
    res = cli("abtest", "analyze", "--db", db, "-e", "effect", "-m", "success,latency_ms", "--format", "json",
              "--resamples", "200")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"experiment", "unit", "control", "metrics", "success_source", "variants", "comparisons", "srm",
            "verdict", "notes", "alpha", "seed"} <= set(data)
    for v in data["variants"]:
        assert set(v) >= VARIANT_KEYS
    for c in data["comparisons"]:
        assert set(c) >= COMPARISON_KEYS
        assert {"p_adjusted", "lift", "lift_low", "lift_high", "prob_beat_control", "mde",
                "n_needed_variant", "n_needed_control"} <= set(c)
    lat = next(c for c in data["comparisons"] if c["metric"] == "latency_ms")
    assert {"mann_whitney_p", "p95_diff", "p95_ci_low", "p95_ci_high"} <= set(lat)
    assert {"p_value", "mismatch"} <= set(data["srm"])
    assert data["srm"]["mismatch"] is False
    assert data["verdict"]["kind"] == "winner" and data["verdict"]["winner"] == "treatment"
    assert data["verdict"]["text"].startswith("WINNER: treatment")
    assert data["success_source"] == "logged"
    succ = next(c for c in data["comparisons"] if c["metric"] == "success")
    # Every user saw one variant: the user is the unit by default.
    assert data["unit"] == "user"
    assert succ["test"] == "studentized permutation (users)" and succ["ci_method"] == "cr1-t"
    per_request = json.loads(cli("abtest", "analyze", "--db", db, "-e", "effect", "--by-request",
                                 "--format", "json").stdout)
    assert per_request["unit"] == "request"
    assert per_request["comparisons"][0]["test"] == "two-proportion z-test"
    v = data["variants"][0]
    assert v["successes"] / v["outcomes"] == pytest.approx(v["success_rate"])


@pytest.mark.slow
def test_analyze_table_and_markdown(cli, db):
    res = cli("abtest", "analyze", "--db", db, "-e", "effect", "--by-user", "--resamples", "200")
    assert res.exit_code == 0, res.output
    assert "WINNER: treatment" in res.stdout and "Sample ratio" in res.stdout
    md = cli("abtest", "analyze", "--db", db, "-e", "aa", "-f", "markdown", "--by-request")
    assert md.exit_code == 0, md.output
    assert "## Verdict" in md.stdout and "| metric |" in md.stdout
    assert "WINNER" not in md.stdout
    # A forced per-request analysis of a per-user assignment: warned about, and not by user.
    assert "Warning: Every user saw one variant" in md.stdout
    assert "Warning:" not in res.stdout


@pytest.mark.slow
def test_sample_ratio_mismatch_fails_the_gate_loudly(cli, db):
    res = cli("abtest", "analyze", "--db", db, "-e", "srm", "--format", "json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)  # the result is still written
    assert data["srm"]["mismatch"] is True and data["srm"]["p_value"] < 0.001
    assert data["verdict"]["kind"] == "invalid"
    assert "SAMPLE RATIO MISMATCH" in res.stderr
    assert "sample ratio mismatch" in res.stderr.splitlines()[-1]
    # Not a gate when asked not to be, or when the split was intended.
    assert cli("abtest", "analyze", "--db", db, "-e", "srm", "--fail-on", "none").exit_code == 0
    assert cli("abtest", "analyze", "--db", db, "-e", "srm", "--split", "100,85").exit_code == 0


def test_other_gates(cli, db):
    # The treatment is slower: a regression on latency.
    res = cli("abtest", "analyze", "--db", db, "-e", "effect", "-m", "success,latency_ms",
              "--fail-on", "srm,regression", "--resamples", "200")
    assert res.exit_code == 1
    assert "worse than control on latency_ms" in res.stderr
    assert cli("abtest", "analyze", "--db", db, "-e", "aa", "--fail-on", "no-winner").exit_code == 1
    assert cli("abtest", "analyze", "--db", db, "-e", "effect", "--fail-on", "no-winner").exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["-e", "missing"], "no requests for experiment 'missing'"),
    (["-e", "effect", "-m", "speed"], "unknown --metric"),
    (["-e", "effect", "--control", "nobody"], "not a variant"),
    (["-e", "effect", "--split", "1,2,3"], "--split"),
    (["-e", "effect", "--fail-on", "everything"], "--fail-on"),
    (["-e", "effect", "--min-effect", "big"], "--min-effect"),
])
def test_usage_errors_exit_2(cli, db, args, message):
    res = cli("abtest", "analyze", "--db", db, *args)
    assert res.exit_code == 2
    assert message in res.stderr


@pytest.mark.slow
def test_ingested_jsonl_experiment(cli, write_jsonl, db_path):
    # End to end from a flat JSONL log: experiment/variant/success fields map to columns.
    path = write_jsonl("ab.jsonl", request_jsonl(60))
    assert cli("ingest", path, "--db", db_path).exit_code == 0
    res = cli("abtest", "analyze", "--db", db_path, "-e", "tone", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [v["variant"] for v in data["variants"]] == ["A", "B"]
    assert data["unit"] == "user"  # 20 users, each in one variant
    assert sum(v["n"] for v in data["variants"]) == 20
    assert sum(v["requests"] for v in data["variants"]) == 60
