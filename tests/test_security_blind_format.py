"""The format of the blind sets tests/data/security/heldout6.jsonl to heldout12.jsonl
(see HELDOUT6.md to HELDOUT12.md there).

Only the files are checked: one JSON object a line with the sets' fields, a known label,
no text twice, at least 600 lines, and every encoded payload decoding to the text it is
labelled with. The detector is deliberately not run here: a set is measured once, and
a test that showed its misses would let them be tuned away, which ends its blindness.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest

SETS = Path(__file__).resolve().parent / "data" / "security"
# heldout6 is prompts only; a few texts of heldout7 to heldout12 are an agent's own
# output quoting a fetched page or a tool's result, as in heldout4, scored in the response field.
FIELDS = {"heldout6.jsonl": {"prompt"}, "heldout7.jsonl": {"prompt", "response"},
          "heldout8.jsonl": {"prompt", "response"}, "heldout9.jsonl": {"prompt", "response"},
          "heldout10.jsonl": {"prompt", "response"},
          "heldout11.jsonl": {"prompt", "response"},
          "heldout12.jsonl": {"prompt", "response"}}

LABELS = {"benign", "instruction_override", "jailbreak", "fake_delimiter",
          "prompt_extraction", "encoded", "indirect"}
REQUIRED = {"text", "field", "category", "language", "obfuscation", "note"}
ENCODED_KEYS = {"payload", "decoded"}
# One vocabulary, so that a per-obfuscation breakdown covers both sets.
OBFUSCATIONS = {None, "base64", "base64url", "hex", "hex_spaced", "rot13", "url",
                "zero_width", "homoglyph", "spaced", "leetspeak", "mixed_case", "fullwidth"}
MIN_LINES, MIN_PER_ATTACK_LABEL = 600, 50


def _b64url(p: str) -> str:
    # Stored unpadded, as URL-safe base64 usually travels.
    return base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode("utf-8")


DECODE = {
    "base64": lambda p: base64.b64decode(p, validate=True).decode("utf-8"),
    "base64url": _b64url,
    "hex": lambda p: bytes.fromhex(p).decode("utf-8"),
    "hex_spaced": lambda p: bytes.fromhex(p).decode("utf-8"),
    "rot13": lambda p: codecs.decode(p, "rot13"),
    "url": lambda p: urllib.parse.unquote(p, errors="strict"),
}


@pytest.fixture(scope="module", params=sorted(FIELDS))
def named_rows(request) -> tuple[str, list[dict]]:
    with (SETS / request.param).open(encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert all(line.strip() for line in lines), "blank line in the set"
    return request.param, [json.loads(line) for line in lines]


@pytest.fixture
def rows(named_rows) -> list[dict]:
    return named_rows[1]


def test_enough_lines(rows):
    assert len(rows) >= MIN_LINES


def test_every_line_has_the_fields_and_a_known_label(named_rows):
    name, rows = named_rows
    for i, r in enumerate(rows):
        assert isinstance(r, dict), i
        assert REQUIRED <= r.keys() <= REQUIRED | ENCODED_KEYS, (i, sorted(r))
        assert isinstance(r["text"], str) and r["text"].strip(), i
        assert r["field"] in FIELDS[name], i
        assert r["obfuscation"] in OBFUSCATIONS, (i, r["obfuscation"])
        assert r["category"] in LABELS, (i, r["category"])
        assert r["language"] and r["note"].strip(), i


def test_no_text_twice(rows):
    # Whitespace and case folded too: a near copy would count one text twice.
    folded = Counter(" ".join(r["text"].lower().split()) for r in rows)
    assert [t for t, n in folded.items() if n > 1] == []


def test_every_attack_label_is_well_represented(rows):
    counts = Counter(r["category"] for r in rows)
    assert set(counts) == LABELS
    assert all(counts[c] >= MIN_PER_ATTACK_LABEL for c in LABELS - {"benign"}), counts
    assert 0.35 <= counts["benign"] / len(rows) <= 0.45, counts


def test_encoded_payloads_are_in_the_text_and_decode_to_their_label(rows):
    encoded = [r for r in rows if "payload" in r]
    # Benign texts may carry a harmless payload (hard negatives); every attack labelled
    # encoded must carry the one it smuggles.
    assert {r["category"] for r in encoded} <= {"encoded", "benign"}
    assert all("payload" in r for r in rows if r["category"] == "encoded")
    for r in encoded:
        assert r["payload"] in r["text"], r["note"]
        out = DECODE[r["obfuscation"]](r["payload"])
        if "nested" in r["note"]:
            out = DECODE[r["obfuscation"]](out)
        assert out == r["decoded"], r["note"]


def test_decoders_reject_a_wrong_payload():
    # The decode check above is only worth something if a corrupt payload fails it.
    with pytest.raises(binascii.Error):
        DECODE["base64"]("not*base64")
