"""The training-only sets tests/data/security/train8a-f.jsonl, train9a-f.jsonl,
train10a-d.jsonl and train12a-b.jsonl (see TRAIN8A.md and the others there): what benchmarks/security_model.py
and benchmarks/security_finetune.py read from them.

As with the blind sets (test_security_blind_format.py), the detector is not run here.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.security_eval import evaluate as E
from tests.test_security_blind_format import DECODE

SETS = Path(__file__).resolve().parent / "data" / "security"
NAMES = [*(f"train8{x}.jsonl" for x in "abcdef"), *(f"train9{x}.jsonl" for x in "abcd")]
# Ordinary product traffic only: every text benign (train10a-c: agent, pasted-content and
# retrieval traffic, some 350-550 texts each; train12a: users instructing the product).
BENIGN_ONLY = ["train9e.jsonl", "train9f.jsonl", "train10a.jsonl", "train10b.jsonl", "train10c.jsonl",
               "train12a.jsonl"]
# Indirect injections in agent and retrieval traffic beside their benign twins.
INDIRECT_ONLY = ["train10d.jsonl"]
# Personas, plain overrides and extraction, three in four not in English, beside benign
# role-play and questions about jailbreaks (train12b).
PERSONAS = ["train12b.jsonl"]


def repeated(records: list[dict]) -> list[str]:
    """Texts given twice, case and white space folded: a near copy counts one text twice."""
    folded = Counter(" ".join(r["text"].lower().split()) for r in records)
    return [t for t, n in folded.items() if n > 1]


@pytest.fixture(scope="module", params=NAMES)
def records(request) -> list[dict]:
    return E.load(SETS / request.param)


def test_every_text_is_a_labelled_prompt_once(records):
    assert len(records) >= 450
    assert {r["field"] for r in records} == {"prompt"}
    labels = Counter(r["label"] or "benign" for r in records)
    assert set(labels) == {"benign", *E.INJECTION}, labels
    assert repeated(records) == []


def test_encoded_payloads_decode_to_what_they_are_labelled_with():
    for name in (*NAMES, *INDIRECT_ONLY):
        rows = [json.loads(line) for line in (SETS / name).read_text(encoding="utf-8").splitlines() if line.strip()]
        encoded = [r for r in rows if "payload" in r]
        assert encoded or name in INDIRECT_ONLY, name
        assert all("payload" in r for r in rows if r["category"] == "encoded"), name
        for r in encoded:
            out = DECODE[r["obfuscation"]](r["payload"])
            if "nested" in r["note"] or "twice" in r["note"]:
                out = DECODE[r["obfuscation"]](out)
            assert out == r["decoded"], (name, r["note"])


@pytest.mark.parametrize("name", BENIGN_ONLY)
def test_the_ordinary_traffic_sets_are_benign_prompts_once(name):
    records = E.load(SETS / name)
    assert len(records) >= 350
    assert {r["label"] for r in records} == {None} and {r["field"] for r in records} == {"prompt"}
    assert repeated(records) == []


@pytest.mark.parametrize("name", INDIRECT_ONLY)
def test_the_indirect_set_is_attacks_and_twins_once(name):
    records = E.load(SETS / name)
    labels = Counter(r["label"] or "benign" for r in records)
    assert set(labels) == {"benign", "indirect"} and min(labels.values()) >= 200, labels
    assert {r["field"] for r in records} == {"prompt"}
    assert repeated(records) == []


@pytest.mark.parametrize("name", PERSONAS)
def test_the_persona_set_is_what_it_says_once(name):
    records = E.load(SETS / name)
    labels = Counter(r["label"] or "benign" for r in records)
    assert set(labels) == {"benign", "jailbreak", "instruction_override", "prompt_extraction"}, labels
    assert min(labels.values()) >= 80 and {r["field"] for r in records} == {"prompt"}
    assert sum(r["language"] != "en" for r in records) >= 0.7 * len(records)
    assert repeated(records) == []
