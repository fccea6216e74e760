"""Personal data out of every output: one pass over what a command is about to print.

Every string that reaches an output (user and session ids, error types, endpoints,
variant, experiment and model names, request ids, group keys, column names taken from
the data, notes and headings) is collected once, deduplicated, and handed to a
*masker* (the PII detector, :func:`aimon.analysis.pii.scan.mask_values`, supplied by
the command line, since render does not query). Values the detector calls personal
come back with [REDACTED_TYPE] markers and are substituted everywhere they occur: in
polars frames with one vectorised ``replace`` per column, elsewhere by walking the
(small) result. ``--show-pii`` skips the pass.

This is masking of *values*; escaping for Markdown, HTML and terminals happens where
each format is drawn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Masker = Callable[[Sequence[str]], Sequence[str]]


def _is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "iter_rows") and hasattr(value, "schema")


def _string_columns(frame: Any) -> tuple[list[str], list[str]]:
    """(plain string-like columns, list-of-string columns) of a polars frame."""
    import polars as pl

    plain, lists = [], []
    for name, dtype in frame.schema.items():
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            plain.append(name)
        elif isinstance(dtype, pl.List) and dtype.inner in (pl.String, pl.Categorical):
            lists.append(name)
    return plain, lists


def _frame_strings(frame: Any, out: set[str]) -> None:
    import polars as pl

    out.update(str(c) for c in frame.columns)
    plain, lists = _string_columns(frame)
    if plain or lists:
        parts = [frame.get_column(c).cast(pl.String) for c in plain]
        parts += [frame.get_column(c).explode().cast(pl.String) for c in lists]
        out.update(pl.concat([p.rename("v") for p in parts]).drop_nulls().unique().to_list())
    for name, dtype in frame.schema.items():
        if isinstance(dtype, (pl.Struct, pl.Object)) or (isinstance(dtype, pl.List) and name not in lists):
            _collect(frame.get_column(name).to_list(), out)


def _collect(value: Any, out: set[str]) -> None:
    if value is None:
        return
    if isinstance(value, str):
        out.add(value)
    elif _is_frame(value):
        _frame_strings(value, out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _collect(getattr(value, f.name), out)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _collect(k, out)
            _collect(v, out)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _collect(v, out)


def _mask_frame(frame: Any, mapping: dict[str, str]) -> Any:
    import polars as pl

    plain, lists = _string_columns(frame)
    exprs = [pl.col(c).cast(pl.String).replace(mapping) for c in plain]
    exprs += [pl.col(c).list.eval(pl.element().cast(pl.String).replace(mapping)) for c in lists]
    for name, dtype in frame.schema.items():
        if isinstance(dtype, (pl.Struct, pl.Object)) or (isinstance(dtype, pl.List) and name not in lists):
            masked = [_apply(v, mapping) for v in frame.get_column(name).to_list()]
            exprs.append(pl.Series(name, masked, dtype=None if isinstance(dtype, pl.Object) else dtype,
                                   strict=False))
    if exprs:
        frame = frame.with_columns(exprs)
    renamed = {c: mapping[c] for c in frame.columns if c in mapping}
    if renamed:
        frame = frame.rename(renamed)
    return frame


def _apply(value: Any, mapping: dict[str, str]) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return mapping.get(value, value)
    if _is_frame(value):
        return _mask_frame(value, mapping)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "__slots__") or any(not f.init for f in dataclasses.fields(value)):
            return {f.name: _apply(getattr(value, f.name), mapping) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **{f.name: _apply(getattr(value, f.name), mapping)
                                             for f in dataclasses.fields(value)})
    if isinstance(value, Mapping):
        return {_apply(k, mapping): _apply(v, mapping) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_apply(v, mapping) for v in value)
    if isinstance(value, (list, set, frozenset)):
        return [_apply(v, mapping) for v in value]
    return value


def mask(masker: Masker | None, *values: Any) -> tuple[Any, ...]:
    """``values`` (result data, blocks, frames, in any nesting) with every string the
    masker changes replaced wherever it occurs. ``masker=None`` (--show-pii) leaves
    them as they are. The masker sees each distinct string once."""
    if masker is None:
        return values
    found: set[str] = set()
    for v in values:
        _collect(v, found)
    # Markers and plain words cannot hold an entity: skip the detector for them.
    distinct = sorted(s for s in found if len(s) >= 5)
    if not distinct:
        return values
    mapping = {s: m for s, m in zip(distinct, masker(distinct), strict=True) if m != s}
    if not mapping:
        return values
    return tuple(_apply(v, mapping) for v in values)
