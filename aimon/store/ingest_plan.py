"""What one log file is before it is loaded: its shape (detected from a sample of its
records, or forced with --shape), the SQL that reads its records, and what makes it
unreadable as a whole (a broken JSON array or document, a corrupt Parquet file, a cut
gzip). :mod:`aimon.store.ingest` loads a file by its plan."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from aimon.errors import InputError
from aimon.store import reader
from aimon.store.reader import LogFile
from aimon.store.shapes import Shape, all_shapes, detect_shape, get_shape, sql_str

SAMPLE_RECORDS = 200
# Text past this much in the first records goes unsampled (at least one record is
# sampled): Python's parse of a record takes about eight times its text, and 118 OTLP
# export lines of 512 spans (169 MB) took 1.4 GB before a span was loaded.
SAMPLE_BYTES = 8 << 20


@dataclass(frozen=True)
class FilePlan:
    file: LogFile
    shape: Shape
    seen_keys: frozenset[str]
    # Why a JSON array or document file, or a Parquet file, cannot be split into records
    # at all: the whole reject reason ('kind: detail').
    unreadable: str | None = None
    # A problem with the file as a whole that still let its records be read
    # ('kind: detail'): one more reject, with no line.
    note: str | None = None
    # The orders of top-level keys the sample's records came in, most common first: a
    # record whose keys are one of these cannot give a key twice (see
    # aimon.store.ingest_rows.verdict_lines).
    key_orders: tuple[tuple[str, ...], ...] = ()
    # A Parquet file not read whole before it is loaded: whether it is corrupt shows only
    # when a pass over it fails (see parquet_unreadable).
    unread: bool = False



def forced_shape(name: str | None, table: str) -> Shape | None:
    if name is None:
        return None
    try:
        found = get_shape(name)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    if found.table != table:
        hint = "drop --feedback" if table == "feedback" else "add --feedback"
        raise InputError(f"--shape {name} reads {found.table} logs, not {table}; {hint}")
    return found


def json_reader(f: LogFile, numbered: bool) -> str:
    """SQL giving ``doc`` (and ``rec_no`` when numbered): one JSON value per record."""
    fmt = {"lines": "newline_delimited", "array": "array", "documents": "unstructured"}[f.layout]
    ignore = ", ignore_errors = true" if f.layout == "lines" else ""
    call = (f"read_json_objects({sql_str(str(f.path))}, format = '{fmt}', "
            f"maximum_object_size = {f.max_record_bytes}{ignore})")
    if numbered:
        return f"SELECT ordinality AS rec_no, json AS doc FROM {call} WITH ORDINALITY"
    return f"SELECT json AS doc FROM {call}"


def parquet_reader(f: LogFile) -> str:
    return (f"SELECT file_row_number + 1 AS rec_no, * EXCLUDE (file_row_number) "
            f"FROM read_parquet({sql_str(str(f.path))}, file_row_number = true)")


def _read_whole_parquet(con: duckdb.DuckDBPyConnection, f: LogFile) -> None:
    """Every column of every row, decoded: raises a DuckDB error if the file is corrupt
    (2 s of a 16 s ingest of a million rows)."""
    con.execute(f"SELECT max(hash(p)) FROM read_parquet({sql_str(str(f.path))}) p").fetchone()


def _unreadable_parquet(exc: duckdb.Error) -> str:
    text = str(exc).strip()
    return "unreadable Parquet: " + (text.splitlines()[0] if text else type(exc).__name__)


def parquet_unreadable(con: duckdb.DuckDBPyConnection, f: LogFile) -> str | None:
    """After a DuckDB error while loading the Parquet file ``f``: the reject reason if
    the file itself cannot be read whole, else None (the error was something else)."""
    try:
        _read_whole_parquet(con, f)
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.InterruptException | duckdb.OutOfMemoryException):
            raise
        return _unreadable_parquet(exc)
    return None


def sample_records(con: duckdb.DuckDBPyConnection, f: LogFile) -> list[dict]:
    if f.layout == "parquet":
        rel = con.execute(f"SELECT * FROM read_parquet({sql_str(str(f.path))}) LIMIT {SAMPLE_RECORDS}")
        names = [d[0] for d in rel.description]
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    records = f"SELECT doc FROM ({json_reader(f, numbered=False)}) WHERE doc IS NOT NULL"
    try:
        sizes = [n for (n,) in con.execute(f"SELECT strlen(doc) FROM ({records}) LIMIT {SAMPLE_RECORDS}").fetchall()]
        rows = con.execute(f"{records} LIMIT {_within_sample_bytes(sizes)}").fetchall()
    except duckdb.Error:
        return []  # an unparseable array or document: the file is rejected whole below
    out = []
    for (doc,) in rows:
        try:
            value = json.loads(doc)
        except (ValueError, RecursionError):
            # Python's parser gives up on deep nesting that DuckDB reads: such a record
            # only goes unsampled.
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _within_sample_bytes(sizes: list[int]) -> int:
    """How many of the first records (their text sizes) fit in SAMPLE_BYTES; one at least."""
    taken = total = 0
    for size in sizes:
        if taken and total + size > SAMPLE_BYTES:
            break
        taken, total = taken + 1, total + size
    return taken


KEY_ORDERS = 4


def key_orders(samples: list[dict]) -> tuple[tuple[str, ...], ...]:
    """The most common orders of the sampled records' top-level keys. A parsed record
    holds each key once, so every order lists distinct keys; keys that could not be
    written into SQL (a lone surrogate, a NUL) leave their order out."""
    def writable(key: str) -> bool:
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in key

    counts = Counter(tuple(rec) for rec in samples if rec and all(map(writable, rec)))
    return tuple(order for order, _ in counts.most_common(KEY_ORDERS))


def plan_file(con: duckdb.DuckDBPyConnection, f: LogFile, table: str, forced: Shape | None, tmp: Path,
              read_parquet_whole: bool = True) -> FilePlan:
    """``read_parquet_whole``: read a Parquet file whole before it is loaded, to find a
    corrupt one while it can still be rejected (inside a transaction, a failed read
    would abort the run); a caller that can take back a failed file's rows leaves it
    to :func:`parquet_unreadable` (the plan says ``unread``)."""
    plan = _plan(con, f, table, forced, tmp, read_parquet_whole)
    unread = f.layout == "parquet" and not read_parquet_whole and plan.unreadable is None
    if plan.shape.records and plan.file.layout == "lines" and plan.unreadable is None:
        plan = replace(plan, file=_fitted_to_longest_line(con, plan.file))
    return replace(plan, unread=True) if unread else plan


def _fitted_to_longest_line(con: duckdb.DuckDBPyConnection, f: LogFile) -> LogFile:
    """The file read with a record size limit just above its longest record. Each of its
    lines is unpacked into many records, with a parse of the whole chunk of lines held
    meanwhile: at the 32 MiB limit, 118 OTLP lines of 512 spans (169 MB) took 1.1 GB on
    one thread before a span was converted, 0.6 GB at a limit of 2 MiB. No line the
    file holds is longer, so none reads differently (longer ones were broken anyway)."""
    (longest,), = con.execute(f"SELECT coalesce(max(strlen(doc)), 0) FROM ({json_reader(f, numbered=False)})").fetchall()
    fitted = -(-(longest + 2) // (1 << 20)) << 20
    return replace(f, max_record_bytes=min(f.max_record_bytes, fitted))


def _plan(con: duckdb.DuckDBPyConnection, f: LogFile, table: str, forced: Shape | None, tmp: Path,
          read_parquet_whole: bool) -> FilePlan:
    if f.gzipped and f.source is None:
        # A gzip file cut short: load what it holds before the cut, and say so.
        copy = tmp / f"{len(list(tmp.iterdir()))}-{f.path.name.removesuffix('.gz')}"
        cut = reader.gzip_cut(f.path, copy)
        if cut is not None:
            plan = plan_file(con, LogFile(copy, f.layout, f.explicit, f.path), table, forced, tmp)
            return replace(plan, note=f"truncated gzip: the file ends after {cut:,} bytes of content; "
                                      "the records before the cut were read")
    if f.layout == "array":
        try:
            con.execute(f"SELECT count(*) FROM ({json_reader(f, numbered=False)})").fetchone()
        except duckdb.InvalidInputException:
            # One broken element: read the elements one per line, so that only it is
            # rejected (with its whole text) and the rest loads.
            lines = tmp / f"{len(list(tmp.iterdir()))}-{f.path.name}l"
            reader.split_array(f.path, lines)
            plan = plan_file(con, LogFile(lines, "lines", f.explicit, f.source or f.path), table, forced, tmp)
            return replace(plan, note=None)
    if f.layout == "documents":
        # A parse error would abort the ingest transaction, so find it first: such a
        # file cannot be split into records and is rejected whole.
        try:
            con.execute(f"SELECT count(*) FROM ({json_reader(f, numbered=False)})").fetchone()
        except duckdb.InvalidInputException as exc:
            fallback = get_shape("flat" if table == "requests" else "flat_feedback")
            text = str(exc).strip()
            return FilePlan(f, forced or fallback, frozenset(),
                         f"broken JSON {f.layout}: " + (text.splitlines()[0] if text else "unreadable"))
    if f.layout == "parquet":
        try:
            if read_parquet_whole:
                _read_whole_parquet(con, f)
            samples = sample_records(con, f)
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.InterruptException | duckdb.OutOfMemoryException):
                raise
            fallback = get_shape("flat" if table == "requests" else "flat_feedback")
            return FilePlan(f, forced or fallback, frozenset(), _unreadable_parquet(exc))
    else:
        samples = sample_records(con, f)
    seen = frozenset(k for rec in samples for k in rec)
    if f.layout == "parquet":
        seen = frozenset(r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({sql_str(str(f.path))})").fetchall())
    orders = key_orders(samples)
    if forced is not None:
        return FilePlan(f, forced, seen, key_orders=orders)
    found = detect_shape(samples, table)
    if found is None and table == "requests":
        # A feedback log among request logs (a whole directory given): load it where
        # it belongs; the summary names the table of every file.
        found = detect_shape(samples, "feedback")
    if found is not None:
        return FilePlan(f, found, seen, key_orders=orders)
    if not samples:
        # Nothing readable to judge by: every record is rejected (or the file is empty),
        # and the shape only names the file in the summary.
        return FilePlan(f, get_shape("flat" if table == "requests" else "flat_feedback"), seen)
    keys = ", ".join(list(samples[0])[:12])
    names = ", ".join(s.name for s in all_shapes() if s.table == table)
    what = "feedback" if table == "feedback" else "request"
    raise InputError(
        f"{f.name}: cannot tell which {what} log shape this is (first record's keys: {keys}); "
        f"pass --shape, one of: {names}"
    )
