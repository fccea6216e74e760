"""aimon.toml: where it is found, and one typed model per table.

The file is found at ``--config PATH``, else ``$AIMON_CONFIG``, else ``./aimon.toml``
when it exists; without one every setting has its default. Every table is a pydantic
model that refuses unknown keys, so a typo cannot silently leave a threshold at its
default: a problem names its key path (``report.error_rat``) and, for an unknown key,
the nearest known one.

This module sits below ``analysis`` and ``store`` (like ``aimon.errors``): it imports
neither, so both can read their table from it. The models live in
:mod:`aimon.config_tables` and are re-exported here on first use, so that a command run
without an aimon.toml imports no pydantic (start-up, issue 16 item 8).
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from aimon.errors import InputError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from aimon.config_tables import AimonConfig

CONFIG_NAME = "aimon.toml"
CONFIG_ENV = "AIMON_CONFIG"

# --------------------------------------------------------------------------- [report]

@dataclass(frozen=True)
class ReportSettings:
    """``[report]``: when a figure becomes a highlight, a concern or a recommendation.

    Rates are fractions (0.05 is 5%); changes are relative (0.5 is +50%).
    """

    # Plain data, not a model: a report run without an aimon.toml takes these defaults
    # without importing pydantic; aimon.config_tables.ReportConfig is made from these
    # fields (float -> a strict number, int -> a strict whole number, tuple[str, ...]).
    error_rate: float = 0.05            # concern: error rate above this
    p95_latency_ms: float = 5000.0      # concern: P95 latency above this
    latency_regression: float = 0.5     # concern: P95 this much above its baseline
    cost_spike: float = 0.5             # concern: cost this much above the previous period
    cost_drop: float = 0.1              # highlight: cost this much below the previous period
    traffic_drop: float = 0.5           # concern: requests this much below the baseline
    satisfaction_high: float = 0.85     # highlight: satisfaction above this
    satisfaction_low: float = 0.6       # concern: satisfaction below this
    thumbs_down_rate: float = 0.2       # concern: thumbs-down rate above this
    min_votes: int = 20                 # fewer thumbs than this: no verdict on satisfaction
    cache_hit_high: float = 0.5         # highlight: cache hit rate above this
    cache_hit_low: float = 0.3          # recommendation: consider caching below this
    premium_share: float = 0.8          # recommendation: premium models serve more than this
    premium_models: tuple[str, ...] = (
        "gpt-4", "gpt-4-*", "gpt-4o", "gpt-4o-20*", "gpt-4.1", "gpt-4.1-20*", "gpt-5", "gpt-5-20*",
        "claude-*opus*", "claude-*sonnet*", "o1", "o1-20*", "o3", "o3-20*",
    )
    error_type_share: float = 0.5       # recommendation: one error type is more than this of errors
    endpoint_cost_share: float = 0.5    # recommendation: one endpoint spends more than this
    gap_minutes: float = 10.0           # zero-traffic gaps at least this long are listed...
    gap_min_expected: float = 10.0      # ...when the baseline expected this many requests in them
    unpriced_share: float = 0.0         # concern: more than this share of requests has no price
    traffic_growth: float = 0.15        # highlight: requests this much above the baseline
    hotspot_min_requests: int = 20      # a model or hour needs this many requests to be called out
    hour_cost_share: float = 0.25       # concern: one hour spends more than this share of the day


# The typed tables (pydantic models) of aimon.config_tables, imported on first use.
_TABLES = ("ReportConfig", "ComplianceConfig", "RoutingConfig", "CostConfig", "AbuseLimits", "SecurityConfig",
           "EndpointRules", "ValidateConfig", "PHONE_REGION_GROUPS", "PiiConfig", "Price", "PricePeriod",
           "ModelPrices", "AimonConfig", "Num", "Int", "Text")


def __getattr__(name: str) -> Any:
    if name in _TABLES:
        from aimon import config_tables

        return getattr(config_tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- the file

def discover(explicit: Path | None = None) -> Path | None:
    """The aimon.toml to read: ``explicit``, else ``$AIMON_CONFIG``, else ``./aimon.toml``
    when it exists, else None (every default)."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"no config file at {explicit}")
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise InputError(f"${CONFIG_ENV} names {path}, which is not a file")
        return path
    local = Path(CONFIG_NAME)
    return local if local.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """The whole TOML document at ``path``; InputError with the line when it is not TOML."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def problems(document: dict[str, Any], model: type[BaseModel] | None = None,
             prefix: tuple[str, ...] = ()) -> list[str]:
    """One line per problem in ``document`` against ``model`` (default: the whole file's,
    ``AimonConfig``): the key path, then what is wrong (for an unknown key, the nearest
    known one). Empty when the document is valid."""
    from pydantic import ValidationError

    from aimon.config_tables import AimonConfig

    model = AimonConfig if model is None else model
    try:
        model.model_validate(document)
    except ValidationError as exc:
        return [_problem(model, err, prefix) for err in exc.errors()]
    return []


def load(path: Path | None) -> AimonConfig:
    """The typed configuration at ``path`` (every default when None); InputError naming
    the key path of the first problem."""
    from aimon.config_tables import AimonConfig

    document = {} if path is None else read_toml(path)
    _refuse(path, problems(document))
    return AimonConfig.model_validate(document)


M = TypeVar("M", bound="BaseModel")


def section(path: Path | None, name: str, model: type[M]) -> M:
    """One table of the file (``"report"``, ``"cost.routing"``), typed; its defaults when
    the file or the table is absent. Problems elsewhere in the file are not this caller's."""
    document: Any = {} if path is None else read_toml(path)
    keys = tuple(name.split("."))
    for key in keys:
        document = document.get(key, {}) if isinstance(document, dict) else document
    if not isinstance(document, dict):
        raise InputError(f"{path}: [{name}] must be a table")
    if not document:
        # Every default, which needs no validation: skipping it spares a command without
        # an aimon.toml building the model's validator (about 0.02 s of start-up).
        return model.model_construct()
    _refuse(path, problems(document, model, keys))
    return model.model_validate(document)


def _refuse(path: Path | None, found: list[str]) -> None:
    """One line for the first problem (``aimon config validate`` lists them all)."""
    if found:
        more = f" (and {len(found) - 1} more: aimon config validate lists them)" if len(found) > 1 else ""
        raise InputError(f"{path}: {found[0]}{more}")


# --------------------------------------------------------------------------- messages

def _problem(model: type[BaseModel], err: Any, prefix: tuple[str, ...]) -> str:
    loc = tuple(str(p) for p in err["loc"])
    where = ".".join(_key(p) for p in (*prefix, *loc)) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _keys_at(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; known: {', '.join(known)}" if known else "")
        return f"{where}: unknown key{hint}"
    if kind == "missing":
        return f"{where}: required"
    value = err.get("input")
    if kind in {"float_type", "int_type", "string_type", "bool_type", "tuple_type", "list_type",
                "dict_type", "model_type", "model_attributes_type"}:
        return f"{where}: must be {_WANTED.get(kind, 'another type')}, not {value!r}"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


_WANTED = {"float_type": "a number", "int_type": "a whole number", "string_type": "text",
           "bool_type": "true or false", "tuple_type": "a list", "list_type": "a list",
           "dict_type": "a table", "model_type": "a table", "model_attributes_type": "a table"}


def _key(part: str) -> str:
    """A key as TOML writes it in a dotted path (``endpoints."/extract"``)."""
    bare = part.replace("_", "").replace("-", "").isalnum()
    return part if bare else f'"{part}"'


def _keys_at(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    """The keys a table at ``loc`` (below ``model``) accepts; [] when unknown."""
    from pydantic import BaseModel

    kind: Any = model
    for part in loc:
        kind = _step(kind, part)
        if kind is None:
            return []
    kind = _unwrap(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [f.alias or name for name, f in kind.model_fields.items()]
    return []


def _step(kind: Any, part: str) -> Any:
    from pydantic import BaseModel

    kind = _unwrap(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        for name, f in kind.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    args = typing.get_args(kind)
    origin = typing.get_origin(kind)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (list, tuple) and args and part.isdigit():
        return args[0]
    return None


def _unwrap(kind: Any) -> Any:
    """The model inside ``X | None`` and ``Annotated[X, ...]``."""
    while True:
        origin = typing.get_origin(kind)
        if origin is Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(kind) if a is not type(None)]
            if len(options) != 1:
                return kind
            kind = options[0]
        else:
            return kind
