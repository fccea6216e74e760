"""PII detection: validators on candidates, the DuckDB candidate pass, offsets, look-alikes."""

from __future__ import annotations

import duckdb
import pytest

from aimon.analysis.pii import phones as p
from aimon.analysis.pii import secrets as s
from aimon.analysis.pii import validators as v
from aimon.analysis.pii.entities import (
    CANDIDATE_RE,
    ENTITY_TYPES,
    GROUP_NAMES,
    Field,
    parse_entity_types,
    parse_fields,
)
from aimon.analysis.pii.scan import TEXTS_SOURCE_SQL, redact_texts, scan, scan_texts
from aimon.errors import UsageError


@pytest.fixture(scope="module")
def mem():
    con = duckdb.connect()
    yield con
    con.close()


def found(con, text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start:f.end]) for f in scan_texts(con, [text])[0]]


# --------------------------------------------------------------------------- validators

@pytest.mark.parametrize(("number", "ok"), [
    ("4539148803436467", True), ("4539148803436468", False), ("79927398713", True), ("0", True)])
def test_luhn(number, ok):
    assert v.luhn_ok(number) is ok


@pytest.mark.parametrize(("digits", "brand"), [
    ("4111111111111111", "visa"), ("5500000000000004", "mastercard"), ("2221000000000009", "mastercard"),
    ("378282246310005", "amex"), ("6011111111111117", "discover"), ("3530111333300000", "jcb"),
    ("30569309025904", "diners"), ("9111111111111111", None), ("411111111111111", None)])
def test_card_brands_by_prefix_and_length(digits, brand):
    assert v.card_brand(digits) == brand


@pytest.mark.parametrize(("ssn", "reason"), [
    ("219-44-7356", None), ("000-12-3456", "ssn_area"), ("666-12-3456", "ssn_area"), ("912-12-3456", "ssn_area"),
    ("123-00-4567", "ssn_group"), ("123-45-0000", "ssn_serial"), ("078-05-1120", "ssn_known_fake"),
    ("219 44 7356", None), ("219-44 7356", "mixed_separators")])
def test_ssn_ranges(ssn, reason):
    (verdict,) = v.us_ssn(ssn, "my SSN ", ".")
    assert verdict.ok is (reason is None)
    assert verdict.reason == reason


def test_iban_mod97_and_country_length():
    assert v.iban_checksum_ok("DE89370400440532013000")
    assert not v.iban_checksum_ok("DE88370400440532013000")
    assert v.iban("GB82 WEST 1234 5698 7654 32", " ", " ")[0].ok
    assert v.iban("XX82 WEST 1234 5698 7654 32", " ", " ")[0].reason == "unknown_country"
    # A longer run is trimmed to the country's length when the prefix is valid.
    (verdict,) = v.iban("DE89370400440532013000 1234", " ", "")
    assert verdict.ok and verdict.end == 22


@pytest.mark.parametrize(("text", "ok"), [
    ("+1 415 555 0132", True), ("+44 20 7946 0958", True), ("+44 7700 900123", True), ("+49 30 12345678", True),
    ("+1 (011) 688-6476", False), ("+999 123456789", False)])
def test_international_phones_use_the_numbering_plan(text, ok):
    assert p.phone_international(text, " ", " ")[0].ok is ok


def test_us_phone_needs_a_valid_area_code_and_unambiguous_separators():
    assert p.phone_us("(415) 555-0132", " ", " ")[0].ok
    assert p.phone_us("415-555-0132", " ", " ")[0].ok
    assert not p.phone_us("(123) 456-7890", " ", " ")[0].ok
    assert p.phone_us("809 508 4456", " ", " tokens")[0].reason == "ambiguous_spaces"


def test_ip_validators_reject_versions_and_partial_tokens():
    assert v.ipv4("10.22.199.106", "server ", " ")[0].ok
    assert v.ipv4("1.2.3.4", "version ", "")[0].reason == "version_string"
    assert v.ipv4("1.3.6.1", " ", ".4.1")[0].reason == "part_of_longer_token"
    assert v.ipv4("999.1.1.1", " ", " ")[0].reason == "invalid_address"
    assert v.ipv4("127.0.0.1", " ", " ")[0].reason == "not_a_host_address"
    assert v.ipv6("2001:db8::1:2", " ", " ")[0].ok
    assert not v.ipv6("d::", "st", "vector")[0].ok
    assert v.ipv6("43:51:43:a1:b5:fc:8b:b7", " ", ":0a:3a")[0].reason == "part_of_longer_token"


def test_secret_validators():
    assert s.jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", " ", " ")[0].ok
    assert not s.jwt("eyJub3QganNvbg.eyJzdWIiOiIxMjM0In0.x", " ", " ")[0].ok
    assert s.aws_access_key_id("AKIAFVNINMHHUYESVIPY", " ", " ")[0].ok
    assert s.aws_access_key_id("AKIAIOSFODNN7EXAMPLE", " ", " ")[0].reason == "placeholder"
    assert not s.openai_api_key("sk-your-api-key-here-xxxxxxxx", " ", " ")[0].ok
    assert not s.private_key("-----BEGIN PRIVATE KEY-----", " ", " ")[0].ok


def test_normalised_forms_for_pseudonyms():
    assert v.normalise("email", "Bob@Example.COM") == "bob@example.com"
    assert v.normalise("credit_card", "4539-1488-0343-6467") == "4539148803436467"
    assert v.normalise("phone", "(415) 555-0132") == v.normalise("phone", "+1 415 555 0132") == "+14155550132"
    assert v.normalise("ipv6", "2001:0DB8:0000::0001") == "2001:db8::1"


# --------------------------------------------------------------------------- the candidate pass

def test_each_kind_is_one_group_of_the_duckdb_expression(mem):
    row = mem.execute("SELECT len(regexp_extract_all('x', $rx, $g))", {"rx": CANDIDATE_RE,
                                                                      "g": GROUP_NAMES}).fetchall()
    assert row == [(0,)]


def test_each_kind_is_one_group_of_the_python_expression():
    # An inner capturing group would shift every kind after it (this was an assert run
    # at import; every command paid the compiles, so it is checked here).
    import re

    from aimon.analysis.pii.entities import KINDS, py_candidate_re

    for kind in KINDS:
        assert re.compile(kind.pattern).groups == 0, kind.name
    assert py_candidate_re().groups == len(KINDS)


def test_masking_on_a_connection_the_command_has_open_masks_alike(mem):
    from aimon.analysis.pii.scan import mask_values

    values = ["write to jane.doe@example.com", "gpt-4o", "call 415-555-0132 now", "/chat"]
    assert mask_values(values, con=mem) == mask_values(values) == [
        "write to [REDACTED_EMAIL]", "gpt-4o", "call [REDACTED_PHONE] now", "/chat"]


def test_offsets_are_python_character_offsets_even_after_multibyte_text(mem):
    text = "Grüße 値段 «ok» 🙂 mail maria@example.com and 10.22.199.106\nthen 219-44-7356"
    got = scan_texts(mem, [text])[0]
    assert [(f.entity_type, text[f.start:f.end]) for f in got] == [
        ("email", "maria@example.com"), ("ipv4", "10.22.199.106"), ("us_ssn", "219-44-7356")]


def test_context_types_need_their_words_and_are_trimmed_to_the_value(mem):
    assert found(mem, "DOB: 03/14/1985, passport no. X1234567, driver's license D1234567") == [
        ("date_of_birth", "03/14/1985"), ("passport", "X1234567"), ("drivers_license", "D1234567")]
    assert found(mem, "the meeting on 03/14/2026 and birthday party on May 3, 2021") == []
    assert found(mem, "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9xLkA3Tq") == [
        ("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9xLkA3Tq")]


def test_an_entity_swallowed_by_a_failed_context_form_is_still_found(mem):
    # "cell" starts a phone candidate that ends up being a driver's licence.
    assert found(mem, "reach my cell DL# H8548789 today") == [("drivers_license", "H8548789")]
    # A phone number followed by an SSN in the same candidate run.
    assert found(mem, "call +1 415 555 0132 219-44-7356") == [("phone", "+1 415 555 0132"),
                                                             ("us_ssn", "219-44-7356")]


def test_look_alikes_are_rejected_with_a_reason(mem):
    text = ("order 1234-5678-9012, uuid 3f2b8c1e-4d5a-4e6f-9a7b-1c2d3e4f5a6b, sha de54179a, at "
            "2026-11-01T10:00:00Z, v1.2.3.4, icon@2x.png, lodash@4.17.21, std::vector, "
            "card 4539 1488 0343 6468, ssn 666-12-3456, DE88 3704 0044 0532 0130 00, AKIAIOSFODNN7EXAMPLE")
    findings, _ = scan(mem, TEXTS_SOURCE_SQL, {"aimon_texts": [text], "aimon_hints": [None]})
    assert [f for f in findings if f.validated] == []
    reasons = {(f.entity_type, f.reason) for f in findings}
    assert {("credit_card", "luhn"), ("us_ssn", "ssn_area"), ("iban", "mod97"), ("email", "file_name"),
            ("aws_access_key_id", "placeholder")} <= reasons


def test_private_key_block_is_one_entity(mem):
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEowIBAAKCAQEAx4Lq0lZ0n0aZbc12345678\n" * 4 + "-----END RSA PRIVATE KEY-----"
    text = f"here: {key}\nand my mail a.b@example.com"
    assert found(mem, text) == [("private_key", key), ("email", "a.b@example.com")]


def test_redact_texts_replaces_values_with_markers(mem):
    assert redact_texts(mem, ["mail maria@example.com now", None, "nothing"]) == [
        "mail [REDACTED_EMAIL] now", None, "nothing"]


def test_parse_fail_on_and_fields():
    assert parse_entity_types("email, credit_card") == {"email", "credit_card"}
    assert parse_entity_types("any") == set(ENTITY_TYPES)
    assert "jwt" in parse_entity_types("secret") and "email" not in parse_entity_types("secret")
    with pytest.raises(UsageError, match="unknown entity type"):
        parse_entity_types("emails")
    assert parse_fields("prompt") == (Field.prompt,)
    with pytest.raises(UsageError, match="unknown field"):
        parse_fields("body")


def test_lowercased_ibans_and_keys_are_still_found(mem):
    # Ingest lower-cases error types: an IBAN or a key that went through it must still be found.
    texts = ["de89370400440532013000", "payment to gb29 nwbk 6016 1331 9268 19 failed",
             "akiaiosfodnn7abcdxyz", "aizasyd-1234567890abcdefghijklmnopqrstu"]
    assert [[f.entity_type for f in fs] for fs in scan_texts(mem, texts)] == [
        ["iban"], ["iban"], ["aws_access_key_id"], ["google_api_key"]]
    # Precision holds: the checksum is still checked, mixed case and word-like runs are not IBANs.
    look_alikes = ["de89370400440532013001", "De89370400440532013000", "de12 have some text here ok",
                   "akiaiosfodnn7example", "aizaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
    assert [[f.entity_type for f in fs] for fs in scan_texts(mem, look_alikes)] == [[]] * len(look_alikes)


def test_a_lower_case_hash_is_not_cut_into_an_iban(mem):
    # sample_logs holds this hash: its first 23 characters pass mod-97 for AE by chance.
    assert scan_texts(mem, ["trace ae1181206685b396ac0119f570fb0a75 done"]) == [[]]


def test_masking_works_again_after_a_pass_that_failed(monkeypatch):
    """mask_values keeps one in-memory connection a process; a pass stopped half-way
    (Ctrl-C, an error) must not leave the next command masking with a broken one."""
    from aimon.analysis.pii import scan as scan_module

    def interrupted(con, texts):
        con.execute("BEGIN TRANSACTION")  # stopped inside a transaction DuckDB has aborted
        with pytest.raises(duckdb.Error):
            con.execute("SELECT error('stopped')")
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(scan_module, "redact_texts", interrupted)
        with pytest.raises(KeyboardInterrupt):
            scan_module.mask_values(["jane.doe@example.com"])
    assert scan_module.mask_values(["write to jane.doe@example.com", "gpt-4o"]) == [
        "write to [REDACTED_EMAIL]", "gpt-4o"]
