"""Acceptance: precision and recall per category on the labelled evaluation set.

The development half was used to tune the rules; the held-out half was not. Both are
asserted: dev at the target (recall >= 0.9, precision >= 0.95), held-out at what it
measured when the rules were frozen (benchmarks/README.md), so that a change to the
rules that loses held-out accuracy fails here."""

from __future__ import annotations

import pytest

from tests.security_eval import evaluate, generate

TARGET_RECALL = 0.9
TARGET_PRECISION = 0.95


@pytest.fixture(scope="module")
def predicted():
    records = evaluate.load()
    return records, evaluate.predict(records)


def test_the_committed_set_matches_its_generator():
    assert evaluate.load() == generate.generate()


def test_every_category_is_in_both_halves(predicted):
    records, _ = predicted
    for split in ("dev", "heldout"):
        labels = {r["label"] for r in records if r["split"] == split}
        assert set(evaluate.CATEGORIES) | {None} == labels


@pytest.mark.parametrize("category", evaluate.CATEGORIES)
def test_dev_half_reaches_the_target(predicted, category):
    records, pred = predicted
    dev = [(r, p) for r, p in zip(records, pred, strict=True) if r["split"] == "dev"]
    s = evaluate.scores([r for r, _ in dev], [p for _, p in dev])[category]
    assert s.recall >= TARGET_RECALL, f"{category} recall {s.recall:.3f}"
    assert s.precision >= TARGET_PRECISION, f"{category} precision {s.precision:.3f}"


# Held-out scores measured once when the rules were frozen after tuning on dev (never
# tuned on since; benchmarks/README.md): a floor, so rule changes cannot lose them.
HELDOUT_FLOOR = {  # category: (precision, recall)
    "instruction_override": (1.0, 1.0),
    "jailbreak": (0.92, 1.0),
    "fake_delimiter": (1.0, 0.70),
    "prompt_extraction": (1.0, 0.92),
    "encoded": (1.0, 0.71),
    "indirect": (1.0, 0.80),
    "system_prompt_leak": (1.0, 1.0),
    "exfiltration": (1.0, 1.0),
}


@pytest.mark.parametrize("category", evaluate.CATEGORIES)
def test_heldout_half_keeps_what_it_measured_at_the_freeze(predicted, category):
    records, pred = predicted
    held = [(r, p) for r, p in zip(records, pred, strict=True) if r["split"] == "heldout"]
    s = evaluate.scores([r for r, _ in held], [p for _, p in held])[category]
    precision, recall = HELDOUT_FLOOR[category]
    assert s.precision >= precision and s.recall >= recall, (category, s.precision, s.recall)
