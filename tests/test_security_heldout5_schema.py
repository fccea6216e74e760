"""The shape of the blind set tests/data/security/heldout5.jsonl (see tests/data/security/README.md).

Only the set itself is checked here: one JSON object a line that the evaluation loader
accepts, enough texts in every category, no text twice, and every encoded payload really
decoding to the instruction it is labelled with. What the detector makes of the set is
measured once by benchmarks/security.py, not asserted here, so the set stays blind.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
import unicodedata
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest

from tests.security_eval import evaluate

SET = Path(__file__).resolve().parent / "data" / "security" / "heldout5.jsonl"
FIELDS = {"text", "field", "category", "language", "obfuscation", "note", "payload", "decoded"}
REQUIRED = {"text", "field", "category", "language", "note"}
MIN_POSITIVES, MIN_BENIGN, MIN_TOTAL = 50, 180, 480

DECODE = {
    "base64": lambda p: base64.b64decode(p, validate=True).decode("utf-8"),
    "base64url": lambda p: base64.urlsafe_b64decode(p).decode("utf-8"),
    "hex": lambda p: bytes.fromhex(p).decode("utf-8"),
    "hex_spaced": lambda p: bytes.fromhex(p).decode("utf-8"),
    "rot13": lambda p: codecs.decode(p, "rot13"),
    "url": lambda p: urllib.parse.unquote(p, errors="strict"),
}


def _has(text: str, lo: int, hi: int) -> bool:
    return any(lo <= ord(c) <= hi for c in text)


# Each obfuscation label must be visible in the text itself, or the per-technique
# figures would count texts that carry no obfuscation.
MARKS = {
    "zero_width": lambda t: any(c in t for c in "\u200b\u200c\u200d\u2060\ufeff"),
    "homoglyph": lambda t: _has(t, 0x0370, 0x04FF) and any("a" <= c.lower() <= "z" for c in t),
    "fullwidth": lambda t: _has(t, 0xFF01, 0xFF5E),
    "math_letters": lambda t: _has(t, 0x1D400, 0x1D7FF),
    "tag_chars": lambda t: _has(t, 0xE0000, 0xE007F),
    "spaced": lambda t: any(w.count(" ") >= 5 or w.count("-") >= 5 or w.count(".") >= 4
                            for w in t.split("  ")),
    "leetspeak": lambda t: any(any(c.isdigit() for c in w) and any(c.isalpha() for c in w)
                               for w in t.split()),
    "mixed_case": lambda t: any(sum(a.islower() != b.islower() for a, b in zip(w, w[1:], strict=False)) >= 3
                                for w in re.findall("[A-Za-z]+", t)),
}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with SET.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_every_line_is_one_object_with_the_schema_fields(rows):
    for i, r in enumerate(rows):
        assert isinstance(r, dict), i
        assert REQUIRED <= r.keys() <= FIELDS, (i, sorted(r.keys()))
        assert isinstance(r["text"], str) and r["text"].strip(), i
        assert r["field"] == "prompt", i
        assert r["note"].strip() and r["language"], i


def test_the_loader_reads_every_record_with_a_known_label():
    records = evaluate.load(SET)
    labels = Counter(r["label"] for r in records)
    assert set(labels) <= {None, *evaluate.INJECTION}
    assert all(r["split"] == "heldout5" for r in records)


def test_enough_texts_in_every_category(rows):
    counts = Counter(r["category"] for r in rows)
    assert set(counts) == {"benign", *evaluate.INJECTION}
    for c in evaluate.INJECTION:
        assert counts[c] >= MIN_POSITIVES, (c, counts[c])
    assert counts["benign"] >= MIN_BENIGN
    assert len(rows) >= MIN_TOTAL


def test_no_text_twice_even_after_case_and_width_folding(rows):
    folded = Counter(unicodedata.normalize("NFKC", r["text"]).casefold().strip() for r in rows)
    assert [t for t, n in folded.items() if n > 1] == []


def test_every_encoded_payload_is_in_its_text_and_decodes_to_its_label(rows):
    encoded = [r for r in rows if r.get("obfuscation") in DECODE]
    assert len(encoded) >= MIN_POSITIVES
    for r in encoded:
        assert r["payload"] in r["text"], r["note"]
        assert DECODE[r["obfuscation"]](r["payload"]) == r["decoded"], r["note"]
    assert all(r.get("obfuscation") in DECODE for r in rows if r["category"] == "encoded")
    assert all("payload" not in r for r in rows if r.get("obfuscation") not in DECODE)


def test_every_obfuscation_label_is_visible_in_its_text(rows):
    for r in rows:
        o = r.get("obfuscation")
        if o in DECODE or o is None:
            continue
        assert o in MARKS, o
        assert MARKS[o](r["text"]), (o, r["note"])


def test_positives_span_languages_and_obfuscations(rows):
    positives = [r for r in rows if r["category"] != "benign"]
    languages = Counter(r["language"] for r in positives)
    assert {"en", "es", "fr", "de", "zh", "pt", "it", "ja", "ru"} <= set(languages)
    hard = [r for r in rows if r["category"] == "benign" and r["language"] != "en"]
    assert len(hard) >= 40
