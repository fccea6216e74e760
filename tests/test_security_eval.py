"""Acceptance: precision and recall per category on the labelled evaluation set.

The development half was used to tune the rules; the first and second held-out sets
were measured once and then studied; the third (heldout3) was never tuned on. Dev and
the first two held-out sets are asserted at the target (recall >= 0.9, precision >=
0.95), heldout3 at what it measured (benchmarks/README.md), so that a change to the
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
    for split in ("dev", "heldout", "heldout2", "heldout3"):
        labels = {r["label"] for r in records if r["split"] == split}
        assert set(evaluate.CATEGORIES) | {None} == labels


@pytest.mark.parametrize("category", evaluate.CATEGORIES)
def test_dev_half_reaches_the_target(predicted, category):
    records, pred = predicted
    dev = [(r, p) for r, p in zip(records, pred, strict=True) if r["split"] == "dev"]
    s = evaluate.scores([r for r, _ in dev], [p for _, p in dev])[category]
    assert s.recall >= TARGET_RECALL, f"{category} recall {s.recall:.3f}"
    assert s.precision >= TARGET_PRECISION, f"{category} precision {s.precision:.3f}"


# The first held-out half: its misses were studied on 2026-12-06 (after it had been
# measured at the freeze: jailbreak precision 0.929, fake_delimiter recall 0.70, encoded
# 0.71, indirect 0.80) and the rules widened by kind, not by string; it now reaches the
# target. A floor, so rule changes cannot lose it.
HELDOUT_FLOOR = {category: (TARGET_PRECISION, TARGET_RECALL) for category in evaluate.CATEGORIES}

# The second held-out set (heldout2_items.py): measured once when committed, then its
# misses and false positives were studied (2026-12-06, evening) and the rules
# generalised by kind (aimon.analysis.security.families); it now reaches the target.
HELDOUT2_FLOOR = HELDOUT_FLOOR

# The third held-out set (heldout3_items.py), written and committed before that session
# changed any rule, never tuned on: what it measured after the changes
# (benchmarks/README.md), as a floor. Before them: instruction_override 0.867/0.382,
# jailbreak 1.000/0.931, fake_delimiter 0.935/1.000, prompt_extraction 0.952/0.690,
# indirect 1.000/0.773.
HELDOUT3_FLOOR = {  # category: (precision, recall)
    "instruction_override": (0.90, 0.58),
    "jailbreak": (1.0, 0.96),
    "fake_delimiter": (1.0, 0.96),
    "prompt_extraction": (0.96, 0.82),
    "encoded": (1.0, 1.0),
    "indirect": (1.0, 0.86),
    "system_prompt_leak": (1.0, 1.0),
    "exfiltration": (1.0, 1.0),
}


@pytest.mark.parametrize(("split", "floor"), [("heldout", HELDOUT_FLOOR), ("heldout2", HELDOUT2_FLOOR),
                                                ("heldout3", HELDOUT3_FLOOR)])
@pytest.mark.parametrize("category", evaluate.CATEGORIES)
def test_heldout_sets_keep_what_they_measured(predicted, category, split, floor):
    records, pred = predicted
    held = [(r, p) for r, p in zip(records, pred, strict=True) if r["split"] == split]
    s = evaluate.scores([r for r, _ in held], [p for _, p in held])[category]
    precision, recall = floor[category]
    assert s.precision >= precision and s.recall >= recall, (split, category, s.precision, s.recall)
