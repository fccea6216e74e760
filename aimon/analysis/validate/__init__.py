"""``aimon validate``: output validation sweeps over stored responses.

:func:`validate` runs the selected checks over the window's responses that the
current version and settings of each check have not seen, and returns the results;
it never writes (``aimon.store.validations.save_run`` stores them; on a read-only
database the report reads them from memory). Checks and their SQL: ``checks``; the
Python half on candidates: ``candidates``; the summary and gate: ``report``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from aimon.analysis.toolkit.window import Window
from aimon.analysis.validate import candidates as C
from aimon.analysis.validate import checks as K
from aimon.analysis.validate.config import Loaded, load_config
from aimon.errors import UsageError

OUTCOME_SCHEMA = {"request_id": pl.String, "check_name": pl.String, "passed": pl.Boolean, "detail": pl.String}


@dataclass(frozen=True)
class RunStats:
    responses: int
    candidates: int
    seconds: float


@dataclass(frozen=True)
class CheckState:
    name: str
    version: int
    settings: str
    bit: int


@dataclass(frozen=True)
class ValidationRun:
    """Results of one sweep: which requests each check covered and every result that is
    not a pass. Coverage comes in two Arrow tables: ``ranges`` (mask of check bits,
    ingested_at, endpoint, model, prompt_version, ts_from, ts_to, n), each standing for
    every ok request with those keys between the two instants, and ``covered``
    (request_id, ts, mask, model, endpoint, prompt_version), the requests of groups that
    could not be written as a range (see ``checks.COVERED_GROUPS_SQL``)."""

    window: Window
    checks: tuple[CheckState, ...]          # the checks that ran
    skipped: dict[str, str]                 # selected checks that could not run, and why
    covered: Any
    outcomes: pl.DataFrame
    stats: RunStats
    notes: tuple[str, ...] = field(default=())
    ranges: Any = None


def parse_checks(text: str | None) -> tuple[str, ...]:
    """'refusal,truncated' -> those check names (all by default)."""
    if not text:
        return tuple(c.name for c in K.CHECKS)
    names = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name not in K.BY_NAME:
            raise UsageError(f"--checks: unknown check {raw.strip()!r}; use {', '.join(K.BY_NAME)}")
        if name not in names:
            names.append(name)
    if not names:
        raise UsageError("--checks needs at least one of " + ", ".join(K.BY_NAME))
    return tuple(names)


def states(loaded: Loaded, names: tuple[str, ...]) -> tuple[CheckState, ...]:
    return tuple(CheckState(n, K.BY_NAME[n].version, loaded.digest(*K.BY_NAME[n].settings), K.BIT[n]) for n in names)


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND table_name IN ('validation_runs', 'validation_coverage', "
                       "'validation_coverage_ranges')").fetchall()[0][0] == 3


def _params(loaded: Loaded, window: Window, running: tuple[CheckState, ...]) -> tuple[str, dict[str, Any]]:
    c = loaded.config
    eps = sorted(c.endpoints.items())
    params = {
        **window.params(),
        "ep_names": [e for e, _ in eps], "ep_min": [r.min_words for _, r in eps],
        "ep_max": [r.max_words for _, r in eps], "ep_json": [r.json_answer for _, r in eps],
        "ep_schema": [e in loaded.schemas for e, _ in eps],
        "min_words": c.min_words, "max_words": c.max_words, "selected": sum(s.bit for s in running),
        "enough_rx": K.enough_words_rx(max([c.min_words, *(r.min_words or 0 for _, r in eps)])),
        "word_rx": K.WORD_RX, "refusal_rx": K.REFUSAL_RX, "unfinished_rx": K.UNFINISHED_RX,
        "english_rx": K.ENGLISH_RX,
        "cur_names": [s.name for s in running], "cur_versions": [s.version for s in running],
        "cur_settings": [s.settings for s in running], "cur_bits": [s.bit for s in running],
    }
    return K.DONE_SQL, params


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` names (DuckDB refuses extra ones)."""
    import re

    names = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    return {k: v for k, v in params.items() if k in names}


def _sql(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> Any:
    return con.execute(sql, _used(sql, params))


def pending(con: duckdb.DuckDBPyConnection, window: Window, loaded: Loaded, names: tuple[str, ...]) -> int:
    """How many responses in the window some selected, runnable check has not covered."""
    running = tuple(s for s in states(loaded, names) if s.name != "off_topic" or C.embedding_layer()[0])
    if not running:
        return 0
    done, params = _params(loaded, window, running)
    if not _has_tables(con):
        done = "SELECT NULL::VARCHAR AS request_id, 0 AS mask WHERE false"
    return _sql(con, K.PENDING_SQL.replace("{done}", done), params).fetchall()[0][0]


def _python_outcomes(con, loaded: Loaded, rows: list[tuple], embedding, limit: int) -> tuple[list[dict], set[str]]:
    """Outcomes of the checks done in Python, and the requests whose off_topic ran."""
    out: list[dict] = []
    to_embed: list[tuple[str, str, str]] = []
    for request_id, _todo, endpoint, text, prompt, loop, language, schema, embeddable in rows:
        if loop and (why := C.repetition(text, loaded.config.repetition_share)):
            out.append({"request_id": request_id, "check_name": "repetition", "passed": False, "detail": why})
        if language and (why := C.language_mismatch(prompt, text)):
            out.append({"request_id": request_id, "check_name": "language_mismatch", "passed": False, "detail": why})
        if schema and (why := C.schema_error(text, loaded.schemas[endpoint])):
            out.append({"request_id": request_id, "check_name": "invalid_json", "passed": False, "detail": why})
        if embeddable and embedding is not None and len(to_embed) < limit:
            to_embed.append((request_id, prompt, None))
    embedded: set[str] = set()
    if to_embed:
        ids = [r[0] for r in to_embed]
        responses = dict(con.execute("SELECT request_id, response FROM requests WHERE list_contains($ids, request_id)",
                                     {"ids": ids}).fetchall())
        sims = C.similarities(embedding, con, [r[1] for r in to_embed], [responses[i] for i in ids])
        threshold = loaded.config.off_topic_threshold
        for request_id, sim in zip(ids, sims, strict=True):
            embedded.add(request_id)
            if sim < threshold:
                out.append({"request_id": request_id, "check_name": "off_topic", "passed": False,
                            "detail": f"similarity {sim:.2f} (threshold {threshold:.2f})"})
    return out, embedded


COVERED_WITH_EMBEDDED_SQL = """
SELECT c.request_id, c.ts,
       CASE WHEN e.request_id IS NULL AND c.embeddable THEN c.todo & ~$off_bit ELSE c.todo END AS todo,
       c.model, c.endpoint, c.prompt_version
FROM _aimon_checked c LEFT JOIN _aimon_embedded e USING (request_id)
"""
NOT_EMBEDDABLE_SQL = """
SELECT request_id, 'off_topic' AS check_name, NULL::BOOLEAN AS passed,
       'no prompt or response to compare' AS detail
FROM _aimon_checked WHERE (todo & $off_bit) <> 0 AND embeddable IS NULL
"""


def validate(con: duckdb.DuckDBPyConnection, window: Window, loaded: Loaded, names: tuple[str, ...]) -> ValidationRun:
    """Run the selected checks over the window's pending responses. Reads only."""
    import pyarrow as pa

    began = time.perf_counter()
    embedding, why = C.embedding_layer() if "off_topic" in names else (None, None)
    skipped = {"off_topic": why} if "off_topic" in names and embedding is None else {}
    running = tuple(s for s in states(loaded, names) if s.name not in skipped)
    done, params = _params(loaded, window, running)
    if not _has_tables(con):
        done = "SELECT NULL::VARCHAR AS request_id, 0 AS mask WHERE false"
    params["off_bit"] = K.BIT["off_topic"]
    # The identifier's model loads in a thread while DuckDB (outside the GIL) runs the pass.
    loading = C.warm_up() if any(s.name == "language_mismatch" for s in running) else None
    _sql(con, K.CHECKED_SQL.replace("{done}", done), params).fetchall()
    if loading is not None:
        loading.join()
    try:
        sql_outcomes = con.sql(K.OUTCOMES_SQL).pl()
        rows = con.execute(K.CANDIDATES_SQL).fetchall()
        py_outcomes, embedded = _python_outcomes(con, loaded, rows, embedding, loaded.config.off_topic_limit)
        frames = [sql_outcomes.cast(OUTCOME_SCHEMA), pl.DataFrame(py_outcomes, schema=OUTCOME_SCHEMA)]
        if embedding is not None:
            con.register("_aimon_embedded", pa.table({"request_id": pa.array(sorted(embedded), pa.string())}))
            try:
                covered = con.sql(COVERED_WITH_EMBEDDED_SQL, params={"off_bit": K.BIT["off_topic"]}).to_arrow_table()
            finally:
                con.unregister("_aimon_embedded")
            frames.append(con.sql(NOT_EMBEDDABLE_SQL, params={"off_bit": K.BIT["off_topic"]}).pl().cast(OUTCOME_SCHEMA))
            ranges = no_ranges()
        else:
            covered, ranges = _covered(con, done, params)
    finally:
        con.execute(K.DROP_SQL)
    outcomes = pl.concat(frames, how="vertical")
    responses = covered.num_rows + sum(ranges.column("n").to_pylist())
    stats = RunStats(responses=responses, candidates=len(rows), seconds=time.perf_counter() - began)
    return ValidationRun(window=window, checks=running, skipped=skipped, covered=covered.rename_columns(
        ["request_id", "ts", "mask", "model", "endpoint", "prompt_version"]), outcomes=outcomes, stats=stats,
        ranges=ranges)


def no_ranges() -> Any:
    """An empty ``ValidationRun.ranges``."""
    import pyarrow as pa

    return pa.table({"mask": pa.array([], pa.int32()), "ingested_at": pa.array([], pa.timestamp("us", tz="UTC")),
                     "endpoint": pa.array([], pa.string()), "model": pa.array([], pa.string()),
                     "prompt_version": pa.array([], pa.string()), "ts_from": pa.array([], pa.timestamp("us", tz="UTC")),
                     "ts_to": pa.array([], pa.timestamp("us", tz="UTC")), "n": pa.array([], pa.int64())})


def _covered(con: duckdb.DuckDBPyConnection, done: str, params: dict[str, Any]) -> tuple[Any, Any]:
    """What the pass covered: whole groups as ranges, the requests of the others one by one
    (read again only when there are such groups: a sweep of new rows has none)."""
    sql = K.COVERED_GROUPS_SQL.replace("{done}", done)
    _sql(con, sql, params)
    ranges = con.sql(K.COVERED_RANGES_SQL).to_arrow_table()
    sql = K.COVERED_SQL.replace("{done}", done)
    if con.execute("SELECT count(*) FROM _aimon_covered_groups WHERE todo <> 0 AND NOT whole").fetchall()[0][0]:
        covered = con.sql(sql, params=_used(sql, params)).to_arrow_table()
    else:
        covered = con.sql(f"SELECT * FROM ({sql}) LIMIT 0", params=_used(sql, params)).to_arrow_table()
    return covered, ranges


__all__ = ["ValidationRun", "load_config", "no_ranges", "parse_checks", "pending", "validate"]
