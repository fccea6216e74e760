"""Phone numbers in national formats (no country code) and well-formed numbers outside
the numbering plan (issue 14 item 7): found, with their confidence, and the look-alikes
around them (order, invoice and ticket numbers, dates, times, prices) still not."""

from __future__ import annotations

import json

import duckdb
import pytest

from aimon.analysis.pii.config import PiiConfig, configured_regions, expand_regions, load_config
from aimon.analysis.pii.scan import mask_values, scan_texts
from aimon.errors import InputError
from tests.pii_eval import phones as phone_eval


@pytest.fixture(scope="module")
def mem():
    con = duckdb.connect()
    yield con
    con.close()


def phones(con, text: str, hint: str | None = None, configured: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    (found,) = scan_texts(con, [text], hints=[hint], configured=configured)
    return [(f.entity_type, text[f.start:f.end], f.confidence) for f in found]


@pytest.mark.parametrize(("text", "hint", "value"), [
    ("Office: 020 7946 0958", "UK", "020 7946 0958"),
    ("Office: 020 7946 0958", "GB", "020 7946 0958"),
    ("le standard, 01 42 68 53 00, ne répond pas", "FR", "01 42 68 53 00"),
    ("お問い合わせ 03-3211-4567", "JP", "03-3211-4567"),
    ("Zentrale 030 12345678", "EU", "030 12345678"),
    ("Oficina 612 34 56 78", "ES", "612 34 56 78"),
    ("Ufficio 318 689 3380", "it", "318 689 3380"),
])
def test_a_national_number_is_found_in_a_request_of_its_jurisdiction(mem, text, hint, value):
    assert phones(mem, text, hint) == [("phone", value, "high")]
    assert phones(mem, text, None) == []  # nothing places it: not reported


@pytest.mark.parametrize(("text", "value"), [
    ("reach me at 020 7946 0958", "020 7946 0958"),
    ("appelez-moi au 01 42 68 53 00", "01 42 68 53 00"),
    ("Téléphone : 01 42 68 53 00", "01 42 68 53 00"),
    ("ruf mich an unter 030 12345678", "030 12345678"),
    ("llámame al 612 34 56 78", "612 34 56 78"),
    ("電話番号は03-3211-4567です", "03-3211-4567"),
    ("携帯 090-1234-5678", "090-1234-5678"),
    ("Postleitzahl 01067 Dresden, Tel 0351 4567890", "0351 4567890"),
])
def test_a_national_number_after_a_phone_word_in_any_language_is_found(mem, text, value):
    assert phones(mem, text) == [("phone", value, "high")]


def test_the_configured_list_places_national_numbers(mem):
    text = "Office: 020 7946 0958, other desk 03-3211-4567"
    assert phones(mem, text) == []
    assert phones(mem, "Tokyo desk 03-3211-4567") == [("phone", "03-3211-4567", "high")]  # the city places it
    assert [v for _, v, _ in phones(mem, text, configured=("GB", "JP"))] == ["020 7946 0958", "03-3211-4567"]


@pytest.mark.parametrize("text", ["call me at (392) 555-0183", "reach me at 392-555-0183", "phone: 392.555.0183",
                                  "Tel. (392) 555-0183", "llámame al (392) 555-0183"])
def test_a_well_formed_number_on_an_unassigned_area_code_after_a_phone_word_is_low_confidence(mem, text):
    ((entity, value, confidence),) = phones(mem, text)
    assert entity == "phone" and value.endswith("0183")
    assert confidence in ("low", "high")  # MX, placed by the Spanish word, has 392 numbers
    if "llámame" not in text:
        assert confidence == "low"


def test_without_a_phone_word_an_unassigned_area_code_is_still_rejected(mem):
    (found,) = scan_texts(mem, ["see (392) 555-0183"])
    assert found == []
    assert phones(mem, "call me at (415) 555-0132") == [("phone", "(415) 555-0132", "high")]


@pytest.mark.parametrize(("text", "hint"), [
    ("call about order 0207 946 0958", None), ("phone order ref 01-4268-5300", "FR"),
    ("Tel. Kundennummer 0301 234567", "DE"), ("call ticket #392-555-0183", None),
    ("invoice 020 7946 0958", "GB"), ("commande n° 01 42 68 53 00", "FR"), ("注文番号 03-3211-4567", "JP"),
    ("call me on 05.11.2026", "DE"), ("call me on 2026-11-05", None), ("Termin am 05 11 2026", "DE"),
    ("Tel. 08.30 - 12.00 und 14.00 - 18.00", "DE"), ("電話 09:00〜18:00", "JP"),
    ("phone bill 012 345,67 €", "FR"), ("€ 01 234,56", "FR"), ("v0.12.3", "GB"), ("build 01.22.3344", "GB"),
    ("012 345 678 tokens", "GB"), ("call me at 123-456-7890", None), ("phone: (000) 783-9377", "GB"),
    ("my phone is 0000 000 000", "FR"), ("call me at 555-0183", None), ("call 123-456-6566", "GB"),
    ("see 020 7946 0958", None), ("phone 0.5 0.25 0.125", None), ("call 0.12 0.34 0.56", "FR"),
    ("SKU 020 7946 0958", "GB"), ("Bestellung 030 12345678", "DE"), ("SIRET 012 345 678 00012", "FR"),
    ("2026-11-05 06 12 34 56", "FR"), ("batch 0001 0002 0003 0004", "EU"), ("ISBN 0-306-40615-2", "GB"),
])
def test_near_misses_are_not_phones(mem, text, hint):
    assert [f for f in phones(mem, text, hint) if f[0] == "phone"] == []


def test_masking_masks_national_and_low_confidence_numbers(monkeypatch, tmp_path):
    masked = mask_values(["call me at (392) 555-0183", "appelez-moi au 01 42 68 53 00", "see 020 7946 0958"])
    assert masked[:2] == ["call me at [REDACTED_PHONE]", "appelez-moi au [REDACTED_PHONE]"]
    assert masked[2] == "see 020 7946 0958"  # nothing places it
    config = tmp_path / "aimon.toml"
    config.write_text('[pii]\nphone_regions = ["GB"]\n', encoding="utf-8")
    monkeypatch.setenv("AIMON_CONFIG", str(config))
    assert mask_values(["see 020 7946 0958"]) == ["see [REDACTED_PHONE]"]


def test_the_config_list_is_validated(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[pii]\nphone_regions = ["uk", "FR", "JP"]\n', encoding="utf-8")
    assert load_config(good).phone_regions == ("GB", "FR", "JP")
    assert "DE" in expand_regions("EU") and expand_regions("UK") == ("GB",)
    bad = tmp_path / "bad.toml"
    bad.write_text('[pii]\nphone_regions = ["Narnia"]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"pii\.phone_regions.*Narnia"):
        load_config(bad)
    with pytest.raises(ValueError, match="Narnia"):
        PiiConfig(phone_regions=("Narnia",))
    bad.write_text('[pii]\nphone_region = ["GB"]\n', encoding="utf-8")
    with pytest.raises(InputError, match="pii.phone_region: unknown key; did you mean 'phone_regions'"):
        load_config(bad)


def test_configured_regions_follow_the_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIMON_CONFIG", raising=False)
    assert configured_regions() == ()
    (tmp_path / "aimon.toml").write_text('[pii]\nphone_regions = ["JP", "EEA"]\n', encoding="utf-8")
    regions = configured_regions()
    assert regions[0] == "JP" and "NO" in regions


def test_the_phone_set_matches_its_generator():
    committed = phone_eval.load()
    assert len(committed) == phone_eval.RECORDS
    assert committed[:30] == phone_eval.generate(30)


def test_phone_set_precision_and_recall_per_kind():
    result = phone_eval.evaluate()
    for kind, s in result["planted"].items():
        assert s.items >= 100 and s.hits / s.items >= 0.95, kind
    for kind, s in result["negatives"].items():
        assert s.hits == 0, kind
    assert result["precision"] >= 0.99 and result["recall"] >= 0.95
    assert result["low_confidence"] > 0


@pytest.mark.slow
def test_audit_pii_json_reports_confidence_and_uses_the_jurisdiction(tmp_path):
    from typer.testing import CliRunner

    from aimon.cli import app

    lines = [{"timestamp": "2026-11-02T10:00:00Z", "request_id": f"r{i}", "model": "gpt-4o-mini", "jurisdiction": j,
              "prompt": p, "response": "ok"}
             for i, (j, p) in enumerate([("UK", "Office: 020 7946 0958"), (None, "call me at (392) 555-0183"),
                                         ("FR", "commande n° 01 42 68 53 00"), ("US", "see 020 7946 0958")])]
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    db = tmp_path / "a.duckdb"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(log), "--db", str(db)]).exit_code == 0
    result = runner.invoke(app, ["audit", "pii", "-f", "json", "--fields", "prompt", "--db", str(db)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (phone,) = [r for r in report["by_entity"] if r["entity_type"] == "phone"]
    assert (phone["findings"], phone["low_confidence"]) == (2, 1)
    assert {s["request_id"]: s["confidence"] for s in report["samples"]} == {"r0": "high", "r1": "low"}
    assert report["low_confidence"] == [{"entity_type": "phone", "reason": "not_in_numbering_plan", "findings": 1}]
    assert "0958" not in result.stdout and "0183" not in result.stdout


@pytest.mark.slow
def test_a_bad_phone_regions_list_is_one_line_and_exit_2(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from aimon.cli import app

    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"timestamp": "2026-11-02T10:00:00Z", "request_id": "r1", "model": "m",
                               "prompt": "Office: 020 7946 0958", "response": "ok"}) + "\n", encoding="utf-8")
    db = tmp_path / "a.duckdb"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(log), "--db", str(db)]).exit_code == 0
    config = tmp_path / "aimon.toml"
    config.write_text('[pii]\nphone_regions = ["Narnia"]\n', encoding="utf-8")
    monkeypatch.setenv("AIMON_CONFIG", str(config))
    result = runner.invoke(app, ["audit", "pii", "--db", str(db)])
    assert result.exit_code == 2
    assert "Narnia" in result.stderr and len(result.stderr.strip().splitlines()) == 1
