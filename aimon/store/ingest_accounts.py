"""Every record accounted for: what happened to one file's records, the run's summary
(records = loaded + duplicates + rejected), and the rejects that say, line by line, why
a record did not load, with its text as read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

import duckdb

from aimon.store import reader
from aimon.store.reader import LogFile
from aimon.store.shapes import Shape, sql_str


@dataclass(frozen=True)
class FileResult:
    """What happened to one file's records."""

    path: str
    shape: str
    records: int
    loaded: int
    duplicates: int
    rejected: int
    reject_reasons: dict[str, int] = field(default_factory=dict)
    table: str = "requests"


@dataclass(frozen=True)
class IngestSummary:
    """Every record of every file, accounted for: records = loaded + duplicates + rejected."""

    table: str
    files: tuple[FileResult, ...]
    # Files found in a directory or by a pattern that are not logs: (path, why).
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def by_shape(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for f in self.files:
            row = out.setdefault(f.shape, {"files": 0, "records": 0, "loaded": 0,
                                           "duplicates": 0, "rejected": 0})
            row["files"] += 1
            for key in ("records", "loaded", "duplicates", "rejected"):
                row[key] += getattr(f, key)
        return out

    def reject_reasons(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.reject_reasons)
        return dict(total.most_common())


def exact_lines(con: duckdb.DuckDBPyConnection, f: LogFile) -> int:
    """The file's line count when its records fill it exactly, one per line and
    nothing else (no blank lines, CR, BOM or broken line); else counted by reading it."""
    records, total = con.execute("SELECT count(*), sum(bytes) FROM _batch0").fetchone()
    size = f.path.stat().st_size
    if records and total is not None and size:
        with open(f.path, "rb") as fh:
            fh.seek(size - 1)
            newline_at_end = fh.read(1) == b"\n"
        if total + records - (0 if newline_at_end else 1) == size:
            return records
    return reader.count_lines(f.path)


def number_lines(con: duckdb.DuckDBPyConnection, f: LogFile, physical: int) -> None:
    """Turn record numbers into line numbers when the file has blank lines.

    DuckDB's reader skips blank lines, so record k sits on line k + (blank lines
    before it); the shifts are a small table joined with ASOF.
    """
    records = con.execute("SELECT coalesce(max(rec_no), 0) FROM _batch").fetchone()[0]
    if physical == records:
        return
    blanks = reader.blank_lines(f.path)
    # The first record after the i-th blank line (on line b) is record b - i + 1.
    shifts: dict[int, int] = {}
    for i, line in enumerate(blanks, start=1):
        shifts[line - i + 1] = i
    con.execute("CREATE OR REPLACE TEMP TABLE _shift (rec_from BIGINT, shift BIGINT)")
    if shifts:
        con.executemany("INSERT INTO _shift VALUES (?, ?)", list(shifts.items()))
    con.execute("""UPDATE _batch SET line = _batch.rec_no + coalesce(m.shift, 0)
        FROM (SELECT b.rec_no, s.shift FROM _batch b ASOF LEFT JOIN _shift s ON b.rec_no >= s.rec_from) m
        WHERE m.rec_no = _batch.rec_no""")


def fill_raw_from_file(con: duckdb.DuckDBPyConnection, f: LogFile) -> None:
    """Broken lines have no parsed value, and records read as typed columns no text:
    take their raw text from the file itself. A line that is not UTF-8 keeps its bytes
    (``_broken.raw_bytes``) and says where it stops being UTF-8."""
    con.execute("CREATE OR REPLACE TEMP TABLE _broken (line BIGINT, raw VARCHAR, raw_bytes BLOB, bad_at BIGINT)")
    if f.layout != "lines":
        return
    lines = [r[0] for r in con.execute(
        "SELECT line FROM _batch WHERE reason IS NOT NULL AND raw IS NULL").fetchall()]
    if not lines:
        return
    raw = reader.raw_lines(f.path, lines)
    found = [(n, *reader.line_text(raw[n]), raw[n]) if n in raw else (n, None, None, None) for n in lines]
    con.executemany("INSERT INTO _broken VALUES (?, ?, ?, ?)",
                    [(n, text, data if bad else None, bad) for n, text, bad, data in found])
    con.execute("""UPDATE _batch SET raw = _broken.raw,
            reason = CASE WHEN _broken.bad_at IS NOT NULL AND _batch.reason = 'broken JSON'
                          THEN 'invalid UTF-8 at byte ' || _broken.bad_at ELSE _batch.reason END
        FROM _broken WHERE _batch.line = _broken.line AND _batch.reason IS NOT NULL AND _batch.raw IS NULL""")


def reject_whole_file(con, f: LogFile, shape: Shape, reason: str, ingested_at: datetime) -> FileResult:
    """One reject for a file that cannot be split into records; ``reason`` reads 'kind: detail'."""
    kind = reason.split(":", 1)[0]
    file_lit = sql_str(f.name)
    con.execute(f"""INSERT INTO rejects (source_file, source_line, raw, reason, ingested_at)
        SELECT {file_lit}, NULL, $raw, $reason, $at
        WHERE NOT EXISTS (SELECT 1 FROM rejects WHERE source_file = {file_lit} AND source_line IS NULL
                          AND raw IS NOT DISTINCT FROM $raw)""",
                {"raw": None if f.layout == "parquet" else reader.head_text(f.path), "reason": reason,
                 "at": ingested_at})
    return FileResult(f.name, shape.name, 1, 0, 0, 1, {kind: 1}, shape.table)


def add_file_reject(con, f: LogFile, result: FileResult, reason: str, ingested_at: datetime) -> FileResult:
    file_lit = sql_str(f.name)
    con.execute(f"""INSERT INTO rejects (source_file, source_line, raw, reason, ingested_at)
        SELECT {file_lit}, NULL, NULL, $reason, $at
        WHERE NOT EXISTS (SELECT 1 FROM rejects WHERE source_file = {file_lit} AND source_line IS NULL
                          AND reason = $reason)""", {"reason": reason, "at": ingested_at})
    kind = reason.split(":", 1)[0]
    reasons = {**result.reject_reasons, kind: result.reject_reasons.get(kind, 0) + 1}
    return replace(result, records=result.records + 1, rejected=result.rejected + 1, reject_reasons=reasons)
