"""Finding log files and reading them as numbered records.

DuckDB's JSON reader does the parsing, in parallel. It skips blank lines and gives
each broken line a NULL, so record numbers equal line numbers unless the file has
blank lines; Python counts newlines (a C-speed scan) to tell, and only then walks the
lines to find the blank ones. Raw text of broken lines is fetched the same way, only
when there are some.
"""

from __future__ import annotations

import glob
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aimon.errors import InputError

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
SUPPORTED_SUFFIXES = (*JSON_SUFFIXES, *(s + ".gz" for s in JSON_SUFFIXES), ".parquet")

# A single record larger than this is reported as broken rather than read.
MAX_RECORD_BYTES = 32 * 1024 * 1024
_CHUNK = 16 * 1024 * 1024


@dataclass(frozen=True)
class LogFile:
    """One input file and how to read it."""

    path: Path
    # "lines": one JSON value per line; "array": a JSON array of records;
    # "documents": concatenated (pretty-printed) JSON values; "parquet".
    layout: str
    # Named on the command line, rather than found in a directory or by a pattern.
    explicit: bool = True
    # When ``path`` is a repaired copy (the elements of a broken JSON array one per
    # line, the readable part of a truncated gzip): the file the user gave.
    source: Path | None = None
    # The reader's record size limit. DuckDB hands a chunk of records to the mapping
    # about twice this much text at a time, so a file whose every line is unpacked into
    # many records reads with a limit just above its longest line (ingest_plan).
    max_record_bytes: int = MAX_RECORD_BYTES

    @property
    def name(self) -> str:
        """The file as the user gave it: what the tables and summaries name."""
        return str(self.source or self.path)

    @property
    def gzipped(self) -> bool:
        return self.path.name.endswith(".gz")



def _supported(path: Path) -> bool:
    return path.name.lower().endswith(SUPPORTED_SUFFIXES)


def _logs_among(entries: Sequence[Path], skipped: list[tuple[str, str]] | None) -> list[Path]:
    """The log files among what a directory or pattern holds; the rest that a user might
    have meant to load goes to ``skipped`` with why (folders are walked, not listed)."""
    logs = []
    for p in entries:
        if p.is_file():
            if _supported(p):
                logs.append(p)
            elif skipped is not None:
                skipped.append((str(p), "not a log file (aimon reads .jsonl, .ndjson, .json, their .gz, .parquet)"))
        elif skipped is not None and not p.is_dir() and _supported(p):
            # A link to nothing, a pipe or a socket named like a log: say so, or the
            # records the user expected vanish without a word.
            why = "a link to a missing file" if p.is_symlink() and not p.exists() else "not a regular file"
            skipped.append((str(p), why))
    return logs


def expand(args: Sequence[str | Path], skipped: list[tuple[str, str]] | None = None) -> list[LogFile]:
    """Files named by ``args`` (files, directories searched recursively, globs), in order,
    each once. Raises InputError naming the first argument that matches nothing. Files a
    directory or pattern holds that are not of a type aimon reads are added to
    ``skipped`` as (path, why)."""
    found: list[tuple[Path, bool]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            matches = _logs_among(sorted(path.rglob("*")), skipped)
            if not matches:
                raise InputError(f"{arg}: no log files in this directory "
                                 f"(looked for {', '.join(SUPPORTED_SUFFIXES)})")
            found.extend((m, False) for m in matches)
        elif path.is_file():
            if not _supported(path):
                raise InputError(f"{arg}: unsupported file type; aimon reads "
                                 f"{', '.join(SUPPORTED_SUFFIXES)}")
            found.append((path, True))
        elif glob.has_magic(str(arg)):
            matches = _logs_among(sorted(Path(p) for p in glob.glob(str(arg), recursive=True)), skipped)
            if not matches:
                raise InputError(f"{arg}: the pattern matches no log files")
            found.extend((m, False) for m in matches)
        else:
            raise InputError(f"{arg}: no such file or directory")
    unique: dict[Path, bool] = {}
    for p, explicit in found:
        key = p.resolve()
        unique[key] = unique.get(key, False) or explicit
    return [LogFile(p, _layout(p), explicit) for p, explicit in unique.items()]


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the file's content. A gzip file cut short gives what
    it holds before the cut (its plan loads that part and says so: gzip_cut), so only a
    file that is not gzip at all fails here."""
    if not path.name.endswith(".gz"):
        with open(path, "rb") as fh:
            return fh.read(size)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head = b""
    with open(path, "rb") as fh:
        while len(head) < size and not d.eof and (chunk := fh.read(1 << 16)):
            head += d.decompress(chunk, size - len(head))
            while d.unconsumed_tail and len(head) < size:
                head += d.decompress(d.unconsumed_tail, size - len(head))
    return head


def _layout(path: Path) -> str:
    if path.name.lower().endswith(".parquet"):
        return "parquet"
    try:
        head = _head(path, 1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not path.name.lower().removesuffix(".gz").endswith(".json"):
        return "lines"
    if text.startswith(b"["):
        return "array"
    first_line = text.split(b"\n", 1)[0]
    try:
        json.loads(first_line)
        return "lines"
    except ValueError:
        # A pretty-printed document spans lines; a broken first line in a JSON-lines
        # file is also caught here, and 'documents' would then fail the whole file,
        # so only call it a document when it parses as one.
        return "documents" if _parses_as_documents(head) else "lines"


def _parses_as_documents(head: bytes) -> bool:
    decoder = json.JSONDecoder()
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    try:
        decoder.raw_decode(text)
        return True
    except ValueError:
        return len(head) >= (1 << 20)  # a document longer than the peek: trust the reader


def count_lines(path: Path) -> int:
    """Physical lines in the file (a last line without newline counts)."""
    n = 0
    last = b"\n"
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with _open(path) as fh:
        while size := fh.readinto(buf):
            n += buf.count(b"\n", 0, size) if size < _CHUNK else buf.count(b"\n")
            last = bytes(view[size - 1:size])
    return n + (0 if last == b"\n" else 1)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with _open(path) as fh:
        yield from enumerate(fh, start=1)


def blank_lines(path: Path) -> list[int]:
    """Numbers of the lines that hold only whitespace (DuckDB's reader skips them)."""
    return [n for n, line in _lines(path) if not line.strip(b" \t\r\n\xef\xbb\xbf")]


def raw_lines(path: Path, wanted: Iterable[int]) -> dict[int, bytes]:
    """The bytes of the given line numbers, without the line ending (see :func:`line_text`)."""
    todo = set(wanted)
    out: dict[int, str] = {}
    if not todo:
        return out
    last = max(todo)
    for number, line in _lines(path):
        if number in todo:
            text = line.rstrip(b"\r\n")
            if number == 1:
                text = text.removeprefix(b"\xef\xbb\xbf")
            out[number] = text
        if number >= last:
            break
    return out


def line_text(line: bytes) -> tuple[str, int | None]:
    """A line as text, and the 1-based position of its first byte that is not UTF-8
    (None when it all is). Such bytes are escaped (``\\xff``), never replaced by U+FFFD,
    so the text still tells which bytes the line held."""
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return line.decode("utf-8", errors="backslashreplace"), exc.start + 1


def head_text(path: Path, limit: int = 64 * 1024) -> str:
    """The start of a file, for the reject record of a file that cannot be parsed at all."""
    with _open(path) as fh:
        return fh.read(limit).decode("utf-8", errors="replace")


# A JSON string (escapes included) or one structural character.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


def split_array(path: Path, out: Path) -> int:
    """Write the elements of the JSON array in ``path``, one per line, to ``out``, however
    broken one of them is: a comma at the array's own level ends an element, and the
    array ends at the file's last ']'. Element k is line k (newlines, which JSON allows
    only between tokens, become spaces). Returns the number of elements."""
    with _open(path) as fh:
        data = fh.read()
    data = data.removeprefix(b"\xef\xbb\xbf")
    start = data.find(b"[")
    end = data.rfind(b"]")
    if end <= start:
        end = len(data)
    elements = []
    depth = 0
    begin = start + 1
    for m in _TOKEN.finditer(data, start + 1, end):
        t = m.group()
        if t[0] == 0x22:  # a string
            continue
        if t in (b"[", b"{"):
            depth += 1
        elif t in (b"]", b"}"):
            depth = max(depth - 1, 0)
        elif depth == 0:
            elements.append(data[begin:m.start()])
            begin = m.end()
    last = data[begin:end]
    if last.strip() or elements:
        elements.append(last)
    with open(out, "wb") as fh:
        for e in elements:
            fh.write(e.strip().replace(b"\r", b" ").replace(b"\n", b" ") + b"\n")
    return len(elements)


def gzip_cut(path: Path, out: Path) -> int | None:
    """None when the gzip file is whole; else write what it holds before the cut to
    ``out`` (uncompressed) and return the number of bytes recovered."""
    done = 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                done += len(chunk)
        return None
    except (EOFError, gzip.BadGzipFile, OSError, zlib.error):
        pass
    got = 0
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with open(path, "rb") as src, open(out, "wb") as dst:
        while chunk := src.read(_CHUNK):
            try:
                part = d.decompress(chunk)
            except zlib.error:
                break
            dst.write(part)
            got += len(part)
            if d.eof:
                break
    return got
