"""Prices: the user's prices file, resolution through genai-prices, and the snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from aimon.errors import InputError
from aimon.store.connection import connect
from aimon.store.prices import (
    PriceSet,
    load_user_prices,
    parse_user_prices,
    refresh_prices,
    resolve_model,
)
from tests.conftest import request, rows
from tests.costing import add

PRICES_TOML = """
[models."acme-large"]
input_mtok = 3.0
output_mtok = 15.0
cache_read_mtok = 0.3
cache_write_mtok = 3.75

[[models."acme-large".periods]]
valid_from = 2025-06-01
input_mtok = 2.0
output_mtok = 10.0

[[models."acme-large".periods]]
valid_from = 2025-09-01T12:00:00Z
output_mtok = 8.0

[models."gpt-4o"]
provider = "openai"
input_mtok = 9.0
output_mtok = 9.0
"""


def test_prices_file_periods_inherit_and_start_at_utc_midnight(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PRICES_TOML)
    user = load_user_prices(path)
    mp = resolve_model("acme", "ACME-Large", user)
    assert [(r.valid_from, r.valid_to) for r in mp.rows] == [
        (None, datetime(2025, 6, 1, tzinfo=UTC)),
        (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 9, 1, 12, tzinfo=UTC)),
        (datetime(2025, 9, 1, 12, tzinfo=UTC), None)]
    assert [r.standard for r in mp.rows] == [
        PriceSet(3.0, 15.0, 0.3, 3.75), PriceSet(2.0, 10.0, 0.3, 3.75), PriceSet(2.0, 8.0, 0.3, 3.75)]
    assert mp.source == f"prices file {path}"


def test_prices_file_entry_with_a_provider_applies_only_to_it(tmp_path):
    user = parse_user_prices({"models": {"gpt-4o": {"provider": "openai", "input_mtok": 9.0,
                                                    "output_mtok": 9.0}}}, "x.toml")
    assert resolve_model("openai", "gpt-4o", user).rows[0].standard.input_mtok == 9.0
    assert resolve_model("azure", "gpt-4o", user).source.startswith("genai-prices")


def test_aimon_toml_models_are_found_in_the_working_directory(tmp_path):
    assert load_user_prices() is None
    (tmp_path / "aimon.toml").write_text("[report]\nx = 1\n")
    assert load_user_prices() is None
    (tmp_path / "aimon.toml").write_text(PRICES_TOML)
    assert "acme-large" in load_user_prices().models


@pytest.mark.parametrize(("text", "message"), [
    ('[models."m"]\ninput_mtok = "three"\noutput_mtok = 1\n', "models.m.input_mtok: must be a number, not 'three'"),
    ('[models."m"]\ninput_mtok = -1\noutput_mtok = 1\n', "greater than or equal to 0"),
    ('[models."m"]\ninput_mtok = nan\noutput_mtok = 1\n', "finite number"),
    ('[models."m"]\ninput_mtok = 1\noutput_mtokk = 1\n', "models.m.output_mtokk: unknown key; did you mean 'output_mtok'"),
    ('[models."m"]\ninput_mtok = 1\noutput_mtok = 1\nprovider = 3\n', "models.m.provider: must be text"),
    ('[models."m"]\ninput_mtok = 1\n', "input_mtok and output_mtok"),
    ('[models."m"]\ninput_mtok = 1\noutput_mtok = 1\n[[models."m".periods]]\ninput_mtok = 2\n', "valid_from"),
    ('[models."m"]\ninput_mtok = 1\noutput_mtok = 1\n[[models."m".periods]]\nvalid_from = "soon"\n', "valid_from"),
    ('[models."m"]\ninput_mtok = 1\noutput_mtok = 1\n[[models."m".periods]]\nvalid_from = 2025-01-01\n'
     '[[models."m".periods]]\nvalid_from = 2025-01-01\n', "two periods"),
    ("[models\n", "not valid TOML"),
    ("[other]\na = 1\n", r"no \[models"),
])
def test_bad_prices_files_are_clear_input_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_user_prices(path)


def test_missing_prices_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_user_prices(tmp_path / "nope.toml")


def test_resolution_follows_genai_prices():
    dated = resolve_model("openai", "gpt-4o-2024-08-06")
    assert (dated.matched_provider, dated.matched_model) == ("openai", "gpt-4o")
    prefixed = resolve_model(None, "openai/gpt-4o-mini")
    assert prefixed.matched_model == "gpt-4o-mini"
    unknown_provider = resolve_model("my-gateway", "claude-3-5-haiku-20241022")
    assert unknown_provider.matched_provider == "anthropic"
    missing = resolve_model("self-hosted", "acme-llama-70b-ft")
    assert not missing.priced and "does not know" in missing.note


def test_genai_prices_date_periods_are_kept_as_history():
    # claude-sonnet-4-5: a batch price from 2026-10-14 and a long-context tier.
    mp = resolve_model("anthropic", "claude-sonnet-4-5")
    assert {r.valid_to for r in mp.rows if r.valid_from is None} == {datetime(2026, 10, 14, tzinfo=UTC)}
    assert all(r.batch is None for r in mp.rows if r.valid_from is None)
    assert all(r.batch is not None for r in mp.rows if r.valid_from is not None)
    assert {(r.min_input_tokens, r.max_input_tokens) for r in mp.rows} == {
        (0, 200_000), (200_001, 9223372036854775807)}


def test_refresh_replaces_the_snapshot_in_one_transaction(con):
    add(con, {"model": "gpt-4o"}, {"provider": "self-hosted", "model": "acme-llama"}, {"model": None})
    summary = refresh_prices(con)
    assert summary.models == 2 and summary.priced == 1
    assert summary.unpriced == (("self-hosted", "acme-llama"),)
    first = rows(con, "SELECT count(*) FROM prices")[0][0]
    refresh_prices(con)
    assert rows(con, "SELECT count(*) FROM prices")[0][0] == first
    user = parse_user_prices({"models": {"acme-llama": {"input_mtok": 1.0, "output_mtok": 2.0}}}, "f.toml")
    summary = refresh_prices(con, user)
    assert summary.priced == 2 and summary.unpriced == ()
    assert rows(con, "SELECT source FROM prices WHERE model = 'acme-llama'") == [("prices file f.toml",)]


def test_snapshot_version_changes_with_the_prices_and_only_with_them(con):
    add(con, {"model": "gpt-4o"}, {"provider": "self-hosted", "model": "acme-llama"})
    first = refresh_prices(con).version
    assert refresh_prices(con).version == first  # same prices, another time: same version
    assert rows(con, "SELECT DISTINCT version FROM prices") == [(first,)]
    user = parse_user_prices({"models": {"acme-llama": {"input_mtok": 1.0, "output_mtok": 2.0}}}, "f.toml")
    second = refresh_prices(con, user).version
    cheaper = parse_user_prices({"models": {"acme-llama": {"input_mtok": 0.5, "output_mtok": 2.0}}}, "f.toml")
    third = refresh_prices(con, cheaper).version
    assert len({first, second, third}) == 3


@pytest.mark.slow
def test_ingest_snapshots_prices_and_reads_aimon_toml(cli, write_jsonl, db_path, tmp_path):
    (tmp_path / "aimon.toml").write_text('[models."acme-large"]\ninput_mtok = 1.0\noutput_mtok = 2.0\n')
    log = write_jsonl("a.jsonl", [request(request_id="a", model="acme-large", cost_usd=...),
                                  request(request_id="b", model="gpt-4o", cost_usd=...)])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    with duckdb.connect(str(db_path), read_only=True) as raw:
        got = raw.execute("SELECT request_id, cost_source, cost_usd FROM request_costs ORDER BY 1").fetchall()
    assert got[0] == ("a", "computed", pytest.approx((120 * 1.0 + 40 * 2.0) / 1e6))
    assert got[1] == ("b", "computed", pytest.approx((120 * 2.5 + 40 * 10.0) / 1e6))


def test_a_broken_aimon_toml_stops_ingest_before_loading(cli, write_jsonl, db_path, tmp_path):
    (tmp_path / "aimon.toml").write_text('[models."x"]\ninput_mtok = "a"\n')
    result = cli("ingest", write_jsonl("a.jsonl", [request()]), "--db", db_path)
    assert result.exit_code == 2
    assert "models.x.input_mtok: must be a number" in result.stderr
    assert not db_path.exists()


@pytest.mark.slow
def test_reading_commands_work_on_a_read_only_file(cli, write_jsonl, db_path):
    assert cli("ingest", write_jsonl("a.jsonl", [request()]), "--db", db_path).exit_code == 0
    db_path.chmod(0o444)
    try:
        for args in (["prices"], ["breakdown"], ["reconcile"], ["routing"], ["anomalies"]):
            result = cli("cost", *args, "--db", db_path)
            assert result.exit_code == 0, (args, result.output)
    finally:
        db_path.chmod(0o644)


def test_the_snapshot_survives_reopening(tmp_path):
    path = tmp_path / "p.duckdb"
    con = connect(path, write=True)
    add(con, {"model": "gpt-4o", "ts": datetime(2026, 11, 2, tzinfo=UTC)})
    refresh_prices(con)
    con.close()
    with connect(path) as ro:
        assert ro.execute("SELECT cost_source FROM request_costs").fetchall() == [("computed",)]


# --------------------------------------------------------------------------- answering model first

def _costs(db_path) -> dict[str, tuple[str, float]]:
    with duckdb.connect(str(db_path), read_only=True) as raw:
        return {rid: (src, cost) for rid, src, cost in
                raw.execute("SELECT request_id, cost_source, cost_usd FROM request_costs").fetchall()}


@pytest.mark.slow
def test_a_request_is_priced_by_the_model_that_answered_first(cli, write_jsonl, db_path):
    # gpt-4o-2024-05-13 has its own, higher price in genai-prices ($5/$15 against the
    # alias's $2.5/$10); a dated snapshot priced as its alias undercounts by half.
    log = write_jsonl("a.jsonl", [
        request(request_id="old", model="gpt-4o", model_version="gpt-4o-2024-05-13", cost_usd=...),
        request(request_id="new", model="gpt-4o", model_version="gpt-4o-2024-08-06", cost_usd=...),
        request(request_id="bare", model="gpt-4o", cost_usd=...)])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    costs = _costs(db_path)
    assert costs["old"] == ("computed", pytest.approx((120 * 5.0 + 40 * 15.0) / 1e6))
    assert costs["new"] == costs["bare"] == ("computed", pytest.approx((120 * 2.5 + 40 * 10.0) / 1e6))
    shown = cli("cost", "prices", "--db", db_path, "--format", "json")
    rows_shown = {(r["model"], r["requests"]) for r in __import__("json").loads(shown.stdout)["prices"]}
    assert ("gpt-4o-2024-05-13", 1) in rows_shown and ("gpt-4o", 2) in rows_shown


@pytest.mark.slow
def test_an_answering_model_with_a_price_prices_an_unpriced_alias(cli, write_jsonl, db_path):
    log = write_jsonl("a.jsonl", [request(request_id="a", model="my-router", model_version="gpt-4o-2024-05-13",
                                          cost_usd=...)])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert _costs(db_path)["a"] == ("computed", pytest.approx((120 * 5.0 + 40 * 15.0) / 1e6))


@pytest.mark.slow
def test_the_prices_file_pricing_an_alias_wins_over_genai_prices_for_its_snapshots(cli, write_jsonl, db_path,
                                                                                    tmp_path):
    (tmp_path / "aimon.toml").write_text('[models."gpt-4o"]\ninput_mtok = 1.0\noutput_mtok = 1.0\n'
                                         '[models."gpt-4o-2024-11-20"]\ninput_mtok = 7.0\noutput_mtok = 7.0\n')
    log = write_jsonl("a.jsonl", [
        request(request_id="alias", model="gpt-4o", model_version="gpt-4o-2024-05-13", cost_usd=...),
        request(request_id="own", model="gpt-4o", model_version="gpt-4o-2024-11-20", cost_usd=...)])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    costs = _costs(db_path)
    assert costs["alias"] == ("computed", pytest.approx(160 * 1.0 / 1e6))
    assert costs["own"] == ("computed", pytest.approx(160 * 7.0 / 1e6))


@pytest.mark.slow
def test_a_later_file_with_a_new_answering_model_is_priced_by_it(cli, write_jsonl, db_path):
    first = write_jsonl("a.jsonl", [request(request_id="a", model="gpt-4o", model_version="gpt-4o-2024-08-06",
                                            cost_usd=...)])
    second = write_jsonl("b.jsonl", [request(request_id="b", model="gpt-4o", model_version="gpt-4o-2024-05-13",
                                             cost_usd=...)])
    assert cli("ingest", first, "--db", db_path).exit_code == 0
    assert cli("ingest", second, "--db", db_path).exit_code == 0
    costs = _costs(db_path)
    assert costs["a"][1] == pytest.approx((120 * 2.5 + 40 * 10.0) / 1e6)
    assert costs["b"][1] == pytest.approx((120 * 5.0 + 40 * 15.0) / 1e6)
