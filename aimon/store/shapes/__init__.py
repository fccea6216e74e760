"""Log shapes: how each source's records map onto the canonical columns.

A :class:`Shape` is data, not code that touches rows: a detector that looks at a few
sample records in Python, and one SQL expression per canonical column written with
pseudo-functions that :func:`compile_shape` turns into real SQL:

- ``j('$.path')``  the value at a JSON path as text (objects and arrays as JSON text);
  the path is *consumed*: removed from the record before the rest goes to ``extra``.
- ``jx('$.path')`` the value as JSON (strings keep their quotes), for fields whose
  type decides what they mean (message content that is a string or a list of parts).
  Also consumed.
- ``peek('$.path')`` like ``j`` but not consumed: the field also stays in ``extra``.
- ``peekx('$.path')`` like ``jx`` but not consumed.
- ``first('$.a', '$.b', ...)`` the first of several aliases that is present; only the
  alias actually used is consumed, so a record carrying two aliases keeps the other
  one in ``extra``. Top-level keys only.
- ``msgs('$.path')`` the chat messages at the path (a JSON list, or a JSON string
  holding one, as OpenTelemetry attributes carry them), parsed once per record into a
  list of {role, content, parts} however many columns read them; NULL when the value
  is not such a list. Read it with ``aimon_msgs_text`` and ``aimon_msgs_prompt``.
  Consumed.

Paths are DuckDB JSON paths; quote keys that hold dots:
``j('$.attributes."gen_ai.usage.input_tokens"')``. All paths of a shape are read with
one parse of each record. Every value is converted and validated afterwards by
``aimon.store.ingest`` according to the canonical column's type, so expressions may
return text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

REQUEST_COLUMNS: dict[str, str] = {
    "request_id": "VARCHAR",
    "ts": "TIMESTAMPTZ",
    "user_id": "VARCHAR",
    "session_id": "VARCHAR",
    "endpoint": "VARCHAR",
    "provider": "VARCHAR",
    "model": "VARCHAR",
    "model_version": "VARCHAR",
    "prompt_version": "VARCHAR",
    "system_prompt": "VARCHAR",
    "prompt": "VARCHAR",
    "response": "VARCHAR",
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "cached_input_tokens": "BIGINT",
    "cache_write_tokens": "BIGINT",
    "reasoning_tokens": "BIGINT",
    "cost_usd": "DOUBLE",
    "latency_ms": "DOUBLE",
    "ttft_ms": "DOUBLE",
    "status": "VARCHAR",
    "error_type": "VARCHAR",
    "error_message": "VARCHAR",
    "cache_hit": "BOOLEAN",
    "experiment": "VARCHAR",
    "variant": "VARCHAR",
    "success": "BOOLEAN",
    "temperature": "DOUBLE",
    "user_tier": "VARCHAR",
    "jurisdiction": "VARCHAR",
    "consent": "BOOLEAN",
    "feedback": "VARCHAR",
}

FEEDBACK_COLUMNS: dict[str, str] = {
    "feedback_id": "VARCHAR",
    "request_id": "VARCHAR",
    "ts": "TIMESTAMPTZ",
    "user_id": "VARCHAR",
    "feedback_type": "VARCHAR",
    "feedback_category": "VARCHAR",
    "feedback_text": "VARCHAR",
}

TABLE_COLUMNS = {"requests": REQUEST_COLUMNS, "feedback": FEEDBACK_COLUMNS}


@dataclass(frozen=True)
class Shape:
    """How one source format maps onto a canonical table."""

    name: str
    summary: str
    table: str  # "requests" or "feedback"
    detect: Callable[[Mapping], bool]
    columns: Mapping[str, str]
    # For formats that pack several records in one line (OTLP's resourceSpans): a SQL
    # expression over the line's JSON ``doc`` giving a LIST of JSON sub-records, each
    # then mapped like a line of its own.
    records: str | None = None
    # A macro each of those sub-records goes through once it is a row of its own (OTLP's
    # span conversion). Done inside ``records`` it would run for every sub-record of a
    # whole chunk of lines at once: 24 lines of 512 spans ran out of 1.6 GB; as rows,
    # DuckDB converts one chunk of sub-records at a time, however many a line holds.
    record_each: str | None = None
    # Why a record is not a model call and is not loaded (wrapper spans that repeat
    # their children's token counts, tool spans): a template giving a reason text or
    # NULL, written with peek() so that it consumes nothing.
    skip: str | None = None
    # Top-level keys removed from ``extra`` whether or not a column reads them
    # (wrapper keys such as ``object: "chat.completion"`` whose meaning the shape encodes).
    drop: Sequence[str] = ()
    # Top-level keys (or nested paths, '$.a.b') consumed only on rows where a SQL
    # condition (written with the same pseudo-functions) holds.
    consume_if: Mapping[str, str] = field(default_factory=dict)
    # Keys added to every row's ``extra`` (the record's own keys win): markers such as
    # ``batch: true`` that the shape knows and the record does not say. Added after the
    # mapping, so that a reject's raw text stays the record as read.
    marks: Mapping[str, object] = field(default_factory=dict)
    # For formats whose failed records carry no time or model (OpenAI batch error lines):
    # column -> why. A record without that column's value takes it from the nearest
    # earlier record of its file that has one (the nearest later one at the start of
    # the file), and ``extra.<column>_imputed`` holds the why. ``--default-time`` wins.
    impute: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.columns) - set(TABLE_COLUMNS[self.table])
        if unknown:
            raise ValueError(f"shape {self.name}: unknown columns {sorted(unknown)}")


_CALL_RE = re.compile(r"\b(j|jx|peekx|peek|first|msgs)\(((?:\s*'(?:[^']|'')*'\s*,?)+)\)")
_ARG_RE = re.compile(r"'((?:[^']|'')*)'")


@dataclass
class CompiledShape:
    """SQL pieces for one shape: the paths to read and an expression per column."""

    shape: Shape
    text_paths: list[str] = field(default_factory=list)
    json_paths: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    static_keys: list[str] = field(default_factory=list)  # top-level keys always consumed
    # first() groups: (alias keys, their value refs); the first present alias is consumed.
    alias_groups: list[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    # consume_if: SQL expressions giving a key to consume on this row, or ''.
    conditional_keys: list[str] = field(default_factory=list)
    # consume_if on nested paths ('$.a.b'): SQL expressions giving a merge patch.
    conditional_patches: list[str] = field(default_factory=list)
    nested_paths: list[str] = field(default_factory=list)  # consumed paths below the top
    skip: str | None = None
    # msgs(): the SQL that parses each message list, computed once per record in a step
    # of its own before the columns; column "msgs#<n>" holds the n-th.
    messages: list[str] = field(default_factory=list)


def _top_key(path: str) -> str | None:
    """The key if ``path`` names a top-level key ($.a or $."a.b"), else None."""
    m = re.fullmatch(r'\$\.(?:"((?:[^"\\]|\\.)*)"|([A-Za-z_@][\w@-]*))', path)
    if not m:
        return None
    return m.group(1) if m.group(1) is not None else m.group(2)


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def compile_shape(shape: Shape, row: str = "v", jrow: str = "vj") -> CompiledShape:
    """Replace the pseudo-functions in a shape's expressions by list lookups.

    ``row`` and ``jrow`` name the lists produced by ``json_extract_string(doc, [...])``
    and ``json_extract(doc, [...])``.
    """
    out = CompiledShape(shape)

    def slot(paths: list[str], path: str) -> int:
        if path not in paths:
            paths.append(path)
        return paths.index(path) + 1

    def consume(path: str) -> None:
        key = _top_key(path)
        if key is not None:
            if key not in out.static_keys:
                out.static_keys.append(key)
        elif path not in out.nested_paths:
            out.nested_paths.append(path)

    def replace(m: re.Match) -> str:
        fn = m.group(1)
        args = [a.replace("''", "'") for a in _ARG_RE.findall(m.group(2))]
        if fn == "first":
            refs = [f"{row}[{slot(out.text_paths, p)}]" for p in args]
            keys = [_top_key(p) for p in args]
            if None in keys:
                raise ValueError(f"shape {shape.name}: first() takes top-level keys, got {args}")
            if len(args) == 1:
                consume(args[0])
            else:
                group = (tuple(keys), tuple(refs))
                if group not in out.alias_groups:
                    out.alias_groups.append(group)
            return f"coalesce({', '.join(refs)})" if len(refs) > 1 else refs[0]
        if len(args) != 1:
            raise ValueError(f"shape {shape.name}: {fn}() takes one path, got {args}")
        path = args[0]
        if fn in ("j", "jx", "msgs"):
            consume(path)
        if fn == "msgs":
            # The value's first character tells a list from a string holding one; the
            # text slot gives the string's content without a parse of its own.
            parse = f"aimon_msgs_parse({jrow}[{slot(out.json_paths, path)}], {row}[{slot(out.text_paths, path)}])"
            return f'"msgs#{slot(out.messages, parse)}"'
        if fn in ("jx", "peekx"):
            return f"{jrow}[{slot(out.json_paths, path)}]"
        return f"{row}[{slot(out.text_paths, path)}]"

    for column, template in shape.columns.items():
        out.columns[column] = _CALL_RE.sub(replace, template)
    if shape.skip:
        out.skip = _CALL_RE.sub(replace, shape.skip)
    for key, condition in shape.consume_if.items():
        cond = _CALL_RE.sub(replace, condition)
        if key.startswith("$."):
            # A nested path: a merge patch that nulls it, applied on the rows where the
            # condition holds (which must also say that the path is present).
            patch: dict | None = None
            for part in reversed(re.findall(r'"((?:[^"\\]|\\.)*)"|([^."]+)', key[2:])):
                patch = {part[0] or part[1]: patch}
            out.conditional_patches.append(f"CASE WHEN {cond} THEN {sql_str(json.dumps(patch))} ELSE '{{}}' END")
            continue
        out.conditional_keys.append(f"CASE WHEN {cond} THEN {sql_str(key)} ELSE '' END")
    for key in shape.drop:
        consume("$." + (key if re.fullmatch(r"[A-Za-z_][\w]*", key) else json.dumps(key)))
    # A key consumed statically need not also be consumed per row.
    statics = set(out.static_keys)
    out.alias_groups = [g for g in out.alias_groups if not set(g[0]) <= statics]
    return out


# The registry, in detection priority order: the first shape whose detector accepts
# most sampled records wins. Specific vendor shapes come before the catch-all flat log.
_REGISTRY: dict[str, Shape] = {}


def register(shape: Shape) -> Shape:
    """Add a shape to the registry (module import time)."""
    if shape.name in _REGISTRY:
        raise ValueError(f"shape {shape.name} registered twice")
    _REGISTRY[shape.name] = shape
    return shape


def all_shapes() -> list[Shape]:
    """Every known shape, most specific first."""
    _load_builtin()
    specific = [s for s in _REGISTRY.values() if s.name not in _CATCH_ALL]
    return specific + [_REGISTRY[n] for n in _CATCH_ALL if n in _REGISTRY]


def get_shape(name: str) -> Shape:
    """The shape called ``name``; KeyError lists the known ones."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown shape {name!r}; known shapes: {', '.join(sorted(_REGISTRY))}"
        ) from None


def detect_shape(samples: Sequence[Mapping], table: str) -> Shape | None:
    """The shape most sampled records match, or None when none matches any."""
    best: tuple[int, Shape] | None = None
    for shape in all_shapes():
        if shape.table != table:
            continue
        hits = sum(1 for rec in samples if _safe_detect(shape, rec))
        if hits and (best is None or hits > best[0]):
            best = (hits, shape)
    return best[1] if best else None


def _safe_detect(shape: Shape, rec: Mapping) -> bool:
    try:
        return bool(shape.detect(rec))
    except (KeyError, TypeError, AttributeError, IndexError, ValueError):
        return False


# Shapes that accept almost anything; tried after every specific shape.
_CATCH_ALL = ("flat", "flat_feedback")
_BUILTIN_MODULES = (
    "openai",
    "anthropic",
    "otel",
    "openinference",
    "litellm",
    "langfuse",
    "llm_logs",
    "gateway",
    "flat",
)
_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for mod in _BUILTIN_MODULES:
        try:
            importlib.import_module(f"aimon.store.shapes.{mod}")
        except ModuleNotFoundError as exc:
            # Only tolerate a shape module that is not written yet, never a broken import.
            if exc.name != f"aimon.store.shapes.{mod}":
                raise
