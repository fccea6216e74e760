"""Golden answers: how close are logged answers to the reference answer of their question?

A golden file is JSON lines of ``{"question_id", "question", "reference_answer"}``.
Requests are matched to a golden question by a ``question_id`` the log carries (in
``extra``: ``question_id`` or ``metadata.question_id``), else by the nearest golden
question to the request's prompt when their cosine similarity reaches the match
threshold. Each matched answer is scored by its cosine similarity to the reference
answer; answers below the threshold are flagged, and the score is followed per question
per day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimon.analysis.toolkit.gate import Breach, Verdict
from aimon.analysis.toolkit.window import Window
from aimon.errors import InputError

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from aimon.analysis.toolkit.embedding import EmbedStats

MAX_GOLDEN_BYTES = 50_000_000
SNIPPET = 160


@dataclass(frozen=True)
class Golden:
    question_id: str
    question: str
    reference_answer: str


def load_golden(path: Path) -> list[Golden]:
    """Read and check a golden file; InputError naming the line on any problem."""
    try:
        if path.stat().st_size > MAX_GOLDEN_BYTES:
            raise InputError(f"--golden {path}: larger than {MAX_GOLDEN_BYTES:,} bytes")
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"--golden {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"--golden {path}: not UTF-8 text") from None
    out, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise InputError(f"--golden {path}:{number}: not a JSON object") from None
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) and rec[k].strip()
                                                for k in ("question_id", "question", "reference_answer")):
            raise InputError(f"--golden {path}:{number}: needs non-empty string question_id, question "
                             "and reference_answer")
        if rec["question_id"] in seen:
            raise InputError(f"--golden {path}:{number}: question_id {rec['question_id']!r} repeats")
        seen.add(rec["question_id"])
        out.append(Golden(rec["question_id"], rec["question"], rec["reference_answer"]))
    if not out:
        raise InputError(f"--golden {path}: no questions")
    return out


CANDIDATES_SQL = """
SELECT request_id, ts, CAST(date_trunc('day', ts) AS DATE) AS day, endpoint, prompt, response,
       coalesce(json_extract_string(extra, '$.question_id'),
                json_extract_string(extra, '$.metadata.question_id')) AS logged_question_id
FROM requests
WHERE ts >= $start AND ts < $end AND status = 'ok' AND response IS NOT NULL {filters}
ORDER BY md5($seed || request_id)
LIMIT $n
"""


@dataclass(frozen=True)
class GoldenReport:
    title: str
    window: Window
    threshold: float
    match_threshold: float
    questions: pl.DataFrame  # per golden question
    daily: pl.DataFrame  # per question per day
    flagged: pl.DataFrame  # answers below the threshold, worst first
    requests_considered: int
    requests_in_window: int
    sample: int
    seed: int
    embeddings: EmbedStats | None
    pii_shown: bool
    notes: list[str] = field(default_factory=list)


def judge(report: GoldenReport) -> Verdict:
    """--fail-on-below: every answer below the threshold, counted over all the scored
    answers (``flagged`` lists only the worst 50)."""
    below = int(report.questions["below_threshold"].sum() or 0) if report.questions.height else 0
    breaches = (Breach("below", {"answers": below, "threshold": report.threshold}),) if below else ()
    return Verdict(f"below {report.threshold}", breaches)


def _snip(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= SNIPPET else flat[:SNIPPET - 1] + "…"


def golden_report(con: duckdb.DuckDBPyConnection, window: Window, golden: list[Golden], *,
                  threshold: float = 0.8, match_threshold: float = 0.8, endpoint: str | None = None,
                  sample: int = 5000, seed: int = 0, show_pii: bool = False, model: Any = None,
                  progress: Any = None) -> GoldenReport:
    """Score the window's answers to golden questions against their reference answers."""
    import polars as pl

    from aimon.analysis.pii.scan import redact_texts
    from aimon.analysis.toolkit import embedding

    embedding.require(model)
    con.complete()
    params: dict[str, Any] = {**window.params(), "seed": str(seed), "n": sample}
    filters = ""
    if endpoint is not None:
        filters, params["endpoint"] = "AND endpoint = $endpoint", endpoint
    frame = con.sql(CANDIDATES_SQL.format(filters=filters), params=params).pl()
    total = con.execute("SELECT count(*) FROM requests WHERE ts >= $start AND ts < $end AND status = 'ok' "
                        "AND response IS NOT NULL" + (" AND endpoint = $endpoint" if endpoint else ""),
                        {k: v for k, v in params.items() if k in ("start", "end", "endpoint")}).fetchall()[0][0]
    ids = {g.question_id: i for i, g in enumerate(golden)}
    logged = [ids.get(q) if q is not None else None for q in frame["logged_question_id"].to_list()]
    need_prompt = [i for i, q in enumerate(logged) if q is None and frame["prompt"][i] is not None]
    texts = [g.question for g in golden] + [g.reference_answer for g in golden] + \
        [frame["prompt"][i] for i in need_prompt]
    vectors, _ = embedding.embed_with_stats(con, texts, model=model, progress=progress)
    q_vec, ref_vec, p_vec = vectors[:len(golden)], vectors[len(golden):2 * len(golden)], vectors[2 * len(golden):]
    match = np.array([-1 if q is None else q for q in logged], dtype=np.int64)
    match_score = np.full(len(match), np.nan)
    match_score[match >= 0] = 1.0
    if len(need_prompt):
        sims = p_vec @ q_vec.T
        best = sims.argmax(axis=1)
        ok = sims[np.arange(len(best)), best] >= match_threshold
        idx = np.asarray(need_prompt)
        match[idx[ok]] = best[ok]
        match_score[idx] = sims[np.arange(len(best)), best]
    matched = np.flatnonzero(match >= 0)
    answers = [frame["response"][int(i)] for i in matched]
    a_vec, stats = embedding.embed_with_stats(con, answers, model=model, progress=progress) if answers \
        else (np.zeros((0, q_vec.shape[1]), np.float32), None)
    score = (a_vec * ref_vec[match[matched]]).sum(axis=1) if len(matched) else np.zeros(0)
    scored = pl.DataFrame({
        "request_id": frame["request_id"].gather(matched), "ts": frame["ts"].gather(matched),
        "day": frame["day"].gather(matched),
        "question_id": [golden[int(q)].question_id for q in match[matched]],
        "matched_by": ["question_id" if logged[int(i)] is not None else "prompt" for i in matched],
        "match_similarity": match_score[matched], "similarity": score.astype(float),
        "answer": answers}, schema_overrides={"ts": pl.Datetime("us", "UTC")})
    scored = scored.with_columns((pl.col("similarity") < threshold).alias("below"))
    questions = _per_question(scored, golden, show_pii, con)
    daily = scored.group_by("question_id", "day").agg(
        pl.len().alias("answers"), pl.col("similarity").mean().alias("mean_similarity"),
        pl.col("below").mean().alias("share_below")).sort("question_id", "day")
    flagged = scored.filter(pl.col("below")).sort("similarity", "request_id").head(50)
    shown = flagged["answer"].to_list() if show_pii else redact_texts(con, flagged["answer"].to_list())
    flagged = flagged.with_columns(pl.Series("answer", [_snip(t) for t in shown], dtype=pl.String)) \
        .select("request_id", "ts", "question_id", "matched_by", "similarity", "answer")
    notes = []
    if total > len(frame):
        notes.append(f"sampled {len(frame):,} of {total:,} answered requests (seed {seed})")
    unmatched = questions.filter(pl.col("answers") == 0)["question_id"].to_list()
    if unmatched:
        notes.append(f"{len(unmatched)} golden question(s) matched no request: {', '.join(unmatched[:10])}")
    return GoldenReport(title="Answers against golden answers", window=window, threshold=threshold,
                        match_threshold=match_threshold, questions=questions, daily=daily, flagged=flagged,
                        requests_considered=len(frame), requests_in_window=int(total), sample=sample, seed=seed,
                        embeddings=stats, pii_shown=show_pii, notes=notes)


def _per_question(scored: pl.DataFrame, golden: list[Golden], show_pii: bool, con: Any) -> pl.DataFrame:
    import polars as pl

    from aimon.analysis.pii.scan import redact_texts

    agg = scored.group_by("question_id").agg(
        pl.len().alias("answers"), pl.col("similarity").mean().alias("mean_similarity"),
        pl.col("similarity").min().alias("min_similarity"), pl.col("below").sum().alias("below_threshold"))
    questions = [g.question for g in golden]
    shown = questions if show_pii else redact_texts(con, questions)
    base = pl.DataFrame({"question_id": [g.question_id for g in golden],
                         "question": [_snip(q) for q in shown]})
    out = base.join(agg, on="question_id", how="left").with_columns(
        pl.col("answers").fill_null(0), pl.col("below_threshold").fill_null(0))
    return out.with_columns((pl.col("below_threshold") / pl.col("answers")).alias("share_below")) \
        .sort(["mean_similarity", "question_id"], nulls_last=True)
