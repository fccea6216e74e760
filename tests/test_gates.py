"""--fail-on gates judged in the analysis (a Verdict of breaches with their figures) and
worded by render; the commands' exit codes and messages are in test_exit_contract.py."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from aimon.analysis.similarity import GoldenReport, judge
from aimon.analysis.toolkit.gate import Breach, Verdict, at_or_above
from aimon.analysis.toolkit.window import Window
from aimon.render.similarity import gate_message


def _golden_report(below_per_question: list[int], listed: int) -> GoldenReport:
    n = len(below_per_question)
    questions = pl.DataFrame({"question_id": [f"q{i}" for i in range(n)], "answers": [100] * n,
                              "below_threshold": below_per_question})
    flagged = pl.DataFrame({"request_id": [f"r{i}" for i in range(listed)], "similarity": [0.1] * listed})
    t = datetime(2026, 11, 1, tzinfo=UTC)
    return GoldenReport(title="t", window=Window(t, t), threshold=0.8, match_threshold=0.8, questions=questions,
                        daily=pl.DataFrame(), flagged=flagged, requests_considered=200, requests_in_window=200,
                        sample=5000, seed=0, embeddings=None, pii_shown=False)


def test_fail_on_below_counts_every_answer_below_not_the_50_listed():
    # The command used to count the rows of `flagged`, which holds the worst 50 only:
    # 70 answers below the threshold read "50 answer(s) below similarity 0.8".
    verdict = judge(_golden_report([30, 40], listed=50))
    assert verdict.failed
    assert gate_message(verdict) == "70 answer(s) below similarity 0.8 (--fail-on-below)"


def test_fail_on_below_passes_when_no_answer_is_below():
    assert not judge(_golden_report([0, 0], listed=0)).failed
    assert not judge(_golden_report([], listed=0)).failed


def test_a_verdict_fails_on_any_breach_and_severities_rank_gravest_first():
    assert not Verdict("P1").failed
    assert Verdict("P1", (Breach("P0", {"id": 1}),)).failed
    order = ("P0", "P1", "P2", "P3")
    assert at_or_above("P0", "P1", order) and at_or_above("P1", "P1", order)
    assert not at_or_above("P2", "P1", order)
