"""aimon.toml: where it is found, and one typed model per table.

The file is found at ``--config PATH``, else ``$AIMON_CONFIG``, else ``./aimon.toml``
when it exists; without one every setting has its default. Every table is a pydantic
model that refuses unknown keys, so a typo cannot silently leave a threshold at its
default: a problem names its key path (``report.error_rat``) and, for an unknown key,
the nearest known one.

This module sits below ``analysis`` and ``store`` (like ``aimon.errors``): it imports
neither, so both can read their table from it.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from aimon.errors import InputError

CONFIG_NAME = "aimon.toml"
CONFIG_ENV = "AIMON_CONFIG"

# TOML has real numbers and booleans: a quoted "0.05" or `true` where a number belongs is
# a mistake to report, not a value to coerce (pydantic's lax mode would take both).
Num = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Int = Annotated[int, Strict()]
Text = Annotated[str, Strict()]


class _Table(BaseModel):
    # defer_build: a model's validator is built when a file is first validated against
    # it, not at import, so commands run without an aimon.toml never build one (start-up,
    # issue 16 item 8). Nested defaults are factories for the same reason.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


# --------------------------------------------------------------------------- [report]

class ReportConfig(_Table):
    """``[report]``: when a figure becomes a highlight, a concern or a recommendation.

    Rates are fractions (0.05 is 5%); changes are relative (0.5 is +50%).
    """

    error_rate: Num = 0.05            # concern: error rate above this
    p95_latency_ms: Num = 5000.0      # concern: P95 latency above this
    latency_regression: Num = 0.5     # concern: P95 this much above its baseline
    cost_spike: Num = 0.5             # concern: cost this much above the previous period
    cost_drop: Num = 0.1              # highlight: cost this much below the previous period
    traffic_drop: Num = 0.5           # concern: requests this much below the baseline
    satisfaction_high: Num = 0.85     # highlight: satisfaction above this
    satisfaction_low: Num = 0.6       # concern: satisfaction below this
    thumbs_down_rate: Num = 0.2       # concern: thumbs-down rate above this
    min_votes: Int = 20               # fewer thumbs than this: no verdict on satisfaction
    cache_hit_high: Num = 0.5         # highlight: cache hit rate above this
    cache_hit_low: Num = 0.3          # recommendation: consider caching below this
    premium_share: Num = 0.8          # recommendation: premium models serve more than this
    premium_models: tuple[Text, ...] = (
        "gpt-4", "gpt-4-*", "gpt-4o", "gpt-4o-20*", "gpt-4.1", "gpt-4.1-20*", "gpt-5", "gpt-5-20*",
        "claude-*opus*", "claude-*sonnet*", "o1", "o1-20*", "o3", "o3-20*",
    )
    error_type_share: Num = 0.5       # recommendation: one error type is more than this of errors
    endpoint_cost_share: Num = 0.5    # recommendation: one endpoint spends more than this
    gap_minutes: Num = 10.0           # zero-traffic gaps at least this long are listed...
    gap_min_expected: Num = 10.0      # ...when the baseline expected this many requests in them
    unpriced_share: Num = 0.0         # concern: more than this share of requests has no price
    traffic_growth: Num = 0.15        # highlight: requests this much above the baseline
    hotspot_min_requests: Int = 20    # a model or hour needs this many requests to be called out
    hour_cost_share: Num = 0.25       # concern: one hour spends more than this share of the day


# --------------------------------------------------------------------------- [compliance]

class ComplianceConfig(_Table):
    """``[compliance]``: the retention period and the jurisdictions that need consent."""

    retention_days: Annotated[Int, Field(gt=0)] = 90
    consent_required: tuple[Text, ...] = ("EU", "EEA", "UK", "CH")


# --------------------------------------------------------------------------- [cost.routing]

class RoutingConfig(_Table):
    """``[cost.routing]``: what counts as a simple prompt for ``aimon cost routing``.

    ``aimon cost routing`` reads the table through this model, then
    ``aimon.analysis.cost.routing.routing_settings`` merges the command's options.
    """

    max_words: Annotated[Int, Field(ge=1)] | None = None
    reasoning_words: tuple[Text, ...] | None = None
    code_pattern: Text | None = None
    expensive_ratio: Annotated[Num, Field(ge=1)] | None = None
    min_share: Num | None = None

    @field_validator("code_pattern")
    @classmethod
    def _regex(cls, pattern: str | None) -> str | None:
        import re

        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class CostConfig(_Table):
    routing: RoutingConfig = Field(default_factory=RoutingConfig)


# --------------------------------------------------------------------------- [security]

class AbuseLimits(_Table):
    """``[security.abuse]``: per-user limits; a user above one is an abuse finding."""

    requests_per_minute: Annotated[Int, Field(gt=0)] = 30
    tokens_per_hour: Annotated[Int, Field(gt=0)] = 1_000_000
    cost_per_day: Annotated[Num, Field(gt=0)] = 20.0


class SecurityConfig(_Table):
    """``[security]``: allow-listed hosts, the leakage overlap and abuse limits.

    """

    allowed_hosts: tuple[Text, ...] = ()
    leak_min_words: Annotated[Int, Field(ge=3, le=200)] = 7
    abuse: AbuseLimits = Field(default_factory=AbuseLimits)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for host in hosts:
            name = host.strip().lower().rstrip(".")
            if not name or "/" in name or " " in name:
                raise ValueError(f"{host!r} is not a host name (write acme.com, not a URL)")
            out.append(name.removeprefix("*."))
        return tuple(out)


# --------------------------------------------------------------------------- [validate]

class EndpointRules(_Table):
    """``[validate.endpoints."/path"]``: one endpoint's limits and JSON answers."""

    min_words: Annotated[Int, Field(ge=0)] | None = None
    max_words: Annotated[Int, Field(ge=1)] | None = None
    json_answer: bool = Field(False, alias="json")
    json_schema: Path | None = None

    @model_validator(mode="after")
    def _schema_needs_json(self) -> EndpointRules:
        if self.json_schema is not None and not self.json_answer:
            raise ValueError("json_schema needs json = true")
        return self


class ValidateConfig(_Table):
    """``[validate]``: the checks of ``aimon validate``."""

    min_words: Annotated[Int, Field(ge=0)] = 3
    max_words: Annotated[Int, Field(ge=1)] = 1000
    repetition_share: Annotated[Num, Field(gt=0, le=1)] = 0.5
    off_topic_threshold: Annotated[Num, Field(ge=-1, le=1)] = 0.15
    off_topic_limit: Annotated[Int, Field(ge=0)] = 2000
    endpoints: dict[str, EndpointRules] = {}


# --------------------------------------------------------------------------- [pii]

# The jurisdiction groups of aimon.analysis.compliance.GROUPS (this layer cannot import it).
PHONE_REGION_GROUPS = ("EU", "EEA", "UK")


class PiiConfig(_Table):
    """``[pii]``: the regions whose national phone numbers (no +country code) are judged,
    beside each request's own jurisdiction: ISO 3166 codes, or EU, EEA, UK."""

    phone_regions: tuple[Text, ...] = ()

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        import phonenumbers  # only when the table is read: most commands never place a phone

        for code in codes:
            if code.strip().upper() not in (*phonenumbers.SUPPORTED_REGIONS, *PHONE_REGION_GROUPS):
                raise ValueError(f"{code!r} is not a region code (write GB, FR, JP, or EU, EEA, UK)")
        return codes


# --------------------------------------------------------------------------- [models."name"]

Price = Annotated[Num, Field(ge=0)]


class _Prices(_Table):
    input_mtok: Price | None = None
    output_mtok: Price | None = None
    cache_read_mtok: Price | None = None
    cache_write_mtok: Price | None = None
    batch_input_mtok: Price | None = None
    batch_output_mtok: Price | None = None
    batch_cache_read_mtok: Price | None = None
    batch_cache_write_mtok: Price | None = None


class PricePeriod(_Prices):
    """``[[models."name".periods]]``: a price change from ``valid_from`` on."""

    # TOML dates and times arrive as datetime objects; text is read by aimon.store.price_file.
    valid_from: Any

    @field_validator("valid_from")
    @classmethod
    def _when(cls, value: Any) -> Any:
        from datetime import date

        if not isinstance(value, (date, str)):
            raise ValueError("must be a date or time such as 2025-06-01")
        return value


class ModelPrices(_Prices):
    """``[models."name"]``: a model's prices in USD per million tokens (see docs/cost.md)."""

    provider: Text | None = None
    periods: list[PricePeriod] = []


# --------------------------------------------------------------------------- the file

class AimonConfig(_Table):
    """The whole of aimon.toml: every table optional, every key with its default."""

    report: ReportConfig = Field(default_factory=ReportConfig)
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    # `validate` would shadow BaseModel.validate: the field has another name, the key not.
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    models: dict[str, ModelPrices] = {}


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


def problems(document: dict[str, Any], model: type[BaseModel] = AimonConfig,
             prefix: tuple[str, ...] = ()) -> list[str]:
    """One line per problem in ``document`` against ``model``: the key path, then what is
    wrong (for an unknown key, the nearest known one). Empty when the document is valid."""
    try:
        model.model_validate(document)
    except ValidationError as exc:
        return [_problem(model, err, prefix) for err in exc.errors()]
    return []


def load(path: Path | None) -> AimonConfig:
    """The typed configuration at ``path`` (every default when None); InputError naming
    the key path of the first problem."""
    document = {} if path is None else read_toml(path)
    _refuse(path, problems(document))
    return AimonConfig.model_validate(document)


M = TypeVar("M", bound=BaseModel)


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
