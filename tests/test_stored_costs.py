"""Each request's effective cost is stored beside it (``_aimon_requests``), written in the
transaction that loads it and rewritten in the one that changes its prices."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from aimon.store import schema
from aimon.store.connection import connect
from aimon.store.prices import parse_user_prices, price_pending, refresh_prices
from tests.costing import add, cost_of

NOV = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ACME = {"models": {"acme-large": {"input_mtok": 3.0, "output_mtok": 15.0}}}
ROWS = [
    {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100},
    {"model": "gpt-4o", "input_tokens": 1000, "cached_input_tokens": 400, "output_tokens": 100},
    {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "extra": '{"service_tier": "batch"}'},
    {"model": "o3-mini", "input_tokens": 500, "output_tokens": 2000, "reasoning_tokens": 1500},
    {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 1000,
     "cached_input_tokens": 500, "cache_write_tokens": 300, "output_tokens": 100},
    {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "cost_usd": 0.5},
    {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "cache_hit": True},
    {"model": "gpt-4o", "input_tokens": None, "output_tokens": None},
    {"model": "gpt-4o", "input_tokens": 0, "output_tokens": 0, "status": "error"},
    {"provider": None, "model": "acme-large", "input_tokens": 2000, "output_tokens": 300},
    {"provider": None, "model": "mystery-model", "input_tokens": 2000, "output_tokens": 300},
]
COSTED = "SELECT * FROM costed_requests ORDER BY request_id"


def pending(con) -> int:
    return con.execute(f"SELECT count(*) FROM {schema.STORED_REQUESTS} WHERE cost_source IS NULL").fetchone()[0]


def test_refresh_prices_every_model_new_to_the_snapshot_and_pricing_again_changes_nothing(con):
    add(con, *ROWS)  # priced at the empty snapshot, as a first ingest is before its refresh
    assert pending(con) == 0
    assert cost_of(con, "r1") == (None, "unpriced") and cost_of(con, "r6") == (0.5, "logged")
    summary = refresh_prices(con, parse_user_prices(ACME, "prices.toml"))
    assert summary.repriced == len(ROWS) and pending(con) == 0
    stored = con.execute(COSTED).fetchall()
    con.execute(f"UPDATE {schema.STORED_REQUESTS} SET cost_source = NULL")
    assert price_pending(con) == len(ROWS)
    assert con.execute(COSTED).fetchall() == stored
    sources = dict(con.execute("SELECT request_id, cost_source FROM request_costs").fetchall())
    assert sources == {"r1": "computed", "r2": "computed", "r3": "computed", "r4": "computed",
                       "r5": "computed", "r6": "logged", "r7": "computed", "r8": "unpriced",
                       "r9": "computed", "r10": "computed", "r11": "unpriced"}


def test_a_price_change_reprices_only_the_requests_of_that_model(con):
    add(con, *ROWS)
    refresh_prices(con, parse_user_prices(ACME, "prices.toml"))
    before = dict(con.execute("SELECT request_id, cost_usd FROM request_costs").fetchall())
    assert before["r10"] == pytest.approx((2000 * 3.0 + 300 * 15.0) / 1e6)
    assert refresh_prices(con, parse_user_prices(ACME, "prices.toml")).repriced == 0
    cheaper = {"models": {"acme-large": {"input_mtok": 1.0, "output_mtok": 5.0}}}
    assert refresh_prices(con, parse_user_prices(cheaper, "prices.toml")).repriced == 1
    after = dict(con.execute("SELECT request_id, cost_usd FROM request_costs").fetchall())
    assert after["r10"] == pytest.approx((2000 * 1.0 + 300 * 5.0) / 1e6)
    assert {k: v for k, v in after.items() if k != "r10"} == {k: v for k, v in before.items() if k != "r10"}
    # Dropping the prices file: acme-large is unpriced again, not left at its old price.
    assert refresh_prices(con).repriced == 1
    assert cost_of(con, "r10") == (None, "unpriced")


@pytest.mark.slow
def test_ingest_stores_the_cost_of_every_request(cli, write_jsonl, db_path):
    write_jsonl("a.jsonl", [{"request_id": f"q{i}", "timestamp": "2026-11-02T10:00:00Z", "model": "gpt-4o",
                             "input_tokens": 1000, "output_tokens": 100} for i in range(5)])
    assert cli("ingest", "a.jsonl", "--db", db_path).exit_code == 0
    con = connect(db_path, write=False)
    assert pending(con) == 0
    assert con.execute("SELECT sum(cost_usd) FROM costed_requests").fetchone()[0] == pytest.approx(5 * 0.0035)
    con.close()


def test_an_interrupted_refresh_leaves_costs_as_they_were(con, monkeypatch):
    add(con, *ROWS)
    refresh_prices(con, parse_user_prices(ACME, "prices.toml"))
    before = con.execute(COSTED).fetchall()

    def broken(c):
        raise RuntimeError("disk full")

    monkeypatch.setattr("aimon.store.prices.price_pending", broken)
    with pytest.raises(RuntimeError):
        refresh_prices(con, parse_user_prices({"models": {"acme-large": {"input_mtok": 9.0, "output_mtok": 9.0}}},
                                              "prices.toml"))
    assert con.execute(COSTED).fetchall() == before
    assert con.execute("SELECT DISTINCT input_mtok FROM prices WHERE model = 'acme-large'").fetchall() == [(3.0,)]


def test_requests_is_a_view_of_the_stored_rows(con):
    add(con, ROWS[0])
    kind = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'requests' "
                       "AND database_name = current_database()").fetchone()[0]
    assert kind == 1
    assert "cost_source" not in [r[0] for r in con.execute("DESCRIBE requests").fetchall()]
    assert con.execute("SELECT request_id FROM requests").fetchall() == [("r1",)]


def test_a_database_from_before_stored_costs_is_migrated_and_priced(tmp_path):
    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute(schema.MIGRATIONS_TABLE_SQL)
    for migration in schema.MIGRATIONS[:8]:
        migration(raw)
        raw.execute("INSERT INTO _aimon_migrations (name) VALUES ($n)", {"n": migration.__name__})
    raw.execute("INSERT INTO requests (request_id, ts, provider, model, input_tokens, output_tokens, status, "
                "ingested_at) VALUES ('old1', $ts, 'openai', 'gpt-4o', 1000, 100, 'ok', now())", {"ts": NOV})
    raw.execute("INSERT INTO prices (provider, model, input_mtok, output_mtok, source, version, snapshot_at) "
                "VALUES ('openai', 'gpt-4o', 2.0, 10.0, 'test', 'p-old', now())")
    raw.close()
    con = connect(path, write=True)
    assert pending(con) == 0  # the migration priced the rows at the snapshot the database had
    assert cost_of(con, "old1") == (pytest.approx(0.003), "computed")
    assert refresh_prices(con).repriced == 1  # genai-prices' gpt-4o price replaces the old one
    assert cost_of(con, "old1") == (pytest.approx(0.0035), "computed")
    assert [r[0] for r in con.execute("SELECT request_id FROM requests").fetchall()] == ["old1"]
    con.close()


@pytest.mark.slow
def test_each_file_of_one_ingest_brings_its_models_prices(cli, write_jsonl, db_path, tmp_path):
    (tmp_path / "aimon.toml").write_text('[models."acme-large"]\ninput_mtok = 3.0\noutput_mtok = 15.0\n')
    write_jsonl("a.jsonl", [{"request_id": "a1", "timestamp": "2026-11-02T10:00:00Z", "model": "gpt-4o",
                             "input_tokens": 1000, "output_tokens": 100}])
    write_jsonl("b.jsonl", [{"request_id": "b1", "timestamp": "2026-11-02T10:00:00Z", "model": "acme-large",
                             "input_tokens": 2000, "output_tokens": 300}])
    assert cli("ingest", "a.jsonl", "b.jsonl", "--db", db_path).exit_code == 0
    con = connect(db_path, write=False)
    assert pending(con) == 0
    assert cost_of(con, "a1") == (pytest.approx(0.0035), "computed")
    assert cost_of(con, "b1") == (pytest.approx((2000 * 3.0 + 300 * 15.0) / 1e6), "computed")
    con.close()
