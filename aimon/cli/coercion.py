"""Option values without pydantic on the common path (issue 16 item 8: start-up).

typer converts every option's value through a pydantic ``TypeAdapter``: importing
pydantic and building an adapter per option costs about 0.1 s of CPU on each command,
a sixth of the daily report's budget, for values that are already strings, flags, a
choice of an Enum or a path. :func:`install` makes typer use :class:`FastParam`, which
converts those the way typer's adapters do (typer's own helpers for choices and paths)
and hands anything else, and every value it cannot take, to typer's pydantic path. So a
bad value gets typer's own error message, word for word; tests/test_startup.py holds
the two paths equal on every option of every command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import typer.core
from typer import _coercion
from typer._param_types import coerce_cli_choice, coerce_cli_path, lenient_issubclass
from typer._typing import is_literal_type, literal_values

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _Slow(Exception):
    """The value needs typer's pydantic path (or fails there with typer's message)."""


def _leaf(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as typer's leaf adapter would, or :class:`_Slow`."""
    if info.parser is not None:
        try:
            return info.parser(value)
        except Exception:  # noqa: BLE001 - the slow path raises typer's own error for it
            raise _Slow from None
    if lenient_issubclass(annotation, Enum) or is_literal_type(annotation):
        choices = list(annotation) if lenient_issubclass(annotation, Enum) else literal_values(annotation)
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            raise _Slow from None
    if annotation is str:
        if isinstance(value, str):
            return value
        raise _Slow
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _Slow
    if annotation in (int, float):
        if info.clamp:
            raise _Slow
        if type(value) is annotation:
            number = value
        elif isinstance(value, str) and (_INT if annotation is int else _FLOAT).fullmatch(value):
            number = annotation(value)
        else:
            raise _Slow
        # typer's bounds (pydantic's ge / le): a value outside gets typer's message.
        if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
            raise _Slow
        return number
    if lenient_issubclass(annotation, Path) and info.path_type is None:
        if isinstance(value, str) and value:
            value = annotation(value)  # what pydantic's Path adapter makes of a non-empty str
        if not isinstance(value, annotation):
            raise _Slow
        # typer's own checks (exists, dir_okay, ...): they raise typer's BadParameter.
        return coerce_cli_path(value, info, path_type=annotation, param=param, ctx=ctx)
    raise _Slow


@dataclass(frozen=True)
class FastParam(_coercion.RuntimeParam):
    """typer's runtime conversion of one parameter, pydantic only when needed."""

    slow: list[Any] = field(default_factory=list)  # typer's own, built on first need

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            if get_origin(self.annotation) is list and isinstance(value, list | tuple):
                (item,) = get_args(self.annotation)
                return [_leaf(item, self.parameter_info, v, param, ctx) for v in value]
            return _leaf(self.annotation, self.parameter_info, value, param, ctx)
        except _Slow:
            return self._slow()._coerce_value(value, param=param, ctx=ctx)

    def _slow(self) -> Any:
        if not self.slow:
            self.slow.append(_ORIGINAL(_coercion.resolve_type_descriptor(self.annotation, self.parameter_info)))
        return self.slow[0]


_ORIGINAL = _coercion.build_runtime_param


def build_runtime_param(descriptor: Any) -> Any:
    if descriptor.file_annotation is not None:
        return _ORIGINAL(descriptor)
    return FastParam(annotation=descriptor.annotation, parameter_info=descriptor.parameter_info)


def install() -> None:
    """Make typer convert option values through :class:`FastParam`."""
    typer.core.build_runtime_param = build_runtime_param  # type: ignore[attr-defined]
