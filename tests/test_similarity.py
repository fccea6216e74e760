"""`aimon similarity` and `aimon cost cache-opportunity`: the golden file's checks, golden
matching on sample_logs, consistency, and the cache's hit arithmetic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aimon.analysis.similarity import load_golden
from aimon.analysis.similarity.repeats import _earlier_neighbour
from aimon.errors import InputError
from tests.conftest import SAMPLE_LOGS, request


def test_the_shipped_golden_file_loads():
    questions = load_golden(SAMPLE_LOGS / "golden.jsonl")
    assert len(questions) >= 5 and len({q.question_id for q in questions}) == len(questions)


@pytest.mark.parametrize(("content", "message"), [
    ('{"question_id": "a", "question": "q"}\n', "reference_answer"),
    ("not json\n", ":1: not a JSON object"),
    ('{"question_id": "a", "question": "q", "reference_answer": "r"}\n' * 2, "repeats"),
    ("\n\n", "no questions"),
    ('[1, 2]\n', "needs non-empty"),
])
def test_a_bad_golden_file_is_refused_with_its_line(tmp_path, content, message):
    path = tmp_path / "g.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_golden(path)


def test_only_earlier_prompts_count_as_cache_hits():
    v = np.array([[1.0, 0], [1.0, 0], [0, 1.0], [0.99, 0.141]])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert _earlier_neighbour(v, 0.95).tolist() == [-1, 0, -1, 0]


@pytest.mark.slow
def test_golden_answers_on_sample_logs(cli, sample_db_copy):
    result = cli("similarity", "--golden", SAMPLE_LOGS / "golden.jsonl", "--db", sample_db_copy,
                 "--endpoint", "/support-bot", "--sample", "600", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    matched = {q["question_id"]: q["answers"] for q in report["questions"]}
    assert sum(matched.values()) > 0 and matched["refund-timing"] > 0
    assert all(-1 <= f["similarity"] < 0.8 for f in report["flagged"])
    assert report["daily"] and {"question_id", "day", "mean_similarity"} <= set(report["daily"][0])
    assert report["sampling"]["sampled"] and report["sampling"]["seed"] == 0


@pytest.mark.slow
def test_consistency_and_cache_opportunity(cli, write_jsonl, db_path):
    records = []
    for i in range(12):
        records.append(request(request_id=f"a{i}", timestamp=f"2026-11-01T10:{i:02d}:00Z", cost_usd=0.01,
                               prompt="What is the refund policy?",
                               response=["Refunds within 30 days.", "We never refund anything, sorry.",
                                         "You can ask for a refund within 30 days."][i % 3]))
    records.append(request(request_id="b0", timestamp="2026-11-01T11:00:00Z", cost_usd=0.02,
                           prompt="What's the refund policy?"))
    records.append(request(request_id="c0", timestamp="2026-11-01T12:00:00Z", cost_usd=0.04,
                           prompt="Write a poem about the sea for jane@example.com"))
    assert cli("ingest", write_jsonl("r.jsonl", records), "--db", db_path).exit_code == 0
    result = cli("similarity", "consistency", "--db", db_path, "--format", "json")
    assert result.exit_code == 0, result.output
    (prompt,) = json.loads(result.stdout)["prompts"]
    assert prompt["asked"] == 12 and prompt["distinct_answers"] == 3 and prompt["min_similarity"] < 0.9
    result = cli("cost", "cache-opportunity", "--db", db_path, "--format", "json", "--similarity", "0.9")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (row,) = report["by_endpoint"]
    assert row["exact_repeats"] == 11 and row["near_duplicates"] == 1 and row["requests"] == 14
    assert row["saved_usd"] == pytest.approx(11 * 0.01 + 0.02)
    assert "jane@example.com" not in result.stdout


def test_similarity_without_golden_or_subcommand_is_a_usage_error(cli, db_path, write_jsonl):
    assert cli("ingest", write_jsonl("r.jsonl", [request()]), "--db", db_path).exit_code == 0
    result = cli("similarity", "--db", db_path)
    assert result.exit_code == 2 and "--golden" in result.output
